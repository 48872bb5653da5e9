"""Inline diffs between two texts, the way a revision mode shows them.

Lines are compared first; within a replaced block, words are compared so a one-word edit
shows as one word struck and one added, not two whole lines.
"""

import difflib
import re
from dataclasses import dataclass

_TOKEN_RE = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True)
class Segment:
    op: str  # "equal", "insert" or "delete"
    text: str


@dataclass(frozen=True)
class DiffStats:
    inserted_words: int
    deleted_words: int


def _words(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def _word_diff(old: str, new: str) -> list[Segment]:
    a, b = _words(old), _words(new)
    out: list[Segment] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(Segment("equal", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(Segment("delete", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(Segment("insert", "".join(b[j1:j2])))
    return out


def inline_diff(old: str, new: str) -> list[Segment]:
    """Return the segments that turn ``old`` into ``new`` (adjacent equal ops merged)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    segments: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(Segment("equal", "".join(a[i1:i2])))
        elif op == "delete":
            segments.append(Segment("delete", "".join(a[i1:i2])))
        elif op == "insert":
            segments.append(Segment("insert", "".join(b[j1:j2])))
        else:
            segments.extend(_word_diff("".join(a[i1:i2]), "".join(b[j1:j2])))
    merged: list[Segment] = []
    for seg in segments:
        if not seg.text:
            continue
        if merged and merged[-1].op == seg.op:
            merged[-1] = Segment(seg.op, merged[-1].text + seg.text)
        else:
            merged.append(seg)
    return merged


def diff_stats(segments: list[Segment]) -> DiffStats:
    ins = sum(len(s.text.split()) for s in segments if s.op == "insert")
    dels = sum(len(s.text.split()) for s in segments if s.op == "delete")
    return DiffStats(inserted_words=ins, deleted_words=dels)
