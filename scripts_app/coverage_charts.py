"""Server-rendered SVG charts of the coverage page (no JavaScript, light and dark alike).

Colours come from the page's CSS through classes (``cov-bar``, ``cov-accent``,
``cov-guide``…, see ``static/css/coverage.css``), so one SVG reads in both schemes and
prints. Every chart has a text alternative (``aria-label`` and ``<title>`` per mark) and
scales to its column (``viewBox`` + ``width="100%"``). The x axis of the strips is the
script itself: each scene as wide as its share of the pages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH = 800


def _svg(height: int, label: str, body: str, cls: str = "") -> SafeString:
    return format_html(
        '<svg class="cov-chart {}" viewBox="0 0 {} {}" width="100%" style="height:{}px" '
        'preserveAspectRatio="none" role="img" aria-label="{}">{}</svg>',
        cls,
        WIDTH,
        height,
        height,
        label,
        mark_safe(body),
    )


def _xs(eighths: Sequence[int]) -> list[tuple[float, float]]:
    """Each scene's (x, width) along the script, by its length (every scene visible)."""
    total = sum(max(e, 1) for e in eighths) or 1
    x, out = 0.0, []
    for e in eighths:
        w = max(e, 1) / total * WIDTH
        out.append((x, w))
        x += w
    return out


def scene_strip(
    eighths: Sequence[int],
    values: Sequence[float | None],
    titles: Sequence[str],
    *,
    label: str,
    height: int = 60,
    top: float | None = None,
    marks: Sequence[int] = (),
    guides: Sequence[tuple[float, str]] = (),
) -> SafeString:
    """Bars along the script (one per scene, as wide as the scene, as tall as its value);
    ``marks``: scene indexes drawn in the accent colour; ``guides``: (share of the
    script 0..1, label) vertical lines (e.g. where act breaks usually fall)."""
    if not eighths:
        return SafeString("")
    known = [v for v in values if v is not None]
    top = top if top is not None else (max(known) if known else 1) or 1
    body = []
    marked = set(marks)
    for i, ((x, w), v, t) in enumerate(zip(_xs(eighths), values, titles, strict=True)):
        if v is None:
            body.append(
                f'<rect class="cov-missing" x="{x:.1f}" y="{height - 3}" width="{w:.2f}" '
                f'height="3"><title>{escape(t)}</title></rect>'
            )
            continue
        h = max(min(v / top, 1.0), 0.0) * (height - 2)
        cls = "cov-accent" if i in marked else "cov-bar"
        body.append(
            f'<rect class="{cls}" x="{x:.1f}" y="{height - h:.1f}" width="{max(w - 0.3, 0.3):.2f}" '
            f'height="{h:.1f}"><title>{escape(t)}</title></rect>'
        )
    for share, text in guides:
        gx = share * WIDTH
        body.append(
            f'<line class="cov-guide" x1="{gx:.1f}" x2="{gx:.1f}" y1="0" y2="{height}">'
            f"<title>{escape(text)}</title></line>"
        )
    return _svg(height, label, "".join(body), "strip")


def emotion_curve(
    eighths: Sequence[int],
    valence: Sequence[float],
    smoothed: Sequence[float],
    titles: Sequence[str],
    *,
    peaks: Sequence[int] = (),
    troughs: Sequence[int] = (),
    height: int = 120,
) -> SafeString:
    """The emotional tone scene by scene (−1 grim … +1 warm): each scene's dot, the
    smoothed line through them, peaks and troughs marked."""
    if not eighths:
        return SafeString("")
    mid = height / 2

    def y(v: float) -> float:
        return mid - max(min(v, 1.0), -1.0) * (mid - 6)

    centres = [x + w / 2 for x, w in _xs(eighths)]
    line = " ".join(f"{cx:.1f},{y(v):.1f}" for cx, v in zip(centres, smoothed, strict=True))
    body = [f'<line class="cov-guide" x1="0" x2="{WIDTH}" y1="{mid}" y2="{mid}"/>']
    body.append(f'<polyline class="cov-line" points="{line}"/>')
    special = {i: "cov-peak" for i in peaks} | {i: "cov-trough" for i in troughs}
    for i, (cx, v, t) in enumerate(zip(centres, valence, titles, strict=True)):
        cls = special.get(i, "cov-dot")
        r = 4 if i in special else 2
        body.append(
            f'<circle class="{cls}" cx="{cx:.1f}" cy="{y(v):.1f}" r="{r}">'
            f"<title>{escape(t)}</title></circle>"
        )
    return _svg(height, "The emotional tone of each scene, along the script", "".join(body))


def presence(
    eighths: Sequence[int], rows: Sequence[tuple[str, Sequence[int]]], *, row_height: int = 14
) -> SafeString:
    """Who is where: one row per character, a mark in every scene they speak in."""
    if not eighths or not rows:
        return SafeString("")
    xs = _xs(eighths)
    body = []
    for r, (name, scenes) in enumerate(rows):
        y0 = r * row_height
        body.append(
            f'<rect class="cov-row{" odd" if r % 2 else ""}" x="0" y="{y0}" width="{WIDTH}" '
            f'height="{row_height}"><title>{escape(name)}</title></rect>'
        )
        for i in scenes:
            x, w = xs[i]
            body.append(
                f'<rect class="cov-bar" x="{x:.1f}" y="{y0 + 2}" width="{max(w, 1.2):.2f}" '
                f'height="{row_height - 4}"><title>{escape(name)}: scene {i + 1}</title></rect>'
            )
    return _svg(
        row_height * len(rows),
        "Where each main character speaks, along the script (one row each)",
        "".join(body),
        "presence",
    )


def network(
    names: Sequence[str], edges: Sequence[tuple[str, str, int]], *, size: int = 360
) -> SafeString:
    """Who talks with whom: the characters on a circle, a line between two who share
    scenes or exchange lines, thicker for more."""
    if len(names) < 2:
        return SafeString("")
    n = len(names)
    r = size / 2 - 60
    pos = {
        name: (
            size / 2 + r * math.cos(2 * math.pi * i / n - math.pi / 2),
            size / 2 + r * math.sin(2 * math.pi * i / n - math.pi / 2),
        )
        for i, name in enumerate(names)
    }
    top = max((w for _, _, w in edges), default=1) or 1
    body = []
    for a, b, w in edges:
        if a not in pos or b not in pos:
            continue
        (x1, y1), (x2, y2) = pos[a], pos[b]
        body.append(
            f'<line class="cov-edge" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke-width="{0.8 + 5 * w / top:.1f}"><title>{escape(a)} and {escape(b)}: '
            f"{w}</title></line>"
        )
    for name, (x, y) in pos.items():
        anchor = "middle" if abs(x - size / 2) < 10 else ("start" if x > size / 2 else "end")
        dx = 0 if anchor == "middle" else (8 if anchor == "start" else -8)
        dy = -8 if y < size / 2 - r + 5 else (14 if y > size / 2 + r - 5 else 4)
        body.append(
            f'<circle class="cov-node" cx="{x:.1f}" cy="{y:.1f}" r="5"/>'
            f'<text class="cov-text" x="{x + dx:.1f}" y="{y + dy:.1f}" text-anchor="{anchor}">'
            f"{escape(name)}</text>"
        )
    return format_html(
        '<svg class="cov-chart network" viewBox="0 0 {s} {s}" width="100%" style="max-width:{s}px" '
        'role="img" aria-label="Who talks with whom">{b}</svg>',
        s=size,
        b=mark_safe("".join(body)),
    )


def share_bar(parts: Sequence[tuple[str, float]], *, label: str) -> SafeString:
    """One horizontal bar split into shares (e.g. INT 60 % / EXT 40 %), with its legend
    as text under it (text inside a stretched SVG would be squeezed on a phone)."""
    total = sum(v for _, v in parts) or 1
    x, body, legend = 0.0, [], []
    for i, (name, v) in enumerate(parts):
        w = v / total * WIDTH
        shown = name or "none given"
        body.append(
            f'<rect class="cov-part p{i % 4}" x="{x:.1f}" y="0" width="{w:.1f}" height="22">'
            f"<title>{escape(shown)}: {v / total:.0%}</title></rect>"
        )
        legend.append(
            f'<span><i class="cov-key p{i % 4}" aria-hidden="true"></i>{escape(shown)} '
            f"{v / total:.0%}</span>"
        )
        x += w
    return format_html(
        '{}<p class="cov-legend small">{}</p>',
        _svg(22, label, "".join(body), "share"),
        mark_safe(" ".join(legend)),
    )
