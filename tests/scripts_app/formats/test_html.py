import re

import pytest

from scripts_app.formats import fountain
from scripts_app.formats.html import render_html, render_html_document, render_inline


def test_classes_per_element():
    text = (
        "Title: Test\n\n# Act\n\n= Synopsis\n\nINT. HOUSE - DAY #1#\n\nAction here.\n\n"
        "BOB (V.O.)\n(beat)\nHello.\n~Sung line\n\nCUT TO:\n\n> THE END <\n\n===\n\n"
        "[[A note]]\n\n/* hidden */\n"
    )
    out = render_html(text)
    for css in [
        "fx-title-page",
        "fx-section",
        "fx-synopsis",
        "fx-scene-heading",
        "fx-scene-number",
        "fx-action",
        "fx-dialogue-block",
        "fx-character",
        "fx-extension",
        "fx-parenthetical",
        "fx-dialogue",
        "fx-lyrics",
        "fx-transition",
        "fx-centered",
        "fx-page-break",
        "fx-note",
    ]:
        assert f'class="{css}' in out or f'{css}"' in out, css
    assert "hidden" not in out
    assert '<p class="fx-transition">CUT TO:</p>' in out


def test_accepts_parsed_script():
    script = fountain.parse("\nBOB\nHi.\n")
    assert render_html(script) == render_html("\nBOB\nHi.\n")


@pytest.mark.parametrize(
    ("src", "html"),
    [
        ("*it*", "<em>it</em>"),
        ("**bold**", "<strong>bold</strong>"),
        ("***both***", "<strong><em>both</em></strong>"),
        ("_under_", "<u>under</u>"),
        ("**bold *and it* here**", "<strong>bold <em>and it</em> here</strong>"),
        ("_**mix**_", "<u><strong>mix</strong></u>"),
        ("5 * 3 * 2", "5 * 3 * 2"),
        ("\\*not\\*", "*not*"),
        ("snake_case_name", "snake_case_name"),
    ],
)
def test_emphasis(src, html):
    assert render_inline(src) == html


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "&amp; &lt;",
    "*<b>x</b>*",
    "_<i onclick=x>_",
    "[[<script>x</script>]]",
    "**<a href='javascript:x'>y</a>**",
]


def _only_our_tags(out):
    tags = set(re.findall(r"<\s*/?\s*([a-zA-Z0-9]+)", out))
    allowed = {"div", "p", "span", "em", "strong", "u", "br", "hr"}
    assert tags <= allowed, tags
    # Every attribute is one of ours.
    for attrs in re.findall(r"<[a-z]+([^>]*)>", out):
        assert re.fullmatch(r'(\s+class="[a-z0-9 -]+")?', attrs), attrs


@pytest.mark.parametrize("payload", HOSTILE)
def test_everything_is_escaped(payload):
    text = (
        f"Title: {payload}\n{payload}: x\n\n"
        f"INT. {payload} - DAY #1#\n\n{payload}\n\nBOB ({payload})\n({payload})\n{payload}\n"
        f"~{payload}\n\n> {payload} <\n\n>{payload}\n\n# {payload}\n\n= {payload}\n\n"
        f"[[{payload}]]\n\n.{payload}\n\n@{payload}\n{payload}\n"
    )
    out = render_html(text)
    _only_our_tags(out)
    assert "<script" not in out and "onerror=" not in out.replace("onerror=alert", "")
    assert "&amp;amp;" in out or "&amp;" not in payload


def test_escapes_ampersand_once():
    assert render_inline("Tom & Jerry") == "Tom &amp; Jerry"
    assert render_inline("&lt;") == "&amp;lt;"


def test_notes_can_be_hidden():
    out = render_html("\nWait. [[cut?]]\n\n[[Standalone]]\n", notes=False)
    assert "cut?" not in out and "Standalone" not in out


def test_dual_dialogue_wrapped():
    out = render_html("\nBRICK\nScrew it.\n\nSTEEL ^\nScrew it.\n")
    assert out.count('class="fx-dual-dialogue"') == 1
    inner = out.split('class="fx-dual-dialogue"')[1]
    assert "BRICK" in inner and "STEEL" in inner


def test_document_export():
    doc = render_html_document("Title: A <b>\n\nINT. X - DAY\n\nGo.\n")
    assert doc.startswith("<!DOCTYPE html>")
    assert "<title>A &lt;b&gt;</title>" in doc
    assert "<style>" in doc and "fx-scene-heading" in doc


def test_split_hidden_matches_the_regex():
    import random

    from scripts_app.formats.model import split_hidden

    pattern = re.compile(r"(\[\[.*?\]\]|/\*.*?\*/)", re.S)
    rng = random.Random(3)
    alphabet = ["[[", "]]", "/*", "*/", "[", "]", "/", "*", "a", " ", "\n", "[[/*", "*/]]"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        expected = [(i % 2 == 1, p) for i, p in enumerate(pattern.split(text))]
        assert split_hidden(text) == expected, text


def test_forced_cue_prints_as_typed():
    """Regression: ``@McDUCK`` rendered as MCDUCK (the stylesheet upper-cases cues)."""
    out = render_html("\n@McDUCK\nQuack.\n\nDONALD\nQuack!\n")
    assert '<p class="fx-character fx-forced">McDUCK</p>' in out
    assert '<p class="fx-character">DONALD</p>' in out
    assert "@" not in out
    doc = render_html_document("\n@McDUCK (cont'd)\nQuack.\n")
    assert ".fx-character.fx-forced { text-transform: none; }" in doc
    assert '<p class="fx-character fx-forced">McDUCK <span class="fx-extension">' in doc
