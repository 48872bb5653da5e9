"""Do drafts follow the story? Old model vs new, model alone vs as served, same prompts and seeds.

    python bench/bench_story.py --model old=models/tiny-v1 --model new=models/tiny-v2 \\
        --corpus data/corpus/shakespeare                         # 100 prompts, 200 tokens
    python bench/bench_story.py --model old=… --model new=… --corpus … \\
        --prompts 12 --tokens 64 --json /tmp/story.json         # a smoke run, records kept

Each ``--model NAME=PATH`` is a model version folder (``checkpoint.load_version``);
``--corpus`` a built corpus whose ``val`` split holds the held-out plays.

The held-out prompt set (``--prompts``, at least 100 for figures; deterministic given
``--seed``):

- ~30 % hand-written modern film scenes (``bench/story_prompts.json``): a heading, a cast
  of 2–3 names that occur nowhere in the corpus (checked on every run: the diner prompt's
  JUNE is the one known exception, as the month), a writer's one-sentence synopsis, and
  for some a few screenplay lines to continue. The diner prompt (``INT. DINER - NIGHT``,
  CLAIRE and JUNE, two estranged sisters…) is always in the set.
- the rest from the held-out plays' scenes: the heading as is, the scene's 2–3 most
  frequent (named) speakers renamed everywhere in the text to modern names unseen in the
  corpus, the brief from ``recipe.derive_brief`` (empty where that does not exist); half
  of them "continue" prompts (the first third of the renamed scene, to an element
  boundary, as the text to continue), the other half "write the scene".
- about half of all prompts (never the diner) carry one checkable instruction
  (``generation/core/instructions.py``), appended to the synopsis on a new line as the
  app's prompt builder does: speakers (a subset of the cast), about N lines (8–20), a word
  (from the synopsis, or the scene), or end on a transition.

Prompts are fitted to each model's block like the app does (``prompting.fit_prompt``: the
text to continue is cut from the left, never the brief). Every model drafts every prompt
twice, with the same seed: **alone** (``cast_cues`` off: the model as trained) and **as
served** (``cast_cues`` on: the engine keeps cues to the cast, ``generation/core/cues.py``,
and the checkable instructions in the brief, ``generation/core/guide.py``),
all requests submitted at once and batched by the engine. Temperature 0.8, top-p 0.95,
no repetition penalty unless ``--repetition-penalty`` (the drafts panel's "balanced"
preset uses 1.1), ``--tokens`` new tokens at most. Only the generated text is measured
(``generation/core/storyeval.py``), for continue prompts too.

Printed, one column per model × mode:

- cues written; cue-on-cast (of all character cues, the share naming a cast member);
  drafts where every requested member speaks; drafts with at least one cue;
- format validity (Fountain with at least one element, every cue followed by dialogue,
  no orphaned cue, no play-style Enter/Exit/Exeunt);
- instruction followed, over the prompts that carried one: overall and per kind;
- repetition (a repeated line or a looping 4-gram, ``storyeval.has_repetition``);
- tokens/s generated (the whole batch, wall clock);

then held-out bits/byte per model (``train.heldout_bpb``, or ``train.evaluate_bpb`` over
the val split where that does not exist), and three full drafts of the diner prompt from
each model as served. ``--json PATH`` writes the prompts, every record (prompt, seed,
draft, metrics) and the summaries.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from generation.core import instructions, storyeval, train  # noqa: E402
from generation.core.checkpoint import load_version  # noqa: E402
from generation.core.corpus import load_documents  # noqa: E402
from generation.core.engine import Engine  # noqa: E402
from generation.core.params import SamplingParams  # noqa: E402
from generation.core.prompting import Prompt, fit_prompt, prompt_budget  # noqa: E402

try:  # the story recipe (issue 13), written at the same time as this bench
    from generation.core.recipe import derive_brief
except ImportError:  # pragma: no cover - an older tree
    derive_brief = None
try:
    from generation.core.recipe import is_extra
except ImportError:  # pragma: no cover

    def is_extra(name: str) -> bool:
        return name.upper() in {"ALL", "BOTH", "OTHERS"}


HAND_PROMPTS = Path(__file__).with_name("story_prompts.json")
DINER = "diner"
HAND_SHARE = 0.3
# Modern names for the renamed speakers of held-out scenes (those that occur in the
# corpus as a word are dropped at run time); none is a hand-written prompt's.
RENAME_POOL = [
    "ARLO", "BRETT", "CALVIN", "CASEY", "DENISE", "DWAYNE", "EDIE", "ERNIE", "FLETCHER",
    "GINA", "HOLLIS", "INEZ", "JOLENE", "JUDD", "KAYLA", "KURT", "LAILA", "LYLE", "MAVIS",
    "MAYA", "NINA", "OTIS", "PATTY", "PEGGY", "PHIL", "RENATA", "TARA", "ULLA", "VINCE",
    "WES", "WILLA", "YOLANDA",
]  # fmt: skip
TEMPERATURE, TOP_P = 0.8, 0.95
MODES = (("alone", False), ("served", True))
_WORDS = re.compile(r"[^\W\d_]+")


@dataclass
class Item:
    """One benchmark prompt."""

    id: str
    source: str  # "hand" | "play"
    mode: str  # "new" (write the scene) | "continue"
    prompt: Prompt  # the synopsis carries the instruction line, if any
    instruction: tuple[str, object] | None = None

    def as_dict(self) -> dict:
        instr = self.instruction
        if instr is not None and isinstance(instr[1], tuple):
            instr = (instr[0], list(instr[1]))
        return {
            "id": self.id,
            "source": self.source,
            "mode": self.mode,
            **self.prompt.as_dict(),
            "instruction": list(instr) if instr else None,
        }


# --------------------------------------------------------------------------- prompts


def corpus_words(corpus: Path) -> set[str]:
    """Every word (lower case) of the corpus's texts, casts and headings."""
    words: set[str] = set()
    for split in ("train", "val"):
        if not (corpus / f"{split}.jsonl").exists():
            continue
        for doc in load_documents(corpus, split):
            blob = " ".join([doc.get("text", ""), doc.get("heading", ""), *doc.get("cast", ())])
            words.update(w.lower() for w in _WORDS.findall(blob))
    return words


def load_hand_prompts(path: Path = HAND_PROMPTS) -> list[dict]:
    items = json.loads(path.read_text(encoding="utf-8"))
    for d in items:
        Prompt.from_dict(d)  # raises on a malformed entry
    if not any(d["id"] == DINER for d in items):
        raise ValueError(f"{path}: the {DINER!r} prompt is missing")
    return items


def _prefix(text: str) -> str:
    """A text to continue ends at an element boundary, so the draft starts a new element."""
    return text.rstrip() + "\n\n" if text.strip() else ""


def first_third(text: str) -> str:
    """The scene's first third, cut at the blank line nearest a third of its length."""
    cuts = [m.end() for m in re.finditer(r"\n[ \t]*\n", text)]
    if not cuts:
        return ""
    target = len(text) / 3
    cut = min(cuts, key=lambda c: abs(c - target))
    return _prefix(text[:cut])


def rename(text: str, names: list[str], mapping: dict[str, str]) -> str:
    """``text`` with each name of ``mapping`` (upper- and title-case forms, whole words)
    written as its new name; the other ``names`` of the scene are matched too (longest
    first), so ``DECIUS BRUTUS`` stays whole when ``BRUTUS`` is renamed."""
    forms: dict[str, str] = {}
    for name in sorted(set(names) | set(mapping), key=len, reverse=True):
        new = mapping.get(name, name)
        forms.setdefault(name.upper(), new.upper())
        forms.setdefault(name.title(), new.title() if name in mapping else name.title())
    alts = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.sub(rf"(?<![\w'’])(?:{alts})(?!\w)", lambda m: forms[m.group(0)], text)


def _play_scenes(corpus: Path) -> list[tuple[dict, list[str]]]:
    """Held-out scenes with at least two named speakers, and those speakers by frequency."""
    out = []
    for doc in load_documents(corpus, "val"):
        names = storyeval.cues(doc["text"])
        counts = Counter(names)
        first = {n: i for i, n in reversed(list(enumerate(names)))}
        named = sorted((n for n in counts if not is_extra(n)), key=lambda n: (-counts[n], first[n]))
        if len(named) >= 2:
            out.append((doc, named))
    return out


def _word_for(rng: random.Random, synopsis: str, text: str, exclude: list[str]) -> str | None:
    in_text = instructions.content_words(text, exclude=exclude) if text else []
    from_synopsis = instructions.content_words(synopsis, exclude=exclude)
    candidates = [w for w in from_synopsis if not text or w in in_text][:3] or in_text[:5]
    return rng.choice(candidates) if candidates else None


def build_prompts(corpus: Path, n: int, seed: int, hand_path: Path = HAND_PROMPTS):
    """Return ``(items, notes)``: the ``n`` held-out prompts and remarks on the names."""
    rng = random.Random(seed)
    words = corpus_words(corpus)
    notes = []
    hand = load_hand_prompts(hand_path)
    seen = sorted({c for d in hand for c in d["cast"] if c.lower() in words})
    if seen:
        notes.append(f"hand-written cast names found as words in the corpus: {', '.join(seen)}")
    pool = [name for name in RENAME_POOL if name.lower() not in words]
    n_hand = min(len(hand), max(1, round(n * HAND_SHARE)), n)
    diner = next(d for d in hand if d["id"] == DINER)
    chosen = [diner, *rng.sample([d for d in hand if d is not diner], n_hand - 1)]
    items: list[Item] = []
    for d in chosen:
        p = Prompt.from_dict(d)
        p = replace(p, text_prefix=_prefix(p.text_prefix))
        items.append(Item(f"hand-{d['id']}", "hand", "continue" if p.text_prefix else "new", p))
    scenes = _play_scenes(corpus)
    rng.shuffle(scenes)
    n_play = n - len(items)
    if n_play and not scenes:
        raise SystemExit(f"{corpus}: no held-out scene with two named speakers")
    if n_play and len(pool) < 3:
        raise SystemExit("too few modern names unseen in the corpus to rename speakers")
    texts: dict[str, str] = {}  # item id -> the renamed scene (for the word instruction)
    for j in range(n_play):
        doc, named = scenes[j % len(scenes)]
        lap = j // len(scenes)
        mode = "continue" if (j + lap) % 2 else "new"
        k = min(rng.choice((2, 3)), len(named), len(pool))
        old = named[:k]
        mapping = dict(zip(old, rng.sample(pool, k), strict=True))
        all_names = list(dict.fromkeys([*named, *doc.get("cast", ())]))
        text = rename(doc["text"], all_names, mapping)
        cast = tuple(mapping[o] for o in old)
        synopsis = derive_brief(text, cast) if derive_brief is not None else ""
        prefix = first_third(text) if mode == "continue" else ""
        iid = f"play-{j:03d}-{doc.get('doc_hash', '')[:8]}-{mode}"
        items.append(
            Item(iid, "play", mode, Prompt(doc.get("heading", ""), cast, synopsis, prefix))
        )
        texts[iid] = text
    # About half the prompts (never the diner, the showcase) carry one instruction; the
    # kinds take turns so each is measured on about as many prompts.
    eligible = [i for i, it in enumerate(items) if it.id != f"hand-{DINER}"]
    picked = sorted(rng.sample(eligible, min(len(eligible), round(len(items) / 2))))
    kinds = list(instructions.KINDS)
    rng.shuffle(kinds)
    for turn, i in enumerate(picked):
        it = items[i]
        kind = kinds[turn % len(kinds)]
        cast = list(it.prompt.cast)
        if kind == "speakers":
            some = set(rng.sample(cast, rng.randint(1, len(cast))))
            value: object = tuple(c for c in cast if c in some)
        elif kind == "lines":
            value = rng.randint(8, 20)
        elif kind == "word":
            names = [*cast, *(w for c in cast for w in c.split())]
            value = _word_for(rng, it.prompt.synopsis, texts.get(it.id, ""), names)
            if value is None:
                kind, value = "lines", rng.randint(8, 20)
        else:
            value = True
        line = instructions.render(kind, value)
        synopsis = f"{it.prompt.synopsis}\n{line}" if it.prompt.synopsis else line
        items[i] = replace(
            it, prompt=replace(it.prompt, synopsis=synopsis), instruction=(kind, value)
        )
    return items, notes


# --------------------------------------------------------------------------- drafting


def submit(engine: Engine, ids: list[int], params: SamplingParams, prompt: Prompt) -> str:
    """Queue one draft: the cast goes to the engine (cue-aware decoding when
    ``params.cast_cues``, character slots of a story-recipe model); as served
    (``cast_cues``) the instructions in its synopsis too (instruction-aware decoding,
    ``generation/core/guide.py``), as the app's local backend does."""
    pairs = instructions.parse(prompt.synopsis) if params.cast_cues else ()
    return engine.submit(
        ids, params, cast=prompt.cast, text_before=prompt.text_prefix, instructions=pairs
    )


def fitted(tok, prompt: Prompt, budget: int) -> tuple[Prompt, list[int]]:
    """The prompt as the app would send it within ``budget`` tokens (text cut from the left)."""
    brief = [("synopsis", prompt.synopsis)] if prompt.synopsis else []
    f = fit_prompt(
        tok,
        heading=prompt.heading,
        cast=prompt.cast,
        brief=brief,
        text_prefix=prompt.text_prefix,
        budget=budget,
    )
    return f.prompt, f.ids


def draft(
    engine, tok, asks: list[tuple[Prompt, int]], tokens: int, cast_cues: bool, rep: float = 1.0
):
    """Draft every ``(prompt, seed)`` at once; return (results, tokens/s)."""
    budget = prompt_budget(engine.cfg.block_size, tokens)
    rids = []
    for prompt, seed in asks:
        p, ids = fitted(tok, prompt, budget)
        params = SamplingParams(
            max_new_tokens=tokens,
            temperature=TEMPERATURE,
            top_p=TOP_P,
            repetition_penalty=rep,
            seed=seed,
            cast_cues=cast_cues,
        )
        rids.append((submit(engine, ids, params, p), p, len(ids)))
    out = {rid: {"text": "", "tokens": 0, "finish": None} for rid, _, _ in rids}
    t0, generated = time.perf_counter(), 0
    while engine.has_work():
        for o in engine.step():
            r = out[o.request_id]
            r["text"] += o.text
            r["tokens"] += len(o.token_ids)
            generated += len(o.token_ids)
            if o.finished:
                r["finish"] = o.finish_reason
    elapsed = time.perf_counter() - t0
    results = [
        {**out[rid], "prompt_tokens": n, "text_prefix_sent": p.text_prefix} for rid, p, n in rids
    ]
    return results, generated / elapsed if elapsed > 0 else 0.0


def heldout_bpb(model, tok, docs: list[dict], device) -> float | None:
    """Held-out bits/byte: ``train.heldout_bpb`` when the trainer has it, else the first
    recipe's ``evaluate_bpb`` over the whole val split."""
    if not docs:
        return None
    try:
        if hasattr(train, "heldout_bpb"):
            res = train.heldout_bpb(model, tok, docs, device)
        else:
            ids, mask = train.encode_split(tok, docs)
            res = train.evaluate_bpb(model, tok, ids, mask, len(ids), device)
    finally:
        model.eval()  # evaluate_bpb leaves the model in train mode
    return float(res["bpb"])


# --------------------------------------------------------------------------- report

ROWS = [
    ("drafts", "drafts", "n"),
    ("cues written", "cues", "n"),
    ("cue-on-cast (share of cues)", "cue_on_cast", "%"),
    ("every member speaks", "every_member_speaks", "%"),
    ("drafts with a cue", "with_cue", "%"),
    ("format valid", "format_valid", "%"),
    ("instruction followed", "instruction", "%"),
    *[(f"  {k}", f"instruction_{k}", "%") for k in instructions.KINDS],
    ("repetition (lower is better)", "repetition", "%"),
    ("tokens/s", "tokens_per_s", "f"),
]


def _cell(value, fmt: str) -> str:
    if value is None:
        return "—"
    if fmt == "%":
        return f"{value:.1%}"
    if fmt == "f":
        return f"{value:,.0f}"
    return str(value)


def table(columns: dict[str, dict]) -> str:
    labels = list(columns)
    width = max(14, *(len(label) + 2 for label in labels))
    lines = [f"{'':30}" + "".join(f"{label:>{width}}" for label in labels)]
    for title, key, fmt in ROWS:
        cells = "".join(f"{_cell(columns[c].get(key), fmt):>{width}}" for c in labels)
        if key.startswith("instruction"):
            kind = key.removeprefix("instruction").lstrip("_")
            n = columns[labels[0]].get(f"instructed_{kind}" if kind else "instructed", 0)
            title = f"{title} (n={n})"
        lines.append(f"{title:30}{cells}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_models(specs: list[str]) -> list[tuple[str, Path]]:
    out = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--model {spec!r}: give NAME=PATH")
        if any(name == n for n, _ in out):
            raise SystemExit(f"--model {name}: given twice")
        out.append((name, Path(path)))
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", required=True, metavar="NAME=PATH",
                    help="a model version folder, labelled (repeat: old=…, new=…)")  # fmt: skip
    ap.add_argument("--corpus", required=True, type=Path, help="a built corpus (val = held out)")
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--tokens", type=int, default=200, help="max new tokens per draft")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32, help="engine max batch")
    ap.add_argument("--repetition-penalty", type=float, default=1.0,
                    help="1 = off (the drafts panel's balanced preset uses 1.1)")  # fmt: skip
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path, help="write prompts, records and summaries here")
    args = ap.parse_args(argv)
    if args.prompts < 1 or args.tokens < 1:
        raise SystemExit("--prompts and --tokens must be at least 1")
    torch.set_num_threads(args.threads)
    models = parse_models(args.model)

    items, notes = build_prompts(args.corpus, args.prompts, args.seed)
    seeds = [args.seed * 1_000_003 + i for i in range(len(items))]
    diner = next(it for it in items if it.id == f"hand-{DINER}")
    val_docs = load_documents(args.corpus, "val")

    columns: dict[str, dict] = {}
    records: list[dict] = []
    bpb: dict[str, float | None] = {}
    diner_drafts: dict[str, list[str]] = {}
    for name, path in models:
        model, tok, _meta = load_version(path, args.device)
        t0 = time.perf_counter()
        bpb[name] = heldout_bpb(model, tok, val_docs, args.device)
        print(f"[{name}] held-out bits/byte {bpb[name]} ({time.perf_counter() - t0:.0f} s)",
              file=sys.stderr)  # fmt: skip
        engine = Engine.from_tokenizer(model, tok, max_batch=args.batch, max_queue=len(items) + 8)
        asks = [(it.prompt, s) for it, s in zip(items, seeds, strict=True)]
        for mode, cast_cues in MODES:
            t0 = time.perf_counter()
            results, tps = draft(engine, tok, asks, args.tokens, cast_cues, args.repetition_penalty)
            print(f"[{name} {mode}] {len(results)} drafts in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr)  # fmt: skip
            recs = []
            for it, seed, res in zip(items, seeds, results, strict=True):
                m = storyeval.measure(res["text"], it.prompt.cast, it.instruction)
                recs.append({
                    "model": name, "mode": mode, "prompt_id": it.id, "seed": seed,
                    "cast": list(it.prompt.cast),
                    "instruction": it.as_dict()["instruction"],
                    **res, **m,
                })  # fmt: skip
            columns[f"{name} {mode}"] = {**storyeval.summarize(recs), "tokens_per_s": tps}
            records += recs
        three = [(diner.prompt, seeds[items.index(diner)] + k) for k in range(3)]
        served = draft(engine, tok, three, args.tokens, True, args.repetition_penalty)[0]
        diner_drafts[name] = [r["text"] for r in served]
        del engine, model

    n_instr = sum(it.instruction is not None for it in items)
    n_cont = sum(it.mode == "continue" for it in items)
    n_hand = sum(it.source == "hand" for it in items)
    print(f"\n{len(items)} held-out prompts ({n_hand} hand-written, {len(items) - n_hand} from "
          f"held-out scenes; {n_cont} continue; {n_instr} with an instruction), "
          f"{args.tokens} tokens each, t={TEMPERATURE}, top-p {TOP_P}, "
          f"repetition penalty {args.repetition_penalty}, seed {args.seed}")  # fmt: skip
    brief_src = "recipe.derive_brief" if derive_brief is not None else "none (no recipe)"
    print(f"briefs of held-out scenes: {brief_src}")
    for note in notes:
        print(f"note: {note}")
    for name, path in models:
        print(f"  {name}: {path}")
    print()
    print(table(columns))
    print()
    for name, _ in models:
        value = "—" if bpb[name] is None else f"{bpb[name]:.3f}"
        print(f"held-out bits/byte  {name}: {value}")
    print(f"\nThe diner prompt, as served ({diner.prompt.heading}; "
          f"{', '.join(diner.prompt.cast)}): {diner.prompt.synopsis}")  # fmt: skip
    for name, texts in diner_drafts.items():
        for k, text in enumerate(texts, 1):
            print(f"\n----- {name}, draft {k} -----\n{text.rstrip()}")
    result = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "prompts": [it.as_dict() for it in items],
        "summaries": columns,
        "bpb": bpb,
        "diner_drafts": diner_drafts,
        "records": records,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"\nrecords written to {args.json}")
    return result


if __name__ == "__main__":
    main()
