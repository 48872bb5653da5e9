"""Instruction-aware decoding (generation/core/guide.py): the rules alone, then in the engine
with a random model that knows nothing of the instructions."""

import torch

from generation.core import instructions
from generation.core.engine import Engine
from generation.core.guide import RESERVE, GuideVocab, InstructionGuide
from generation.core.params import SamplingParams
from generation.core.prompting import Prompt, format_prompt
from generation.core.storyeval import measure

END = 0
VOCAB = [b"", b"A", b" house", b" hou", b"ho", b"\n", b"CUT", b" TO:", b"JUNE", b"x", b" Hous"]


def _guide(pairs, text_before=""):
    return InstructionGuide(pairs, GuideVocab(VOCAB), END, text_before)


def _row():
    return torch.zeros(len(VOCAB))


def test_no_end_before_half_the_lines_then_an_end_at_the_top_of_the_band():
    g = _guide([("lines", 4)])  # band [2, 6]; closes at floor(1.4 * 4) = 5
    row = _row()
    g.apply(row, remaining=100)
    assert row[END] == float("-inf")
    for _ in range(2):
        g.advance("A line.\n")
    row = _row()
    g.apply(row, remaining=100)
    assert row[END] == 0.0  # two lines: may end
    for _ in range(3):
        g.advance("A line.\n")
    row = _row()
    g.apply(row, remaining=100)
    assert torch.isfinite(row).tolist() == [i == END for i in range(len(VOCAB))]
    assert instructions.check("lines", 4, "A line.\n" * 5)


def test_an_ending_is_a_transition_spelled_to_its_end():
    g = _guide([("transition", True)])
    row = _row()
    g.apply(row, remaining=100)
    assert row[END] == float("-inf") and g.closing is None  # p(end) is small: go on
    g.advance("JUNE\nGo.")
    row = _row()
    row[END] = 10.0  # the model wants to end
    g.apply(row, remaining=100)
    assert g.closing is not None
    allowed = {VOCAB[i] for i in torch.isfinite(row).nonzero().flatten().tolist()}
    assert allowed == {b"\n"}  # first the blank line before the transition
    text = "JUNE\nGo."
    for piece in ("\n", "\n", "CUT", " TO:", "\n"):
        g.advance(piece)
        text += piece
    row = _row()
    g.apply(row, remaining=100)
    assert torch.isfinite(row).nonzero().flatten().tolist() == [END]
    assert instructions.check("transition", True, text)


def test_a_transition_already_written_just_ends():
    g = _guide([("transition", True)])
    g.advance("JUNE\nGo.\n\nCUT TO:\n")
    row = _row()
    row[END] = 10.0
    g.apply(row, remaining=100)
    assert torch.isfinite(row).nonzero().flatten().tolist() == [END]


def test_the_budget_keeps_room_for_the_transition():
    g = _guide([("transition", True)])
    g.advance("JUNE\nGo")
    row = _row()
    g.apply(row, remaining=RESERVE)
    assert g.closing is not None


def test_the_word_is_nudged_until_it_is_written():
    g = _guide([("word", "house")])
    row = _row()
    g.apply(row, remaining=100)
    nudged = {VOCAB[i] for i in (row > 0).nonzero().flatten().tolist()}
    assert nudged == {b" house", b" hou", b" Hous"}  # "ho" is too short a start
    g.advance("The house")
    row = _row()
    g.apply(row, remaining=100)
    assert not (row > 0).any()


def test_the_engine_keeps_the_instructions_with_a_model_that_never_learned_them(tiny_model, tok):
    engine = Engine.from_tokenizer(tiny_model, tok, max_batch=8)
    brief = "Two sisters.\nOnly JUNE speaks. About 6 lines. End on a transition."
    prompt = Prompt("INT. DINER - NIGHT", ("CLAIRE", "JUNE"), brief)
    pairs = instructions.parse(brief)
    assert [k for k, _ in pairs] == ["speakers", "lines", "transition"]
    ids = format_prompt(tok, prompt)
    params = [SamplingParams(max_new_tokens=60, temperature=1.0, seed=s) for s in range(6)]
    outs = engine.generate([ids] * 6, params, [prompt] * 6)
    for out in outs:
        # The ending holds by construction, and the length's upper bound (the lower one
        # needs a model that writes lines: this one rarely writes a line break).
        assert instructions.check("transition", True, out.text), out.text
        assert sum(1 for line in out.text.split("\n") if line.strip()) <= 1.5 * 6
        # Every cue it wrote is JUNE's (the speakers rule narrows the cue rule).
        assert set(measure(out.text, prompt.cast)["cues"]) <= {"JUNE"}


def test_measure_asks_only_the_instructions_speakers_to_speak():
    text = "JUNE\nHi.\n"
    assert not measure(text, ("CLAIRE", "JUNE"))["every_member_speaks"]
    assert measure(text, ("CLAIRE", "JUNE"), ("speakers", ("JUNE",)))["every_member_speaks"]
