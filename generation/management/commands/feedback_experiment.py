"""The feedback-loop experiment: does retraining on ratings make the drafts rate higher?

    python manage.py feedback_experiment --rounds 4 --prompts 24 --seed 0

Setup (everything built on the spot, nothing downloaded):

* **Base model.** A small GPT (or ``--model PATH``, any version folder, e.g. the active
  ``tiny`` model) pretrained for ``--base-steps`` steps on a synthetic screenplay corpus
  whose character cues are drawn at random from a pool of names, *independently of the
  scene's cast*, and which sometimes repeats a line. So the base model writes well-formed
  Fountain, but only about a third of its cues name someone in the requested cast.
* **Prompts.** Heading + cast (two names of the pool) + synopsis. Training prompts and
  held-out prompts are disjoint (different headings/synopses and cast combinations).
* **Rater.** ``generation.core.rater.rate`` (on-cast cues, no repeated lines), scripted.

Each round: sample ``--alternatives`` drafts per training prompt
(``preference.sample_rated_groups``), build pairs between alternatives of the same prompt
(``make_pairs_from_ratings``, margin 1.0), SFT on each group's best draft, then DPO (with
the ``sft_weight`` NLL term) against a frozen copy of the round's starting model. Before
the first round and after every round it prints: the rater's mean score on fresh drafts
for the HELD-OUT prompts, preference accuracy / reward margin on held-out pairs (the base
model's rated drafts of the held-out prompts, paired once before round 1; the implicit
reward is measured against the base model as reference), and
validation bits/byte on general text (held-out documents of the base corpus: all of
them, and only the "good" ones, to tell drift from the intended shift of style).
"""

from __future__ import annotations

import random
import time

import torch
from django.core.management.base import BaseCommand

from generation.core import preference as pref
from generation.core.model import GPT, GPTConfig
from generation.core.sampling import SamplingParams
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


def _prompts(rng: random.Random, n: int, start: int) -> list[dict]:
    out = []
    for i in range(start, start + n):
        cast = rng.sample(NAMES, 2)
        out.append(
            {
                "heading": f"INT. {rng.choice(PLACES)} {i} - {rng.choice(TIMES)}",
                "cast": cast,
                "synopsis": f"Scene {i}.",
                "text_prefix": "",
            }
        )
    return out


def _scene_text(rng: random.Random, cast: list[str]) -> tuple[str, bool]:
    """A short exchange of 3 cues. Half the scenes are "good": only the cast speaks and no
    line repeats. The other half are "sloppy": each cue names a stranger with p=1/2 (else
    someone of the cast) and a line repeats an earlier one with p=1/3."""
    parts, used = [], []
    sloppy = rng.random() < 0.5
    for _ in range(3):
        name = rng.choice(STRANGERS) if sloppy and rng.random() < 0.5 else rng.choice(cast)
        fresh = [x for x in LINES if x not in used]
        line = rng.choice(used) if sloppy and used and rng.random() < 1 / 3 else rng.choice(fresh)
        used.append(line)
        parts.append(f"{name}\n{line}\n")
    return "\n".join(parts), sloppy


def base_corpus(seed: int, n: int) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for p in _prompts(rng, n, 10_000):
        text, sloppy = _scene_text(rng, p["cast"])
        docs.append({**p, "text": text, "sloppy": sloppy})
    return docs


def build_base_model(seed: int, steps: int, docs: list[dict], log=print):
    """Train a tokenizer and a small GPT on ``docs`` (SFT on the scene text)."""
    texts = [d["heading"] + "\n" + d["synopsis"] + "\n" + d["text"] for d in docs]
    tok = ScriptTokenizer.train(texts, vocab_size=320)
    torch.manual_seed(seed)
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=128, n_layer=2, n_head=2, n_embd=64)
    model = GPT(cfg)
    examples = [pref.SFTExample({k: d[k] for k in pref.PROMPT_KEYS}, d["text"]) for d in docs]
    t0 = time.time()
    m = pref.sft_train(
        model, tok, examples, steps=steps, batch_size=16, lr=3e-3, seed=seed, device="cpu"
    )
    log(f"base model: {steps} SFT steps, loss {m['loss_last']:.3f}, {time.time() - t0:.0f} s")
    return model.eval(), tok


def _mean_score(groups) -> float:
    scores = [s for g in groups for _, _, s in g]
    return sum(scores) / max(len(scores), 1)


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
    beta: float = 0.1,
    temperature: float = 0.8,
    corpus_docs: int = 200,
    replay: float = 0.0,
    model=None,
    tok=None,
    log=print,
) -> list[dict]:
    """Run the loop; return one row per round (round 0 = before any feedback)."""
    torch.manual_seed(seed)
    docs = base_corpus(seed, corpus_docs)
    general_val = base_corpus(seed + 999, 40)
    if model is None:
        model, tok = build_base_model(seed, base_steps, docs, log=log)
    rng = random.Random(seed + 1)
    train_prompts = _prompts(rng, prompts, 0)
    test_prompts = _prompts(rng, held_out, 5_000)
    params = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature)
    val_ids, val_mask = encode_split(tok, general_val)
    good_ids, good_mask = encode_split(tok, [d for d in general_val if not d["sloppy"]])

    base = pref.frozen_copy(model)
    held_pairs: list = []

    def measure(rnd: int, seconds: float) -> dict:
        groups = pref.sample_rated_groups(
            model, tok, test_prompts, n=alternatives, params=params, seed=seed * 7919 + rnd * 1000
        )
        if rnd == 0:  # fixed held-out pairs: the base model's rated drafts of held-out prompts
            held_pairs.extend(pref.make_pairs_from_ratings(groups, min_margin=1.0))
        pe = pref.preference_eval(model, base, tok, held_pairs, beta)
        bpb = evaluate_bpb(model, tok, val_ids, val_mask, 20_000, "cpu")["bpb"]
        good = evaluate_bpb(model, tok, good_ids, good_mask, 20_000, "cpu")["bpb"]
        model.eval()
        row = {
            "round": rnd,
            "score": _mean_score(groups),
            "pref_accuracy": pe["pref_accuracy"],
            "reward_margin": pe["reward_margin"],
            "held_out_pairs": len(held_pairs),
            "val_bpb": bpb,
            "val_bpb_good": good,
            "seconds": seconds,
        }
        log(format_row(row))
        return row

    log(format_header())
    rows = [measure(0, 0.0)]
    for rnd in range(1, rounds + 1):
        t0 = time.time()
        groups = pref.sample_rated_groups(
            model, tok, train_prompts, n=alternatives, params=params, seed=seed * 104729 + rnd
        )
        pairs = pref.make_pairs_from_ratings(groups, min_margin=1.0)
        best = [max(g, key=lambda x: x[2]) for g in groups]
        sft = [pref.SFTExample(p, t) for p, t, s in best if s >= 4.0] or [
            pref.SFTExample(p, t) for p, t, _ in best
        ]
        if replay:  # mix in base documents (like the team's scenes in a real retraining)
            sft += [
                pref.SFTExample({k: d[k] for k in pref.PROMPT_KEYS}, d["text"])
                for d in rng.sample(docs, min(len(docs), int(replay * len(sft))))
            ]
        ref = pref.frozen_copy(model)
        kw = dict(batch_size=8, lr=lr, seed=seed + rnd, device="cpu", warmup_steps=5)
        pref.sft_train(model, tok, sft, steps=sft_steps, **kw)
        if pairs:
            pref.dpo_train(model, ref, tok, pairs, steps=dpo_steps, beta=beta, sft_weight=1.0, **kw)
        model.eval()
        rows.append(measure(rnd, time.time() - t0))
    return rows


def format_header() -> str:
    return (
        "| round | rater score (held-out prompts) | pref. accuracy (held-out pairs) "
        "| reward margin | val bits/byte (all / good scenes) | round s |\n|---|---|---|---|---|---|"
    )


def format_row(r: dict) -> str:
    def f(v, fmt):
        return "—" if v is None else format(v, fmt)

    return (
        f"| {r['round']} | {r['score']:.2f} | {f(r['pref_accuracy'], '.2f')} "
        f"(n={r['held_out_pairs']}) | {f(r['reward_margin'], '.3f')} | {r['val_bpb']:.3f} / "
        f"{r['val_bpb_good']:.3f} "
        f"| {r['seconds']:.0f} |"
    )


class Command(BaseCommand):
    help = "Run the scripted-rater feedback loop and print per-round metrics."

    def add_arguments(self, parser):
        parser.add_argument("--rounds", type=int, default=4)
        parser.add_argument("--prompts", type=int, default=24, help="training prompts")
        parser.add_argument("--held-out", type=int, default=16, help="held-out prompts")
        parser.add_argument("--alternatives", type=int, default=4)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--base-steps", type=int, default=300)
        parser.add_argument("--sft-steps", type=int, default=20)
        parser.add_argument("--dpo-steps", type=int, default=30)
        parser.add_argument("--max-new-tokens", type=int, default=48)
        parser.add_argument("--threads", type=int, default=1)
        parser.add_argument("--corpus-docs", type=int, default=2000, help="base corpus size")
        parser.add_argument("--lr", type=float, default=3e-4)
        parser.add_argument(
            "--replay", type=float, default=0.0, help="base documents per SFT example, mixed in"
        )
        parser.add_argument("--model", help="a version folder to start from (default: built)")

    def handle(self, *args, **o):
        torch.set_num_threads(o["threads"])
        model = tok = None
        if o["model"]:
            from generation.core.checkpoint import load_version

            model, tok, _ = load_version(o["model"])
        t0 = time.time()
        run_experiment(
            rounds=o["rounds"],
            prompts=o["prompts"],
            held_out=o["held_out"],
            alternatives=o["alternatives"],
            seed=o["seed"],
            base_steps=o["base_steps"],
            sft_steps=o["sft_steps"],
            dpo_steps=o["dpo_steps"],
            max_new_tokens=o["max_new_tokens"],
            corpus_docs=o["corpus_docs"],
            replay=o["replay"],
            lr=o["lr"],
            model=model,
            tok=tok,
            log=self.stdout.write,
        )
        self.stdout.write(f"total {time.time() - t0:.0f} s")
