"""Read and write Final Draft XML (.fdx).

Reading goes through ``defusedxml``: entity declarations (billion laughs), external
entities and DTDs are refused, as are malformed or truncated files, all as ``FormatError``.
FDX has no place for Fountain sections, synopses, notes or boneyard; the writer leaves
them out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from . import fountain
from .errors import FormatError
from .markup import inline_runs
from .model import SPEECH_TYPES, Element, ElementType, Script, TitleEntry, split_cue

__all__ = ["dumps", "loads"]

T = ElementType

# Paragraph Type -> element type. Shots and General text read as action: in Fountain a
# shot is not a new scene, and scene splitting must not cut at "ANGLE ON".
_READ_TYPES = {
    "scene heading": T.SCENE_HEADING,
    "action": T.ACTION,
    "general": T.ACTION,
    "shot": T.ACTION,
    "character": T.CHARACTER,
    "dialogue": T.DIALOGUE,
    "parenthetical": T.PARENTHETICAL,
    "transition": T.TRANSITION,
    "lyrics": T.LYRICS,
    "cast list": T.ACTION,
    "new act": T.ACTION,
    "end of act": T.ACTION,
}
_WRITE_TYPES = {
    T.SCENE_HEADING: "Scene Heading",
    T.ACTION: "Action",
    T.CHARACTER: "Character",
    T.DIALOGUE: "Dialogue",
    T.PARENTHETICAL: "Parenthetical",
    T.TRANSITION: "Transition",
    T.LYRICS: "Lyrics",
    T.CENTERED: "Action",
}
# Characters XML 1.0 cannot carry at all.
_XML_INVALID_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Fountain emphasis characters that must stay literal in text read from FDX.
_FOUNTAIN_SPECIAL_RE = re.compile(r"([*_])")


# --- reading -----------------------------------------------------------------------------


def _styled_text(paragraph: ET.Element) -> str:
    """Return a paragraph's <Text> runs as Fountain text with emphasis markers."""
    parts = []
    for text_el in paragraph.findall("Text"):
        text = "".join(text_el.itertext())
        if not text:
            continue
        text = _FOUNTAIN_SPECIAL_RE.sub(r"\\\1", text)
        styles = {s.strip().lower() for s in (text_el.get("Style") or "").split("+")}
        core = text.strip()
        if core and styles & {"bold", "italic", "underline"}:
            mark = ""
            if "bold" in styles and "italic" in styles:
                mark = "***"
            elif "bold" in styles:
                mark = "**"
            elif "italic" in styles:
                mark = "*"
            start = text.index(core)
            wrapped = mark + core + mark
            if "underline" in styles:
                wrapped = "_" + wrapped + "_"
            text = text[:start] + wrapped + text[start + len(core) :]
        parts.append(text)
    return "".join(parts)


def _needs_force(el: Element) -> bool:
    """Return True if ``el`` written without a force marker would read as something else."""
    src = fountain.format_element(Element(el.type, el.text, scene_number=el.scene_number))
    if el.type is T.CHARACTER:
        probe = fountain.parse(f"\n{src}\nx\n")
    else:
        probe = fountain.parse(f"\n{src}\n\n")
    found = [e for e in probe.elements if e.type is not T.BLANK]
    return not found or found[0].type is not el.type or found[0].text != el.text


def _element(etype: ElementType, text: str, paragraph: ET.Element) -> Element:
    if etype is T.ACTION and (paragraph.get("Alignment") or "").lower() == "center":
        return Element(T.CENTERED, text.strip())
    if etype is T.CHARACTER:
        cue = " ".join(text.split())
        name, extensions = split_cue(cue)
        el = Element(T.CHARACTER, cue, name=name, extensions=extensions)
    elif etype is T.SCENE_HEADING:
        # Final Draft puts the number on the paragraph; some tools on SceneProperties.
        props = paragraph.find("SceneProperties")
        number = paragraph.get("Number") or (props.get("Number") if props is not None else None)
        el = Element(T.SCENE_HEADING, " ".join(text.split()), scene_number=number or None)
    elif etype is T.PARENTHETICAL:
        text = text.strip()
        if not text.startswith("("):
            text = f"({text})"
        el = Element(T.PARENTHETICAL, text)
    elif etype in (T.DIALOGUE, T.LYRICS):
        el = Element(etype, "\n".join(line.strip() for line in text.strip().split("\n")))
    elif etype is T.TRANSITION:
        el = Element(T.TRANSITION, text.strip())
    else:
        el = Element(etype, text.strip("\n"))
    if el.type in (T.SCENE_HEADING, T.CHARACTER, T.TRANSITION, T.ACTION):
        el.forced = _needs_force(el)
    return el


def _paragraph_elements(paragraph: ET.Element) -> list[list[Element]]:
    """Return the element groups (one per printed paragraph) for one FDX paragraph."""
    dual = paragraph.find("DualDialogue")
    groups: list[list[Element]] = []
    if (paragraph.get("StartsNewPage") or "").lower() == "yes":
        groups.append([Element(T.PAGE_BREAK)])
    if dual is not None:
        speeches: list[list[Element]] = []
        for inner in dual.findall("Paragraph"):
            etype = _READ_TYPES.get((inner.get("Type") or "").lower(), T.DIALOGUE)
            el = _element(etype, _styled_text(inner), inner)
            if el.type is T.CHARACTER or not speeches:
                speeches.append([])
            speeches[-1].append(el)
        for k, speech in enumerate(speeches):
            if k % 2 == 1 and speech[0].type is T.CHARACTER:
                speech[0].dual = True
        groups.extend(speeches)
        return groups
    etype = _READ_TYPES.get((paragraph.get("Type") or "action").lower(), T.ACTION)
    text = _styled_text(paragraph)
    if not text.strip() and etype is not T.SCENE_HEADING:
        return groups
    groups.append([_element(etype, text, paragraph)])
    return groups


def _title_paragraphs(title_page: ET.Element) -> list[ET.Element]:
    """Return the title page's own paragraphs in order.

    Final Draft keeps the title page's header and footer (the page number label, a
    ``DynamicLabel`` followed by a period) in ``TitlePage/HeaderAndFooter``: that is page
    furniture, never title page text, so only ``TitlePage/Content`` is read (or paragraphs
    placed directly under ``TitlePage`` by tools that write no ``Content``).
    """
    content = title_page.find("Content")
    return (content if content is not None else title_page).findall("Paragraph")


def _title_lines(title_page: ET.Element) -> list[tuple[str, list[str]]]:
    """Return the title page as blocks of lines: (alignment, lines), cut at empty lines."""
    blocks: list[tuple[str, list[str]]] = []
    gap = True
    for paragraph in _title_paragraphs(title_page):
        text = _styled_text(paragraph).strip()
        if paragraph.find(".//DynamicLabel") is not None and _LABEL_ONLY_RE.match(text):
            text = ""  # a running label (page number, date) with only its punctuation
        if not text:
            gap = True
            continue
        align = (paragraph.get("Alignment") or "left").strip().lower()
        align = align if align in ("center", "right") else "left"
        if gap or blocks[-1][0] != align:
            blocks.append((align, []))
        blocks[-1][1].append(text)
        gap = False
    return blocks


def _plain(line: str) -> str:
    return " ".join(line.replace("\\", "").strip("*_ :").lower().split())


def _is_credit(line: str) -> bool:
    words = _plain(line).split()
    return bool(words) and words[-1] == "by" and set(words[:-1]) <= _CREDIT_WORDS


def _title_page(root: ET.Element) -> list[TitleEntry]:
    """Map FDX title page paragraphs to Fountain keys (heuristic: FDX has no keys).

    Centered: the lines before a credit line ("Written by") are the Title, the block after
    it the Author, later blocks the Source ("Based on …" starts one anywhere). Lower on
    the page: a copyright line is the Copyright, a right-aligned date the Draft date, the
    first other block the Contact and any further ones Notes.
    """
    title_page = root.find("TitlePage")
    if title_page is None:
        return []
    blocks = _title_lines(title_page)
    centered = [lines for align, lines in blocks if align == "center"]
    fields: dict[str, list[str]] = {}
    flat = [(b, line) for b, lines in enumerate(centered) for line in lines]
    credit_at = next((i for i, (_, line) in enumerate(flat) if _is_credit(line)), None)
    if credit_at is None:
        if len(centered) == 1:
            fields["Title"], authors, rest = centered[0][:1], centered[0][1:], []
        else:
            fields["Title"] = centered[0] if centered else []
            authors = centered[1] if len(centered) > 1 else []
            rest = centered[2:]
    else:
        fields["Title"] = [line for _, line in flat[:credit_at]]
        fields["Credit"] = [flat[credit_at][1]]
        at_block = flat[credit_at][0]
        authors = [line for b, line in flat[credit_at + 1 :] if b == at_block]
        later = centered[at_block + 1 :]
        if not authors and later:
            authors, later = later[0], later[1:]
        rest = later
    source: list[str] = []
    for k, line in enumerate(authors):
        if _plain(line).startswith(_SOURCE_OPENINGS):
            authors, source = authors[:k], authors[k:]
            break
    authors = list(authors)
    for lines in rest:
        if _is_credit(lines[0]) and not source:
            authors.extend(lines)  # a second credit ("Story by") with its names
        else:
            source.extend(lines)
    fields["Author"], fields["Source"] = authors, source
    for align, lines in blocks:
        if align == "center":
            continue
        if _plain(lines[0]).startswith(_COPYRIGHT_OPENINGS) or "wga" in _plain(lines[0]):
            key = "Copyright"
        elif align == "right" and "Draft date" not in fields and _DATE_RE.search(lines[0]):
            key = "Draft date"
        else:
            key = "Contact" if "Contact" not in fields else "Notes"
        fields.setdefault(key, []).extend(lines)
    order = ("Title", "Credit", "Author", "Source", "Draft date", "Contact", "Copyright", "Notes")
    return [TitleEntry(key, "\n".join(fields[key])) for key in order if fields.get(key)]


_CREDIT_WORDS = {
    "written", "screenplay", "story", "teleplay", "screen", "television", "created",
    "developed", "adapted", "original", "pilot", "and", "&",
}  # fmt: skip
_SOURCE_OPENINGS = ("based on", "adapted from", "inspired by", "from the ")
_COPYRIGHT_OPENINGS = ("©", "(c)", "copyright", "registered")
_DATE_RE = re.compile(
    r"\d|\bdraft|\brevis|\b(?:january|february|march|april|may|june|july|august|september"
    r"|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b",
    re.IGNORECASE,
)
# What Final Draft writes around a page number label: "1." ("." after the label).
_LABEL_ONLY_RE = re.compile(r"^[\W_]*(?:page[\W_]*)?$", re.IGNORECASE)


def _parse_xml(data: bytes | str) -> ET.Element:
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FormatError(
            "This FDX file contains XML declarations that are not allowed (entities, DTDs or "
            "external references), so it was not opened."
        ) from exc
    except ET.ParseError as exc:
        raise FormatError(
            f"This FDX file is damaged or incomplete and cannot be read ({_short(exc)})."
        ) from exc
    except (ValueError, UnicodeError) as exc:
        raise FormatError("This FDX file's text encoding could not be read.") from exc


def _short(exc: ET.ParseError) -> str:
    line, col = getattr(exc, "position", (0, 0))
    msg = str(exc).split(":")[0]
    return f"{msg} at line {line}, column {col}" if line else msg


def loads(data: bytes | str) -> Script:
    """Parse FDX bytes (or text) into a ``Script``."""
    root = _parse_xml(data)
    if root.tag != "FinalDraft":
        raise FormatError("This file is XML but not a Final Draft (.fdx) screenplay.")
    content = root.find("Content")
    if content is None:
        raise FormatError("This FDX file has no script content.")
    elements: list[Element] = []
    for paragraph in content.findall("Paragraph"):
        for group in _paragraph_elements(paragraph):
            first = group[0]
            in_speech = (
                first.type in SPEECH_TYPES
                and elements
                and elements[-1].type in (SPEECH_TYPES | {T.CHARACTER})
            )
            if elements and not in_speech:
                elements.append(Element(T.BLANK))
            elements.extend(group)
    elements.append(Element(T.BLANK))
    _fix_speech_parts(elements)
    return Script(title_page=_title_page(root), elements=elements)


def _fix_speech_parts(elements: list[Element]) -> None:
    """Turn dialogue that lost its cue (broken files) into action so it reads back."""
    for k, el in enumerate(elements):
        # Lyrics may stand alone (a song over action); dialogue may not.
        orphan = k == 0 or elements[k - 1].type is T.BLANK
        if el.type in (T.DIALOGUE, T.PARENTHETICAL) and orphan:
            el.type = T.ACTION
            el.forced = _needs_force(el)


# --- writing -----------------------------------------------------------------------------


def _clean(text: str) -> str:
    return _XML_INVALID_RE.sub("", text)


def _add_text(paragraph: ET.Element, text: str) -> None:
    runs = inline_runs(text)
    if not runs:
        ET.SubElement(paragraph, "Text")
    for run in runs:
        node = ET.SubElement(paragraph, "Text")
        styles = [
            s
            for s, on in (("Bold", run.bold), ("Italic", run.italic), ("Underline", run.underline))
            if on
        ]
        if styles:
            node.set("Style", "+".join(styles))
        node.text = _clean(run.text)


def _add_paragraph(parent: ET.Element, el: Element, page_break: bool) -> None:
    paragraph = ET.SubElement(parent, "Paragraph", Type=_WRITE_TYPES[el.type])
    if el.type is T.SCENE_HEADING and el.scene_number:
        paragraph.set("Number", _clean(el.scene_number))
    if el.type is T.CENTERED:
        paragraph.set("Alignment", "Center")
    if page_break:
        paragraph.set("StartsNewPage", "Yes")
    _add_text(paragraph, el.text)


def dumps(script: Script) -> bytes:
    """Return ``script`` as FDX (UTF-8 bytes)."""
    root = ET.Element("FinalDraft", DocumentType="Script", Template="No", Version="5")
    content = ET.SubElement(root, "Content")
    elements = [e for e in script.elements if e.type in _WRITE_TYPES or e.type is T.PAGE_BREAK]
    page_break = False
    i = 0
    while i < len(elements):
        el = elements[i]
        if el.type is T.PAGE_BREAK:
            page_break = True
            i += 1
            continue
        # A "^" cue pairs with the speech before it inside one DualDialogue paragraph.
        nxt = _next_dual(elements, i)
        if el.type is T.CHARACTER and nxt is not None:
            end = _speech_end(elements, nxt)
            holder = ET.SubElement(content, "Paragraph", Type="General")
            if page_break:
                holder.set("StartsNewPage", "Yes")
            dual = ET.SubElement(holder, "DualDialogue")
            for part in elements[i:end]:
                _add_paragraph(dual, part, False)
            i = end
            page_break = False
            continue
        _add_paragraph(content, el, page_break)
        page_break = False
        i += 1
    if script.title_page:
        _write_title_page(root, script)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + body + "\n").encode()


def _speech_end(elements: list[Element], start: int) -> int:
    end = start + 1
    while end < len(elements) and elements[end].type in SPEECH_TYPES:
        end += 1
    return end


def _next_dual(elements: list[Element], start: int) -> int | None:
    """Return the index of the dual cue answering the speech at ``start``, if any."""
    if elements[start].type is not T.CHARACTER or elements[start].dual:
        return None
    end = _speech_end(elements, start)
    if end < len(elements) and elements[end].type is T.CHARACTER and elements[end].dual:
        return end
    return None


# Final Draft's title page holds about 54 lines: the title a third of the way down, the
# lower blocks at the foot.
_TITLE_TOP_LINES = 16
_TITLE_PAGE_LINES = 52


def _write_title_page(root: ET.Element, script: Script) -> None:
    """Write the title page as Final Draft lays one out (its reader above reads it back):
    Title, Credit, Author(s) and Source centered, blocks apart; at the foot the Draft date
    right-aligned, then Contact, Copyright, Notes and any other fields left-aligned."""
    title_page = ET.SubElement(root, "TitlePage")
    content = ET.SubElement(title_page, "Content")

    def lines(value: str) -> list[str]:
        return [line for line in value.split("\n") if line.strip()]

    upper: list[tuple[int, list[str]]] = []  # (empty lines above, lines)
    for gap, keys in (
        (1, ("title",)),
        (1, ("credit",)),
        (1, ("author", "authors")),
        (2, ("source",)),
    ):
        value = next((script.title_field(k) for k in keys if script.title_field(k)), "")
        if lines(value):
            upper.append((_TITLE_TOP_LINES if not upper else gap, lines(value)))
    lower: list[tuple[str, list[str]]] = []
    date = script.title_field("draft date") or script.title_field("date")
    if lines(date):
        lower.append(("Right", lines(date)))
    placed = {"title", "credit", "author", "authors", "source", "draft date", "date"}
    ranked = ("contact", "copyright", "notes", "note")
    rest = [e for e in script.title_page if e.key.strip().lower() not in placed]
    rest.sort(key=lambda e: ranked.index(k) if (k := e.key.strip().lower()) in ranked else 3)
    lower += [("Left", lines(e.value)) for e in rest if lines(e.value)]

    def add(alignment: str, text: str = "") -> None:
        paragraph = ET.SubElement(content, "Paragraph", Alignment=alignment, Type="Action")
        _add_text(paragraph, text)

    used = 0
    for gap, block in upper:
        for _ in range(gap):
            add("Center")
        for line in block:
            add("Center", line)
        used += gap + len(block)
    lower_lines = sum(len(block) for _, block in lower) + max(len(lower) - 1, 0)
    for k, (alignment, block) in enumerate(lower):
        gap = max(_TITLE_PAGE_LINES - used - lower_lines, 2) if k == 0 else 1
        for _ in range(gap):
            add("Left")
        for line in block:
            add(alignment, line)
