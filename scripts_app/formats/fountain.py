"""Read and write Fountain 1.1 (https://fountain.io/syntax).

``parse`` keeps every source line in ``Element.raw``/``TitleEntry.raw`` so that
``dumps(parse(text)) == text`` holds for any input, including odd whitespace and CRLF line
ends. Elements without ``raw`` (built in code or read from FDX) are written in the canonical
form that ``parse`` reads back as the same element.
"""

from __future__ import annotations

import re

from .model import Element, ElementType, Script, TitleEntry, split_cue

__all__ = ["parse", "dumps", "dump_parts", "format_element", "looks_like_scene_heading"]

T = ElementType

_HEADING_RE = re.compile(r"^(?:INT\.?/EXT|INT|EXT|EST|I/E)[. ]", re.I)
_SCENE_NUMBER_RE = re.compile(r"^(?P<text>.*?)(?P<sep>\s*)#(?P<num>[A-Za-z0-9.\-]+)#\s*$")
# Greedy key then ":" (key stripped later): a lazy key followed by \s* backtracks
# quadratically on a long run of spaces.
_TITLE_KEY_RE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9 _\-]*):(?P<value>.*)$")
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
            key = match["key"].rstrip()
            value_lines = [match["value"].strip()]
            raw_lines = [lines[i]]
        else:
            # Indented (or otherwise unkeyed) lines continue the previous value.
            value_lines.append(line.strip())
            raw_lines.append(lines[i])
        i += 1
    flush()
    return entries, i


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
        # Lazily built: for each line, the first line at or after it holding a closer
        # (or an empty line), so no unclosed "[[" or "/*" rescans the rest of the file.
        self._next: dict[str, list[int]] = {}

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

    def _next_line(self, key: str, start: int) -> int:
        """Return the first line index >= ``start`` that has ``key`` ("" = empty line)."""
        table = self._next.get(key)
        if table is None:
            table = [self.n] * (self.n + 1)
            for k in range(self.n - 1, -1, -1):
                line = self.lines[k].rstrip("\r")
                hit = (line == "") if key == "" else (key in line)
                table[k] = k if hit else table[k + 1]
            self._next[key] = table
        return table[start] if start <= self.n else self.n

    def block_end(self, start: int, opener: str, closer: str) -> int | None:
        """Return the last line of a note/boneyard block opened at ``start``, if standalone.

        The block must start its first line and end its last line (only whitespace after
        ``closer``); otherwise the markup is inline and stays in the surrounding text.
        """
        first = self.lines[start].rstrip("\r")
        pos = first.index(opener) + len(opener)
        end = first.find(closer, pos)
        if end != -1:
            return start if first[end + len(closer) :].strip() == "" else None
        j = self._next_line(closer, start + 1)
        if j >= self.n:
            return None
        # Notes may not span an empty line (a line of two spaces is allowed).
        if opener == "[[" and self._next_line("", start + 1) < j:
            return None
        text = self.lines[j].rstrip("\r")
        end = text.find(closer)
        return j if text[end + len(closer) :].strip() == "" else None

    def run(self, i: int) -> list[Element]:
        lines, n = self.lines, self.n
        prev_blank = True
        while i < n:
            raw = lines[i]
            line = raw.rstrip("\r")
            stripped = line.strip()
            if stripped == "":
                self.emit(T.BLANK, "", raw)
                prev_blank = True
                i += 1
                continue
            for opener, closer, etype in (("/*", "*/", T.BONEYARD), ("[[", "]]", T.NOTE)):
                if stripped.startswith(opener):
                    end = self.block_end(i, opener, closer)
                    if end is not None:
                        block = "\n".join(lines[i : end + 1])
                        inner = "\n".join(x.rstrip("\r") for x in lines[i : end + 1]).strip()
                        self.emit(etype, inner[len(opener) : -len(closer)], block)
                        i = end + 1
                        prev_blank = False
                        break
            else:
                next_blank = i + 1 >= n or _blank(lines[i + 1])
                i = self.classify(i, line, raw, prev_blank, next_blank)
                prev_blank = False
        return self.finish()

    def classify(self, i: int, line: str, raw: str, prev_blank: bool, next_blank: bool) -> int:
        """Emit the element(s) starting at line ``i``; return the index of the next line."""
        if _PAGE_BREAK_RE.match(line):
            self.emit(T.PAGE_BREAK, "", raw)
        elif m := _SECTION_RE.match(line):
            self.emit(T.SECTION, m["text"].strip(), raw, level=len(m["hashes"]))
        elif m := _SYNOPSIS_RE.match(line):
            self.emit(T.SYNOPSIS, m["text"].strip(), raw)
        elif m := _CENTERED_RE.match(line):
            self.emit(T.CENTERED, m["text"].strip(), raw)
        elif m := _FORCED_TRANSITION_RE.match(line):
            self.emit(T.TRANSITION, m["text"].strip(), raw, forced=True)
        elif m := _LYRICS_RE.match(line):
            self.emit(T.LYRICS, m["text"], raw)
        elif m := _FORCED_HEADING_RE.match(line):
            self.heading(m["text"], raw, True)
        elif m := _FORCED_CHARACTER_RE.match(line):
            return self.speech(i, m["text"], raw, True)
        elif m := _FORCED_ACTION_RE.match(line):
            self.action(i, m["text"], raw, True)
        # The spec wants a blank line after a heading too; writers often omit it, and a
        # line starting "INT." is never meant as a character cue, so only the one before
        # counts.
        elif prev_blank and looks_like_scene_heading(line):
            self.heading(line.strip(), raw, False)
        elif prev_blank and next_blank and _is_transition(line):
            self.emit(T.TRANSITION, line.strip(), raw)
        elif prev_blank and not next_blank and _is_character(line):
            return self.speech(i, line.strip(), raw, False)
        else:
            self.action(i, line, raw, False)
        return i + 1

    def heading(self, text: str, raw: str, forced: bool) -> None:
        number = None
        if m := _SCENE_NUMBER_RE.match(text):
            text, number = m["text"], m["num"]
        self.emit(T.SCENE_HEADING, text.strip(), raw, forced=forced, scene_number=number)

    def action(self, i: int, text: str, raw: str, forced: bool) -> None:
        # Consecutive action lines form one paragraph element.
        if self.open is not None and self.last_action_line == i - 1:
            self.extend(text, raw)
        else:
            self.emit_multi(T.ACTION, text, raw, forced=forced)
        self.last_action_line = i

    def speech(self, i: int, cue: str, raw: str, forced: bool) -> int:
        cue = cue.strip()
        dual = cue.endswith("^")
        if dual:
            cue = cue[:-1].rstrip()
        name, extensions = split_cue(cue)
        self.emit(T.CHARACTER, cue, raw, forced=forced, name=name, extensions=extensions, dual=dual)
        j = i + 1
        while j < self.n:
            raw = self.lines[j]
            line = raw.rstrip("\r")
            # A line of exactly two spaces keeps an empty line inside the speech.
            if _blank(line) and line != "  ":
                break
            s = line.strip()
            if s.startswith("(") and s.endswith(")"):
                self.emit(T.PARENTHETICAL, s, raw)
            elif m := _LYRICS_RE.match(line):
                self.emit(T.LYRICS, m["text"], raw)
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
        first = body[0].split("\n", 1)[0]
        if _TITLE_KEY_RE.match(first) and not looks_like_scene_heading(first):
            # "CUT TO:" or "Note: ..." on line one would read as a title page.
            separator = [""]
    return title, separator, body


def dumps(script: Script) -> str:
    """Return ``script`` as Fountain text (exactly the parsed source where known)."""
    title, separator, body = dump_parts(script)
    return "\n".join(title + separator + body)
