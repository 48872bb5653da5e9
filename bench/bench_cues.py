"""Does a draft's cast speak? Cue-aware decoding off vs on, same model, same seeds.

    python bench/bench_cues.py --model data/models/tiny-v1        # a trained version folder
    python bench/bench_cues.py --model … --prompts 100 --tokens 160

Held-out prompts: a heading, a cast of 2–3 names that occur nowhere in the bootstrap
corpus (modern first names), a one-line synopsis, and no text ("write the scene"). Each
prompt is drafted twice with the same seed: decoding off (the model alone) and on (the
engine keeps cues to the cast, ``generation/core/cues.py``). Cues are found by the Fountain
grammar (``scripts_app/formats/grammar.py``), as the editor and the importer find them.

Printed side by side:
- cue-on-cast: of all character cues written, the share naming a cast member;
- drafts where every requested member speaks; drafts with at least one cue;
- play-style stage directions ("Enter", "Exit", "Exeunt") per draft;
- tokens/s generated (what the rule costs).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from generation.core.checkpoint import load_version  # noqa: E402
from generation.core.engine import Engine  # noqa: E402
from generation.core.params import SamplingParams  # noqa: E402
from generation.core.prompting import Prompt, format_prompt  # noqa: E402
from scripts_app.formats import grammar  # noqa: E402

NAMES = [
    "CLAIRE", "JUNE", "MARCUS", "DELIA", "TOMMY", "RENATA", "OWEN", "PRIYA", "DEV", "NADIA",
    "LUCAS", "HANNAH", "MALIK", "ROSA", "KENJI", "FIONA", "JAMAL", "INGRID", "OSCAR", "TESSA",
]  # fmt: skip
PLACES = ["DINER", "HOSPITAL CORRIDOR", "PARKING GARAGE", "KITCHEN", "MOTEL ROOM", "BUS STOP"]
TIMES = ["NIGHT", "DAY", "DAWN", "LATER"]
SYNOPSES = [
    "{a} tells {b} the house has been sold.",
    "{a} and {b} wait for news that does not come.",
    "{b} confronts {a} about the missing money.",
    "{a} asks {b} for one more chance.",
]
STAGE = re.compile(r"^\s*(Enter|Exit|Exeunt|Re-enter)\b", re.M)


def prompts(n: int, seed: int) -> list[Prompt]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        cast = rng.sample(NAMES, rng.choice((2, 2, 3)))
        heading = f"INT. {rng.choice(PLACES)} - {rng.choice(TIMES)}"
        synopsis = rng.choice(SYNOPSES).format(a=cast[0].title(), b=cast[1].title())
        out.append(Prompt(heading, tuple(cast), synopsis))
    return out


def draft_all(engine, tok, items: list[Prompt], constrained: bool, tokens: int, temp: float):
    rids, text = [], {}
    for i, p in enumerate(items):
        params = SamplingParams(max_new_tokens=tokens, temperature=temp, top_p=0.95, seed=i)
        rid = engine.submit(
            format_prompt(tok, p),
            replace(params, cast_cues=constrained),
            cast=p.cast,
            text_before=p.text_prefix,
        )
        rids.append(rid)
    t0, generated = time.perf_counter(), 0
    while engine.has_work():
        for o in engine.step():
            text[o.request_id] = text.get(o.request_id, "") + o.text
            generated += len(o.token_ids)
    return [text[r] for r in rids], generated / (time.perf_counter() - t0)


def measure(items: list[Prompt], texts: list[str]) -> dict:
    cues = on_cast = all_speak = with_cue = stage = 0
    for p, text in zip(items, texts, strict=True):
        lines = text.split("\n")
        names = [
            grammar.parse_cue(line).name
            for line, kind in zip(
                lines, grammar.classify_lines(lines, title_page=False), strict=True
            )
            if kind == grammar.CHARACTER
        ]
        cues += len(names)
        on_cast += sum(n in p.cast for n in names)
        with_cue += bool(names)
        all_speak += set(p.cast) <= set(names)
        stage += len(STAGE.findall(text))
    n = len(items)
    return {
        "cues": cues,
        "cue-on-cast": on_cast / cues if cues else 0.0,
        "every cast member speaks": all_speak / n,
        "drafts with a cue": with_cue / n,
        "stage directions / draft": stage / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="a version folder (config, weights, tokenizer)")
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--tokens", type=int, default=160)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, tok, _ = load_version(args.model)
    items = prompts(args.prompts, args.seed)
    rows = {}
    for label, constrained in (("off (model alone)", False), ("on (cue-aware)", True)):
        engine = Engine.from_tokenizer(model, tok, max_batch=32)
        texts, tps = draft_all(engine, tok, items, constrained, args.tokens, args.temperature)
        rows[label] = {**measure(items, texts), "tokens/s": tps}
        if constrained:
            sample = texts[0]
    print(f"{args.prompts} held-out prompts (unseen names), {args.tokens} tokens each, "
          f"t={args.temperature}, model {args.model}")  # fmt: skip
    labels = list(rows)
    print(f"{'':32}" + "".join(f"{label:>20}" for label in labels))
    for key in rows[labels[0]]:
        vals = [rows[label][key] for label in labels]
        cells = "".join(
            f"{v:>20.1%}" if isinstance(v, float) and key not in ("tokens/s", "stage directions / draft")
            else f"{v:>20.1f}" if isinstance(v, float) else f"{v:>20}"
            for v in vals
        )  # fmt: skip
        print(f"{key:32}{cells}")
    print("\nFirst draft, decoding on:\n" + sample[:600])


if __name__ == "__main__":
    main()
