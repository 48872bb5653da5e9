import math
from dataclasses import replace

import pytest
import torch

from generation.core.dpo import dpo_loss, dpo_train, frozen_copy, preference_eval
from generation.core.encoding import Encoded, collate, encode_example, encode_sft, sequence_logps
from generation.core.examples import PreferencePair, SFTExample, scene_windows
from generation.core.finetune import completion_loss, sft_train
from generation.core.model import GPT, GPTConfig
from generation.core.params import SamplingParams
from generation.core.prompting import Prompt, format_prompt
from generation.core.rated_sampling import make_pairs_from_ratings, sample_rated_groups
from generation.core.rater import rate

PROMPT = Prompt("INT. CASTLE", ("HAMLET",), "A ghost.")


def _model(tok, seed=0, block_size=64) -> GPT:
    # Built here, not the shared session fixture: these tests train their model.
    torch.manual_seed(seed)
    cfg = GPTConfig(
        vocab_size=tok.vocab_size, block_size=block_size, n_layer=1, n_head=2, n_embd=32
    )
    return GPT(cfg)


def _prompt(i):
    return replace(PROMPT, heading=f"INT. ROOM {i}", synopsis=f"Scene {i}.")


# --------------------------------------------------------------------------- encoding


def test_encode_example_layout_and_left_truncation(tok):
    e = encode_example(tok, PROMPT, "HAMLET\nWho's there?\n", block_size=200)
    comp = [*tok.encode("HAMLET\nWho's there?\n"), tok.end_id]
    assert e.ids == format_prompt(tok, PROMPT) + comp and e.n_completion == len(comp)

    # A short block keeps the whole completion and the *end* of the prompt.
    short = encode_example(tok, PROMPT, "HAMLET\nWho's there?\n", block_size=len(comp) + 2)
    assert short.ids[-len(comp) :] == comp and len(short.ids) == len(comp) + 3
    assert short.ids[:3] == format_prompt(tok, PROMPT)[-3:]

    # The completion alone must fit (with one prompt token before it); else skipped.
    assert encode_example(tok, PROMPT, "x " * 300, block_size=64) is None
    data, skipped = encode_sft(tok, [SFTExample(PROMPT, "x " * 300), SFTExample(PROMPT, "Hi.")], 64)
    assert len(data) == 1 and skipped == 1


def test_collate_pads_right_and_marks_completion():
    ids, mask = collate([Encoded([1, 2, 3, 4], 2), Encoded([5, 6, 7], 1)], pad_id=0)
    assert ids.tolist() == [[1, 2, 3, 4], [5, 6, 7, 0]]
    assert mask.tolist() == [[False, False, True, True], [False, False, True, False]]


def test_dict_round_trips():
    p = PreferencePair(PROMPT, "good", "bad")
    assert PreferencePair.from_dict(p.to_dict()) == p
    assert set(p.to_dict()) == {"prompt", "chosen", "rejected"}
    e = SFTExample(PROMPT, "good")
    assert SFTExample.from_dict(e.to_dict()) == e


# --------------------------------------------------------------------------- DPO loss


def test_dpo_loss_and_gradients_match_hand_computation():
    beta = 0.5
    pc = torch.tensor([-1.0, -2.0, -3.0], dtype=torch.float64, requires_grad=True)
    pr = torch.tensor([-1.5, -1.0, -3.5], dtype=torch.float64, requires_grad=True)
    rc = torch.tensor([-1.2, -1.8, -2.0], dtype=torch.float64)
    rr = torch.tensor([-1.4, -1.1, -4.0], dtype=torch.float64)
    loss, cr, rrw = dpo_loss(pc, pr, rc, rr, beta)

    def sig(z):
        return 1 / (1 + math.exp(-z))

    zs = [beta * ((pc[i].item() - rc[i].item()) - (pr[i].item() - rr[i].item())) for i in range(3)]
    want = sum(-math.log(sig(z)) for z in zs) / 3
    assert loss.item() == pytest.approx(want, rel=1e-12)
    assert cr.tolist() == pytest.approx(
        [beta * (a - b) for a, b in zip(pc.tolist(), rc.tolist(), strict=True)]
    )
    assert rrw.tolist() == pytest.approx(
        [beta * (a - b) for a, b in zip(pr.tolist(), rr.tolist(), strict=True)]
    )
    assert not cr.requires_grad and not rrw.requires_grad

    loss.backward()
    # Closed form: d/d pc_i = -beta * sigmoid(-z_i) / B; d/d pr_i = +beta * sigmoid(-z_i) / B.
    assert pc.grad.tolist() == pytest.approx([-beta * sig(-z) / 3 for z in zs], rel=1e-10)
    assert pr.grad.tolist() == pytest.approx([beta * sig(-z) / 3 for z in zs], rel=1e-10)
    # And by finite differences, through all four inputs.
    inputs = tuple(
        t.detach().clone().requires_grad_(True) for t in (pc, pr, rc, rr)
    )  # float64 leaves
    assert torch.autograd.gradcheck(lambda *a: dpo_loss(*a, beta)[0], inputs)


def test_dpo_loss_is_stable_for_large_margins():
    big = torch.tensor([1e4])
    zero = torch.zeros(1)
    loss, _, _ = dpo_loss(big, zero, zero, zero, 1.0)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    loss, _, _ = dpo_loss(-big, zero, zero, zero, 1.0)
    assert loss.item() == pytest.approx(1e4)  # -log sigmoid(-1e4) = 1e4, not inf


class FixedLogits(torch.nn.Module):
    """A stand-in model that returns given logits, to poke single positions."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return self.logits[:, : x.shape[1]]


def test_sequence_logps_sums_only_over_completion_tokens():
    torch.manual_seed(0)
    V = 7
    ids = torch.tensor([[1, 2, 3, 4, 5, 0]])  # prompt 1 2 3 | completion 4 5 | pad
    cmask = torch.tensor([[False, False, False, True, True, False]])
    logits = torch.randn(1, 5, V)  # position t predicts ids[t + 1]
    base = sequence_logps(FixedLogits(logits), ids, cmask)

    want = sum(torch.log_softmax(logits[0, t], -1)[ids[0, t + 1]] for t in (2, 3))
    assert base.item() == pytest.approx(want.item(), rel=1e-6)
    for t in (0, 1, 4):  # predicting prompt tokens 2, 3 and the pad: no effect
        poked = logits.clone()
        poked[0, t, ids[0, t + 1]] += 5.0
        assert torch.equal(sequence_logps(FixedLogits(poked), ids, cmask), base)
    for t in (2, 3):  # predicting completion tokens 4, 5: changes the sum
        poked = logits.clone()
        poked[0, t, ids[0, t + 1]] += 5.0
        assert sequence_logps(FixedLogits(poked), ids, cmask).item() > base.item() + 0.1


def test_sequence_logps_ignores_padding_in_a_batch(tok):
    model = _model(tok).eval()
    a = encode_example(tok, PROMPT, "HAMLET\nWho's there?\n", 64)
    b = encode_example(tok, PROMPT, "Hi.", 64)
    with torch.no_grad():
        together = sequence_logps(model, *collate([a, b], tok.pad_id))
        alone = sequence_logps(model, *collate([b], tok.pad_id))
    assert together[1].item() == pytest.approx(alone[0].item(), abs=1e-5)


# --------------------------------------------------------------------------- training

SFT_EXAMPLES = [
    SFTExample(_prompt(i), text)
    for i, text in enumerate(
        [
            "HAMLET\nWho's there?\n",
            "HAMLET\nNay, answer me.\n",
            "HAMLET\nLong live the king!\n",
            "HAMLET\nYou come most carefully.\n",
        ]
    )
]


def test_sft_lowers_completion_loss_and_is_deterministic(tok):
    model = _model(tok)
    before = completion_loss(model, tok, SFT_EXAMPLES)["loss"]
    events = []
    metrics = sft_train(
        model,
        tok,
        SFT_EXAMPLES,
        steps=25,
        batch_size=4,
        lr=1e-2,
        seed=1,
        device="cpu",
        progress_cb=events.append,
    )
    after = completion_loss(model, tok, SFT_EXAMPLES)["loss"]
    assert after < before - 1.5, (before, after)
    assert metrics["loss_last"] < metrics["loss_first"] and metrics["skipped"] == 0
    assert events[0]["event"] == "step" and events[-1]["event"] == "done"

    twin = _model(tok)
    sft_train(twin, tok, SFT_EXAMPLES, steps=25, batch_size=4, lr=1e-2, seed=1, device="cpu")
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p, q)


# Chosen: the requested character speaks. Rejected: a stranger loops on one line.
PAIRS = [
    PreferencePair(_prompt(i), chosen, "GHOST\nSwear.\nSwear.\n")
    for i, chosen in enumerate(
        ["HAMLET\nWho's there?\n", "HAMLET\nNay, answer me.\n", "HAMLET\nLong live the king!\n"]
    )
]


def test_dpo_raises_preference_accuracy_and_leaves_reference_frozen(tok):
    policy = _model(tok, seed=3)
    ref = frozen_copy(policy)
    snapshot = {k: v.clone() for k, v in ref.state_dict().items()}

    start = preference_eval(policy, ref, tok, PAIRS, beta=0.1)
    assert start["pref_accuracy"] == 0.5 and start["reward_margin"] == 0.0  # identical: ties
    assert start["n"] == 3

    events = []
    metrics = dpo_train(
        policy,
        ref,
        tok,
        PAIRS,
        steps=15,
        batch_size=3,
        lr=3e-3,
        beta=0.1,
        seed=0,
        device="cpu",
        progress_cb=events.append,
    )
    end = preference_eval(policy, ref, tok, PAIRS, beta=0.1)
    assert end["pref_accuracy"] == 1.0 and end["reward_margin"] > 0.1, end
    assert metrics["loss"] < metrics["loss_first"] < math.log(2) + 1e-3
    assert events[-1]["event"] == "done"

    # The reference did not move, bit for bit, and stays frozen.
    assert not ref.training and not any(p.requires_grad for p in ref.parameters())
    for k, v in ref.state_dict().items():
        assert torch.equal(v, snapshot[k]), k
    assert not torch.equal(policy.wte.weight, ref.wte.weight)


def test_dpo_refuses_a_shared_reference(tok):
    policy = _model(tok)
    with pytest.raises(ValueError):
        dpo_train(policy, policy, tok, PAIRS, steps=1, batch_size=1, lr=1e-3, seed=0, device="cpu")


# --------------------------------------------------------------------------- pair builder


def test_make_pairs_best_vs_each_lower_within_margin():
    a, b = _prompt(1), _prompt(2)
    groups = [
        [(a, "best", 5.0), (a, "ok", 4.5), (a, "bad", 2.0), (a, "worse", 1.0)],
        [(b, "x", 3.0), (b, "y", 3.0)],  # a tie: no pair
        [(b, "only", 5.0)],  # one alternative: nothing to compare
    ]
    pairs = make_pairs_from_ratings(groups, min_margin=1.0)
    assert [(p.chosen, p.rejected) for p in pairs] == [("best", "bad"), ("best", "worse")]
    assert all(p.prompt == a for p in pairs)
    # A smaller margin lets the near-miss in too.
    assert len(make_pairs_from_ratings(groups, min_margin=0.5)) == 3


def test_make_pairs_tie_for_best_goes_to_first_and_skips_identical_text():
    a = _prompt(1)
    group = [(a, "first", 4.0), (a, "second", 4.0), (a, "low", 1.0), (a, "first", 1.0)]
    pairs = make_pairs_from_ratings([group], min_margin=1.0)
    assert [(p.chosen, p.rejected) for p in pairs] == [("first", "low")]


def test_make_pairs_rejects_mixed_prompts_but_accepts_cast_list_or_tuple():
    a = _prompt(1)
    same = Prompt(a.heading, list(a.cast), a.synopsis)  # a list of names is kept as a tuple
    assert len(make_pairs_from_ratings([[(a, "x", 5), (same, "y", 1)]], 1.0)) == 1
    with pytest.raises(ValueError):
        make_pairs_from_ratings([[(a, "x", 5), (_prompt(2), "y", 1)]], 1.0)


def test_sample_rated_groups_feeds_the_pair_builder(tok):
    model = _model(tok, block_size=96).eval()
    prompts = [_prompt(1), _prompt(2)]
    params = SamplingParams(max_new_tokens=12, temperature=1.0)
    groups = sample_rated_groups(model, tok, prompts, n=3, params=params, seed=5)
    assert [len(g) for g in groups] == [3, 3]
    for prompt, group in zip(prompts, groups, strict=True):
        for p, text, score in group:
            assert p is prompt and score == rate(text, prompt.cast)
    assert len({t for _, t, _ in groups[0]}) > 1  # different seeds, different samples
    again = sample_rated_groups(model, tok, prompts, n=3, params=params, seed=5)
    assert again == groups  # repeatable
    assert not model.training
    # Scores are rated by a custom function when given; all pairs stay within a prompt.
    by_len = sample_rated_groups(
        model, tok, prompts, n=3, params=params, seed=5, rate_fn=lambda t, p: len(t)
    )
    for pair in make_pairs_from_ratings(by_len, min_margin=1):
        assert len(pair.chosen) > len(pair.rejected)


def test_dpo_sft_weight_keeps_chosen_text_likely(tok):
    policy = _model(tok, seed=3)
    ref = frozen_copy(policy)
    kw = dict(steps=15, batch_size=3, lr=3e-3, beta=0.1, seed=0, device="cpu")
    metrics = dpo_train(policy, ref, tok, PAIRS, sft_weight=1.0, **kw)
    assert preference_eval(policy, ref, tok, PAIRS, beta=0.1)["pref_accuracy"] == 1.0
    # The chosen completions became *more* likely than under the reference (reward > 0).
    assert metrics["chosen_reward"] > 0 and metrics["rejected_reward"] < 0
    chosen = [SFTExample(p.prompt, p.chosen) for p in PAIRS]
    assert completion_loss(policy, tok, chosen)["loss"] < completion_loss(ref, tok, chosen)["loss"]


def test_scene_windows_cut_at_blank_lines_and_carry_the_text_before():
    prompt = Prompt.from_dict(
        {"heading": "INT. HALL - NIGHT", "cast": ["MARA"], "synopsis": "S.", "x": 1}
    )
    blocks = [f"MARA\nLine number {i}." for i in range(30)]
    text = "\n\n".join(blocks) + "\n"
    windows = scene_windows(prompt, text, max_chars=100)
    assert len(windows) > 3
    # Nothing lost, nothing doubled, order kept; every window within the limit.
    assert "\n".join(w.completion for w in windows).replace("\n\n", "\n") == text.replace(
        "\n\n", "\n"
    )
    assert all(len(w.completion) <= 101 for w in windows)
    assert windows[0].prompt == Prompt("INT. HALL - NIGHT", ("MARA",), "S.", "")
    for prev, w in zip(windows, windows[1:], strict=False):
        assert w.prompt.text_prefix.endswith(prev.completion)
    # One element longer than the limit is a window of its own; empty text gives none.
    long = "A" * 300
    assert [w.completion for w in scene_windows(prompt, f"{long}\n\nB\n", 100)] == [
        long + "\n",
        "B\n",
    ]
    assert scene_windows(prompt, "  \n\n ") == []
