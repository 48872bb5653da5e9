"""Read and write Fountain 1.1 (https://fountain.io/syntax).

``parse`` keeps every source line in ``Element.raw``/``TitleEntry.raw`` so that
``dumps(parse(text)) == text`` holds for any input, including odd whitespace and CRLF line
ends. Elements without ``raw`` (built in code or read from FDX) are written in the canonical
form that ``parse`` reads back as the same element.
"""

from __future__ import annotations

import re

from .model import Element, ElementType, Script, TitleEntry, split_cue

__all__ = ["parse", "dumps", "format_element", "looks_like_scene_heading"]

T = ElementType

_HEADING_RE = re.compile(r"^(?:INT\.?/EXT|INT|EXT|EST|I/E)[. ]", re.I)
_SCENE_NUMBER_RE = re.compile(r"^(?P<text>.*?)(?P<sep>\s*)#(?P<num>[A-Za-z0-9.\-]+)#\s*$")
_TITLE_KEY_RE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9 _\-]*?)\s*:(?P<value>.*)$")
_PAGE_BREAK_RE = re.compile(r"^\s*={3,}\s*$")
_SECTION_RE = re.compile(r"^\s*(?P<hashes>#+)(?P<text>.*)$")
_SYNOPSIS_RE = re.compile(r"^\s*=(?P<text>.*)$")
_CENTERED_RE = re.compile(r"^\s*>(?P<text>.*)<\s*$")
_FORCED_TRANSITION_RE = re.compile(r"^\s*>(?P<text>.*)$")
_LYRICS_RE = re.compile(r"^\s*~(?P<text>.*)$")
# A single leading period forces a heading; ".." starts ordinary text such as "...and".
_FORCED_HEADING_RE = re.compile(r"^\s*\.(?P<text>[^.].*)$")
_FORCED_CHARACTER_RE = re.compile(r"^\s*@(?P<text>.*)$")
_FORCED_ACTION_RE = re.compile(r"^\s*!(?P<text>.*)$")


def _blank(line: str) -> bool:
    return line.strip() == ""


def looks_like_scene_heading(text: str) -> bool:
    """Return True if ``text`` reads as a scene heading without a forcing period."""
    return bool(_HEADING_RE.match(text.strip()))


def _is_transition(text: str) -> bool:
    s = text.strip()
    return s.endswith("TO:") and s == s.upper()


def _is_character(text: str) -> bool:
    s = text.rstrip()
    if s.endswith("^"):
        s = s[:-1]
    name, _ = split_cue(s)
    # A cue is an upper-case line; extensions such as "(cont'd)" may be lower case.
    return any(c.isalpha() for c in name) and name == name.upper()


def _parse_title_page(lines: list[str]) -> tuple[list[TitleEntry], int]:
    """Return the title page entries and the index of the first line after them."""
    first = lines[0].rstrip("\r") if lines else ""
    match = _TITLE_KEY_RE.match(first)
    if not match or looks_like_scene_heading(first):
        return [], 0
    entries: list[TitleEntry] = []
    value_lines: list[str] = []
    raw_lines: list[str] = []
    key = ""
    i = 0

    def flush() -> None:
        value = "\n".join(v for v in value_lines if v)
        entries.append(TitleEntry(key=key, value=value, raw="\n".join(raw_lines)))

    while i < len(lines) and not _blank(lines[i]):
        line = lines[i].rstrip("\r")
        match = None if line[:1] in (" ", "\t") else _TITLE_KEY_RE.match(line)
        if match:
            if raw_lines:
                flush()
            key = match["key"]
            value_lines = [match["value"].strip()]
            raw_lines = [lines[i]]
        else:
            # Indented (or otherwise unkeyed) lines continue the previous value.
            value_lines.append(line.strip())
            raw_lines.append(lines[i])
        i += 1
    flush()
    return entries, i


def _find_block_end(lines: list[str], start: int, opener: str, closer: str) -> int | None:
    """Return the last line of a block element opened at ``lines[start]``, if standalone.

    The block must start its first line and end its last line (only whitespace after
    ``closer``); otherwise the markup is inline and stays in the surrounding text.
    """
    first = lines[start].rstrip("\r")
    pos = first.index(opener) + len(opener)
    j = start
    text = first
    while True:
        end = text.find(closer, pos)
        if end != -1:
            return j if text[end + len(closer) :].strip() == "" else None
        j += 1
        if j >= len(lines):
            return None
        text = lines[j].rstrip("\r")
        # Notes may not span an empty line (a line of two spaces is allowed).
        if opener == "[[" and text == "":
            return None
        pos = 0


def parse(text: str) -> Script:
    """Parse Fountain ``text`` into a ``Script``."""
    lines = text.split("\n")
    title_page, i = _parse_title_page(lines)
    elements: list[Element] = []
    n = len(lines)
    prev_blank = True
    # Index of the line that produced the last action element, to merge paragraph lines.
    last_action_line = -2

    def emit(etype: ElementType, text: str, raw: str, **kw) -> Element:
        el = Element(type=etype, text=text, raw=raw, **kw)
        elements.append(el)
        return el

    while i < n:
        raw = lines[i]
        line = raw.rstrip("\r")
        stripped = line.strip()
        if stripped == "":
            emit(T.BLANK, "", raw)
            prev_blank = True
            i += 1
            continue

        for opener, closer, etype in (("/*", "*/", T.BONEYARD), ("[[", "]]", T.NOTE)):
            if stripped.startswith(opener):
                end = _find_block_end(lines, i, opener, closer)
                if end is not None:
                    block = "\n".join(lines[i : end + 1])
                    inner = "\n".join(x.rstrip("\r") for x in lines[i : end + 1]).strip()
                    emit(etype, inner[len(opener) : -len(closer)], block)
                    i = end + 1
                    prev_blank = False
                    break
        else:
            next_blank = i + 1 >= n or _blank(lines[i + 1])
            i = _classify(
                lines, i, line, raw, prev_blank, next_blank, emit, elements, last_action_line
            )
            if elements[-1].type is T.ACTION:
                last_action_line = i - 1
            prev_blank = False
    return Script(title_page=title_page, elements=elements)


def _classify(lines, i, line, raw, prev_blank, next_blank, emit, elements, last_action_line) -> int:
    """Emit the element(s) starting at line ``i``; return the index of the next line."""
    if _PAGE_BREAK_RE.match(line):
        emit(T.PAGE_BREAK, "", raw)
        return i + 1
    if m := _SECTION_RE.match(line):
        emit(T.SECTION, m["text"].strip(), raw, level=len(m["hashes"]))
        return i + 1
    if m := _SYNOPSIS_RE.match(line):
        emit(T.SYNOPSIS, m["text"].strip(), raw)
        return i + 1
    if m := _CENTERED_RE.match(line):
        emit(T.CENTERED, m["text"].strip(), raw)
        return i + 1
    if m := _FORCED_TRANSITION_RE.match(line):
        emit(T.TRANSITION, m["text"].strip(), raw, forced=True)
        return i + 1
    if m := _LYRICS_RE.match(line):
        emit(T.LYRICS, m["text"], raw)
        return i + 1
    if m := _FORCED_HEADING_RE.match(line):
        _emit_heading(m["text"], raw, True, emit)
        return i + 1
    if m := _FORCED_CHARACTER_RE.match(line):
        return _emit_speech(lines, i, m["text"], raw, True, emit)
    if m := _FORCED_ACTION_RE.match(line):
        _emit_action(m["text"], raw, True, i, emit, elements, last_action_line)
        return i + 1
    # The spec wants a blank line after a heading too; writers often omit it, and a line
    # starting "INT." is never meant as a character cue, so only the one before counts.
    if prev_blank and looks_like_scene_heading(line):
        _emit_heading(line.strip(), raw, False, emit)
        return i + 1
    if prev_blank and next_blank and _is_transition(line):
        emit(T.TRANSITION, line.strip(), raw)
        return i + 1
    if prev_blank and not next_blank and _is_character(line):
        return _emit_speech(lines, i, line.strip(), raw, False, emit)
    _emit_action(line, raw, False, i, emit, elements, last_action_line)
    return i + 1


def _emit_heading(text: str, raw: str, forced: bool, emit) -> None:
    number = None
    if m := _SCENE_NUMBER_RE.match(text):
        text, number = m["text"], m["num"]
    emit(T.SCENE_HEADING, text.strip(), raw, forced=forced, scene_number=number)


def _emit_action(text, raw, forced, i, emit, elements, last_action_line) -> None:
    # Consecutive action lines form one paragraph element.
    if elements and last_action_line == i - 1 and elements[-1].type is T.ACTION:
        prev = elements[-1]
        prev.text += "\n" + text
        prev.raw += "\n" + raw
        return
    emit(T.ACTION, text, raw, forced=forced)


def _emit_speech(lines, i, cue, raw, forced, emit) -> int:
    cue = cue.strip()
    dual = cue.endswith("^")
    if dual:
        cue = cue[:-1].rstrip()
    name, extensions = split_cue(cue)
    emit(T.CHARACTER, cue, raw, forced=forced, name=name, extensions=extensions, dual=dual)
    j = i + 1
    current: Element | None = None  # the dialogue element collecting consecutive lines
    while j < len(lines):
        raw = lines[j]
        line = raw.rstrip("\r")
        # A line of exactly two spaces keeps an empty line inside the speech.
        if _blank(line) and line != "  ":
            break
        s = line.strip()
        if s.startswith("(") and s.endswith(")"):
            emit(T.PARENTHETICAL, s, raw)
            current = None
        elif m := _LYRICS_RE.match(line):
            emit(T.LYRICS, m["text"], raw)
            current = None
        elif current is not None:
            current.text += "\n" + s
            current.raw += "\n" + raw
        else:
            current = emit(T.DIALOGUE, s, raw)
        j += 1
    return j


def format_element(el: Element) -> str:
    """Return the canonical Fountain source of one element (ignores ``raw``)."""
    t = el.type
    if t is T.SCENE_HEADING:
        number = f" #{el.scene_number}#" if el.scene_number else ""
        return ("." if el.forced else "") + el.text + number
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


def dumps(script: Script) -> str:
    """Return ``script`` as Fountain text (exactly the parsed source where known)."""
    parts = [e.raw if e.raw is not None else _format_title_entry(e) for e in script.title_page]
    # A title page built in code needs the blank line that ends it.
    if (
        script.title_page
        and script.elements
        and script.title_page[-1].raw is None
        and script.elements[0].type is not T.BLANK
    ):
        parts.append("")
    parts.extend(e.raw if e.raw is not None else format_element(e) for e in script.elements)
    return "\n".join(parts)
