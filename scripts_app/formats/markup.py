"""Split inline Fountain markup into styled runs for writers that are not HTML (PDF, FDX).

The runs come from the HTML renderer's own output, so emphasis reads the same in the
preview, the PDF and FDX.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from .html import render_inline

__all__ = ["Run", "inline_runs", "plain_text"]

_TOKEN_RE = re.compile(r"<(/?)(strong|em|u)>|<br>\n")


@dataclass(frozen=True, slots=True)
class Run:
    """A stretch of printed text in one style."""

    text: str
    bold: bool = False
    italic: bool = False
    underline: bool = False


# Text without any of these has no markup, notes or boneyard: it is one plain run.
_MARKUP_CHARS = re.compile(r"[*_\[\]/\\\n<>&]")


def inline_runs(text: str) -> list[Run]:
    """Return ``text`` as styled runs; notes and boneyard are dropped, "\\n" kept."""
    if not _MARKUP_CHARS.search(text):
        # Most lines of a script: the same as the full path below, several times faster.
        return [Run(text)] if text else []
    rendered = render_inline(text, notes=False)
    runs: list[Run] = []
    depth = {"strong": 0, "em": 0, "u": 0}
    pos = 0

    def add(chunk: str) -> None:
        if chunk:
            runs.append(
                Run(html.unescape(chunk), depth["strong"] > 0, depth["em"] > 0, depth["u"] > 0)
            )

    for m in _TOKEN_RE.finditer(rendered):
        add(rendered[pos : m.start()])
        pos = m.end()
        if m.group(2):
            depth[m.group(2)] += -1 if m.group(1) else 1
        else:
            runs.append(Run("\n"))
    add(rendered[pos:])
    return runs


def plain_text(text: str) -> str:
    """Return ``text`` as it prints: no markup, notes or boneyard."""
    return "".join(r.text for r in inline_runs(text))
