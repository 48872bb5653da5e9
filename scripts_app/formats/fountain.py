"""Read and write Fountain 1.1 (https://fountain.io/syntax).

``parse`` keeps every source line in ``Element.raw``/``TitleEntry.raw`` so that
``dumps(parse(text)) == text`` holds for any input, including odd whitespace and CRLF line
ends. Elements without ``raw`` (built in code or read from FDX) are written in the canonical
form that ``parse`` reads back as the same element.
"""

from __future__ import annotations

from . import grammar as g
from .grammar import looks_like_scene_heading
from .model import Element, ElementType, Script, TitleEntry

__all__ = ["parse", "dumps", "dump_parts", "format_element", "looks_like_scene_heading"]

T = ElementType

# The line rules (what each line is) live in grammar.py, shared with the corpus reader,
# the rater, scene heading validation and (mirrored) the editor; this module builds
# elements from them and writes them back.


def _parse_title_page(lines: list[str]) -> tuple[list[TitleEntry], int]:
    """Return the title page entries and the index of the first line after them."""
    end = g.title_page_end(lines)
    if not end:
        return [], 0
    entries: list[TitleEntry] = []
    value_lines: list[str] = []
    raw_lines: list[str] = []
    key = ""

    def flush() -> None:
        value = "\n".join(v for v in value_lines if v)
        entries.append(TitleEntry(key=key, value=value, raw="\n".join(raw_lines)))

    for i in range(end):
        line = lines[i].rstrip("\r")
        match = None if line[:1] in (" ", "\t") else g.TITLE_KEY_RE.match(line)
        if match:
            if raw_lines:
                flush()
            key = match["key"].rstrip()
            value_lines = [match["value"].strip()]
            raw_lines = [lines[i]]
        else:
            # Indented (or otherwise unkeyed) lines continue the previous value.
            value_lines.append(line.strip())
            raw_lines.append(lines[i])
    flush()
    return entries, end


class _Parser:
    """One pass over the lines; every step is linear in the input, even hostile input."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.n = len(lines)
        self.elements: list[Element] = []
        # Multi-line elements collect their lines here and are joined once at the end, as
        # repeated ``str +=`` on an attribute copies the whole string every time.
        self.pending: list[tuple[Element, list[str], list[str]]] = []
        self.open: tuple[Element, list[str], list[str]] | None = None
        self.last_action_line = -2
        self.blocks = g.BlockFinder(lines)

    def emit(self, etype: ElementType, text: str, raw: str, **kw) -> Element:
        el = Element(type=etype, text=text, raw=raw, **kw)
        self.elements.append(el)
        self.open = None
        return el

    def emit_multi(self, etype: ElementType, text: str, raw: str, **kw) -> None:
        """Emit an element that following lines may extend with ``extend``."""
        el = self.emit(etype, text, raw, **kw)
        self.open = (el, [text], [raw])
        self.pending.append(self.open)

    def extend(self, text: str, raw: str) -> None:
        _, texts, raws = self.open
        texts.append(text)
        raws.append(raw)

    def finish(self) -> list[Element]:
        for el, texts, raws in self.pending:
            el.text = "\n".join(texts)
            el.raw = "\n".join(raws)
        return self.elements

    def run(self, i: int) -> list[Element]:
        lines, n = self.lines, self.n
        prev_blank = True
        while i < n:
            raw = lines[i]
            line = raw.rstrip("\r")
            if g.is_blank(line):
                self.emit(T.BLANK, "", raw)
                prev_blank = True
                i += 1
                continue
            block = self.blocks.at(i)
            if block is not None:
                kind, end = block
                opener, closer = g.BLOCK_MARKERS[kind]
                source = "\n".join(lines[i : end + 1])
                inner = "\n".join(x.rstrip("\r") for x in lines[i : end + 1]).strip()
                self.emit(T(kind), inner[len(opener) : -len(closer)], source)
                i = end + 1
            else:
                next_blank = i + 1 >= n or g.is_blank(lines[i + 1])
                i = self.classify(i, line, raw, prev_blank, next_blank)
            prev_blank = False
        return self.finish()

    def classify(self, i: int, line: str, raw: str, prev_blank: bool, next_blank: bool) -> int:
        """Emit the element(s) starting at line ``i``; return the index of the next line."""
        kind = g.classify_line(line, prev_blank=prev_blank, next_blank=next_blank)
        if kind == g.PAGE_BREAK:
            self.emit(T.PAGE_BREAK, "", raw)
        elif kind == g.SECTION:
            m = g.SECTION_RE.match(line)
            self.emit(T.SECTION, m["text"].strip(), raw, level=len(m["hashes"]))
        elif kind == g.SYNOPSIS:
            self.emit(T.SYNOPSIS, g.SYNOPSIS_RE.match(line)["text"].strip(), raw)
        elif kind == g.CENTERED:
            self.emit(T.CENTERED, g.CENTERED_RE.match(line)["text"].strip(), raw)
        elif kind == g.TRANSITION:
            if m := g.FORCED_TRANSITION_RE.match(line):
                self.emit(T.TRANSITION, m["text"].strip(), raw, forced=True)
            else:
                self.emit(T.TRANSITION, line.strip(), raw)
        elif kind == g.LYRICS:
            self.emit(T.LYRICS, g.LYRICS_RE.match(line)["text"], raw)
        elif kind == g.SCENE_HEADING:
            h = g.parse_scene_heading(line)
            self.emit(T.SCENE_HEADING, h.text, raw, forced=h.forced, scene_number=h.number)
        elif kind == g.CHARACTER:
            if m := g.FORCED_CHARACTER_RE.match(line):
                return self.speech(i, g.cue_parts(m["text"], forced=True), raw)
            return self.speech(i, g.cue_parts(line), raw)
        elif m := g.FORCED_ACTION_RE.match(line):
            self.action(i, m["text"], raw, True)
        else:
            self.action(i, line, raw, False)
        return i + 1

    def action(self, i: int, text: str, raw: str, forced: bool) -> None:
        # Consecutive action lines form one paragraph element.
        if self.open is not None and self.last_action_line == i - 1:
            self.extend(text, raw)
        else:
            self.emit_multi(T.ACTION, text, raw, forced=forced)
        self.last_action_line = i

    def speech(self, i: int, cue: g.Cue, raw: str) -> int:
        self.emit(
            T.CHARACTER,
            cue.text,
            raw,
            forced=cue.forced,
            name=cue.name,
            extensions=cue.extensions,
            dual=cue.dual,
        )
        j = i + 1
        while j < self.n:
            raw = self.lines[j]
            line = raw.rstrip("\r")
            kind = g.classify_line(line, in_speech=True)
            if kind == g.BLANK:
                break
            s = line.strip()
            if kind == g.PARENTHETICAL:
                self.emit(T.PARENTHETICAL, s, raw)
            elif kind == g.LYRICS:
                self.emit(T.LYRICS, g.LYRICS_RE.match(line)["text"], raw)
            elif self.open is not None:
                self.extend(s, raw)  # consecutive dialogue lines form one element
            else:
                self.emit_multi(T.DIALOGUE, s, raw)
            j += 1
        self.open = None
        return j


def parse(text: str) -> Script:
    """Parse Fountain ``text`` into a ``Script``."""
    lines = text.split("\n")
    title_page, i = _parse_title_page(lines)
    return Script(title_page=title_page, elements=_Parser(lines).run(i))


def format_element(el: Element) -> str:
    """Return the canonical Fountain source of one element (ignores ``raw``)."""
    t = el.type
    if t is T.SCENE_HEADING:
        number = f" #{el.scene_number}#" if el.scene_number else ""
        if el.forced:
            # "." forces a heading only before a character other than "." or a space, so
            # a heading text such as ". KITCHEN" (from FDX) is written trimmed: ".KITCHEN".
            return "." + el.text.lstrip(". \t") + number
        return el.text + number
    if t is T.ACTION:
        return ("!" if el.forced else "") + el.text
    if t is T.CHARACTER:
        return ("@" if el.forced else "") + el.text + (" ^" if el.dual else "")
    if t in (T.DIALOGUE, T.PARENTHETICAL):
        # An empty line inside a speech is written as two spaces so it does not end it.
        return "\n".join(line or "  " for line in el.text.split("\n"))
    if t is T.LYRICS:
        return "\n".join("~" + line for line in el.text.split("\n"))
    if t is T.TRANSITION:
        return (">" if el.forced else "") + el.text
    if t is T.CENTERED:
        return f"> {el.text} <"
    if t is T.PAGE_BREAK:
        return "==="
    if t is T.SECTION:
        return "#" * max(el.level, 1) + " " + el.text
    if t is T.SYNOPSIS:
        return "= " + el.text
    if t is T.NOTE:
        return "[[" + el.text + "]]"
    if t is T.BONEYARD:
        return "/*" + el.text + "*/"
    return ""


def _format_title_entry(entry: TitleEntry) -> str:
    value_lines = entry.value.split("\n") if entry.value else [""]
    if len(value_lines) == 1:
        return f"{entry.key}: {value_lines[0]}".rstrip()
    return f"{entry.key}:\n" + "\n".join("    " + v for v in value_lines)


def dump_parts(script: Script) -> tuple[list[str], list[str], list[str]]:
    """Return the title page sources, separator lines, and one source per element.

    ``dumps`` is ``"\n".join`` of the three lists; the importer cuts scenes from them.
    """
    title = [e.raw if e.raw is not None else _format_title_entry(e) for e in script.title_page]
    body = [e.raw if e.raw is not None else format_element(e) for e in script.elements]
    separator: list[str] = []
    if script.title_page and script.elements and script.elements[0].type is not T.BLANK:
        # A title page ends at a blank line; one built in code may lack it.
        separator = [""]
    elif not script.title_page and script.elements and script.elements[0].raw is None:
        first_lines = (line for source in body for line in source.split("\n"))
        if g.starts_title_page(first_lines):
            # "Note: ..." on line one would read as a title page.
            separator = [""]
    return title, separator, body


def dumps(script: Script) -> str:
    """Return ``script`` as Fountain text (exactly the parsed source where known)."""
    title, separator, body = dump_parts(script)
    return "\n".join(title + separator + body)
