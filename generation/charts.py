"""Tiny server-rendered SVG charts (no JS needed): the training loss curve."""

from django.utils.html import format_html, format_html_join


def loss_chart_svg(points, width: int = 320, height: int = 80) -> str:
    """Return an inline SVG polyline of ``[[step, loss], ...]`` (an empty string if none)."""
    points = [(float(s), float(v)) for s, v in points or [] if v == v]
    if len(points) < 2:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (width - 4) / ((x1 - x0) or 1)
    sy = (height - 14) / ((y1 - y0) or 1)
    coords = format_html_join(
        " ", "{},{}", ((f"{2 + (x - x0) * sx:.1f}", f"{2 + (y1 - y) * sy:.1f}") for x, y in points)
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-label="Training loss from {a} to {b} over {n} steps">'
        '<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{c}"/>'
        '<text x="2" y="{t}" font-size="10" fill="currentColor">loss {a} → {b}</text></svg>',
        w=width,
        h=height,
        a=f"{ys[0]:.2f}",
        b=f"{ys[-1]:.2f}",
        n=f"{x1:.0f}",
        c=coords,
        t=height - 2,
    )
