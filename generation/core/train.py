"""Train (or resume training) a GPT on a built corpus.

Commands (from the repository root)::

    # 1. fetch the bootstrap plays and build the corpus (once)
    python scripts/fetch_shakespeare.py --dest data/shakespeare --corpus data/corpus/shakespeare
    # 2. first-start training of the tiny model on 2 CPU cores (~12 min)
    python -m generation.core.train --preset tiny --corpus data/corpus/shakespeare \\
        --out models/tiny-v1 --time-budget 720
    # resume an interrupted run (same --out; --steps/--time-budget is the *total*)
    python -m generation.core.train --preset tiny --corpus data/corpus/shakespeare \\
        --out models/tiny-v1 --time-budget 720 --resume
    # a GPU run of the small preset
    python -m generation.core.train --preset small --corpus data/corpus/shakespeare \\
        --out models/small-v1 --steps 3000 --batch-size 32
    # data-parallel on a GPU box: one process per GPU (here 8), same result as one process
    python -m torch.distributed.run --standalone --nproc_per_node=8 \\
        -m generation.core.train --preset small --corpus data/corpus/shakespeare \\
        --out models/small-v1 --steps 3000 --batch-size 64

Distributed (DDP) mode: launched by ``torchrun`` (``torch.distributed.run``) with more
than one process, ``train`` joins a process group (``nccl`` on CUDA, ``gloo`` on CPU),
wraps the model in ``DistributedDataParallel`` and splits each step's *global*
``--batch-size`` evenly over the processes (it must divide). Every process draws the same
global batch and takes its slice, and the loss is normalised by the whole batch's target
count, so each step equals the single-process step (``train``'s docstring has the rule).
Only rank 0 writes the version folder, logs and evaluates; ``--resume`` and
``--time-budget`` work as in one process (rank 0's clock decides when to stop).
``distributed.torchrun_command`` builds the launch line.

``--out`` becomes a model version folder (see ``checkpoint.py``) with a ``resume/``
subfolder (optimizer moments, step, RNG state as safetensors + JSON) so ``--resume``
continues exactly where the last checkpoint left off.

Validation loss is reported in bits per byte: the summed negative log-likelihood (nats)
of every target token of the held-out text, / ln 2, / the number of UTF-8 bytes of that
text. Unlike perplexity it does not depend on the tokenizer, so models with different
vocabularies compare directly.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from torch.nn.parallel import DistributedDataParallel

from generation.core import distributed as ddp_env
from generation.core import recipe as story
from generation.core.checkpoint import load_version, save_version
from generation.core.corpus import load_documents, load_manifest
from generation.core.model import GPT, PRESETS, GPTConfig
from generation.core.optim import autocast, lr_at, make_optimizer, optimizer_step, set_lr
from generation.core.prompting import format_document
from generation.core.tokenizer import ScriptTokenizer


@dataclass
class TrainConfig:
    preset: str = "tiny"
    steps: int | None = None  # total optimizer steps; or
    time_budget: float | None = None  # total seconds of training (whichever ends first)
    batch_size: int = 16
    lr: float = 2e-3
    min_lr_frac: float = 0.1  # cosine decays to lr * min_lr_frac
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    seed: int = 1337
    vocab_size: int | None = None  # default: the preset's
    eval_interval: int = 200  # steps between validations
    eval_max_tokens: int = 50_000  # cap on validation tokens per periodic evaluation
    checkpoint_interval: int = 500  # steps between resumable checkpoints
    init_from: str | None = None  # a parent version folder to fine-tune (reuses its tokenizer)
    model_overrides: dict = field(default_factory=dict)  # e.g. {"dropout": 0.1}
    device: str | None = None  # default: cuda if available, else cpu
    # torch CPU threads (process-wide!); None leaves torch's default. On a 2-core machine
    # shared with other work, 1 thread ran ~3x faster than 2 (see docs/BENCHMARKS.md).
    threads: int | None = None
    # With ``threads`` > 1: use them while the machine is otherwise idle and drop to one
    # while other processes keep a core busy (``ThreadGovernor``).
    adaptive_threads: bool = False
    # "story": examples built per scene (``recipe.py``: character slots, derived briefs,
    # instructions, fill-in-the-middle); "stream": the first recipe (random windows of the
    # concatenated documents). A model fine-tuned from a parent keeps the parent's.
    recipe: str = "story"


ProgressCallback = Callable[[dict], None]


# --------------------------------------------------------------------------- data


def encode_split(tok: ScriptTokenizer, docs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate documents into one token stream; return ``(ids, mask)`` arrays."""
    ids, mask = [], []
    for d in docs:
        i, m = format_document(tok, d)
        ids.extend(i)
        mask.extend(m)
    return np.asarray(ids, dtype=np.int64), np.asarray(mask, dtype=np.bool_)


def story_batch(tok, scenes, weights, batch_size, block, rng, device):
    """A batch of story-recipe examples (``recipe.make_example``), right-padded: (x, y, m)."""
    x = np.full((batch_size, block), tok.pad_id, dtype=np.int64)
    y = np.full((batch_size, block), tok.pad_id, dtype=np.int64)
    m = np.zeros((batch_size, block), dtype=np.bool_)
    for b, scene in enumerate(rng.choices(scenes, weights=weights, k=batch_size)):
        ids, mask = story.make_example(tok, scene, rng, block)
        n = len(ids) - 1
        x[b, :n], y[b, :n], m[b, :n] = ids[:-1], ids[1:], mask[1:]
    return (torch.from_numpy(a).to(device) for a in (x, y, m))


def heldout_sequences(tok: ScriptTokenizer, docs: list[dict], block_size: int) -> list:
    """The story recipe's evaluation sequences of ``docs`` (empty for a tokenizer without
    slots, or a block too small for a scene's fields): prepare once, evaluate often."""
    if not tok.has_slots:  # only a story tokenizer has the slot tokens a prepared scene uses
        return []
    scenes = [s for d in docs if (s := story.prepare_scene(tok, d)) is not None]
    return story.eval_sequences(tok, scenes, block_size)


@torch.no_grad()
def heldout_bpb(
    model: GPT, tok: ScriptTokenizer, docs: list[dict], device, max_tokens=None, seqs=None
):
    """Bits per byte of held-out scene documents, for a model of either recipe.

    A story-recipe model reads each scene as its training examples do (heading and cast
    slots, then the text in consecutive windows, ``recipe.eval_sequences``); the bytes are
    those of the real text, names included, so figures compare across recipes. ``seqs``:
    ``heldout_sequences`` of the same docs, when the caller evaluates more than once."""
    if seqs is None:
        seqs = heldout_sequences(tok, docs, model.cfg.block_size)
    if not seqs:  # the first recipe, or a block too small for a scene's fields
        ids, mask = encode_split(tok, docs)
        return evaluate_bpb(model, tok, ids, mask, max_tokens or len(ids), device)
    model.eval()
    nll, nbytes, ntok = 0.0, 0, 0
    amp = autocast(device)
    for i in range(0, len(seqs), 16):
        chunk = seqs[i : i + 16]
        L = max(len(s[0]) for s in chunk) - 1
        x = torch.full((len(chunk), L), tok.pad_id, dtype=torch.long)
        y = torch.full((len(chunk), L), tok.pad_id, dtype=torch.long)
        m = torch.zeros((len(chunk), L), dtype=torch.bool)
        for j, (ids, mask, b) in enumerate(chunk):
            n = len(ids) - 1
            x[j, :n], y[j, :n] = torch.tensor(ids[:-1]), torch.tensor(ids[1:])
            m[j, :n] = torch.tensor(mask[1:], dtype=torch.bool)
            nbytes += b
        with amp:
            logits = model(x.to(device))
        loss = torch.nn.functional.cross_entropy(
            logits.float().flatten(0, 1), y.to(device).flatten(), reduction="none"
        ).cpu()
        nll += loss[m.flatten()].double().sum().item()
        ntok += int(m.sum())
        if max_tokens and ntok >= max_tokens:
            break
    model.train()
    return {"bpb": nll / math.log(2) / max(nbytes, 1), "loss": nll / max(ntok, 1), "tokens": ntok}


class ThreadGovernor:
    """Use every thread while the machine is otherwise idle; one while others need a core.

    Every ``interval`` seconds it compares the machine's busy CPU time (``/proc/stat``)
    with this process's own (``/proc/self/stat``): if other processes used more than
    ``busy_cores`` of a core meanwhile (a page being served, a test run), training drops to
    one thread; when they are quiet again it goes back to ``max_threads``. Off where
    ``/proc`` is missing."""

    def __init__(self, max_threads: int, interval: float = 5.0, busy_cores: float = 0.5):
        self.max_threads, self.interval, self.busy_cores = max_threads, interval, busy_cores
        self.threads = max_threads
        self.changes = 0
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._sample()
        self._t = time.monotonic()
        torch.set_num_threads(self.threads)

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                cpu = [int(v) for v in f.readline().split()[1:]]
            with open("/proc/self/stat") as f:
                mine = f.read().rsplit(")", 1)[1].split()
            return sum(cpu) - cpu[3] - cpu[4], int(mine[11]) + int(mine[12])  # busy, ours
        except (OSError, ValueError, IndexError):
            return None

    def poll(self) -> int:
        """Adjust the thread count if it is time; return the current one."""
        now = time.monotonic()
        if self._last is None or now - self._t < self.interval:
            return self.threads
        cur = self._sample()
        if cur is None:
            return self.threads
        others = ((cur[0] - self._last[0]) - (cur[1] - self._last[1])) / self._tick
        others_cores = others / (now - self._t)
        self._last, self._t = cur, now
        want = 1 if others_cores > self.busy_cores else self.max_threads
        if want != self.threads:
            self.threads = want
            self.changes += 1
            torch.set_num_threads(want)
        return self.threads


def get_batch(ids, mask, batch_size, block, gen: torch.Generator, device):
    """Return random windows (x, y, m) of shape (B, T): inputs, next tokens, loss mask."""
    starts = torch.randint(0, len(ids) - block - 1, (batch_size,), generator=gen).numpy()
    x = np.stack([ids[s : s + block] for s in starts])
    y = np.stack([ids[s + 1 : s + 1 + block] for s in starts])
    m = np.stack([mask[s + 1 : s + 1 + block] for s in starts])
    return (torch.from_numpy(a).to(device) for a in (x, y, m))


@torch.no_grad()
def evaluate_bpb(
    model: GPT, tok: ScriptTokenizer, ids, mask, max_tokens: int, device, batch=16
) -> dict:
    """Return ``{"bpb", "loss", "tokens"}`` on the masked (text) targets of a token stream.

    The stream is cut into non-overlapping windows so each target is predicted once.
    Bytes are counted per target token (byte-level BPE: the tokens of a text together
    hold exactly its UTF-8 bytes; ``<|end|>`` holds none).
    """
    model.eval()
    T = model.cfg.block_size
    nbytes_of = torch.tensor([len(b) for b in tok.token_bytes], dtype=torch.float64)
    n = min(len(ids) - 1, max_tokens)
    windows = [(s, min(T, n - s)) for s in range(0, n, T)]
    nll = 0.0
    nbytes = 0.0
    ntok = 0
    amp = autocast(device)
    for i in range(0, len(windows), batch):
        chunk = windows[i : i + batch]
        L = max(t for _, t in chunk)
        x = torch.zeros(len(chunk), L, dtype=torch.long)
        y = torch.zeros(len(chunk), L, dtype=torch.long)
        m = torch.zeros(len(chunk), L, dtype=torch.bool)
        for j, (s, t) in enumerate(chunk):
            x[j, :t] = torch.from_numpy(ids[s : s + t])
            y[j, :t] = torch.from_numpy(ids[s + 1 : s + 1 + t])
            m[j, :t] = torch.from_numpy(mask[s + 1 : s + 1 + t])
        with amp:
            logits = model(x.to(device))
        loss = torch.nn.functional.cross_entropy(
            logits.float().flatten(0, 1), y.to(device).flatten(), reduction="none"
        ).cpu()
        mf = m.flatten()
        nll += loss[mf].double().sum().item()
        nbytes += nbytes_of[y.flatten()[mf]].sum().item()
        ntok += int(mf.sum())
    model.train()
    return {
        "bpb": nll / math.log(2) / max(nbytes, 1),
        "loss": nll / max(ntok, 1),
        "tokens": ntok,
    }


# --------------------------------------------------------------------------- resume state


def _save_resume(folder: Path, opt: torch.optim.Optimizer, state: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    osd = opt.state_dict()
    for pid, st in osd["state"].items():
        for k, v in st.items():
            tensors[f"{pid}.{k}"] = (
                v.detach().cpu().contiguous() if torch.is_tensor(v) else torch.tensor(v)
            )
    tensors["rng.data"] = state.pop("data_rng")
    tensors["rng.torch"] = torch.get_rng_state()
    save_file(tensors, str(folder / "optimizer.safetensors"))
    groups = [
        {k: v for k, v in g.items() if k != "params"} | {"params": g["params"]}
        for g in osd["param_groups"]
    ]
    (folder / "state.json").write_text(json.dumps({**state, "param_groups": groups}, indent=2))


def _load_resume(folder: Path, opt: torch.optim.Optimizer, data_gen: torch.Generator) -> dict:
    state = json.loads((folder / "state.json").read_text())
    tensors = load_file(str(folder / "optimizer.safetensors"))
    data_gen.set_state(tensors.pop("rng.data"))
    torch.set_rng_state(tensors.pop("rng.torch"))
    opt_state: dict = {}
    for key, v in tensors.items():
        pid, name = key.split(".", 1)
        opt_state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": opt_state, "param_groups": state.pop("param_groups")})
    return state


# --------------------------------------------------------------------------- distributed


@dataclass
class _Dist:
    """This process's place in a data-parallel run (``None`` stands for a single process)."""

    rank: int
    world: int
    device: torch.device


def _share_tokenizer(tok: ScriptTokenizer | None) -> ScriptTokenizer:
    """Give every process rank 0's tokenizer (only rank 0 trains one)."""
    box = [tok.tok.to_str() if tok is not None else None]
    dist.broadcast_object_list(box, src=0)
    return tok if tok is not None else ScriptTokenizer(Tokenizer.from_str(box[0]))


# --------------------------------------------------------------------------- training


def train(
    cfg: TrainConfig,
    corpus_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    progress_cb: ProgressCallback | None = None,
    resume: bool = False,
    console: bool = True,
) -> dict:
    """Train a model on ``corpus_dir`` and save it as a version folder at ``out_dir``.

    ``progress_cb`` receives dicts: ``{"event": "step", "step", "total_steps", "progress",
    "loss", "lr", "tokens_per_s", "elapsed_s", "eta_s"}``, ``{"event": "eval", "step",
    "val_bpb", "val_loss"}`` and finally ``{"event": "done", ...metrics}``. Return the
    final metadata (``metrics`` holds ``val_bpb``).

    **Data-parallel mode.** Under ``torchrun`` with ``WORLD_SIZE`` > 1 (see
    ``distributed.py``) each process joins a process group (``nccl`` on CUDA, each process
    on ``cuda:LOCAL_RANK``; ``gloo`` on CPU) and trains a ``DistributedDataParallel``
    wrapper of the same model. ``cfg.batch_size`` is the *global* batch: it must split
    evenly over the processes (else ``ValueError``), and every optimizer step equals the
    single-process step with the same ``batch_size`` and ``seed``:

    * data: every process draws the whole global batch with the same RNGs (so the RNG
      streams, and what ``--resume`` saves, are the single-process ones) and keeps its
      contiguous slice of ``batch_size / world`` rows;
    * loss: the single-process loss is the mean over the batch's ``N`` masked target
      tokens, ``sum_all / N``. Rows carry different numbers of masked targets, so a
      per-shard mean would weight tokens unequally. Each process knows ``N`` (it drew the
      whole batch) and backpropagates ``sum_shard * world / N``; DDP *averages* the
      gradients over the ``world`` processes, giving ``sum_r grad(sum_shard_r) / N``,
      exactly the full-batch gradient (up to float summation order). Clipping and AdamW
      then see the same gradient on every process. (Dropout masks are drawn per shard, so
      equivalence is exact only without dropout, the presets' default.)
    * the reported training loss is the all-reduced global mean, the single-process figure.

    Only rank 0 writes files (checkpoints, the version folder), reports progress
    (``progress_cb``, console) and evaluates (on the unwrapped model; the others wait at
    the next step's gradient all-reduce). With a time budget, rank 0's clock decides the
    progress (the cosine schedule and when to stop) and broadcasts it every step, so all
    processes take the same number of steps. Every process returns rank 0's metadata. The
    process group is destroyed at the end, on error too. Without ``WORLD_SIZE`` (or with
    1) nothing of this happens: no process group, the plain single-process loop.
    """
    if not ddp_env.is_distributed():
        return _train(cfg, corpus_dir, out_dir, progress_cb, resume, console, None)
    world = ddp_env.world_size()
    ddp_env.shard_size(cfg.batch_size, world)  # fail before any process group exists
    use_cuda = (cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    if use_cuda:
        device = torch.device("cuda", ddp_env.local_rank())
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    own_group = not dist.is_initialized()
    if own_group:
        # Rank 0 alone runs the final evaluation while the others wait: a generous timeout.
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(hours=2))
    try:
        dctx = _Dist(rank=dist.get_rank(), world=dist.get_world_size(), device=device)
        meta = _train(cfg, corpus_dir, out_dir, progress_cb, resume, console, dctx)
        # Every process is done with the group before any tears it down (a gloo process
        # destroying its group while another's last collective is still in flight can
        # abort). The abort at interpreter exit is avoided in main (_leave_if_distributed).
        dist.barrier()
        return meta
    finally:
        if own_group and dist.is_initialized():
            dist.destroy_process_group()


def _train(
    cfg: TrainConfig,
    corpus_dir,
    out_dir,
    progress_cb: ProgressCallback | None,
    resume: bool,
    console: bool,
    dctx: _Dist | None,
) -> dict:
    """``train``'s body; ``dctx`` is ``None`` for a single process."""
    if cfg.steps is None and cfg.time_budget is None:
        raise ValueError("give steps or time_budget")
    main = dctx is None or dctx.rank == 0  # the process that writes, logs and evaluates
    console = console and main
    rows = cfg.batch_size if dctx is None else ddp_env.shard_size(cfg.batch_size, dctx.world)
    out = Path(out_dir)
    governor = None
    if cfg.threads and cfg.adaptive_threads and cfg.threads > 1:
        governor = ThreadGovernor(cfg.threads)
    elif cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.recipe not in ("story", "stream"):
        raise ValueError(f"unknown recipe {cfg.recipe!r}: story or stream")
    if dctx is not None:
        device = dctx.device
    else:
        device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(cfg.seed)
    manifest = load_manifest(corpus_dir)
    train_docs, val_docs = load_documents(corpus_dir, "train"), load_documents(corpus_dir, "val")
    if not train_docs:
        raise ValueError(f"{corpus_dir}: no training documents")

    parent = None
    if resume and (out / "resume" / "state.json").exists():
        model, tok, meta = load_version(out, device)
        parent = meta.get("parent")
    elif cfg.init_from:
        model, tok, meta = load_version(cfg.init_from, device)
        parent = str(cfg.init_from)
    else:
        preset = PRESETS[cfg.preset]
        vocab = cfg.vocab_size or preset.vocab_size

        def texts():
            for d in train_docs:
                yield d["heading"]
                yield ", ".join(d["cast"])
                yield d["synopsis"]
                yield d["text"]

        def story_texts():  # names become slots: they take no room in the vocabulary
            for d in train_docs:
                slots = story.CastSlots(story.cue_names(d["text"]))
                yield d["heading"]
                yield story.strip_marks(slots.slotify(d["text"]))
                yield story.derive_brief(d["text"])

        tok = None
        if main:
            if cfg.recipe == "story":
                tok = ScriptTokenizer.train(story_texts(), vocab_size=vocab, story=True)
            else:
                tok = ScriptTokenizer.train(texts(), vocab_size=vocab)
        if dctx is not None:  # one vocabulary for all: rank 0's
            tok = _share_tokenizer(tok)
        mcfg = GPTConfig.from_dict(
            {**preset.to_dict(), **cfg.model_overrides, "vocab_size": tok.vocab_size}
        )
        model = GPT(mcfg).to(device)
    model.train()
    net = model  # what the training step runs: the model, or its DDP wrapper
    if dctx is not None:
        # DDP copies rank 0's weights to every process here (and, per forward, the
        # buffers: the small constant RoPE tables).
        net = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    T = model.cfg.block_size
    use_story = tok.has_slots  # the recipe follows the tokenizer (a parent's, on fine-tune)
    example_rng = random.Random(cfg.seed)  # draws the story examples
    if use_story:
        scenes = [s for d in train_docs if (s := story.prepare_scene(tok, d)) is not None]
        weights = [s.weight for s in scenes]
        train_ids = train_mask = None
    else:
        train_ids, train_mask = encode_split(tok, train_docs)
    # The story recipe validates on scenes (``heldout_bpb``); the stream on a token stream.
    val_ids, val_mask = encode_split(tok, val_docs) if val_docs and not use_story else (None, None)
    has_val = bool(val_docs)
    val_seqs = heldout_sequences(tok, val_docs, model.cfg.block_size) if use_story else None

    def validate(max_tokens):
        if use_story:
            return heldout_bpb(model, tok, val_docs, device, max_tokens, seqs=val_seqs)
        return evaluate_bpb(model, tok, val_ids, val_mask, max_tokens, device)

    opt = make_optimizer(model, cfg.lr, cfg.weight_decay, device)  # decays matrices only
    data_gen = torch.Generator().manual_seed(cfg.seed)
    step, elapsed_before, history = 0, 0.0, []
    if resume and (out / "resume" / "state.json").exists():
        st = _load_resume(out / "resume", opt, data_gen)
        step, elapsed_before, history = st["step"], st["elapsed_s"], st.get("history", [])
        if use_story and st.get("example_rng"):
            v = st["example_rng"]
            example_rng.setstate((v[0], tuple(v[1]), v[2]))

    def emit(ev: dict) -> None:
        if progress_cb and main:
            progress_cb(ev)

    def checkpoint(metrics: dict) -> None:
        state = {
            "step": step,
            "elapsed_s": elapsed_before + (time.time() - t0),
            "history": history,
            "train_config": asdict(cfg),
            "data_rng": data_gen.get_state(),
            "example_rng": example_rng.getstate() if use_story else None,
        }
        save_version(
            out,
            model,
            tok,
            parent=parent,
            corpus_hash=manifest.get("corpus_hash"),
            steps=step,
            metrics=metrics,
            extra={"train_config": asdict(cfg), "history": history},
            write_extra=lambda tmp: _save_resume(tmp / "resume", opt, state),
        )

    def progress_now() -> float:
        ps = step / cfg.steps if cfg.steps else 0.0
        pt = (elapsed_before + time.time() - t0) / cfg.time_budget if cfg.time_budget else 0.0
        return max(ps, pt)

    def shared_progress() -> float:
        """``progress_now()``, rank 0's under a time budget (every process calls this at
        the same points of the loop; it is a broadcast when distributed)."""
        p = progress_now()
        if dctx is not None and cfg.time_budget:
            t = torch.tensor([p], dtype=torch.float64, device=device)
            dist.broadcast(t, src=0)
            p = float(t.item())
        return p

    tokens_per_step = cfg.batch_size * T
    t0 = time.time()
    t_last, tok_since = t0, 0
    last_eval: dict = {}
    amp = autocast(device)
    while shared_progress() < 1.0:
        # Linear warmup over steps, then cosine to lr * min_lr_frac over the progress.
        lr = lr_at(
            cfg.lr, step, cfg.warmup_steps, progress=shared_progress(), min_lr_frac=cfg.min_lr_frac
        )
        set_lr(opt, lr)
        if governor is not None:
            governor.poll()
        if dctx is None:
            if use_story:
                x, y, m = story_batch(tok, scenes, weights, cfg.batch_size, T, example_rng, device)
            else:
                x, y, m = get_batch(train_ids, train_mask, cfg.batch_size, T, data_gen, device)
            with amp:
                _, loss = model(x, y, m)
            optimizer_step(opt, model, loss, cfg.grad_clip)
            shown = loss
        else:
            # The whole global batch, drawn as a single process draws it; keep this
            # process's rows. The loss is scaled so DDP's gradient average is the
            # full-batch gradient (see ``train``'s docstring).
            if use_story:
                x, y, m = story_batch(tok, scenes, weights, cfg.batch_size, T, example_rng, "cpu")
            else:
                x, y, m = get_batch(train_ids, train_mask, cfg.batch_size, T, data_gen, "cpu")
            n_targets = max(int(m.sum()), 1)  # of the global batch, as the model's mean
            lo = dctx.rank * rows
            x, y, m = (a[lo : lo + rows].to(device) for a in (x, y, m))
            with amp:
                logits = net(x)
            nll = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none")
            loss = (nll * m.flatten().float()).sum() * (dctx.world / n_targets)
            optimizer_step(opt, net, loss, cfg.grad_clip)
            shown = loss.detach().clone()
            dist.all_reduce(shown)  # sum over processes of world * part / N
            shown = shown / dctx.world  # the global masked mean: the single-process loss
        step += 1
        tok_since += tokens_per_step

        now = time.time()
        if main and (now - t_last >= 2.0 or step == 1):
            tps = tok_since / (now - t_last)
            p = progress_now()
            elapsed = elapsed_before + now - t0
            eta = (elapsed / p - elapsed) if p > 0 else float("nan")
            ev = {
                "event": "step",
                "step": step,
                "total_steps": cfg.steps,
                "progress": p,
                "loss": shown.item(),
                "lr": lr,
                "tokens_per_s": tps,
                "elapsed_s": elapsed,
                "eta_s": eta,
                "threads": torch.get_num_threads(),
            }
            emit(ev)
            if console:
                sys.stderr.write(
                    f"\rstep {step} {100 * p:5.1f}% loss {ev['loss']:.3f} lr {lr:.2e} "
                    f"{tps:,.0f} tok/s x{ev['threads']} elapsed {elapsed:,.0f}s eta {eta:,.0f}s "
                    f"val_bpb {last_eval.get('bpb', float('nan')):.3f}   "
                )
                sys.stderr.flush()
            t_last, tok_since = now, 0
        if main and has_val and step % cfg.eval_interval == 0:  # the others wait meanwhile
            last_eval = validate(cfg.eval_max_tokens)
            history.append({"step": step, "val_bpb": last_eval["bpb"], "train_loss": shown.item()})
            emit(
                {
                    "event": "eval",
                    "step": step,
                    "val_bpb": last_eval["bpb"],
                    "val_loss": last_eval["loss"],
                }
            )
        if main and step % cfg.checkpoint_interval == 0:
            checkpoint({"val_bpb": last_eval.get("bpb")})

    meta = None
    if main:
        metrics: dict = {
            "train_loss": shown.item() if step else None,
            "tokens_seen": step * tokens_per_step,
        }
        if has_val:
            # The final figure covers the whole validation split, not the periodic cap.
            final = validate(None if use_story else len(val_ids))
            metrics.update(val_bpb=final["bpb"], val_loss=final["loss"], val_tokens=final["tokens"])
            history.append({"step": step, "val_bpb": final["bpb"]})
        metrics["train_seconds"] = elapsed_before + time.time() - t0
        checkpoint(metrics)
        try:  # drafts are checked against this for memorised text; never fail training
            from generation.core.memorisation import index_version_folder

            index_version_folder(out, corpus_dir)
        except Exception as e:
            logging.getLogger(__name__).warning("n-gram index not written: %s", e)
        if console:
            sys.stderr.write(f"\ndone: step {step} {json.dumps(metrics)}\n")
        emit({"event": "done", "step": step, **metrics})
        meta = json.loads((out / "metadata.json").read_text())
    if dctx is not None:  # every process returns rank 0's metadata (and waits for it)
        box = [meta]
        dist.broadcast_object_list(box, src=0)
        meta = box[0]
    return meta


def _progress_file_writer(path: str) -> ProgressCallback:
    """A progress callback that appends JSON lines (read by the app's ``training_run``
    while ``torchrun`` trains in child processes). ``train`` calls it on the main
    process only."""

    def write(event: dict) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event, default=str) + "\n")

    return write


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--steps", type=int)
    g.add_argument("--time-budget", type=float, help="seconds")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup-steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--vocab-size", type=int)
    ap.add_argument("--eval-interval", type=int, default=200)
    ap.add_argument("--checkpoint-interval", type=int, default=500)
    ap.add_argument("--init-from")
    ap.add_argument("--device")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument(
        "--adaptive-threads",
        action="store_true",
        help="with --threads N>1: drop to one thread while other processes need a core",
    )
    ap.add_argument("--recipe", default="story", choices=("story", "stream"))
    ap.add_argument(
        "--model-overrides",
        type=json.loads,
        default={},
        help='JSON of GPTConfig fields over the preset, e.g. \'{"n_layer": 2, "n_embd": 64}\'',
    )
    ap.add_argument("--resume", action="store_true")
    ap.add_argument(
        "--config-json",
        type=json.loads,
        help="every TrainConfig field as JSON (the app's launch); the other options are ignored",
    )
    ap.add_argument(
        "--progress-file",
        help="append each progress event as a JSON line here (the main process only)",
    )
    a = ap.parse_args(argv)
    if a.config_json is None and a.steps is None and a.time_budget is None:
        ap.error("one of --steps or --time-budget is required (or --config-json)")
    progress_cb = _progress_file_writer(a.progress_file) if a.progress_file else None
    if a.config_json is not None:
        train(
            TrainConfig(**a.config_json),
            a.corpus,
            a.out,
            progress_cb=progress_cb,
            resume=a.resume,
            console=False,
        )
        _leave_if_distributed()
        return
    cfg = TrainConfig(
        preset=a.preset,
        steps=a.steps,
        time_budget=a.time_budget,
        batch_size=a.batch_size,
        lr=a.lr,
        warmup_steps=a.warmup_steps,
        seed=a.seed,
        vocab_size=a.vocab_size,
        eval_interval=a.eval_interval,
        checkpoint_interval=a.checkpoint_interval,
        init_from=a.init_from,
        device=a.device,
        threads=a.threads,
        adaptive_threads=a.adaptive_threads,
        recipe=a.recipe,
        model_overrides=a.model_overrides,
    )
    meta = train(cfg, a.corpus, a.out, progress_cb=progress_cb, resume=a.resume)
    if ddp_env.is_main():  # one report, not one per process
        print(json.dumps(meta["metrics"], indent=2))
    _leave_if_distributed()


def _leave_if_distributed() -> None:
    """End a torchrun worker that finished training without the interpreter's teardown.

    Everything is written by now (checkpoint, metadata, progress lines) and the process
    group is destroyed, yet on CPU a gloo worker still aborted now and then while Python
    finalised ("terminate called without an active exception", SIGABRT/SIGSEGV with no
    Python frame: about one run in four with both processes on one core; a CI failure).
    So a finished worker flushes its streams and logs and exits with 0 at once; a failed
    one raises as usual and torchrun reports it."""
    if not ddp_env.is_distributed():
        return
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
