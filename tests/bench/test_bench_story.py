"""bench/bench_story.py end to end on a random-init model, and its prompt set's rules."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from generation.core import instructions
from generation.core.checkpoint import save_version
from generation.core.model import GPT, GPTConfig
from generation.core.tokenizer import ScriptTokenizer
from tests.support.models import TEXT, build_tiny_version

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_story", ROOT / "bench" / "bench_story.py")
bench_story = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bench_story", bench_story)  # dataclasses look their module up
_spec.loader.exec_module(bench_story)

SCENE = """Enter Bernardo and Francisco.

BERNARDO
Who's there?

FRANCISCO
Nay, answer me: stand, and unfold yourself.

BERNARDO
Long live the king! Francisco, is the castle quiet?

FRANCISCO
You come most carefully upon your hour. Bernardo, the ghost walked again.

MARCELLUS
Holla! Bernardo!

BERNARDO
Say, what, is Horatio there? The castle sleeps.

FRANCISCO
Not a mouse stirring.

Exeunt.
"""


def _doc(i: int, heading: str) -> dict:
    return {
        "heading": heading,
        "cast": ["BERNARDO", "FRANCISCO", "MARCELLUS"],
        "synopsis": f"Hamlet, Act I, Scene {i}.",
        "text": SCENE,
        "doc_hash": f"{i:064x}",
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    val = [_doc(i, f"EXT. ELSINORE - PLATFORM {i}") for i in range(1, 4)]
    (folder / "val.jsonl").write_text("".join(json.dumps(d) + "\n" for d in val))
    (folder / "train.jsonl").write_text(json.dumps(_doc(9, "INT. CASTLE")) + "\n")
    return folder


def test_prompt_set_is_deterministic_and_feasible(corpus):
    items, notes = bench_story.build_prompts(corpus, 100, seed=3)
    again, _ = bench_story.build_prompts(corpus, 100, seed=3)
    other, _ = bench_story.build_prompts(corpus, 100, seed=4)
    assert [it.as_dict() for it in items] == [it.as_dict() for it in again]
    assert [it.as_dict() for it in items] != [it.as_dict() for it in other]
    assert len(items) == 100 and len({it.id for it in items}) == 100
    assert sum(it.source == "hand" for it in items) == 30
    diner = next(it for it in items if it.id == "hand-diner")
    assert diner.prompt.heading == "INT. DINER - NIGHT" and diner.prompt.cast == ("CLAIRE", "JUNE")
    assert diner.instruction is None
    assert 45 <= sum(it.instruction is not None for it in items) <= 55
    plays = [it for it in items if it.source == "play"]
    assert {it.mode for it in plays} == {"new", "continue"}
    for it in items:
        assert 2 <= len(it.prompt.cast) <= 3
        for name in it.prompt.cast:  # renamed: no Shakespeare name in a play prompt's cast
            assert name not in {"BERNARDO", "FRANCISCO", "MARCELLUS"}
        if it.source == "play":
            assert "Bernardo" not in it.prompt.text_prefix or "BERNARDO" not in it.prompt.cast
        if it.mode == "continue":
            assert it.prompt.text_prefix.endswith("\n\n")
        if it.instruction is None:
            continue
        kind, value = it.instruction
        assert it.prompt.synopsis.endswith(instructions.render(kind, value))
        assert instructions.parse(it.prompt.synopsis)[-1] == (kind, value)
        if kind == "speakers":
            assert set(value) <= set(it.prompt.cast) and value
        elif kind == "lines":
            assert 8 <= value <= 20
        elif kind == "word":
            assert value.lower() not in {c.lower() for c in it.prompt.cast}


def test_rename_keeps_longer_names_whole():
    text = "DECIUS BRUTUS\nBrutus, hark.\n\nBRUTUS\nBrutus's sword. brutus"
    out = bench_story.rename(text, ["DECIUS BRUTUS", "BRUTUS"], {"BRUTUS": "ARLO"})
    assert out == "DECIUS BRUTUS\nArlo, hark.\n\nARLO\nArlo's sword. brutus"


def _story_version(folder: Path) -> Path:
    """A random-init model with the story recipe's tokenizer (character slots)."""
    torch.manual_seed(1)
    tok = ScriptTokenizer.train([TEXT], vocab_size=400, story=True)
    assert tok.has_slots
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=128, n_layer=2, n_head=2, n_embd=64)
    return save_version(folder, GPT(cfg), tok)


def test_bench_main_on_tiny_models(tmp_path, corpus, capsys):
    torch.manual_seed(0)
    plain = build_tiny_version(tmp_path / "tiny")
    story = _story_version(tmp_path / "story")
    out = tmp_path / "story.json"
    result = bench_story.main(
        ["--model", f"old={plain}", "--model", f"new={story}", "--model", f"same={plain}",
         "--corpus", str(corpus), "--prompts", "4", "--tokens", "16", "--threads", "1",
         "--json", str(out)]
    )  # fmt: skip
    printed = capsys.readouterr().out
    for row in ("cue-on-cast", "every member speaks", "format valid", "instruction followed",
                "repetition", "tokens/s", "held-out bits/byte  new", "----- new, draft 3"):  # fmt: skip
        assert row in printed
    assert list(result["summaries"]) == [
        f"{m} {mode}" for m in ("old", "new", "same") for mode in ("alone", "served")
    ]
    assert len(result["records"]) == 3 * 2 * 4
    assert all(r["tokens"] <= 16 for r in result["records"])
    assert all(len(texts) == 3 for texts in result["diner_drafts"].values())
    assert all(isinstance(v, float) for v in result["bpb"].values())
    saved = json.loads(out.read_text())
    assert saved["summaries"]["new served"]["drafts"] == 4
    # Same model, same seeds: both labels draft the same texts.
    by = {(r["model"], r["mode"], r["prompt_id"]): r["text"] for r in saved["records"]}
    assert all(by[("old", m, p)] == by[("same", m, p)] for (x, m, p) in by if x == "old")
