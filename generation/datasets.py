"""Turning the team's feedback into training data (SFT examples and preference pairs).

Rules
-----
**Whose data.** Only projects with ``Project.allow_training``. Feedback (ratings,
preferences, accepts) counts only from users who are members of the passage's project
and have not set ``Membership.feedback_opt_out``; a user who left the project (no
membership) does not count either. A project's own scene text is the team's writing, not
one member's feedback, so it counts whenever the project allows training.

**Supervised examples** (``SFTExample``; prompt = the passage's stored prompt):

* accepted passages: ``Passage.accepted_at`` is set (the accept is ``accepted_by``'s
  feedback: their membership must not be opted out); a story proposal (a logline,
  characters, beats, a brief) counts the same way — its stored prompt names its level
  (``Prompt.kind``), so the house model learns each level as its own task;
* passages whose mean rating (counted ratings only) is >= ``min_sft_rating`` (4.0);
* the team's scenes (non-empty text), as scene documents: prompt = heading, cast,
  synopsis and no text prefix; completion = the scene's text.

A passage counts once even if several rules match. A draft flagged as copied from the
training scripts or another project (``Passage.scores["memorised"]``) is never SFT. Only passages with status ``done``
and non-empty text are used.

**Preference pairs** (``PreferencePair``), ONLY between outputs for the same prompt
(the same ``Passage.group``):

* ratings: in each group, the best-rated alternative (mean of counted ratings; ties go to
  the lower ``alternative`` number) vs every alternative whose mean is lower by at least
  ``min_margin`` (setting ``COWRITE_PREFERENCE_MIN_MARGIN``, default 1.0);
* ``Preference`` rows of counted users: ``pick``/``rank``/``accept`` -> chosen passage vs
  rejected passage (both must be in the same group, else the row is ignored); ``edit`` ->
  ``chosen_text`` (the human's edit) vs the passage.

Duplicates (same prompt, chosen and rejected text) are dropped.

**Held-out split.** A stable hash of the group (``sha256("heldout:" + key)``; key = the
passage group's UUID, or ``scene:<id>`` for a scene document) decides; a fraction
``COWRITE_HELDOUT_FRACTION`` (0.2) of the keys is held out and never trains. Adding data
never moves an existing key between splits.

The result is a ``FeedbackDataset`` with ``sft``/``pairs``/``scenes`` for training and
``heldout_*`` for evaluation, plus ``unpaired`` (for TRL's KTO format; see ``export``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Exists, F, OuterRef

from generation.core.examples import PreferencePair, SFTExample
from generation.core.prompting import Prompt, prompt_text
from scripts_app.models import Membership, Project, Scene

from .models import Passage, PassageStatus, Preference, Rating


def _setting(name: str, default):
    return getattr(settings, name, default)


def heldout_fraction() -> float:
    return float(_setting("COWRITE_HELDOUT_FRACTION", 0.2))


def min_margin() -> float:
    return float(_setting("COWRITE_PREFERENCE_MIN_MARGIN", 1.0))


def is_heldout(key: str, fraction: float | None = None) -> bool:
    """Return whether a group key falls in the held-out split (stable across runs)."""
    fraction = heldout_fraction() if fraction is None else fraction
    h = int.from_bytes(hashlib.sha256(f"heldout:{key}".encode()).digest()[:8], "big")
    return h / 2**64 < fraction


def passage_prompt(passage) -> Prompt:
    """The prompt a passage was written from (its stored record, ``Prompt.as_dict()`` +)."""
    return Prompt.from_dict(passage.prompt or {})


@dataclass
class Unpaired:
    """A thumbs up/down example (TRL's unpaired format)."""

    prompt: Prompt
    completion: str
    label: bool


@dataclass
class FeedbackDataset:
    sft: list[SFTExample] = field(default_factory=list)  # passages (accepted / well rated)
    scenes: list[SFTExample] = field(default_factory=list)  # the team's scene documents
    pairs: list[PreferencePair] = field(default_factory=list)
    unpaired: list[Unpaired] = field(default_factory=list)
    heldout_sft: list[SFTExample] = field(default_factory=list)
    heldout_scenes: list[SFTExample] = field(default_factory=list)
    heldout_pairs: list[PreferencePair] = field(default_factory=list)
    heldout_unpaired: list[Unpaired] = field(default_factory=list)
    # group key of every example, for tests and audits: {"train": set, "heldout": set}
    keys: dict = field(default_factory=lambda: {"train": set(), "heldout": set()})

    def summary(self) -> dict:
        return {
            k: len(getattr(self, k))
            for k in (
                "sft",
                "scenes",
                "pairs",
                "unpaired",
                "heldout_sft",
                "heldout_scenes",
                "heldout_pairs",
                "heldout_unpaired",
            )
        }


def counted_users_by_project(project_ids) -> dict[int, set[int]]:
    """Return ``{project_id: {user ids whose feedback counts}}`` (members, not opted out)."""
    out: dict[int, set[int]] = defaultdict(set)
    for pid, uid in Membership.objects.filter(
        project_id__in=list(project_ids), feedback_opt_out=False
    ).values_list("project_id", "user_id"):
        out[pid].add(uid)
    return out


def build_dataset(
    *,
    project_ids=None,
    since=None,
    margin: float | None = None,
    fraction: float | None = None,
    min_sft_rating: float = 4.0,
) -> FeedbackDataset:
    """Build the dataset from the database (see the module docstring for the rules).

    ``project_ids`` restricts to those projects (still only ones allowing training);
    ``since`` keeps only passages finished after that time (scenes are always included).
    """
    margin = min_margin() if margin is None else margin
    fraction = heldout_fraction() if fraction is None else fraction
    projects = Project.objects.filter(allow_training=True)
    if project_ids is not None:
        projects = projects.filter(pk__in=list(project_ids))
    pids = set(projects.values_list("pk", flat=True))
    counted = counted_users_by_project(pids)
    ds = FeedbackDataset()

    def put(kind: str, key: str, item) -> None:
        held = is_heldout(key, fraction)
        getattr(ds, f"heldout_{kind}" if held else kind).append(item)
        ds.keys["heldout" if held else "train"].add(key)

    # --- the team's scenes
    scenes = (
        Scene.objects.filter(project_id__in=pids)
        .exclude(text="")
        .prefetch_related("cast")
        .defer("doc_state")
        .order_by("project_id", "position", "pk")
    )
    for s in scenes:
        prompt = Prompt(s.heading, tuple(c.name for c in s.cast.all()), s.synopsis)
        put("scenes", f"scene:{s.pk}", SFTExample(prompt, s.text))

    # --- passages and their feedback
    passages = (
        Passage.objects.filter(project_id__in=pids, status=PassageStatus.DONE)
        .exclude(text="")
        .annotate(revision_author=F("accepted_revision__author_id"))
        .order_by("group", "alternative")
    )
    if since is not None:
        passages = passages.filter(finished_at__gt=since)
    passages = list(passages)
    by_id = {p.pk: p for p in passages}
    project_of = {p.pk: p.project_id for p in passages}

    scores: dict[int, list[int]] = defaultdict(list)
    for pid, uid, score in Rating.objects.filter(passage_id__in=by_id).values_list(
        "passage_id", "user_id", "score"
    ):
        if uid in counted[project_of[pid]]:
            scores[pid].append(score)

    def mean(pid):
        s = scores.get(pid)
        return sum(s) / len(s) if s else None

    def accepted_counts(p) -> bool:
        # The accept is its author's feedback: it counts unless they opted out. (A scene
        # draft's accept is also its revision, by the same person.)
        if p.accepted_at is None and p.accepted_revision_id is None:
            return False
        author = p.accepted_by_id if p.accepted_by_id is not None else p.revision_author
        return author in counted[project_of[p.pk]]

    for p in passages:
        key = str(p.group)
        m = mean(p.pk)
        acc = accepted_counts(p)
        # A draft flagged as copied (``draft_scores``) never teaches the model to copy.
        copied = bool((p.scores or {}).get("memorised"))
        if not copied and (acc or (m is not None and m >= min_sft_rating)):
            put("sft", key, SFTExample(passage_prompt(p), p.text))
        if acc or (m is not None and m >= 4):
            put("unpaired", key, Unpaired(passage_prompt(p), p.text, True))
        elif m is not None and m <= 2:
            put("unpaired", key, Unpaired(passage_prompt(p), p.text, False))

    seen: set[tuple] = set()

    def add_pair(key: str, prompt: Prompt, chosen: str, rejected: str) -> None:
        if not chosen.strip() or chosen == rejected:
            return
        sig = (key, chosen, rejected)
        if sig in seen:
            return
        seen.add(sig)
        put("pairs", key, PreferencePair(prompt, chosen, rejected))

    groups: dict[str, list] = defaultdict(list)
    for p in passages:
        groups[str(p.group)].append(p)
    for key, alts in groups.items():
        rated = [(p, mean(p.pk)) for p in alts if mean(p.pk) is not None]
        if len(rated) < 2:
            continue
        best, best_m = max(rated, key=lambda x: (x[1], -x[0].alternative))
        for p, m in rated:
            if p is not best and best_m - m >= margin:
                add_pair(key, passage_prompt(best), best.text, p.text)

    prefs = Preference.objects.filter(rejected_id__in=by_id).order_by("pk")
    for pr in prefs:
        rejected = by_id[pr.rejected_id]
        if pr.user_id not in counted[project_of[rejected.pk]]:
            continue
        key = str(rejected.group)
        if pr.chosen_id is None:  # an edit: the human's text vs what the model wrote
            add_pair(key, passage_prompt(rejected), pr.chosen_text, rejected.text)
            continue
        chosen = by_id.get(pr.chosen_id)
        if chosen is None or chosen.group != rejected.group:
            continue  # only alternatives for the same prompt are compared
        add_pair(key, passage_prompt(chosen), chosen.text, rejected.text)
    return ds


def feedback_count_since(since, project_ids=None) -> int:
    """Count ratings and preferences that would train (allowed projects, counted users),
    made after ``since`` (all of them if None), of ``project_ids`` only if given. Used by
    the retraining schedule and the model page ("learns from your team's N ratings")."""

    def counted(qs, project_path: str):
        member = Membership.objects.filter(
            project_id=OuterRef(project_path), user_id=OuterRef("user_id"), feedback_opt_out=False
        )
        qs = qs.filter(**{f"{project_path}__allow_training": True}).filter(Exists(member))
        return qs

    ratings = counted(Rating.objects.all(), "passage__project")
    prefs = counted(Preference.objects.all(), "rejected__project")
    if project_ids is not None:
        ratings = ratings.filter(passage__project_id__in=project_ids)
        prefs = prefs.filter(rejected__project_id__in=project_ids)
    if since is not None:
        ratings = ratings.filter(updated_at__gt=since)
        prefs = prefs.filter(created_at__gt=since)
    return ratings.count() + prefs.count()


# --------------------------------------------------------------------------- export


def _prompt_record(prompt: Prompt) -> str:
    """TRL wants the prompt as text: the plain Fountain prompt (``prompting.prompt_text``)."""
    return prompt_text(prompt)


def trl_records(ds: FeedbackDataset) -> dict[str, list[dict]]:
    """Return TRL-format records per file name.

    ``preference[.heldout]``: ``{"prompt", "chosen", "rejected"}``; ``unpaired[.heldout]``:
    ``{"prompt", "completion", "label"}`` (label: mean rating >= 4 or accepted -> True,
    mean rating <= 2 -> False); ``sft``: ``{"prompt", "completion"}``. Every record also
    carries ``prompt_fields`` (heading/cast/synopsis/text_prefix) for our own trainer.
    """

    def pref(p: PreferencePair) -> dict:
        return {
            "prompt": _prompt_record(p.prompt),
            "chosen": p.chosen,
            "rejected": p.rejected,
            "prompt_fields": p.prompt.as_dict(),
        }

    def unp(u: Unpaired) -> dict:
        return {
            "prompt": _prompt_record(u.prompt),
            "completion": u.completion,
            "label": bool(u.label),
            "prompt_fields": u.prompt.as_dict(),
        }

    def sft(e: SFTExample) -> dict:
        return {
            "prompt": _prompt_record(e.prompt),
            "completion": e.completion,
            "prompt_fields": e.prompt.as_dict(),
        }

    return {
        "preference": [pref(p) for p in ds.pairs],
        "preference.heldout": [pref(p) for p in ds.heldout_pairs],
        "unpaired": [unp(u) for u in ds.unpaired],
        "unpaired.heldout": [unp(u) for u in ds.heldout_unpaired],
        "sft": [sft(e) for e in ds.sft + ds.scenes],
        "sft.heldout": [sft(e) for e in ds.heldout_sft + ds.heldout_scenes],
    }


def jsonl(records: list[dict]) -> str:
    import json

    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write_export(ds: FeedbackDataset, out_dir) -> dict[str, int]:
    """Write ``<name>.jsonl`` files into ``out_dir``; return ``{file name: records}``."""
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, records in trl_records(ds).items():
        (out / f"{name}.jsonl").write_text(jsonl(records), encoding="utf-8")
        counts[f"{name}.jsonl"] = len(records)
    return counts
