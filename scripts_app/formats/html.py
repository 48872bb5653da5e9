"""Render a screenplay as HTML: preview fragments and a standalone document.

All text from the script is untrusted (users and the generator write it), so every piece
of it goes through ``html.escape`` before any markup of ours is added; emphasis markers are
matched on the escaped text, which escaping never creates or removes.
"""

from __future__ import annotations

import html
import re

from . import fountain
from .model import SPEECH_TYPES, Element, ElementType, Script, split_hidden

__all__ = ["render_html", "render_html_document", "render_inline", "CSS"]

T = ElementType

# Backslash-escaped markers become private-use characters while emphasis is matched.
_ESCAPES = {"\\*": "\ue000", "\\_": "\ue001"}
_UNESCAPES = {"\ue000": "*", "\ue001": "_"}
# Markers must hug the emphasised text ("5 * 3 * 2" stays literal) and stay on one line.
# The emphasised text may not contain its own closing marker: a failed match then stops at
# the next marker instead of scanning the whole line, which keeps hostile input linear.
_BOLD_ITALIC_RE = re.compile(r"\*\*\*(?=\S)((?:[^*\n]|\*(?!\*\*))+?)(?<=\S)\*\*\*")
_BOLD_RE = re.compile(r"\*\*(?=\S)((?:[^*\n]|\*(?!\*))+?)(?<=\S)\*\*")
_ITALIC_RE = re.compile(r"\*(?=\S)([^\n*]+?)(?<=\S)\*")
# Underscores inside words (snake_case) are not emphasis.
_UNDERLINE_RE = re.compile(r"(?<![A-Za-z0-9])_(?=\S)([^\n_]+?)(?<=\S)_(?![A-Za-z0-9])")


def _emphasis(text: str) -> str:
    for src, dst in _ESCAPES.items():
        text = text.replace(src, dst)
    out = html.escape(text, quote=True)
    out = _BOLD_ITALIC_RE.sub(r"<strong><em>\1</em></strong>", out)
    out = _BOLD_RE.sub(r"<strong>\1</strong>", out)
    out = _ITALIC_RE.sub(r"<em>\1</em>", out)
    out = _UNDERLINE_RE.sub(r"<u>\1</u>", out)
    for src, dst in _UNESCAPES.items():
        out = out.replace(src, dst)
    return out.replace("\n", "<br>\n")


def render_inline(text: str, *, notes: bool = True) -> str:
    """Return escaped HTML for one element's text with emphasis and inline notes."""
    parts = []
    for hidden, piece in split_hidden(text):
        if not hidden:
            parts.append(_emphasis(piece))
        elif piece.startswith("[[") and notes:
            parts.append(f'<span class="fx-note">{_emphasis(piece[2:-2])}</span>')
        # Inline boneyard (and notes when hidden) is dropped.
    return "".join(parts)


def _p(css: str, inner: str) -> str:
    return f'<p class="{css}">{inner}</p>'


def _element_html(el: Element, notes: bool) -> str:
    t = el.type
    if t is T.SCENE_HEADING:
        number = ""
        if el.scene_number:
            number = f'<span class="fx-scene-number">{html.escape(el.scene_number)}</span>'
        return _p(t.css_class, number + render_inline(el.text, notes=notes))
    if t is T.CHARACTER:
        name = render_inline(el.name or el.text, notes=notes)
        ext = "".join(
            f' <span class="fx-extension">({html.escape(x)})</span>' for x in el.extensions
        )
        # A cue forced with "@" prints as typed ("@McDUCK" -> McDUCK): the stylesheet
        # upper-cases other cues, not this one.
        css = t.css_class + (" fx-forced" if el.forced else "")
        return _p(css, name + ext)
    if t is T.PAGE_BREAK:
        return '<hr class="fx-page-break">'
    if t is T.SECTION:
        level = max(1, min(el.level, 6))
        return _p(f"{t.css_class} fx-section-{level}", render_inline(el.text, notes=notes))
    if t is T.NOTE:
        return _p(t.css_class, _emphasis(el.text)) if notes else ""
    if t in (T.BONEYARD, T.BLANK):
        return ""
    return _p(t.css_class, render_inline(el.text, notes=notes))


def _speech_end(elements: list[Element], start: int) -> int:
    end = start + 1
    while end < len(elements) and elements[end].type in SPEECH_TYPES:
        end += 1
    return end


def _title_page_html(script: Script) -> str:
    if not script.title_page:
        return ""
    rows = []
    for entry in script.title_page:
        key = re.sub(r"[^a-z0-9]+", "-", entry.key.lower()).strip("-") or "field"
        rows.append(
            f'<div class="fx-title-field fx-title-{key}">'
            f'<span class="fx-title-key">{html.escape(entry.key)}</span>'
            f'<span class="fx-title-value">{render_inline(entry.value)}</span></div>'
        )
    return '<div class="fx-title-page">' + "".join(rows) + "</div>"


def render_html(
    script_or_text: Script | str, *, title_page: bool = True, notes: bool = True
) -> str:
    """Return the screenplay as an HTML fragment with one ``fx-*`` class per element type.

    Speeches are wrapped in ``div.fx-dialogue-block``; a "^" pair in
    ``div.fx-dual-dialogue``. Notes render as ``.fx-note`` unless ``notes`` is False;
    boneyard never renders.
    """
    script = fountain.parse(script_or_text) if isinstance(script_or_text, str) else script_or_text
    out = [_title_page_html(script)] if title_page else []
    out.append('<div class="fx-script">')
    elements = script.elements
    i = 0
    # Where the last speech started in ``out``, so a dual cue can wrap it with its partner.
    last_speech: tuple[int, int] | None = None  # (index in out, index of its end element)
    while i < len(elements):
        el = elements[i]
        if el.type is T.CHARACTER:
            end = _speech_end(elements, i)
            block = (
                '<div class="fx-dialogue-block">'
                + "".join(_element_html(e, notes) for e in elements[i:end])
                + "</div>"
            )
            partner_ok = last_speech is not None and all(
                e.type is T.BLANK for e in elements[last_speech[1] : i]
            )
            if el.dual and partner_ok:
                left = out.pop(last_speech[0])
                out.insert(
                    last_speech[0],
                    f'<div class="fx-dual-dialogue">{left}{block}</div>',
                )
                last_speech = None
            else:
                out.append(block)
                last_speech = (len(out) - 1, end)
            i = end
            continue
        fragment = _element_html(el, notes)
        if fragment:
            out.append(fragment)
        if el.type is not T.BLANK:
            last_speech = None
        i += 1
    out.append("</div>")
    return "\n".join(out)


CSS = """
.fx-script, .fx-title-page { font-family: "Courier Prime", Courier, monospace;
  font-size: 12pt; line-height: 1; max-width: 6in; margin: 0 auto; }
.fx-script p { margin: 1em 0; white-space: pre-wrap; }
.fx-scene-heading { font-weight: bold; text-transform: uppercase; }
.fx-scene-number { float: right; }
.fx-character { margin: 1em 0 0 2.2in !important; text-transform: uppercase; }
.fx-character.fx-forced { text-transform: none; }
.fx-dialogue { margin: 0 1.5in 0 1in !important; }
.fx-parenthetical { margin: 0 2in 0 1.6in !important; }
.fx-lyrics { margin: 0 1.5in 0 1in !important; font-style: italic; }
.fx-transition { text-align: right; text-transform: uppercase; }
.fx-centered { text-align: center; }
.fx-section, .fx-synopsis, .fx-note { color: #777; }
.fx-dual-dialogue { display: flex; gap: 1em; }
.fx-dual-dialogue > .fx-dialogue-block { flex: 1; }
.fx-dual-dialogue .fx-character, .fx-dual-dialogue .fx-dialogue,
.fx-dual-dialogue .fx-parenthetical { margin-left: 0.5in !important;
  margin-right: 0 !important; }
.fx-title-page { text-align: center; margin-bottom: 3em; }
.fx-title-key { display: none; }
.fx-title-field { margin: 1em 0; }
"""


def render_html_document(script_or_text: Script | str, *, title: str | None = None) -> str:
    """Return a standalone HTML document (export) with the stylesheet inlined."""
    script = fountain.parse(script_or_text) if isinstance(script_or_text, str) else script_or_text
    doc_title = html.escape(title if title is not None else script.title or "Screenplay")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{doc_title}</title><style>{CSS}</style></head><body>\n"
        + render_html(script, notes=False)
        + "\n</body></html>\n"
    )
