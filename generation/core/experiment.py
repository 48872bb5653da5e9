"""The simulated-feedback experiment: does retraining on ratings make the drafts rate higher?

The library behind ``manage.py feedback_experiment`` (which only parses arguments, finds
the model and corpus, and prints): ``run_experiment`` (the synthetic setting),
``run_corpus_experiment`` (the team's model) and the loop both run, ``run_loop``.

Two settings, one loop:

* **Corpus (the default): the team's real model.** ``--model`` is a version folder, e.g.
  the ``tiny`` model the app trains on first start from the bootstrap corpus
  (Shakespeare as Fountain). Training prompts are the heading, cast and synopsis of
  scenes from the corpus' training plays; held-out prompts come from the held-out plays
  (the validation split), which neither pretraining nor any round saw. The task is "write
  this scene" (no text yet). Replay text for each round: windows of training-play scenes.
  General bits/byte: the held-out plays.
* **Synthetic (``--synthetic``, what the test suite runs):** a 2-layer GPT pretrained for
  ``--base-steps`` on a synthetic screenplay corpus whose cues are drawn from a pool of
  names *independently of the scene's cast*, sometimes repeating a line; casts are two
  names of the pool. Fast enough for a test.

**Rater:** ``generation.core.rater`` with a taste (``--taste``): "brisk" (quick exchanges,
no repeated line; the default on the corpus setting, since the first-start tiny model never
names the requested cast) or "cast" (only the scene's cast speaks, no repeated line).

Each round (``run_loop``): sample ``--alternatives`` drafts per training prompt
(``rated_sampling.sample_rated_groups``), build pairs between alternatives of the same prompt
(``make_pairs_from_ratings``, margin 1.0), take each group's best draft rated >= 4 as an
SFT example (the dataset builder's "well-rated" rule), then run the same training step as
the app's retraining (``retrain_round.retrain_round``: SFT with ``--replay`` general windows
per example, then DPO with the NLL term against a frozen copy of the round's starting
model). Before the first round and after every round it prints: the rater's mean score on
fresh drafts for the HELD-OUT prompts, preference accuracy / reward margin on held-out
pairs (the base model's rated drafts of the held-out prompts, paired once before round 1;
the implicit reward is measured against the base model as reference), and validation
bits/byte on general text.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace

import torch

from generation.core.dpo import frozen_copy, preference_eval
from generation.core.examples import SFTExample, scene_windows
from generation.core.finetune import sft_train
from generation.core.model import GPT, GPTConfig
from generation.core.params import SamplingParams
from generation.core.prompting import Prompt
from generation.core.rated_sampling import make_pairs_from_ratings, sample_rated_groups
from generation.core.rater import rate_details
from generation.core.retrain_round import RetrainSettings, retrain_round
from generation.core.tokenizer import ScriptTokenizer
from generation.core.train import encode_split, evaluate_bpb

NAMES = ["MARA", "JONAH", "ANNA", "BEN"]  # casts are drawn from these
STRANGERS = ["GHOST", "CLERK", "GUARD", "NURSE"]  # never in a cast
PLACES = ["KITCHEN", "STATION", "HULL", "ROAD", "ATTIC", "HARBOUR", "OFFICE", "CELLAR"]
TIMES = ["NIGHT", "DAY", "DAWN", "LATER"]
LINES = [
    "It's holding.",
    "Then tell me what you want.",
    "We should go before it floods.",
    "You came back.",
    "I said I would.",
    "Nobody listens to the alarms.",
    "Give me the key.",
    "Not tonight.",
    "Look at the water.",
    "Where were you?",
    "Keep your voice down.",
    "It was never yours.",
]


def _prompts(rng: random.Random, n: int, start: int) -> list[Prompt]:
    out = []
    for i in range(start, start + n):
        cast = rng.sample(NAMES, 2)
        heading = f"INT. {rng.choice(PLACES)} {i} - {rng.choice(TIMES)}"
        out.append(Prompt(heading, tuple(cast), f"Scene {i}."))
    return out


def _scene_text(rng: random.Random, cast: list[str]) -> tuple[str, bool]:
    """A short exchange of 3 speeches of 1 to 4 lines each (so about half the speeches
    are short, for the brisk taste). Half the scenes are "sloppy": each cue names a
    stranger with p=1/2 (else someone of the cast) and a line repeats an earlier one with
    p=1/3; the others use only the cast and never repeat a line."""
    parts, used = [], []
    sloppy = rng.random() < 0.5
    for _ in range(3):
        name = rng.choice(STRANGERS) if sloppy and rng.random() < 0.5 else rng.choice(cast)
        speech = []
        for _ in range(rng.randint(1, 4)):
            fresh = [x for x in LINES if x not in used] or LINES
            repeat = sloppy and used and rng.random() < 1 / 3
            line = rng.choice(used) if repeat else rng.choice(fresh)
            used.append(line)
            speech.append(line)
        parts.append(name + "\n" + "\n".join(speech) + "\n")
    return "\n".join(parts), sloppy


def base_corpus(seed: int, n: int) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for p in _prompts(rng, n, 10_000):
        text, sloppy = _scene_text(rng, list(p.cast))
        docs.append({**p.as_dict(), "text": text, "sloppy": sloppy})
    return docs


def build_base_model(seed: int, steps: int, docs: list[dict], log=print):
    """Train a tokenizer and a small GPT on ``docs`` (SFT on the scene text)."""
    texts = [d["heading"] + "\n" + d["synopsis"] + "\n" + d["text"] for d in docs]
    tok = ScriptTokenizer.train(texts, vocab_size=320)
    torch.manual_seed(seed)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=128, n_layer=2, n_head=2, n_embd=64)
    model = GPT(cfg)
    examples = [SFTExample(Prompt.from_dict(d), d["text"]) for d in docs]
    t0 = time.time()
    m = sft_train(
        model, tok, examples, steps=steps, batch_size=16, lr=3e-3, seed=seed, device="cpu"
    )
    log(f"base model: {steps} SFT steps, loss {m['loss_last']:.3f}, {time.time() - t0:.0f} s")
    return model.eval(), tok


def _mean_score(groups) -> float:
    scores = [s for g in groups for _, _, s in g]
    return sum(scores) / max(len(scores), 1)


def run_loop(
    model,
    tok,
    *,
    train_prompts: list[Prompt],
    test_prompts: list[Prompt],
    general_val: list[dict],
    replay_pool: list,
    rounds: int,
    alternatives: int,
    seed: int,
    settings: RetrainSettings,
    params: SamplingParams,
    replay: float,
    taste: str = "cast",
    eval_max_tokens: int = 20_000,
    log=print,
) -> list[dict]:
    """The loop itself (both settings); returns one row per round (0 = before feedback)."""
    rng = random.Random(seed + 1)

    def rate_fn(text: str, prompt: Prompt) -> float:
        return rate_details(text, prompt.cast).score_for(taste)

    val_ids, val_mask = encode_split(tok, general_val)
    base = frozen_copy(model)
    held_pairs: list = []

    def measure(rnd: int, seconds: float, trained: dict) -> dict:
        groups = sample_rated_groups(
            model,
            tok,
            test_prompts,
            n=alternatives,
            params=params,
            seed=seed * 7919 + rnd * 1000,
            rate_fn=rate_fn,
        )
        if rnd == 0:  # fixed held-out pairs: the base model's rated drafts of held-out prompts
            held_pairs.extend(make_pairs_from_ratings(groups, min_margin=1.0))
        pe = preference_eval(model, base, tok, held_pairs, settings.beta)
        bpb = evaluate_bpb(model, tok, val_ids, val_mask, eval_max_tokens, settings.device)["bpb"]
        model.eval()
        dets = [rate_details(t, p.cast) for g in groups for p, t, _ in g]
        cues = sum(d.cues for d in dets)
        lines = sum(d.lines for d in dets)
        row = {
            "round": rnd,
            "score": _mean_score(groups),
            "on_cast": sum(d.on_cast for d in dets) / cues if cues else 0.0,
            "repeats": sum(d.duplicates for d in dets) / lines if lines else 0.0,
            "cues": cues / max(len(dets), 1),
            "short": sum(d.short_speeches for d in dets) / max(len(dets), 1),
            "pref_accuracy": pe["pref_accuracy"],
            "reward_margin": pe["reward_margin"],
            "held_out_pairs": len(held_pairs),
            "val_bpb": bpb,
            "sft_examples": trained.get("sft", 0),
            "pairs": trained.get("pairs", 0),
            "seconds": seconds,
        }
        log(format_row(row))
        return row

    log(format_header())
    rows = [measure(0, 0.0, {})]
    for rnd in range(1, rounds + 1):
        t0 = time.time()
        groups = sample_rated_groups(
            model,
            tok,
            train_prompts,
            n=alternatives,
            params=params,
            seed=seed * 104729 + rnd,
            rate_fn=rate_fn,
        )
        pairs = make_pairs_from_ratings(groups, min_margin=1.0)
        best = [max(g, key=lambda x: x[2]) for g in groups]
        sft = [SFTExample(p, t) for p, t, s in best if s >= 4.0]
        extra = rng.sample(replay_pool, min(len(replay_pool), round(replay * len(sft))))
        ref = frozen_copy(model)
        retrain_round(model, ref, tok, sft, pairs, replace(settings, seed=seed + rnd), replay=extra)
        model.eval()
        rows.append(measure(rnd, time.time() - t0, {"sft": len(sft), "pairs": len(pairs)}))
    return rows


def run_experiment(
    *,
    rounds: int = 3,
    prompts: int = 16,
    held_out: int = 12,
    alternatives: int = 4,
    seed: int = 0,
    base_steps: int = 150,
    sft_steps: int = 20,
    dpo_steps: int = 30,
    max_new_tokens: int = 40,
    lr: float = 3e-4,
    dpo_lr: float | None = None,
    beta: float = 0.1,
    temperature: float = 0.8,
    corpus_docs: int = 200,
    replay: float = 0.0,
    taste: str = "cast",
    model=None,
    tok=None,
    log=print,
) -> list[dict]:
    """The synthetic setting (fast; the test suite's): build the base model, run the loop."""
    torch.manual_seed(seed)
    docs = base_corpus(seed, corpus_docs)
    if model is None:
        model, tok = build_base_model(seed, base_steps, docs, log=log)
    rng = random.Random(seed + 1)
    return run_loop(
        model,
        tok,
        train_prompts=_prompts(rng, prompts, 0),
        test_prompts=_prompts(rng, held_out, 5_000),
        general_val=base_corpus(seed + 999, 40),
        replay_pool=[SFTExample(Prompt.from_dict(d), d["text"]) for d in docs],
        rounds=rounds,
        alternatives=alternatives,
        seed=seed,
        settings=RetrainSettings(
            sft_steps=sft_steps,
            dpo_steps=dpo_steps,
            sft_lr=lr,
            dpo_lr=lr if dpo_lr is None else dpo_lr,
            beta=beta,
            warmup_steps=5,
        ),
        params=SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature),
        replay=replay,
        taste=taste,
        log=log,
    )


def corpus_prompts(docs: list[dict], n: int, rng: random.Random, max_cast: int = 8) -> list[Prompt]:
    """``n`` "write this scene" prompts from corpus scenes with 2..max_cast characters."""
    fit = [d for d in docs if 2 <= len(d.get("cast") or ()) <= max_cast]
    return [
        Prompt(d["heading"], tuple(d["cast"]), d["synopsis"])
        for d in rng.sample(fit, min(n, len(fit)))
    ]


def run_corpus_experiment(
    model,
    tok,
    corpus_dir,
    *,
    rounds: int = 5,
    prompts: int = 48,
    held_out: int = 32,
    alternatives: int = 6,
    seed: int = 0,
    sft_steps: int = 40,
    dpo_steps: int = 40,
    sft_lr: float = 3e-4,
    dpo_lr: float = 1e-4,
    beta: float = 0.1,
    max_new_tokens: int = 64,
    temperature: float = 0.9,
    replay: float = 3.0,
    taste: str = "brisk",
    eval_max_tokens: int = 20_000,
    log=print,
) -> list[dict]:
    """The corpus setting: the team's model, prompts from the bootstrap corpus."""
    from generation.core.corpus import load_documents

    torch.manual_seed(seed)
    train_docs = load_documents(corpus_dir, "train")
    val_docs = load_documents(corpus_dir, "val")
    rng = random.Random(seed)
    replay_pool = [
        w
        for d in rng.sample(train_docs, min(400, len(train_docs)))
        for w in scene_windows(Prompt.from_dict(d), d["text"])
    ]
    return run_loop(
        model,
        tok,
        train_prompts=corpus_prompts(train_docs, prompts, rng),
        test_prompts=corpus_prompts(val_docs, held_out, rng),
        general_val=val_docs,
        replay_pool=replay_pool,
        rounds=rounds,
        alternatives=alternatives,
        seed=seed,
        settings=RetrainSettings(
            sft_steps=sft_steps,
            dpo_steps=dpo_steps,
            sft_lr=sft_lr,
            dpo_lr=dpo_lr,
            beta=beta,
            warmup_steps=5,
        ),
        params=SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature),
        replay=replay,
        taste=taste,
        eval_max_tokens=eval_max_tokens,
        log=log,
    )


def format_header() -> str:
    return (
        "| round | rater score (held-out prompts) | short speeches / draft | cues on cast "
        "| repeated lines | pref. accuracy (held-out pairs) | reward margin | general bits/byte "
        "| trained on (SFT / pairs) | round s |\n|---|---|---|---|---|---|---|---|---|---|"
    )


def format_row(r: dict) -> str:
    def f(v, fmt):
        return "—" if v is None or v != v else format(v, fmt)

    return (
        f"| {r['round']} | {r['score']:.2f} | {r['short']:.2f} | {r['on_cast']:.0%} "
        f"| {r['repeats']:.0%} | {f(r['pref_accuracy'], '.2f')} (n={r['held_out_pairs']}) "
        f"| {f(r['reward_margin'], '.3f')} | {r['val_bpb']:.3f} "
        f"| {r['sft_examples']} / {r['pairs']} | {r['seconds']:.0f} |"
    )
