"""Coverage as a PDF for people who read on paper: the figures, two drawn strips (scene
lengths and the emotional tone along the script), the characters, and the problems with
their scene and line — in the screenplay font, so any script's characters print."""

from __future__ import annotations

from .coverage import Coverage


def _pages(eighths: int) -> str:
    whole, rest = divmod(eighths, 8)
    if not rest:
        return str(whole)
    return f"{whole} {rest}/8" if whole else f"{rest}/8"


def coverage_pdf(c: Coverage, *, title: str, date: str) -> bytes:
    from .pdf import LINE_H, TextPages

    doc = TextPages(f"{title} — coverage")
    canvas, line = doc.canvas, doc.line
    left, page_w = doc.LEFT, doc.PAGE_W

    def strip(values: list[float], low: float, high: float, height: float = 40):
        """Bars (or, with a negative ``low``, bars from a middle line) along the script."""
        if not values:
            return
        doc.room(height)
        x0, w = left, page_w - 2 * left
        total = sum(max(s.eighths, 1) for s in c.scenes) or 1
        base_y = doc.y - height
        mid = base_y + height * (-low / (high - low)) if low < 0 else base_y
        canvas.setLineWidth(0.3)
        canvas.line(x0, mid, x0 + w, mid)
        x = x0
        for s, v in zip(c.scenes, values, strict=True):
            bw = max(s.eighths, 1) / total * w
            h = (max(min(v, high), low)) / (high - low) * height
            canvas.rect(x, mid if h >= 0 else mid + h, max(bw - 0.2, 0.2), abs(h), stroke=0, fill=1)
            x += bw
        doc.y = base_y - LINE_H

    line(f"{title.upper()} — COVERAGE", bold=True)
    line(f"As of {date}.")
    line()
    dialogue = sum(s.dialogue_words for s in c.scenes)
    action = sum(s.action_words for s in c.scenes)
    share = dialogue / (dialogue + action) if dialogue + action else 0
    line(
        f"{_pages(c.eighths)} pages · {len(c.scenes)} scenes · {len(c.characters)} speaking "
        f"characters · {share:.0%} dialogue · {len(c.problems)} problems"
    )
    line()
    line("SCENE LENGTHS ALONG THE SCRIPT", bold=True)
    strip([s.eighths for s in c.scenes], 0, max([s.eighths for s in c.scenes] or [1]) or 1)
    line("EMOTIONAL TONE ALONG THE SCRIPT (above the line: warmer; below: grimmer)", bold=True)
    strip([e.smoothed for e in c.emotion], -1.0, 1.0)
    if c.structure.acts:
        line("ACTS", bold=True)
        for label, first, e in c.structure.acts:
            line(f"{label}: from scene {first + 1}, {_pages(e)} pages", indent=2)
        line()
    line("WHERE AND WHEN", bold=True)
    total = sum(c.structure.int_ext.values()) or 1
    line(
        "  "
        + " · ".join(f"{k or 'no prefix'} {v / total:.0%}" for k, v in c.structure.int_ext.items())
    )
    total = sum(c.structure.times.values()) or 1
    line(
        "  " + " · ".join(f"{k or 'no time'} {v / total:.0%}" for k, v in c.structure.times.items())
    )
    for name, e, part in c.structure.locations[:8]:
        line(f"{name}: {_pages(e)} pages ({part:.0%})", indent=2)
    line()
    line("CHARACTERS", bold=True)
    for ch in c.characters[:20]:
        line(
            f"{ch.name}: {ch.speeches} speeches, {ch.words} words, {len(ch.scenes)} scenes "
            f"(scenes {ch.first_scene + 1}–{ch.last_scene + 1})",
            indent=2,
        )
    for attr, parts in c.shares.items():
        line(f"Dialogue by {attr}: " + ", ".join(f"{v} {s:.0%}" for v, s in parts), indent=2)
    line()
    line("PROBLEMS", bold=True)
    if not c.problems:
        line("None found.", indent=2)
    for p in c.problems:
        where = f"scene {p.scene_index + 1}" + (f", line {p.line}" if p.line else "")
        line(f"{where}: {p.message}", indent=2)
    return doc.finish()
