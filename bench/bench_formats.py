"""Time import and export of a feature-length script, beside an independent tool.

    cd /work/main && .venv/bin/python bench/bench_formats.py            # 120 pages, 5 runs
    cd /work/main && .venv/bin/python bench/bench_formats.py --runs 10 --scenes 200

The script comes from the deterministic test generator (no committed fixture). Each row is
the best and the median of ``--runs`` timed runs in this process. The independent rows use
screenplain (Fountain -> PDF/FDX/HTML with reportlab) and open-fdx-toolkit (FDX reader) when
installed; their page count is printed next to ours. Goals: import < 2 s, PDF < 3 s.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts_app.formats import fdx, fountain  # noqa: E402
from scripts_app.formats.html import render_html, render_html_document  # noqa: E402
from scripts_app.formats.importer import import_file  # noqa: E402
from scripts_app.formats.pagination import page_count, scene_lengths  # noqa: E402
from scripts_app.formats.pdf import render_pdf  # noqa: E402
from scripts_app.formats.reports import script_report  # noqa: E402
from tests.scripts_app.formats.generate import feature_script  # noqa: E402


def timed(fn, runs: int) -> tuple[float, float, object]:
    times = []
    result = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenes", type=int, default=142, help="142 scenes make 120 pages")
    args = parser.parse_args()

    text = feature_script(scenes=args.scenes)
    data = text.encode()
    script = fountain.parse(text)
    fdx_bytes = fdx.dumps(script)
    pages = page_count(script)
    print(f"script: {args.scenes} scenes, {len(data) / 1024:.0f} KiB, {pages} pages (ours)")

    rows = [
        ("import .fountain (decode+parse+split)", lambda: import_file(data, "s.fountain")),
        ("import .fdx (defusedxml+map+split)", lambda: import_file(fdx_bytes, "s.fdx")),
        ("parse fountain", lambda: fountain.parse(text)),
        ("export fountain (dumps)", lambda: fountain.dumps(script)),
        ("export fdx", lambda: fdx.dumps(script)),
        ("export html fragment (preview)", lambda: render_html(script)),
        ("export html document", lambda: render_html_document(script)),
        ("page_count", lambda: page_count(script)),
        ("scene_lengths (eighths)", lambda: scene_lengths(script)),
        ("script_report", lambda: script_report(script)),
        ("export pdf", lambda: render_pdf(script)),
    ]
    independent_pages = None
    try:
        from screenplain.export.fdx import to_fdx
        from screenplain.export.html import convert as sp_html
        from screenplain.export.pdf import to_pdf
        from screenplain.parsers import fountain as sp_fountain

        def sp_parse():
            return sp_fountain.parse(io.StringIO(text))

        def sp_pdf():
            out = io.BytesIO()
            to_pdf(sp_parse(), out)
            return out.getvalue()

        def sp_fdx():
            out = io.StringIO()
            to_fdx(sp_parse(), out)
            return out.getvalue()

        def sp_html_doc():
            out = io.StringIO()
            sp_html(sp_parse(), out)
            return out.getvalue()

        rows += [
            ("[screenplain] parse fountain", sp_parse),
            ("[screenplain] export fdx", sp_fdx),
            ("[screenplain] export html", sp_html_doc),
            ("[screenplain] export pdf", sp_pdf),
        ]
        try:
            import pypdf

            sp_pages = len(pypdf.PdfReader(io.BytesIO(sp_pdf())).pages)
            independent_pages = sp_pages - (1 if script.title_page else 0)
        except ImportError:
            pass
    except ImportError:
        print("screenplain not installed: independent rows skipped")
    try:
        from fdx_parser import parse_fdx

        rows.append(("[open-fdx-toolkit] read our fdx", lambda: parse_fdx(fdx_bytes.decode())))
    except ImportError:
        print("open-fdx-toolkit not installed: its row skipped")

    print(f"{'step':42} {'best s':>8} {'median s':>9}")
    for name, fn in rows:
        best, median, _ = timed(fn, args.runs)
        print(f"{name:42} {best:8.3f} {median:9.3f}")
    if independent_pages is not None:
        diff = abs(pages - independent_pages) / independent_pages * 100
        print(f"pages: ours {pages}, screenplain {independent_pages} ({diff:.1f}% apart)")


if __name__ == "__main__":
    main()
