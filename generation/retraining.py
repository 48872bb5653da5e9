"""Retraining the active model on the team's feedback, evaluation against its parent, the gate.

One run (``retrain_run``), for a version registered in status ``training`` whose parent
is the model it starts from (the active one when it was started):

1. build the dataset (``generation.datasets``): SFT examples (accepted / well-rated
   passages + the team's scenes) and preference pairs, with a held-out split;
2. one round (``core.retrain_round.retrain_round``): SFT on the training examples (the
   team's scenes cut into windows that fit the context, ``core.examples.scene_windows``) plus
   windows of general text from the bootstrap corpus (``replay`` per SFT example, 3 by
   default; keeps the model from forgetting how to write), then DPO on the training pairs against
   a frozen copy of the starting model (``core.dpo.frozen_copy``), with a small
   learning rate and the ``sft_weight`` NLL term (plain DPO at a high learning rate
   wrecks a tiny model); a phase is skipped when it has no data;
3. evaluate the result AND its parent on held-out data: validation bits/byte on the
   held-out scenes (``heldout_bpb``) and on general text (the bootstrap corpus' val split,
   if present: ``general_bpb``), preference accuracy and reward margin on held-out pairs
   (reference = the parent, for both: the parent itself scores 0.5, chance level);
4. save the weights (``checkpoint.save_version``) and record metrics (with the parent's
   figures under ``parent_*``), the loss curve and the gate's verdict;
5. **the gate** (``gate``): promote automatically only if the new version is not worse:
   ``heldout_bpb <= parent's * (1 + COWRITE_RETRAIN_BPB_TOLERANCE)`` (default 2 %) — the
   same test on ``general_bpb`` when there is general text — and ``pref_accuracy >=
   parent's`` (0.5) when there are held-out pairs. A figure that cannot be measured (no
   held-out scenes, no held-out pairs) does not block. Otherwise the version stays a
   ``candidate`` and ``status_reason`` says which test failed; staff may still promote it.
   The gate promotes by itself only a round that staff or the schedule started
   (``lifecycle.may_auto_promote``); any other round stays a candidate for staff.

A crash or a kill mid-run leaves the version ``failed`` (or, if the process was killed
outright, stale in ``training``: ``reap_stale_runs`` marks it failed) and never touches
the active version: promotion is the very last step and is one transaction.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass

from django.conf import settings
from django.utils import timezone

from generation.core.checkpoint import load_version, save_version
from generation.core.corpus import load_documents
from generation.core.dpo import frozen_copy, preference_eval
from generation.core.examples import scene_windows
from generation.core.prompting import Prompt
from generation.core.retrain_round import RetrainSettings, retrain_round
from generation.core.train import encode_split, evaluate_bpb

from . import comparisons, datasets, lifecycle, services
from .models import ModelVersion, VersionStatus

log = logging.getLogger(__name__)


@dataclass
class RetrainConfig(RetrainSettings):
    """A retraining's settings: the round's (``RetrainSettings``) plus the run's own."""

    threads: int | None = 1
    eval_max_tokens: int = 50_000
    # Windows of general text (the bootstrap corpus' training split) mixed into the SFT
    # data, per SFT example: keeps the model from forgetting general writing (0 = off).
    # 3: in the feedback experiment the same score gain as 1 with two thirds of the drift.
    replay: float = 3.0

    @classmethod
    def from_settings(cls, **overrides) -> RetrainConfig:
        base = dict(getattr(settings, "COWRITE_RETRAIN_CONFIG", {}) or {})
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**{k: v for k, v in base.items() if k in cls.__dataclass_fields__})


def bpb_tolerance() -> float:
    return float(getattr(settings, "COWRITE_RETRAIN_BPB_TOLERANCE", 0.02))


def gate(metrics: dict, tolerance: float | None = None) -> tuple[bool, str]:
    """Return ``(promote, reason)`` from a run's metrics (new figures vs ``parent_*``)."""
    tol = bpb_tolerance() if tolerance is None else tolerance
    fails, passes = [], []

    def finite(v):
        return isinstance(v, (int, float)) and math.isfinite(v)

    for key, label in (("heldout_bpb", "held-out scenes"), ("general_bpb", "general text")):
        new, old = metrics.get(key), metrics.get(f"parent_{key}")
        if not (finite(new) and finite(old)):
            continue
        limit = old * (1 + tol)
        text = f"{label}: {new:.3f} vs parent {old:.3f} bits/byte (limit {limit:.3f})"
        (passes if new <= limit else fails).append(text)
    new, old = metrics.get("pref_accuracy"), metrics.get("parent_pref_accuracy")
    if finite(new) and finite(old):
        text = f"preference accuracy {new:.2f} vs parent {old:.2f}"
        (passes if new >= old else fails).append(text)
    if fails:
        return False, "Kept as a candidate: worse than its parent on " + "; ".join(fails) + "."
    if not passes:
        return True, "Promoted: nothing held out to compare on yet."
    return True, "Promoted: not worse than its parent (" + "; ".join(passes) + ")."


def _general_val_docs() -> list[dict]:

    d = services.bootstrap_corpus_dir()
    if not (d / "val.jsonl").exists():
        return []
    try:
        return load_documents(d, "val")
    except Exception:  # a broken corpus must not fail the run; it just is not measured
        log.exception("Could not read the general validation text in %s", d)
        return []


def _replay_examples(n: int, seed: int) -> list:
    """``n`` windows of general text from the bootstrap corpus' training split (none if
    the corpus is absent or unreadable)."""
    import random

    d = services.bootstrap_corpus_dir()
    if n <= 0 or not (d / "train.jsonl").exists():
        return []
    try:
        docs = load_documents(d, "train")
    except Exception:
        log.exception("Could not read the general training text in %s", d)
        return []
    rng = random.Random(seed)
    out = []
    for doc in rng.sample(docs, min(len(docs), n)):
        prompt = Prompt(
            doc.get("heading", ""), tuple(doc.get("cast") or ()), doc.get("synopsis", "")
        )
        windows = scene_windows(prompt, doc.get("text", ""))
        if windows:
            out.append(rng.choice(windows))
    return out


def _docs_of(examples) -> list[dict]:
    return [
        {
            "heading": e.prompt.heading,
            "cast": list(e.prompt.cast),
            "synopsis": e.prompt.synopsis,
            "text": e.completion,
        }
        for e in examples
    ]


def evaluate(model, ref, tok, ds, general_docs, cfg: RetrainConfig) -> dict:
    """Return held-out figures of ``model`` (reference ``ref`` for the preference ones)."""

    out: dict = {}
    for key, docs in (
        ("heldout_bpb", _docs_of(ds.heldout_scenes + ds.heldout_sft)),
        ("general_bpb", general_docs),
    ):
        if not docs:
            continue
        ids, mask = encode_split(tok, docs)
        if len(ids) < 2:
            continue
        out[key] = evaluate_bpb(model, tok, ids, mask, cfg.eval_max_tokens, cfg.device)["bpb"]
        model.eval()
    if ds.heldout_pairs:
        pe = preference_eval(model, ref, tok, ds.heldout_pairs, cfg.beta)
        if pe["n"]:
            out["pref_accuracy"] = pe["pref_accuracy"]
            out["reward_margin"] = pe["reward_margin"]
            out["heldout_pairs"] = pe["n"]
    return out


class _Curve:
    """Progress recorder for the two phases (SFT then DPO) on one step axis."""

    def __init__(self, version_id: int, total: int):
        self.rec = services.ProgressRecorder(version_id)
        self.offset, self.total, self.phase = 0, total, "sft"

    def phase_start(self, phase: str, offset: int) -> None:
        self.phase, self.offset = phase, offset

    def __call__(self, event: dict) -> None:
        if event.get("event") != "step":
            return
        step = self.offset + event["step"]
        self.rec(
            {
                **event,
                "event": "step",
                "step": step,
                "total_steps": self.total,
                "progress": step / self.total * 0.9,  # the last 10 %: evaluation
                "phase": self.phase,
            }
        )

    def note(self, **fields) -> None:
        ModelVersion.objects.filter(pk=self.rec.version_id).update(
            progress={**fields, "updated_at": time.time()}
        )


def retrain_run(*, version_id: int, config: dict | None = None) -> ModelVersion:
    """Retrain a registered version from its parent on the feedback; apply the gate.

    The row must exist in status ``training`` with a ``parent`` that has weights.
    Returns the version (``active`` or ``candidate``); raises after marking it ``failed``.
    """
    version = ModelVersion.objects.select_related("parent").get(pk=version_id)
    try:
        return _retrain(version, config)
    except BaseException as exc:
        services.version_failed(version_id=version.pk, what="Retraining", exc=exc)
        raise


def _retrain(version: ModelVersion, config: dict | None) -> ModelVersion:
    import torch

    parent = version.parent
    if parent is None:
        raise ValueError("A retraining needs a parent version to start from.")
    cfg = RetrainConfig.from_settings(**{**(version.train_config or {}), **(config or {})})
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ds = datasets.build_dataset()
    # The team's scenes, cut to fit the model's context (a whole scene rarely does).
    scene_examples = [w for e in ds.scenes for w in scene_windows(e.prompt, e.completion)]
    train_sft = ds.sft + scene_examples
    if not train_sft and not ds.pairs:
        raise ValueError("No training data: no feedback or scenes from projects that allow it.")
    replay = _replay_examples(round(cfg.replay * len(train_sft)), cfg.seed)
    model, tok, meta = load_version(parent.path, device=cfg.device)
    ref = frozen_copy(model)  # the starting model: DPO reference and the parent's figures
    general = _general_val_docs()
    sft_steps = cfg.sft_steps if train_sft else 0
    dpo_steps = cfg.dpo_steps if ds.pairs else 0
    curve = _Curve(version.pk, max(sft_steps + dpo_steps, 1))
    curve.note(step=0, progress=0.0, phase="evaluating parent")
    parent_eval = evaluate(ref, ref, tok, ds, general, cfg)
    metrics: dict = {"data": {**ds.summary(), "replay": len(replay)}}
    ran = retrain_round(
        model,
        ref,
        tok,
        train_sft,
        ds.pairs,
        cfg,
        replay=replay if train_sft else (),
        on_phase=curve.phase_start,
        progress_cb=curve,
    )
    for phase, m in ran.items():
        metrics[phase] = {k: v for k, v in m.items() if isinstance(v, (int, float))}
    curve.note(step=sft_steps + dpo_steps, progress=0.92, phase="evaluating")
    new_eval = evaluate(model, ref, tok, ds, general, cfg)
    metrics.update(new_eval)
    metrics.update({f"parent_{k}": v for k, v in parent_eval.items()})
    if "heldout_bpb" in metrics:
        metrics["val_bpb"] = metrics["heldout_bpb"]  # the column the model page shows
    promote, reason = gate(metrics)
    metrics["gate"] = {"promote": promote, "reason": reason, "tolerance": bpb_tolerance()}
    steps = int(meta.get("steps", 0)) + sft_steps + dpo_steps
    save_version(
        version.path,
        model,
        tok,
        parent=parent.name,
        corpus_hash=meta.get("corpus_hash"),
        steps=steps,
        metrics=_jsonable(metrics),
        extra={"retrain_config": asdict(cfg)},
    )
    version.refresh_from_db()
    version.metrics = _jsonable(metrics)
    version.steps = steps
    version.params = model.num_params()
    version.train_config = asdict(cfg)
    version.corpus_hash = meta.get("corpus_hash") or ""
    version.corpus_summary = ds.summary()
    version.status = VersionStatus.CANDIDATE
    version.status_reason = reason
    version.finished_at = timezone.now()
    version.progress = {**(version.progress or {}), "progress": 1.0, "updated_at": time.time()}
    version.save()
    if promote and not lifecycle.may_auto_promote(version):
        # Only a round started by staff or the schedule may change the shared model by
        # itself; anything else waits for a staff member to promote it.
        promote = False
        reason = reason.replace("Promoted:", "Passed the gate:", 1) + (
            " Kept as a candidate: the round was not started by staff or the schedule, "
            "so staff decide."
        )
        metrics["gate"]["auto_promote"] = False
        ModelVersion.objects.filter(pk=version.pk).update(
            status_reason=reason, metrics=_jsonable(metrics)
        )
    if promote and comparisons.gate_enabled():
        # The team's blind judgement decides (``comparisons.gate_check``).
        started = comparisons.gate_start(version)
        reason = reason.replace("Promoted:", "Passed the automatic checks:", 1) + (
            " Waiting for the team's blind comparison with its parent."
            if started is not None
            else " Kept as a candidate: no scenes to compare it on blind, so staff decide."
        )
        metrics["gate"]["blind"] = started.pk if started is not None else None
        ModelVersion.objects.filter(pk=version.pk).update(
            status_reason=reason, metrics=_jsonable(metrics)
        )
        promote = False
    if promote:
        lifecycle.version_promote(
            version, reason=reason, require_active_parent=True, automatic=True
        )
    version.refresh_from_db()
    return version


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
