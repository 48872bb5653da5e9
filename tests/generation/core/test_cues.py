"""Cue-aware decoding: every character cue of a draft names the scene's cast."""

import pytest
import torch

from generation.core.cues import CueConstraint, CueVocab, allowed_cues, token_strings
from generation.core.engine import Engine
from generation.core.params import SamplingParams
from generation.core.prompting import Prompt, format_prompt
from scripts_app.formats import grammar

CAST = ["CLAIRE", "JUNE"]


def _constraint(vocab, text_before=""):
    return CueConstraint(CAST, CueVocab(vocab), text_before)


def _allowed(c: CueConstraint, vocab) -> set[str]:
    banned = c.banned()
    return (
        set(vocab)
        if banned is None
        else {s for s, b in zip(vocab, banned.tolist(), strict=True) if not b}
    )


VOCAB = [
    "CL",
    "AIRE",
    "JUNE",
    "SUFFOLK",
    "IAGO",
    "\n",
    "\n\n",
    "The",
    "A",
    " door",
    " DOOR",
    "INT",
    ". DINER",
    "(",
    "beat",
    "CUT TO:",
    "@",
    "C",
    "LAIRE",
    " (V.O.)",
    "CLAIREX",
    "hi",
]


def test_allowed_cues_upper_case_names_with_extensions_and_dual():
    cues = allowed_cues(["Claire", " june  "])
    assert "CLAIRE" in cues and "JUNE (V.O.)" in cues and "CLAIRE (CONT'D) ^" in cues


def test_after_a_blank_line_only_cast_cues_or_other_elements_may_start():
    c = _constraint(VOCAB)  # the start of a draft counts as after a blank line
    ok = _allowed(c, VOCAB)
    assert {"CL", "JUNE", "C", "The", "A", "INT", "(", "beat", "CUT TO:", "\n\n"} <= ok
    assert not {"SUFFOLK", "IAGO", "@", " DOOR", "CLAIREX"} & ok


def test_inside_a_name_the_row_must_finish_it_before_the_line_ends():
    c = _constraint(VOCAB)
    c.advance("CL")
    ok = _allowed(c, VOCAB)
    assert "AIRE" in ok and "\n" not in ok and "JUNE" not in ok
    c.advance("AIRE")
    ok = _allowed(c, VOCAB)
    assert {"\n", " (V.O.)"} <= ok and "AIRE" not in ok
    c.advance("\n")  # the cue line ended: its dialogue line is free
    assert c.banned() is None
    c.advance("Go home.\n")  # a dialogue line does not end the speech: still free
    assert c.banned() is None


def test_free_lines_stay_free_and_a_blank_line_brings_the_rule_back():
    c = _constraint(VOCAB, text_before="INT. DINER - NIGHT\n\nRain.")
    assert c.banned() is None  # in the middle of an action line
    c.advance(" More rain.\n\n")
    assert "SUFFOLK" not in _allowed(c, VOCAB) and "CL" in _allowed(c, VOCAB)
    c.advance("A")  # "A" may still be an action line...
    assert " door" in _allowed(c, VOCAB) and " DOOR" not in _allowed(c, VOCAB)
    c.advance(" door opens.")  # ...and is one
    assert c.banned() is None


def test_a_line_after_a_non_blank_line_is_never_a_cue():
    c = _constraint(VOCAB, text_before="CLAIRE\nWe sell.\n")
    assert c.banned() is None  # dialogue goes on: no cue can stand here


class _CueHappy(torch.nn.Module):
    """The tiny model, pushed to write all-caps lines after blank lines (as an
    undertrained model writes cues for whoever its training text was full of)."""

    def __init__(self, model, tok):
        super().__init__()
        self.inner, self.cfg = model, model.cfg
        strs = token_strings(tok.token_bytes)
        bias = torch.zeros(model.cfg.vocab_size)
        for i, s in enumerate(strs):
            if s and s.isalpha() and s.isupper() and len(s) > 1:
                bias[i] = 8.0  # all-caps words: HAMLET, HORATIO, ...
            elif s == "\n":
                bias[i] = 4.0
            elif s == "\n\n":
                bias[i] = 3.0
        self.register_buffer("bias", bias)

    def forward_step(self, *args):
        return self.inner.forward_step(*args) + self.bias


def _drafts(engine, ids, cast, n=8):
    rids = [
        engine.submit(
            ids,
            SamplingParams(max_new_tokens=80, temperature=1.0, seed=s, cast_cues=bool(cast)),
            cast=cast,
        )
        for s in range(n)
    ]
    text: dict[str, str] = {}
    while engine.has_work():
        for o in engine.step():
            text[o.request_id] = text.get(o.request_id, "") + o.text
    return [text[r] for r in rids]


def _cue_names(texts):
    names = []
    for text in texts:
        lines = text.split("\n")
        for line, kind in zip(lines, grammar.classify_lines(lines, title_page=False), strict=True):
            if kind == grammar.CHARACTER:
                names.append(grammar.parse_cue(line).name)
    return names


def test_the_engine_writes_only_cast_cues_from_a_model_that_wants_others(tiny_model, tok):
    """Without the rule the pushed model writes cues for names outside the cast; with it,
    the Fountain parser finds only the cast's names in any draft."""
    engine = Engine(_CueHappy(tiny_model, tok), tok.token_bytes, None, max_batch=8)
    ids = format_prompt(tok, Prompt("INT. DINER - NIGHT", tuple(CAST), "Two sisters.", ""))
    free = _cue_names(_drafts(engine, ids, ()))
    assert free and set(free) - set(CAST)  # the unconstrained model strays
    held = _cue_names(_drafts(engine, ids, CAST))
    assert held and set(held) <= set(CAST)


def test_token_strings_mark_partial_utf8_and_control_tokens_none():
    assert token_strings([b"A", b"", "é".encode()[:1], "é".encode()]) == ["A", None, None, "é"]


@pytest.mark.parametrize("text_before", ["", "X\n\n", "X\n"])
def test_constraint_state_from_the_text_before(text_before):
    c = _constraint(VOCAB, text_before)
    assert (c.banned() is not None) == (text_before != "X\n")
