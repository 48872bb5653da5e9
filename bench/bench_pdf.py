"""The PDF of a long script, the way it was drawn and the way it is, in one run.

    .venv/bin/python bench/bench_pdf.py                 # 1,000 scenes (~830 pages)
    .venv/bin/python bench/bench_pdf.py --scenes 6840   # the issue's 5.3 MB script

Before: every string through reportlab's ``canvas.drawString`` (which measures and shapes
it, then wraps it in a text object) and every element's inline markup through the HTML
renderer, as ``formats/pdf.py`` and ``formats/markup.py`` did until 2026-12-03 (both put
back here by patching, for the baseline). After: the writer's own text objects (the same
operators drawString writes; tests/scripts_app/formats/test_pdf.py checks glyphs and
positions) and plain lines taking the no-markup fast path. The output is compared too.
"""

import argparse
import io
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pypdf  # noqa: E402

from scripts_app.formats import fountain, markup, pdf  # noqa: E402
from tests.scripts_app.formats.generate import feature_script  # noqa: E402


def legacy_draw(self, x, y, text, font_name):
    self.canvas.setFont(font_name, pdf.FONT_SIZE)
    self.canvas.drawString(x, y, text)


def render(script, legacy: bool) -> tuple[float, bytes]:
    draw, chars = pdf._Writer.draw, markup._MARKUP_CHARS
    if legacy:
        pdf._Writer.draw = legacy_draw
        markup._MARKUP_CHARS = re.compile(r".", re.S)  # every non-empty text: the full path
    try:
        t0 = time.perf_counter()
        data = pdf.render_pdf(script, scene_numbers=True)
        return time.perf_counter() - t0, data
    finally:
        pdf._Writer.draw, markup._MARKUP_CHARS = draw, chars


def text_of(data: bytes, pages: int = 5) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return [reader.pages[i].extract_text() for i in range(min(pages, len(reader.pages)))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    source = feature_script(args.scenes)
    script = fountain.parse(source)
    print(f"{args.scenes} scenes, {len(source) / 1e6:.1f} MB of Fountain")
    best = {}
    for _ in range(args.runs):
        for legacy in (True, False):
            seconds, data = render(script, legacy)
            best.setdefault(legacy, (seconds, data))
            if seconds < best[legacy][0]:
                best[legacy] = (seconds, data)
    before, after = best[True], best[False]
    pages = len(pypdf.PdfReader(io.BytesIO(after[1])).pages)
    print(f"{'':10} {'best s':>8} {'MB':>6}")
    print(f"{'before':10} {before[0]:8.2f} {len(before[1]) / 1e6:6.2f}")
    print(
        f"{'after':10} {after[0]:8.2f} {len(after[1]) / 1e6:6.2f}   ({before[0] / after[0]:.1f}× faster)"
    )
    print(f"{pages} pages; same text on the first pages: {text_of(before[1]) == text_of(after[1])}")


if __name__ == "__main__":
    main()
