"""Retraining an open-weights model from the team's feedback: a LoRA round on a model
record's Hugging Face folder, the result a new record (base + adapter).

The house model retrains as versions (``retraining.py``); a Hugging Face folder record
(``endpoints.py``) retrains here, from the same data and with the same shape of round:

1. staff press "Retrain with the team's feedback" on a folder record (``lora_start``): a
   new record is made at once — "<name> · team LoRA n", switched off, ``status``
   ``training``, its ``parent`` the record it learns from, its folder
   ``MODEL_DIR/lora/<id>`` — and the round is launched where this deployment runs long
   jobs (the ``training`` queue with Redis, else a detached ``manage.py`` child);
2. the round (``lora_run`` → ``core.lora.lora_round``): the dataset of
   ``datasets.build_dataset`` (the projects that allow training; counted members'
   feedback only): SFT on accepted and well-rated drafts and the team's scenes, then DPO
   on preference pairs with the base (adapter switched off) as the reference, held-out
   preference accuracy and reward margin before and after;
3. the gate: held-out preference accuracy after ≥ before (when there are held-out pairs).
   Either way the record becomes a ``candidate`` with its figures and the gate's verdict;
   staff switch it on (then owners can pick it) — nothing changes what a project drafts
   with by itself;
4. a failure (no data, a base that does not fit in memory, a missing base) leaves the
   record ``failed`` with the reason; the model in use keeps serving.

A record that is itself a LoRA result retrains from its base (a fresh adapter on all the
feedback so far), so adapters never stack.
"""

from __future__ import annotations

import logging
import uuid

from django.core.exceptions import ValidationError
from django.db import transaction

from . import datasets
from .endpoints import resolve_folder
from .models import EndpointKind, EndpointStatus, ModelEndpoint

log = logging.getLogger(__name__)


def root_of(endpoint: ModelEndpoint) -> ModelEndpoint:
    """The base record a record's retraining starts from (a LoRA result: its base)."""
    while endpoint.parent_id is not None and endpoint.parent is not None:
        endpoint = endpoint.parent
    return endpoint


@transaction.atomic
def lora_start(*, endpoint: ModelEndpoint, user, launch: bool = True) -> ModelEndpoint:
    """Register the LoRA round of a folder record and launch it; return the new record."""
    if endpoint.kind != EndpointKind.HF:
        raise ValidationError(
            "Only a model in a folder here can be retrained; a server's model is retrained "
            "where it runs (its adapter can come from here: see the docs)."
        )
    root = root_of(endpoint)
    if ModelEndpoint.objects.filter(status=EndpointStatus.TRAINING).exists():
        raise ValidationError("A retraining is already running; wait for it to finish.")
    n = ModelEndpoint.objects.filter(parent=root).count() + 1
    name = f"{root.name[:70]} · team LoRA {n}"
    while ModelEndpoint.objects.filter(name=name).exists():
        n += 1
        name = f"{root.name[:70]} · team LoRA {n}"
    child = ModelEndpoint.objects.create(
        name=name,
        kind=EndpointKind.HF,
        folder=f"lora/{uuid.uuid4().hex[:12]}",
        chat=root.chat,
        max_streams=root.max_streams,
        timeout_s=root.timeout_s,
        enabled=False,
        parent=root,
        status=EndpointStatus.TRAINING,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if launch:
        from . import services

        code = f"from generation.lora_runs import lora_run; lora_run({int(child.pk)})"
        services.background_launch(
            name=f"lora-{child.pk}",
            task="generation.tasks.lora_retrain",
            kwargs={"endpoint_id": child.pk},
            manage_argv=["shell", "-c", code],
        )
    return child


def lora_gate(metrics: dict) -> tuple[bool, str]:
    """Pass if held-out preference accuracy did not fall (no held-out pairs: pass)."""
    before, after = metrics.get("pref_accuracy_before"), metrics.get("pref_accuracy_after")
    if before is None or after is None:
        return True, "No held-out preferences to compare; staff decide."
    if after + 1e-9 < before:
        return False, f"Held-out preference accuracy fell: {before:.2f} → {after:.2f}."
    return True, f"Held-out preference accuracy {before:.2f} → {after:.2f}."


def lora_run(endpoint_id: int, config: dict | None = None) -> ModelEndpoint:
    """Run a registered LoRA round (see the module docstring); return the record."""
    from .core.lora import LoraError, LoraRound, lora_round

    child = ModelEndpoint.objects.select_related("parent").get(pk=endpoint_id)
    out = resolve_folder(child.folder)
    try:
        ds = datasets.build_dataset()
        sft = ds.sft + ds.scenes
        cfg = LoraRound(**(config or {}))
        metrics = lora_round(
            str(resolve_folder(root_of(child).folder)),
            str(out),
            sft,
            ds.pairs,
            ds.heldout_pairs,
            cfg,
        )
    except LoraError as exc:
        return _failed(child, str(exc))
    except Exception as exc:  # recorded on the record; the model in use keeps serving
        log.exception("LoRA round %s failed", child.name)
        return _failed(child, f"{type(exc).__name__}: {exc}")
    passed, verdict = lora_gate(metrics)
    metrics = {**metrics, "gate": {"passed": passed, "verdict": verdict}}
    # Only a round still registered as training ends as a candidate: one staff gave up
    # on (``lora_stop``) stays failed, whatever this process finished late.
    ModelEndpoint.objects.filter(pk=child.pk, status=EndpointStatus.TRAINING).update(
        status=EndpointStatus.CANDIDATE, status_reason=verdict, metrics=_jsonable(metrics)
    )
    child.refresh_from_db()
    return child


def lora_stop(*, endpoint: ModelEndpoint, user=None) -> ModelEndpoint:
    """Give up on a round that is registered as training (its process was killed, its
    machine went away): it becomes ``failed`` and the next round can start. A process
    still running finds it failed at its end and leaves it so."""
    who = f" by {user}" if user is not None else ""
    updated = ModelEndpoint.objects.filter(pk=endpoint.pk, status=EndpointStatus.TRAINING).update(
        status=EndpointStatus.FAILED, status_reason=f"Stopped{who} before it finished."
    )
    if not updated:
        raise ValidationError("Only a round that is training can be stopped.")
    endpoint.refresh_from_db()
    return endpoint


ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "adapter_model.bin")


def adapter_files(endpoint: ModelEndpoint) -> list:
    """The files of a LoRA record's adapter folder (what vLLM's ``--lora-modules`` and
    ``peft`` load: the config, the weights, the tokenizer and chat template it was trained
    with); empty if the record is not a finished LoRA result."""
    if endpoint.parent_id is None or endpoint.status in (
        EndpointStatus.TRAINING,
        EndpointStatus.FAILED,
    ):
        return []
    folder = resolve_folder(endpoint.folder)
    if not (folder / "adapter_config.json").is_file():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _failed(child: ModelEndpoint, reason: str) -> ModelEndpoint:
    ModelEndpoint.objects.filter(pk=child.pk, status=EndpointStatus.TRAINING).update(
        status=EndpointStatus.FAILED, status_reason=reason[:2000]
    )
    child.refresh_from_db()
    return child


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, int | float | str | bool) or obj is None:
        return obj
    return str(obj)
