"""Blind comparisons: which model does the team prefer, judged without knowing which wrote what.

1. **Start** (staff, on the Models page; ``comparison_start``): two models — house
   versions (the active one, a candidate, a retired one) or model records (a folder, a
   server, a LoRA result) — and a number of the team's own scenes. The scenes are drawn
   (a seeded sample, scenes with a brief first) from projects that allow training: those
   owners agreed that their text trains and evaluates models; no other project's text is
   sent to a model it did not pick.
2. **Prepare** (``comparison_prepare``, where this deployment runs long jobs — the
   ``training`` queue, else a detached ``manage.py`` child — never on the live drafts'
   slots): each model writes a draft for each scene with the "Write the scene" request of
   the drafts panel (same prompt builder, same "balanced" sampling, the same seed for both
   sides of a pair). The drafts are ``Passage`` rows with ``blind=True``: they never show in
   a drafts panel or as a card. Both sides of a pair share one ``Passage.group`` and one
   stored prompt (the house side, whose budget is tighter, builds it first), so a vote is a
   preference between outputs for the same prompt — what retraining learns from.
3. **Judge** (members who opted in, ``BlindJudge``; ``next_pair``/``vote``): a judge sees
   pairs from their own projects only (role commenter or above), the brief and the two
   drafts as screenplay pages, on sides drawn per judge and pair (an HMAC of the pair and
   the judge: stable on reload, unguessable, and never sent as the model's name). They
   pick the better one or "Both bad"; once per pair. A pick is also a ``Preference``
   (source ``blind``) and so feeds the next retraining; "both bad" is not.
4. **Results** (``comparison_results``, ``ranking``; live on the Models page): B's win rate
   against A with ties ("both bad") as half a win, its 95 % Wilson interval and a verdict
   in words; a Bradley–Terry ranking of every model ever compared (``core/ranking.py``).
5. **The gate** (setting ``COWRITE_GATE_BLIND_AB``): a retraining round that passes the
   automatic checks is kept as a candidate and a comparison against its parent starts by
   itself; when it has ``votes_wanted`` judgements, the candidate is promoted only if the
   lower end of its win rate's interval is at least 50 % (``gate_check``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from scripts_app.models import Membership, Role, Scene

from .core.ranking import Ranked, WinRate, bradley_terry, win_rate
from .endpoints import model_record
from .models import (
    BlindJudge,
    Comparison,
    ComparisonPair,
    ComparisonStatus,
    ComparisonVote,
    DraftTask,
    EndpointStatus,
    ModelEndpoint,
    ModelVersion,
    Passage,
    PassageStatus,
    Preference,
    PreferenceSource,
    VersionStatus,
    VoteChoice,
)

log = logging.getLogger(__name__)

MAX_PAIRS = 50
MAX_VOTES_WANTED = 1000
JUDGE_ROLES = (Role.OWNER, Role.EDITOR, Role.COMMENTER)
COMPARABLE_VERSIONS = (VersionStatus.ACTIVE, VersionStatus.CANDIDATE, VersionStatus.RETIRED)


class ComparisonError(ValidationError):
    pass


# --- the models that can be compared ------------------------------------------------------------


@dataclass(frozen=True)
class Contestant:
    key: str  # "v<id>" (a house version) or "e<id>" (a model record)
    name: str
    version: ModelVersion | None = None
    endpoint: ModelEndpoint | None = None


def contestants() -> list[Contestant]:
    """Every model a comparison can take: house versions that finished training, and model
    records that are not training or failed (switched-off LoRA candidates included)."""
    out = [
        Contestant(f"v{v.pk}", f"House model {v.name}" + _status_note(v), version=v)
        for v in ModelVersion.objects.filter(status__in=COMPARABLE_VERSIONS).order_by("-pk")
    ]
    records = ModelEndpoint.objects.exclude(
        status__in=(EndpointStatus.TRAINING, EndpointStatus.FAILED)
    ).order_by("name")
    out += [Contestant(f"e{e.pk}", e.name, endpoint=e) for e in records]
    return out


def _status_note(v: ModelVersion) -> str:
    return {VersionStatus.ACTIVE: " (active)", VersionStatus.CANDIDATE: " (candidate)"}.get(
        v.status, ""
    )


def contestant(key: str) -> Contestant:
    for c in contestants():
        if c.key == key:
            return c
    raise ComparisonError("Choose two models from the list (one of them is gone or not ready).")


# --- start and prepare ----------------------------------------------------------------------------


def _scenes(count: int, seed: int) -> list[Scene]:
    """A seeded sample of the team's scenes that allow training, those with a brief first."""
    scenes = list(
        Scene.objects.filter(project__allow_training=True)
        .exclude(heading="")
        .defer("doc_state", "text")
        .order_by("pk")
    )
    rng = random.Random(seed)
    rng.shuffle(scenes)
    scenes.sort(key=lambda s: not (s.synopsis or "").strip())  # stable: briefs first
    return scenes[:count]


def _int(value, default: int, low: int, high: int, what: str) -> int:
    try:
        n = int(value if value not in (None, "") else default)
    except (TypeError, ValueError):
        raise ComparisonError(f"{what} is a whole number.") from None
    if not low <= n <= high:
        raise ComparisonError(f"{what} is between {low} and {high}.")
    return n


def comparison_start(
    *,
    user,
    a: str,
    b: str,
    pairs=12,
    votes=30,
    seed: int | None = None,
    gate_version: ModelVersion | None = None,
    launch: bool = True,
) -> Comparison:
    """Register a comparison of models ``a`` and ``b`` (contestant keys) and launch its
    drafts. Raise ComparisonError with a reason a person can act on."""
    if a == b:
        raise ComparisonError("Choose two different models.")
    first, second = contestant(a), contestant(b)
    n_pairs = _int(pairs, 12, 1, MAX_PAIRS, "The number of scenes")
    n_votes = _int(votes, 30, 1, MAX_VOTES_WANTED, "The number of judgements wanted")
    seed = secrets.randbits(48) if seed is None else int(seed)
    with transaction.atomic():
        busy = Comparison.objects.filter(status=ComparisonStatus.PREPARING)
        if busy.filter(a_key__in=(a, b)).exists() or busy.filter(b_key__in=(a, b)).exists():
            raise ComparisonError(
                "One of these models is still writing another comparison's drafts."
            )
        scenes = _scenes(n_pairs, seed)
        if not scenes:
            raise ComparisonError(
                "There are no scenes to compare on: no project allows training, or none "
                "has a scene yet (a project owner allows it on the project's settings)."
            )
        comparison = Comparison.objects.create(
            a_version=first.version,
            a_endpoint=first.endpoint,
            b_version=second.version,
            b_endpoint=second.endpoint,
            a_key=first.key,
            b_key=second.key,
            a_name=first.name[:200],
            b_name=second.name[:200],
            pairs_wanted=n_pairs,
            votes_wanted=n_votes,
            seed=seed,
            gate_version=gate_version,
            progress={"done": 0, "total": 2 * len(scenes)},
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        ComparisonPair.objects.bulk_create(
            ComparisonPair(comparison=comparison, scene=s, position=i) for i, s in enumerate(scenes)
        )
    if launch:
        from . import services

        code = f"from generation.comparisons import comparison_prepare; comparison_prepare({comparison.pk})"
        services.background_launch(
            name=f"comparison-{comparison.pk}",
            task="generation.tasks.comparison_prepare",
            kwargs={"comparison_id": comparison.pk},
            manage_argv=["shell", "-c", code],
        )
    return comparison


def _backend_for(side: Contestant):
    """``LoadedBackend`` for a side (the worker's own loading code and prompt budget)."""
    from . import endpoints
    from .worker import LoadedBackend, load_house_backend

    if side.version is not None:
        return LoadedBackend(side.version, load_house_backend(side.version))
    return LoadedBackend(None, endpoints.endpoint_backend(side.endpoint), house=False)


def _side(comparison: Comparison, which: str) -> Contestant:
    version = getattr(comparison, f"{which}_version")
    endpoint = getattr(comparison, f"{which}_endpoint")
    key, name = getattr(comparison, f"{which}_key"), getattr(comparison, f"{which}_name")
    if version is None and endpoint is None:
        raise ComparisonError(f"{name} was deleted; this comparison cannot be prepared.")
    return Contestant(key, name, version=version, endpoint=endpoint)


def comparison_prepare(comparison_id: int) -> Comparison:
    """Write the drafts of a registered comparison (resumable: a side's draft already
    written is kept) and open it for judging. A model that cannot be loaded fails the
    comparison with the reason; a single draft that fails leaves its pair out."""
    comparison = Comparison.objects.select_related(
        "a_version", "a_endpoint", "b_version", "b_endpoint", "created_by"
    ).get(pk=comparison_id)
    if comparison.status != ComparisonStatus.PREPARING:
        return comparison
    # A draft left half-written by a prepare that died is written again.
    Passage.objects.filter(
        blind=True, status=PassageStatus.STREAMING, worker=f"comparison-{comparison.pk}"
    ).delete()
    pairs = list(comparison.pairs.select_related("scene").order_by("position"))
    total = 2 * len(pairs)
    done = sum((p.a_id is not None) + (p.b_id is not None) for p in pairs)
    # The house side first: its prompt budget is the tighter one and the pair shares it.
    order = sorted(("a", "b"), key=lambda w: getattr(comparison, f"{w}_version") is None)
    for which in order:
        todo = [p for p in pairs if getattr(p, f"{which}_id") is None]
        if not todo:
            continue
        try:
            side = _side(comparison, which)
            loaded = _backend_for(side)
        except Exception as exc:  # recorded on the comparison; nothing else is touched
            log.exception("Comparison %s: could not load a model", comparison.pk)
            return _failed(
                comparison, f"{getattr(comparison, which + '_name')} could not be loaded: {exc}"
            )
        try:
            for pair in todo:
                if not Comparison.objects.filter(
                    pk=comparison.pk, status=ComparisonStatus.PREPARING
                ).exists():
                    return Comparison.objects.get(pk=comparison.pk)  # closed meanwhile
                _write(comparison, pair, which, side, loaded)
                done += 1
                Comparison.objects.filter(pk=comparison.pk).update(
                    progress={"done": done, "total": total}
                )
        finally:
            loaded.backend.close()
    usable = ComparisonPair.objects.filter(
        comparison=comparison, a__status=PassageStatus.DONE, b__status=PassageStatus.DONE
    ).count()
    if not usable:
        reasons = set(
            Passage.objects.filter(
                pk__in=[x for p in comparison.pairs.all() for x in (p.a_id, p.b_id) if x],
                status=PassageStatus.FAILED,
            ).values_list("error", flat=True)[:3]
        )
        return _failed(
            comparison,
            "No scene got a usable draft from both models"
            + (f": {'; '.join(sorted(reasons))}" if reasons else "."),
        )
    note = (
        "" if usable == len(pairs) else f" {len(pairs) - usable} scene(s) left out: a draft failed."
    )
    Comparison.objects.filter(pk=comparison.pk, status=ComparisonStatus.PREPARING).update(
        status=ComparisonStatus.OPEN,
        status_reason=f"{usable} pairs to judge.{note}",
        progress={"done": done, "total": total},
    )
    comparison.refresh_from_db()
    return comparison


def _write(comparison: Comparison, pair: ComparisonPair, which: str, side: Contestant, loaded):
    """One side's draft for one pair, as the drafts panel's "Write the scene" would ask it."""
    from . import prompts
    from .core.backends.base import GenerationRequest
    from .core.params import SamplingParams
    from .drafts.spec import LENGTHS, PRESETS
    from .worker import clean_generated

    sampling = {
        **PRESETS["balanced"],
        "preset": "balanced",
        "max_new_tokens": getattr(settings, "COWRITE_COMPARISON_MAX_NEW_TOKENS", LENGTHS["medium"]),
        "seed": (comparison.seed + pair.position) % 2**48,
    }
    now = timezone.now()
    passage = Passage.objects.create(
        project_id=pair.scene.project_id,
        scene=pair.scene,
        group=pair.group,
        alternative=0 if which == "a" else 1,
        alternatives=2,
        requested_by=comparison.created_by,
        task=DraftTask.NEW,
        sampling=sampling,
        model_version=side.version,
        endpoint=side.endpoint,
        model_record=model_record(side.endpoint, side.version),
        status=PassageStatus.STREAMING,
        blind=True,
        worker=f"comparison-{comparison.pk}",
        started_at=now,
        heartbeat_at=now,
    )
    ComparisonPair.objects.filter(pk=pair.pk).update(**{which: passage})
    setattr(pair, which, passage)
    pieces: list[str] = []
    fields: dict = {}
    try:
        fitted = prompts.prompt_for(passage, loaded.tokenizer, loaded.block_size)
        result = loaded.backend.generate(
            GenerationRequest(
                prompt=fitted.prompt,
                params=SamplingParams.from_dict(sampling),
                request_id=f"blind-{passage.pk}",
                prompt_ids=fitted.ids or None,
            ),
            on_text=lambda delta: pieces.append(clean_generated(delta)),
        )
        text = "".join(pieces)
        fields = {
            "status": PassageStatus.DONE if text.strip() else PassageStatus.FAILED,
            "finish_reason": result.finish_reason,
            "token_count": result.completion_tokens or len(pieces),
            "error": "" if text.strip() else "The model wrote nothing.",
        }
        if result.sent:
            fields["prompt"] = {**(passage.prompt or {}), "sent": result.sent}
    except Exception as exc:  # this pair is left out; the others go on
        log.exception("Comparison %s: a draft failed", comparison.pk)
        text = "".join(pieces)
        fields = {
            "status": PassageStatus.FAILED,
            "finish_reason": "error",
            "error": f"{type(exc).__name__}: {exc}"[:2000],
        }
    Passage.objects.filter(pk=passage.pk).update(text=text, finished_at=timezone.now(), **fields)


def _failed(comparison: Comparison, reason: str) -> Comparison:
    Comparison.objects.filter(pk=comparison.pk).update(
        status=ComparisonStatus.FAILED, status_reason=reason[:2000], closed_at=timezone.now()
    )
    comparison.refresh_from_db()
    return comparison


def comparison_close(*, comparison: Comparison, user=None) -> Comparison:
    """Stop judging (or preparing); the results so far stay, and count in the ranking."""
    Comparison.objects.filter(
        pk=comparison.pk, status__in=(ComparisonStatus.PREPARING, ComparisonStatus.OPEN)
    ).update(status=ComparisonStatus.CLOSED, closed_at=timezone.now())
    comparison.refresh_from_db()
    return comparison


# --- judging -------------------------------------------------------------------------------------


def is_judge(user) -> bool:
    return bool(user.is_authenticated and BlindJudge.objects.filter(user=user).exists())


def judge_join(user) -> None:
    BlindJudge.objects.get_or_create(user=user)


def judge_leave(user) -> None:
    BlindJudge.objects.filter(user=user).delete()


def a_on_left(pair_id: int, user_id: int) -> bool:
    """Which side the judge sees A on: drawn per pair and judge, stable, unguessable."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"blind-side:{pair_id}:{user_id}".encode(), hashlib.sha256
    ).digest()
    return bool(digest[0] & 1)


def _judgeable(user):
    """The pairs this user may judge: open comparisons, their own projects (commenter or
    above), both drafts written, not judged by them yet."""
    projects = Membership.objects.filter(user=user, role__in=JUDGE_ROLES).values("project_id")
    return ComparisonPair.objects.filter(
        comparison__status=ComparisonStatus.OPEN,
        scene__project_id__in=projects,
        a__status=PassageStatus.DONE,
        b__status=PassageStatus.DONE,
    ).exclude(votes__user=user)


@dataclass
class Shown:
    """A pair as a judge sees it: the brief, and the two drafts as left and right."""

    pair: ComparisonPair
    left: Passage
    right: Passage
    remaining: int


def next_pair(user) -> Shown | None:
    """The next pair for a judge: the least-judged first (a per-judge order among equals)."""
    candidates = list(
        _judgeable(user)
        .annotate(n_votes=Count("votes"))
        .order_by("n_votes", "pk")
        .values_list("pk", "n_votes")[:500]
    )
    if not candidates:
        return None
    least = candidates[0][1]
    tied = [pk for pk, n in candidates if n == least]
    pick = min(
        tied,
        key=lambda pk: hmac.new(
            settings.SECRET_KEY.encode(), f"blind-order:{pk}:{user.pk}".encode(), hashlib.sha256
        ).digest(),
    )
    pair = ComparisonPair.objects.select_related("scene", "scene__project", "a", "b").get(pk=pick)
    left, right = (pair.a, pair.b) if a_on_left(pair.pk, user.pk) else (pair.b, pair.a)
    return Shown(pair, left, right, len(candidates))


def vote(*, user, pair_id, choice: str) -> ComparisonVote:
    """Record a judge's pick (``left``, ``right`` or ``both_bad``) on a pair they may
    judge; a pick also becomes a preference. Raise ComparisonError otherwise."""
    if choice not in ("left", "right", "both_bad"):
        raise ComparisonError("Pick the left draft, the right draft, or “Both bad”.")
    if not is_judge(user):
        raise ComparisonError("Join the blind judging first.")
    try:
        pk = int(pair_id)
    except (TypeError, ValueError):
        raise ComparisonError("That pair is not one you can judge.") from None
    with transaction.atomic():
        pair = (
            ComparisonPair.objects.select_for_update(of=("self",))
            .select_related("comparison", "a", "b")
            .filter(pk=pk)
            .first()
        )
        allowed = pair is not None and (
            Membership.objects.filter(
                user=user, project_id=pair.scene.project_id, role__in=JUDGE_ROLES
            ).exists()
        )
        if not allowed or pair.a is None or pair.b is None:
            raise ComparisonError("That pair is not one you can judge.")
        if pair.comparison.status != ComparisonStatus.OPEN:
            raise ComparisonError("This comparison is closed; your judgement was not counted.")
        left_is_a = a_on_left(pair.pk, user.pk)
        picked = {
            "left": VoteChoice.A if left_is_a else VoteChoice.B,
            "right": VoteChoice.B if left_is_a else VoteChoice.A,
            "both_bad": VoteChoice.BOTH_BAD,
        }[choice]
        try:
            with transaction.atomic():
                cast = ComparisonVote.objects.create(
                    pair=pair, user=user, choice=picked, a_on_left=left_is_a
                )
        except IntegrityError:
            raise ComparisonError("You already judged this pair.") from None
        if picked != VoteChoice.BOTH_BAD:
            chosen, rejected = (pair.a, pair.b) if picked == VoteChoice.A else (pair.b, pair.a)
            Preference.objects.get_or_create(
                user=user, chosen=chosen, rejected=rejected, source=PreferenceSource.BLIND
            )
        comparison_id = pair.comparison_id
    gate_check(comparison_id)
    return cast


# --- results -------------------------------------------------------------------------------------


@dataclass
class Result:
    comparison: Comparison
    b_rate: WinRate  # B against A, "both bad" as half a win
    pairs: int
    left_picks: int  # picks of the left side (a side bias check)
    picks: int

    @property
    def verdict(self) -> str:
        return self.b_rate.verdict(self.comparison.b_name, self.comparison.a_name)

    @property
    def judged(self) -> int:
        return self.b_rate.n


def comparison_results(comparisons) -> list[Result]:
    """The results of comparisons (two queries whatever their number)."""
    comparisons = list(comparisons)
    ids = [c.pk for c in comparisons]
    counts: dict[int, dict] = {i: {} for i in ids}
    for cid, choice, a_left, n in (
        ComparisonVote.objects.filter(pair__comparison_id__in=ids)
        .values_list("pair__comparison_id", "choice", "a_on_left")
        .annotate(n=Count("pk"))
        .values_list("pair__comparison_id", "choice", "a_on_left", "n")
    ):
        counts[cid][(choice, a_left)] = counts[cid].get((choice, a_left), 0) + n
    pairs = dict(
        ComparisonPair.objects.filter(
            comparison_id__in=ids, a__status=PassageStatus.DONE, b__status=PassageStatus.DONE
        )
        .values_list("comparison_id")
        .annotate(n=Count("pk"))
        .values_list("comparison_id", "n")
    )
    out = []
    for c in comparisons:
        got = counts[c.pk]

        def n(choice, _got=got):
            return _got.get((choice, True), 0) + _got.get((choice, False), 0)

        left = got.get(("a", True), 0) + got.get(("b", False), 0)
        out.append(
            Result(
                c,
                win_rate(n("b"), n("a"), n("both_bad")),
                pairs.get(c.pk, 0),
                left,
                n("a") + n("b"),
            )
        )
    return out


@dataclass
class RankedModel:
    name: str
    ranked: Ranked


def ranking() -> list[RankedModel]:
    """A Bradley–Terry ranking of every model ever compared, from every judgement."""
    names: dict[str, str] = {}
    results: list[tuple[str, str, float]] = []
    rows = ComparisonVote.objects.values_list(
        "choice",
        "pair__comparison__a_key",
        "pair__comparison__b_key",
        "pair__comparison__a_name",
        "pair__comparison__b_name",
    ).order_by("pk")
    for choice, a, b, a_name, b_name in rows:
        names[a], names[b] = a_name, b_name
        results.append((a, b, {"a": 1.0, "b": 0.0}.get(choice, 0.5)))
    return [RankedModel(names[r.key], r) for r in bradley_terry(results)]


# --- the gate ------------------------------------------------------------------------------------


def gate_enabled() -> bool:
    return bool(getattr(settings, "COWRITE_GATE_BLIND_AB", False))


def gate_check(comparison_id: int) -> None:
    """Decide a gated candidate once its comparison has the judgements it wanted: promote
    it if the lower end of its win rate's interval is at least 50 %, else keep it a
    candidate with the reason. The comparison closes either way."""
    from . import lifecycle

    with transaction.atomic():
        comparison = (
            Comparison.objects.select_for_update(of=("self",))
            .filter(pk=comparison_id, status=ComparisonStatus.OPEN, gate_version__isnull=False)
            .select_related("gate_version")
            .first()
        )
        if comparison is None:
            return
        (result,) = comparison_results([comparison])
        if result.judged < comparison.votes_wanted:
            return
        comparison_close(comparison=comparison)
        version, rate = comparison.gate_version, result.b_rate
        figures = (
            f"won {rate.rate:.0%} of {rate.n} blind judgements against {comparison.a_name} "
            f"(95 % interval {rate.low:.0%}–{rate.high:.0%})"
        )
        if version.status != VersionStatus.CANDIDATE:
            return
        if rate.low is not None and rate.low >= 0.5:
            lifecycle.version_promote(
                version,
                reason=f"Promoted: the team preferred it blind: {figures}.",
                require_active_parent=True,
                automatic=True,
            )
        else:
            ModelVersion.objects.filter(pk=version.pk).update(
                status_reason=f"Kept as a candidate: not clearly preferred blind: {figures}."
            )


def gate_start(version: ModelVersion) -> Comparison | None:
    """Start the comparison a gated candidate waits for (against its parent); None if
    there is nothing to compare on (the candidate then waits for staff)."""
    if version.parent_id is None:
        return None
    try:
        return comparison_start(
            user=version.created_by,
            a=f"v{version.parent_id}",
            b=f"v{version.pk}",
            votes=getattr(settings, "COWRITE_GATE_BLIND_VOTES", 30),
            gate_version=version,
        )
    except ComparisonError as exc:
        log.warning("No blind comparison for %s: %s", version.name, exc.message)
        return None


def pending_count(user) -> int:
    """How many pairs wait for this judge (the Models page's link)."""
    if not user.is_authenticated:
        return 0
    return _judgeable(user).count()
