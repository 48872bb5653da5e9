"""Read uploaded screenplay files and split them into scenes for import.

Every problem with the input raises ``FormatError`` with a message fit for the user.
Decisions (see docs/formats.md):

- Uploads over ``MAX_UPLOAD_BYTES`` (10 MB) are refused from their declared size, or after
  reading at most one byte past the limit, never by reading the whole file.
- Text is decoded as UTF-8 (with or without BOM), UTF-16 with a BOM, and failing those as
  Windows-1252, the encoding of older Windows editors and Final Draft text exports. Bytes
  that are undefined in Windows-1252, NUL bytes without a UTF-16 BOM, or mostly control
  characters mean the file is not text.
- A script without any scene heading is refused: the import creates one row per scene,
  and guessing scene breaks would silently scramble a document that is not a screenplay.
- Two scenes with the same explicit scene number (``#12#``) are refused, since scene
  numbers identify scenes on call sheets and in the app.
- A scene heading starts a scene only if its line reads back as a heading that names a
  place (``opens_scene``: what ``services.validate_heading`` asks, less the length). One
  that does not (a bare ``INT.``, ``.[[note]]``, an FDX heading that is only dots) stays,
  as written, in the text of the scene before it (or the preamble): one odd heading
  never refuses a whole import.
- Characters (``split_script``): every cue's canonical name (``normalize_character_name``)
  is a character, in order of first cue; names that differ only in ``’`` against ``'``
  are one character (``character_key``), named as first written. A compound cue (``JOHN
  AND MARY``, ``JOHN & MARY``, ``TOM, DICK AND HARRY``: parts joined by `` AND ``, ``&`` or
  ``,``) whose every part also speaks alone somewhere in the script is linked to those
  characters: they join the scene's cast and no character is made of the compound (its
  cue text stays as written; ``compound_cues`` lists them). Otherwise the compound cue is
  one character, like any other cue.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import BinaryIO

from . import fdx, fountain, grammar, pdfin
from .errors import FormatError
from .model import (
    Element,
    ElementType,
    Script,
    character_key,
    normalize_character_name,
    strip_markup,
)

__all__ = [
    "MAX_UPLOAD_BYTES",
    "ImportedScene",
    "ImportedScript",
    "assemble",
    "decode_text",
    "import_file",
    "opens_scene",
    "read_bytes",
    "read_script",
    "split_script",
]

T = ElementType

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
FOUNTAIN_EXTENSIONS = (".fountain", ".spmd", ".txt", ".text", "")
FDX_EXTENSIONS = (".fdx",)

# Title page keys (lower case) that map to ImportedScript fields.
_TITLE_KEYS = {
    "title": "title",
    "credit": "credit",
    "author": "authors",
    "authors": "authors",
    "source": "source",
    "draft date": "draft_date",
    "date": "draft_date",
    "contact": "contact",
    "logline": "logline",
    "synopsis": "logline",
    "notes": "notes",
    "note": "notes",
}


@dataclass(slots=True)
class ImportedScene:
    """One scene cut from an imported script, ready to become a scene row."""

    index: int  # 0-based order in the script
    heading: str  # as written, without the forcing "." and the "#n#" scene number
    number: str | None  # explicit scene number, if the script has one
    text: str  # the exact Fountain source of the scene, heading included
    cast: list[str]  # canonical names of the characters who speak, in order of appearance


@dataclass(slots=True)
class ImportedScript:
    """What an import yields: title page fields, preamble, scenes and characters."""

    title: str = ""
    credit: str = ""
    authors: str = ""
    source: str = ""
    draft_date: str = ""
    contact: str = ""
    logline: str = ""
    notes: str = ""
    # Title page fields with no field above, in order ("Copyright", "Revision", ...).
    extra: dict[str, str] = field(default_factory=dict)
    # The exact title page source ("" when none) and the text between it and the first
    # heading, line ends included.
    title_page_text: str = ""
    preamble: str = ""
    scenes: list[ImportedScene] = field(default_factory=list)
    # Canonical character names in order of first cue; variants seen for each.
    characters: list[str] = field(default_factory=list)
    character_variants: dict[str, list[str]] = field(default_factory=dict)
    # Compound cues linked to the characters they name: {"JOHN AND MARY": ["JOHN", "MARY"]}.
    compound_cues: dict[str, list[str]] = field(default_factory=dict)


def assemble(title_page_text: str, preamble: str, scene_texts: list[str]) -> str:
    """Return the Fountain source rebuilt from the pieces ``split_script`` cut it into."""
    head = title_page_text + "\n" if title_page_text else ""
    return head + preamble + "\n".join(scene_texts)


# The separators of a compound cue's parts (names are upper case by then).
_COMPOUND_SEPARATOR_RE = re.compile(r"\s+(?:AND|&)\s+|\s*,\s*")


def opens_scene(source: str) -> bool:
    """Return True if a scene heading's source line starts a scene: it reads back as a
    heading and names a place (``INT.`` alone, or ``.[[note]]``, does not)."""
    heading = grammar.parse_scene_heading(source.split("\n", 1)[0])
    return heading is not None and bool(heading.location)


def compound_parts(name: str) -> list[str]:
    """Return the parts of a compound cue name (``JOHN & MARY`` -> ``["JOHN", "MARY"]``),
    or ``[]`` when ``name`` names one speaker."""
    parts = [" ".join(p.split()) for p in _COMPOUND_SEPARATOR_RE.split(name)]
    return parts if len(parts) > 1 and all(parts) else []


def split_script(script_or_text: Script | str) -> ImportedScript:
    """Split a script into title page fields, preamble, scenes and merged characters.

    ``scene.text`` is the exact source of each scene, so
    ``assemble(r.title_page_text, r.preamble, [s.text for s in r.scenes])`` gives back the
    Fountain source that was split. The rules for scenes and characters are in the module
    docstring.
    """
    script = fountain.parse(script_or_text) if isinstance(script_or_text, str) else script_or_text
    result = ImportedScript()
    _map_title_page(script, result)
    # The source is "\n".join(title + separator + sources), as fountain.dumps writes it.
    title, separator, sources = fountain.dump_parts(script)
    result.title_page_text = "\n".join(title)
    heading_at = [
        i
        for i, e in enumerate(script.elements)
        if e.type is T.SCENE_HEADING and opens_scene(sources[i])
    ]
    if not heading_at:
        placeless = any(e.type is T.SCENE_HEADING for e in script.elements)
        raise FormatError(
            'This file has no scene headings (lines such as "INT. KITCHEN - DAY"), so it '
            "cannot be split into scenes. "
            + ('Its headings name no place (such as "INT." alone). ' if placeless else "")
            + "Add at least one scene heading and try again."
        )
    first = heading_at[0]
    # Each preamble line keeps its line end, so the first heading starts right after it.
    result.preamble = "".join(src + "\n" for src in separator + sources[:first])
    speakers = _Speakers(script)
    seen_numbers: dict[str, int] = {}
    for n, start in enumerate(heading_at):
        stop = heading_at[n + 1] if n + 1 < len(heading_at) else len(script.elements)
        heading = script.elements[start]
        if heading.scene_number:
            if heading.scene_number in seen_numbers:
                raise FormatError(
                    f'Scene number "{heading.scene_number}" is used twice (scenes '
                    f"{seen_numbers[heading.scene_number] + 1} and {n + 1}: "
                    f'"{heading.text}"). Give each scene its own number.'
                )
            seen_numbers[heading.scene_number] = n
        cast: list[str] = []
        for el in script.elements[start:stop]:
            if el.type is T.CHARACTER:
                for name in speakers.names(el, result):
                    if name not in cast:
                        cast.append(name)
        result.scenes.append(
            ImportedScene(
                index=n,
                # As the source line reads (an FDX ". KITCHEN" is written ".KITCHEN").
                heading=grammar.parse_scene_heading(sources[start].split("\n", 1)[0]).text,
                number=heading.scene_number,
                text="\n".join(sources[start:stop]),
                cast=cast,
            )
        )
    return result


class _Speakers:
    """The characters of one script's cues (the rules are in the module docstring)."""

    def __init__(self, script: Script) -> None:
        # The first spelling of each name (by character_key) among all cues.
        self.spelling: dict[str, str] = {}
        for el in script.elements:
            if el.type is T.CHARACTER:
                name = normalize_character_name(el.text)
                self.spelling.setdefault(character_key(name), name)
        # A part speaks alone if it is some cue's whole name.
        self.linked: dict[str, list[str]] = {}
        for key, name in self.spelling.items():
            parts = [character_key(p) for p in compound_parts(name)]
            if parts and all(p in self.spelling and p != key for p in parts):
                self.linked[key] = [self.spelling[p] for p in dict.fromkeys(parts)]

    def names(self, el: Element, result: ImportedScript) -> list[str]:
        """Return the characters the cue ``el`` names, recording them in ``result``."""
        key = character_key(normalize_character_name(el.text))
        name = self.spelling[key]
        if not name:  # "@" alone
            return []
        cue = strip_markup(el.text).strip()
        if key in self.linked:
            result.compound_cues.setdefault(name, self.linked[key])
            names = self.linked[key]
        else:
            variants = result.character_variants.setdefault(name, [])
            if cue not in variants:
                variants.append(cue)
            names = [name]
        for speaker in names:
            if speaker not in result.characters:
                result.characters.append(speaker)
        return names


def _map_title_page(script: Script, result: ImportedScript) -> None:
    for entry in script.title_page:
        key = entry.key.strip().lower()
        attr = _TITLE_KEYS.get(key)
        value = strip_markup(entry.value).strip() if attr == "title" else entry.value.strip()
        if attr is None:
            result.extra.setdefault(entry.key.strip(), value)
        elif not getattr(result, attr):
            setattr(result, attr, value)


# --- reading uploads ---------------------------------------------------------------------


def read_bytes(upload: bytes | BinaryIO, *, max_bytes: int = MAX_UPLOAD_BYTES) -> bytes:
    """Return the upload's bytes, refusing anything over ``max_bytes`` without reading it.

    ``upload`` is bytes or a binary file object (a Django ``UploadedFile`` works: its
    ``size`` is checked first).
    """
    limit_mb = max_bytes / (1024 * 1024)
    too_big = FormatError(f"This file is too large: the limit is {limit_mb:g} MB.")
    if isinstance(upload, bytes | bytearray | memoryview):
        if len(upload) > max_bytes:
            raise too_big
        return bytes(upload)
    size = getattr(upload, "size", None)
    if size is None:
        try:
            pos = upload.tell()
            size = upload.seek(0, os.SEEK_END) - pos
            upload.seek(pos)
        except (AttributeError, OSError, ValueError):
            size = None
    if size is not None and size > max_bytes:
        raise too_big
    # The declared size can lie (or be missing): never read more than one byte past it.
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise too_big
    return data


def looks_binary(text: str) -> bool:
    sample = text[:8192]
    if not sample:
        return False
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\t\n\r\f")
    return controls / len(sample) > 0.05


def decode_text(data: bytes) -> str:
    """Decode uploaded text; raise ``FormatError`` for binary or undecodable data."""
    not_text = FormatError(
        "This file does not look like a text screenplay (it contains binary data). "
        "Upload a .fountain, .fdx or plain text file."
    )
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    elif b"\x00" in data:
        raise not_text
    else:
        candidates = ["utf-8", "cp1252"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text or looks_binary(text):
            raise not_text
        return text
    if candidates == ["utf-8", "cp1252"]:
        raise FormatError(
            "This file's text encoding could not be read. Save it as UTF-8 and upload it again."
        )
    raise FormatError(
        f"This file says it is {candidates[0].upper().replace('-SIG', '')} but is not valid "
        "text in that encoding. Save it as UTF-8 and upload it again."
    )


def read_script(
    upload: bytes | BinaryIO, filename: str = "", *, max_bytes: int = MAX_UPLOAD_BYTES
) -> Script:
    """Read a .fountain, .fdx, .pdf or plain text upload into a ``Script``."""
    data = read_bytes(upload, max_bytes=max_bytes)
    ext = os.path.splitext(filename.lower())[1]
    if not data.strip():
        raise FormatError("This file is empty.")
    if ext == ".pdf" or data[:1024].lstrip().startswith(b"%PDF-"):
        return pdfin.loads(data)
    if ext in FDX_EXTENSIONS or (
        ext not in FOUNTAIN_EXTENSIONS
        and data.lstrip()[:100].lower().startswith((b"<?xml", b"<finaldraft"))
    ):
        return fdx.loads(data)
    if ext not in FOUNTAIN_EXTENSIONS:
        raise FormatError(
            f'Files of type "{ext}" cannot be imported. '
            "Upload a .fountain, .fdx, .pdf or .txt file."
        )
    text = decode_text(data)
    if text.lstrip().startswith("<?xml") and "<FinalDraft" in text[:2000]:
        # An FDX saved with the wrong extension.
        return fdx.loads(data)
    return fountain.parse(text)


def import_file(
    upload: bytes | BinaryIO, filename: str = "", *, max_bytes: int = MAX_UPLOAD_BYTES
) -> ImportedScript:
    """Read an upload and split it into scenes (``read_script`` then ``split_script``)."""
    return split_script(read_script(upload, filename, max_bytes=max_bytes))
