"""The export form's "Scene numbers in the margins (PDF)" option, through the app."""

import io

import pytest
from django.urls import reverse

from scripts_app import exports

pypdf = pytest.importorskip("pypdf", reason="pypdf is a test-only dependency")


def _numbers(data: bytes, page: int) -> list[tuple[str, float]]:
    """Return (text, x in inches) of the short all-digit strings drawn on ``page``."""
    found = []

    def visit(text, cm, tm, font, size):
        text = text.strip()
        if text and len(text) <= 4 and text[0].isdigit() and not text.endswith("."):
            found.append((text, round((cm[0] * tm[4] + cm[4]) / 72, 2)))

    pypdf.PdfReader(io.BytesIO(data)).pages[page].extract_text(visitor_text=visit)
    return found


def test_numbers_option_numbers_an_unnumbered_project(client, team):
    client.force_login(team.users["viewer"])
    url = reverse("script_export", args=[team.project.pk])
    plain = client.get(url, {"format": "pdf"}).content
    numbered = client.get(url, {"format": "pdf", "numbers": "on"}).content
    assert _numbers(plain, 1) == []
    # Both scenes fit on page 1 (after the title page): 1 and 2, left at 1.0", right 7.4".
    assert _numbers(numbered, 1) == [("1", 1.0), ("1", 7.4), ("2", 1.0), ("2", 7.4)]


def test_exported_scene_carries_its_number_in_the_script(client, team):
    client.force_login(team.users["viewer"])
    second = team.scenes[1]
    url = reverse("scene_export", args=[team.project.pk, second.pk])
    data = client.get(url, {"format": "pdf", "numbers": "on"}).content
    assert _numbers(data, 0) == [("2", 1.0), ("2", 7.4)]
    assert _numbers(client.get(url, {"format": "pdf"}).content, 0) == []


def test_numbers_keep_the_headings_own(team):
    first, second = team.scenes
    first.heading = "INT. STATION - NIGHT #12A#"
    first.save()
    assert exports.scene_number(first) == "12A"
    assert exports.scene_number(second) == "13"
    data = exports.export_project(team.project, "pdf", numbers=True).content
    assert [t for t, _ in _numbers(data, 1)] == ["12A", "12A", "13", "13"]
    scene = exports.export_scene(second, "pdf", numbers=True).content
    assert [t for t, _ in _numbers(scene, 0)] == ["13", "13"]
    # Other formats ignore the option.
    assert exports.export_scene(second, "fountain", numbers=True).content.startswith(b"EXT.")
