"""The outline as a document a producer reads: Markdown, HTML or PDF.

What it holds (``Outline``): the title, logline and the story bible's tone and themes;
the characters with their role, want, need and arc; the plotlines; then each act with its
cards in order (title, summary, plotlines, characters, the scene it became and the page
that scene starts on). No Django here: ``scripts_app/outline.py`` fills the data.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

__all__ = ["Outline", "OutlineCard", "OutlineCharacter", "OutlinePlotline", "to_html",
           "to_markdown", "to_pdf"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class OutlineCard:
    title: str
    summary: str = ""
    sequence: str = ""
    plotlines: tuple[str, ...] = ()
    characters: tuple[str, ...] = ()
    scene: str = ""  # "12. INT. DINER - NIGHT" once the card became a scene
    page: int | None = None  # where that scene starts


@dataclass(frozen=True, slots=True)
class OutlineCharacter:
    name: str
    role: str = ""
    want: str = ""
    need: str = ""
    arc_start: str = ""
    arc_end: str = ""


@dataclass(frozen=True, slots=True)
class OutlinePlotline:
    label: str
    name: str
    description: str = ""


@dataclass(slots=True)
class Outline:
    title: str
    logline: str = ""
    genre: str = ""
    tone: str = ""
    themes: str = ""
    characters: list[OutlineCharacter] = field(default_factory=list)
    plotlines: list[OutlinePlotline] = field(default_factory=list)
    acts: list[tuple[int, list[OutlineCard]]] = field(default_factory=list)

    @property
    def card_count(self) -> int:
        return sum(len(cards) for _, cards in self.acts)


def _arc(c: OutlineCharacter) -> str:
    if c.arc_start and c.arc_end:
        return f"{c.arc_start} → {c.arc_end}"
    return c.arc_start or c.arc_end


def _card_meta(card: OutlineCard) -> list[str]:
    meta = []
    if card.plotlines:
        meta.append("Plotlines: " + ", ".join(card.plotlines))
    if card.characters:
        meta.append("With: " + ", ".join(card.characters))
    if card.scene:
        meta.append(f"Scene {card.scene}" + (f" (page {card.page})" if card.page else ""))
    return meta


def _md(text: str) -> str:
    """Text safe in Markdown: markup characters escaped, line breaks kept as breaks."""
    out = text
    for ch in "\\`*_[]#<>|":
        out = out.replace(ch, "\\" + ch)
    return "  \n".join(line.strip() for line in out.splitlines())


def to_markdown(o: Outline) -> str:
    lines = [f"# {_md(o.title)}", ""]
    for label, value in (("Logline", o.logline), ("Genre", o.genre), ("Tone", o.tone),
                         ("Themes", o.themes)):  # fmt: skip
        if value:
            lines += [f"**{label}:** {_md(value)}", ""]
    if o.characters:
        lines += ["## Characters", ""]
        for c in o.characters:
            head = f"- **{_md(c.name)}**" + (f" ({_md(c.role)})" if c.role else "")
            parts = [
                f"wants {_md(c.want)}" if c.want else "",
                f"needs {_md(c.need)}" if c.need else "",
                f"arc: {_md(_arc(c))}" if _arc(c) else "",
            ]
            parts = [p for p in parts if p]
            lines.append(head + (" — " + "; ".join(parts) if parts else ""))
        lines.append("")
    if o.plotlines:
        lines += ["## Plotlines", ""]
        for p in o.plotlines:
            name = f"**{_md(p.label)}** {_md(p.name)}" if p.label else f"**{_md(p.name)}**"
            lines.append(f"- {name}" + (f": {_md(p.description)}" if p.description else ""))
        lines.append("")
    for act, cards in o.acts:
        lines += [f"## Act {act}", ""]
        for n, card in enumerate(cards, 1):
            title = _md(card.title) + (f" *({_md(card.sequence)})*" if card.sequence else "")
            lines.append(f"{n}. **{title}**")
            if card.summary:
                lines.append(f"   {_md(card.summary)}".replace("  \n", "  \n   "))
            meta = _card_meta(card)
            if meta:
                lines.append("   " + " · ".join(_md(m) for m in meta))
        lines.append("")
    if not o.acts:
        lines += ["*No cards on the board yet.*", ""]
    return "\n".join(lines).rstrip() + "\n"


_CSS = """
body { font: 16px/1.5 Georgia, 'Times New Roman', serif; max-width: 46rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; }
h1 { margin-bottom: .25rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2rem; }
dl.meta dt { font-weight: bold; float: left; clear: left; margin-right: .5rem; }
ol.cards > li { margin-bottom: .75rem; } .meta-line { color: #555; font-size: .9em; }
.seq { color: #555; font-style: italic; }
"""


def _h(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def to_html(o: Outline) -> str:
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_h(o.title)} — outline</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_h(o.title)}</h1>",
    ]
    meta = [(k, v) for k, v in (("Logline", o.logline), ("Genre", o.genre), ("Tone", o.tone),
                                ("Themes", o.themes)) if v]  # fmt: skip
    if meta:
        out.append('<dl class="meta">')
        out += [f"<dt>{k}</dt><dd>{_h(v)}</dd>" for k, v in meta]
        out.append("</dl>")
    if o.characters:
        out.append("<h2>Characters</h2><ul>")
        for c in o.characters:
            head = f"<strong>{_h(c.name)}</strong>" + (f" ({_h(c.role)})" if c.role else "")
            rest = [
                f"{label}: {_h(value)}"
                for label, value in (("wants", c.want), ("needs", c.need), ("arc", _arc(c)))
                if value
            ]
            out.append(f"<li>{head}{' — ' + '; '.join(rest) if rest else ''}</li>")
        out.append("</ul>")
    if o.plotlines:
        out.append("<h2>Plotlines</h2><ul>")
        for p in o.plotlines:
            desc = f": {_h(p.description)}" if p.description else ""
            out.append(f"<li><strong>{_h(p.label)}</strong> {_h(p.name)}{desc}</li>")
        out.append("</ul>")
    for act, cards in o.acts:
        out.append(f'<h2>Act {act}</h2><ol class="cards">')
        for card in cards:
            seq = f' <span class="seq">({_h(card.sequence)})</span>' if card.sequence else ""
            item = [f"<li><strong>{_h(card.title)}</strong>{seq}"]
            if card.summary:
                item.append(f"<div>{_h(card.summary)}</div>")
            m = _card_meta(card)
            if m:
                item.append(f'<div class="meta-line">{_h(" · ".join(m))}</div>')
            out.append("".join(item) + "</li>")
        out.append("</ol>")
    if not o.acts:
        out.append("<p><em>No cards on the board yet.</em></p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def to_pdf(o: Outline) -> bytes:
    """The outline on US Letter pages in the screenplay font (so any script's characters
    print), wrapped at 72 columns, a page number on every page after the first."""
    from .pdf import TextPages

    doc = TextPages(f"{o.title} — outline")
    line = doc.line

    line(o.title.upper(), bold=True)
    line()
    for label, value in (("Logline", o.logline), ("Genre", o.genre), ("Tone", o.tone),
                         ("Themes", o.themes)):  # fmt: skip
        if value:
            line(f"{label}: {' '.join(value.split())}")
    if o.characters:
        line()
        line("CHARACTERS", bold=True)
        for c in o.characters:
            line(c.name + (f" ({c.role})" if c.role else ""), bold=True, indent=2)
            for label, value in (("Wants", c.want), ("Needs", c.need), ("Arc", _arc(c))):
                if value:
                    line(f"{label}: {' '.join(value.split())}", indent=4)
    if o.plotlines:
        line()
        line("PLOTLINES", bold=True)
        for p in o.plotlines:
            desc = f": {' '.join(p.description.split())}" if p.description else ""
            line(f"{p.label} {p.name}{desc}".strip(), indent=2)
    for act, cards in o.acts:
        line()
        line(f"ACT {act}", bold=True)
        for n, card in enumerate(cards, 1):
            line()
            seq = f" ({card.sequence})" if card.sequence else ""
            line(f"{n}. {card.title}{seq}", bold=True, indent=2)
            for para in card.summary.splitlines():
                if para.strip():
                    line(para.strip(), indent=5)
            for m in _card_meta(card):
                line(m, indent=5)
    if not o.acts:
        line()
        line("No cards on the board yet.")
    return doc.finish()
