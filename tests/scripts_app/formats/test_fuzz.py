"""Seeded random documents built from Fountain fragments: no crash, exact round trip, and
nothing but our own tags in the HTML."""

import random
import re

import pytest

from scripts_app.formats import FormatError, fdx, fountain
from scripts_app.formats.html import render_html
from scripts_app.formats.importer import assemble, split_script
from scripts_app.formats.markup import plain_text
from scripts_app.formats.model import ElementType as T
from scripts_app.formats.pagination import LETTER, lay_out
from scripts_app.formats.pdf import render_pdf

FRAGMENTS = [
    "", "", "", "  ", "   ", "INT. HOUSE - DAY", "EXT. ROAD #12A#", ".FORCED HEADING", "BOB",
    "BOB (V.O.)", "@bob", "BOB ^", "(beat)", "Hello there.", "~La la", "CUT TO:", ">Forced",
    "> centered <", "===", "# Act", "## Seq", "= synopsis", "[[note", "note]]", "[[n]]",
    "/*", "*/", "/* b */", "Title: x", "Author: y", "    indented", "\tTab", "*em*", "**b**",
    "_u_", "***bi***", "Key: value", "<script>alert(1)</script>", "&amp; & <b>", "é☃ “q”",
    "\\*lit\\*", "a_b_c", "!shout", "...and", "EST. CITY", "I/E CAR", "\x00\x07ctl", "'\"",
    "<img src=x onerror=alert(1)>", "]]", "[[", "*/ after",
]  # fmt: skip


def documents(n, seed):
    rng = random.Random(seed)
    for _ in range(n):
        lines = [rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 30))]
        sep = "\r\n" if rng.random() < 0.1 else "\n"
        yield sep.join(lines) + (sep if rng.random() < 0.5 else "")


ALLOWED_TAGS = {"div", "p", "span", "em", "strong", "u", "br", "hr"}


@pytest.mark.parametrize("seed", range(4))
def test_round_trip_html_and_pagination(seed):
    for text in documents(300, seed):
        script = fountain.parse(text)
        assert fountain.dumps(script) == text
        out = render_html(script)
        assert set(re.findall(r"<\s*/?\s*([a-zA-Z0-9]+)", out)) <= ALLOWED_TAGS
        for attrs in re.findall(r"<[a-z]+([^>]*)>", out):
            assert re.fullmatch(r'(\s+class="[a-z0-9 -]+")?', attrs), attrs
        pagination = lay_out(script)
        assert all(len(p.rows) <= LETTER.lines_per_page for p in pagination.pages)
        headings = sum(1 for e in script.elements if e.type is T.SCENE_HEADING)
        assert len(pagination.scene_starts) == headings
        try:
            r = split_script(script)
        except FormatError:
            continue
        assert assemble(r.title_page_text, r.preamble, [s.text for s in r.scenes]) == text


def _printable(script):
    keep = {T.SCENE_HEADING, T.CHARACTER, T.DIALOGUE, T.PARENTHETICAL, T.TRANSITION}
    keep |= {T.ACTION, T.LYRICS, T.CENTERED}
    return [
        (e.type, " ".join(plain_text(e.text).split()))
        for e in script.elements
        if e.type in keep and plain_text(e.text).strip()
    ]


@pytest.mark.parametrize("seed", range(2))
def test_fdx_round_trip_keeps_printed_content(seed):
    for text in documents(200, seed + 100):
        text = text.replace("\x00", "").replace("\x07", "")
        script = fountain.parse(text)
        back = fdx.loads(fdx.dumps(script))
        assert _printable(back) == _printable(script), text
        # What the FDX reader builds must survive Fountain as well.
        assert _printable(fountain.parse(fountain.dumps(back))) == _printable(back), text
        try:
            r = split_script(back)
        except FormatError:
            continue
        rebuilt = assemble(r.title_page_text, r.preamble, [sc.text for sc in r.scenes])
        assert rebuilt == fountain.dumps(back)


def test_pdf_never_crashes():
    for text in documents(40, 7):
        assert render_pdf(text).startswith(b"%PDF-")


HOSTILE = {
    "unclosed notes": "[[a\n" * 40000,
    "unclosed notes inline": "[[" * 100000,
    "unclosed boneyard": "/*\n" * 40000,
    "notes closed late with text after": "[[x\n" * 40000 + "]] trailing\n",
    "bold openers": "**a " * 50000,
    "bold-italic openers": "***a " * 40000,
    "spaces in title key": "Title" + " " * 200000 + "\n",
    "parenthetical flood": "\nBOB\n" + "(x)\n" * 30000,
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_inputs_stay_linear(name):
    import time

    text = HOSTILE[name]
    started = time.perf_counter()
    script = fountain.parse(text)
    render_html(script)
    lay_out(script)
    fdx.dumps(script)
    # Each of these took minutes with the earlier quadratic regexes; linear is < 1 s.
    assert time.perf_counter() - started < 15
