"""The feedback-loop experiment: does retraining on ratings make the drafts rate higher?

    python manage.py feedback_experiment --model models/tiny-v1 --rounds 5 --seed 0
    python manage.py feedback_experiment --synthetic --rounds 3      # the fast setting

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
(``preference.sample_rated_groups``), build pairs between alternatives of the same prompt
(``make_pairs_from_ratings``, margin 1.0), take each group's best draft rated >= 4 as an
SFT example (the dataset builder's "well-rated" rule), then run the same training step as
the app's retraining (``preference.retrain_round``: SFT with ``--replay`` general windows
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
from pathlib import Path

import torch
from django.core.management.base import BaseCommand, CommandError

from generation.core import preference as pref
from generation.core.model import GPT, GPTConfig
from generation.core.rater import TASTES, rate_details
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


def run_loop(
    model,
    tok,
    *,
    train_prompts: list[dict],
    test_prompts: list[dict],
    general_val: list[dict],
    replay_pool: list,
    rounds: int,
    alternatives: int,
    seed: int,
    settings: pref.RetrainSettings,
    params: SamplingParams,
    replay: float,
    taste: str = "cast",
    eval_max_tokens: int = 20_000,
    log=print,
) -> list[dict]:
    """The loop itself (both settings); returns one row per round (0 = before feedback)."""
    rng = random.Random(seed + 1)

    def rate_fn(text: str, prompt: dict) -> float:
        return rate_details(text, prompt.get("cast", ())).score_for(taste)

    val_ids, val_mask = encode_split(tok, general_val)
    base = pref.frozen_copy(model)
    held_pairs: list = []

    def measure(rnd: int, seconds: float, trained: dict) -> dict:
        groups = pref.sample_rated_groups(
            model,
            tok,
            test_prompts,
            n=alternatives,
            params=params,
            seed=seed * 7919 + rnd * 1000,
            rate_fn=rate_fn,
        )
        if rnd == 0:  # fixed held-out pairs: the base model's rated drafts of held-out prompts
            held_pairs.extend(pref.make_pairs_from_ratings(groups, min_margin=1.0))
        pe = pref.preference_eval(model, base, tok, held_pairs, settings.beta)
        bpb = evaluate_bpb(model, tok, val_ids, val_mask, eval_max_tokens, settings.device)["bpb"]
        model.eval()
        dets = [rate_details(t, p.get("cast", ())) for g in groups for p, t, _ in g]
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
        groups = pref.sample_rated_groups(
            model,
            tok,
            train_prompts,
            n=alternatives,
            params=params,
            seed=seed * 104729 + rnd,
            rate_fn=rate_fn,
        )
        pairs = pref.make_pairs_from_ratings(groups, min_margin=1.0)
        best = [max(g, key=lambda x: x[2]) for g in groups]
        sft = [pref.SFTExample(p, t) for p, t, s in best if s >= 4.0]
        extra = rng.sample(replay_pool, min(len(replay_pool), round(replay * len(sft))))
        ref = pref.frozen_copy(model)
        pref.retrain_round(
            model, ref, tok, sft, pairs, replace(settings, seed=seed + rnd), replay=extra
        )
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
        replay_pool=[pref.SFTExample({k: d[k] for k in pref.PROMPT_KEYS}, d["text"]) for d in docs],
        rounds=rounds,
        alternatives=alternatives,
        seed=seed,
        settings=pref.RetrainSettings(
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


def corpus_prompts(docs: list[dict], n: int, rng: random.Random, max_cast: int = 8) -> list[dict]:
    """``n`` "write this scene" prompts from corpus scenes with 2..max_cast characters."""
    fit = [d for d in docs if 2 <= len(d.get("cast") or ()) <= max_cast]
    return [
        {
            "heading": d["heading"],
            "cast": list(d["cast"]),
            "synopsis": d["synopsis"],
            "text_prefix": "",
        }
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
        for w in pref.scene_windows(d, d["text"])
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
        settings=pref.RetrainSettings(
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


class Command(BaseCommand):
    help = "Run the scripted-rater feedback loop and print per-round metrics."

    def add_arguments(self, parser):
        parser.add_argument(
            "--model",
            help="a version folder to start from (corpus setting), e.g. models/tiny-v1; "
            "default: the active version",
        )
        parser.add_argument(
            "--corpus",
            help="the bootstrap corpus folder (default: the app's, data/corpus/shakespeare)",
        )
        parser.add_argument(
            "--synthetic", action="store_true", help="the fast synthetic setting instead"
        )
        parser.add_argument("--rounds", type=int, default=5)
        parser.add_argument("--prompts", type=int, default=48, help="training prompts")
        parser.add_argument("--held-out", type=int, default=32, help="held-out prompts")
        parser.add_argument("--alternatives", type=int, default=6)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--sft-steps", type=int, default=40)
        parser.add_argument("--dpo-steps", type=int, default=40)
        parser.add_argument("--max-new-tokens", type=int, default=64)
        parser.add_argument("--temperature", type=float, default=0.9)
        parser.add_argument(
            "--replay", type=float, default=3.0, help="general windows per SFT example"
        )
        parser.add_argument(
            "--taste",
            choices=TASTES,
            help="the rater's taste (generation/core/rater.py); default: brisk on the corpus "
            "setting (the first-start tiny model never names the cast), cast on the synthetic",
        )
        parser.add_argument("--threads", type=int, default=1)
        parser.add_argument("--base-steps", type=int, default=300, help="synthetic: pretraining")
        parser.add_argument("--corpus-docs", type=int, default=2000, help="synthetic: corpus size")
        parser.add_argument("--lr", type=float, default=3e-4, help="synthetic: learning rate")

    def handle(self, *args, **o):
        torch.set_num_threads(o["threads"])
        t0 = time.time()
        common = dict(
            rounds=o["rounds"],
            prompts=o["prompts"],
            held_out=o["held_out"],
            alternatives=o["alternatives"],
            seed=o["seed"],
            sft_steps=o["sft_steps"],
            dpo_steps=o["dpo_steps"],
            max_new_tokens=o["max_new_tokens"],
            replay=o["replay"],
            log=self.stdout.write,
        )
        if o["synthetic"]:
            run_experiment(
                taste=o["taste"] or "cast",
                base_steps=o["base_steps"],
                corpus_docs=o["corpus_docs"],
                lr=o["lr"],
                temperature=o["temperature"],
                **common,
            )
        else:
            from generation.core.checkpoint import load_version
            from generation.services import active_version, bootstrap_corpus_dir

            path = o["model"]
            if not path:
                version = active_version()
                if version is None:
                    raise CommandError(
                        "No active model version: pass --model (a version folder) or --synthetic."
                    )
                path = version.path
            corpus = Path(o["corpus"]) if o["corpus"] else bootstrap_corpus_dir()
            if not (corpus / "val.jsonl").exists():
                raise CommandError(
                    f"No corpus in {corpus}: run `manage.py fetch_bootstrap_corpus` first."
                )
            model, tok, meta = load_version(path)
            self.stdout.write(
                f"model {path} ({model.num_params() / 1e6:.1f}M parameters), corpus {corpus}"
            )
            run_corpus_experiment(model, tok, corpus, temperature=o["temperature"], **common)
        self.stdout.write(f"total {time.time() - t0:.0f} s")
