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


def rating_bars_svg(counts, width: int = 120, height: int = 60) -> str:
    """Return an inline SVG bar chart of a rating distribution ``{1: n, ..., 5: n}``
    (an empty string when nothing was rated)."""
    counts = {s: int(counts.get(s, 0) or 0) for s in range(1, 6)}
    total = sum(counts.values())
    if not total:
        return ""
    top = max(counts.values())
    bar_w = (width - 4) / 5
    plot_h = height - 14
    mean = sum(s * n for s, n in counts.items()) / total
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="currentColor" opacity="0.7">'
        "<title>{} stars: {}</title></rect>"
        '<text x="{}" y="{}" font-size="9" text-anchor="middle" fill="currentColor">{}</text>',
        (
            (
                f"{2 + (s - 1) * bar_w + 1:.1f}",
                f"{2 + plot_h - n / top * plot_h:.1f}",
                f"{bar_w - 2:.1f}",
                f"{n / top * plot_h:.1f}",
                s,
                n,
                f"{2 + (s - 0.5) * bar_w:.1f}",
                height - 2,
                s,
            )
            for s, n in counts.items()
        ),
    )
    return format_html(
        '<svg class="chart ratings" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-label="Ratings of its passages: {n} ratings, mean {m}">{b}</svg>',
        w=width,
        h=height,
        n=total,
        m=f"{mean:.1f}",
        b=bars,
    )
