"""Feedback on generated passages: ratings with tags, comments, preferences, opt-outs.

Services write (keyword-only, atomic, ``ValidationError`` with the user-facing message; a
rejected call changes nothing) and tell the scene's room after commit, so every page on
the scene re-renders the card. ``feedback_summary`` is the selector the cards read.

Permissions (who may act at all) are checked by the callers through ``access.py``; the
services check what depends on the objects: the passage belongs to the scene, the tags to
the project, the alternatives to one request.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cowrite import events
from scripts_app.models import Membership, Project, Role

from .models import (
    DEFAULT_FEEDBACK_TAGS,
    FeedbackTag,
    Passage,
    PassageComment,
    PassageStatus,
    Preference,
    PreferenceSource,
    Rating,
)

COMMENT_MAX_CHARS = 5000
TAG_MAX_CHARS = 40
EDIT_MAX_CHARS = 200_000
COMMENTS_SHOWN_OPEN = 3  # more than this and a card's comments start collapsed
DUPLICATE_SECONDS = 10  # the same comment again within this is a double-submit


def _changed(passages) -> None:
    """Tell each passage's room to re-render these cards (after commit)."""
    by_room: dict[str, list[int]] = {}
    for p in passages:
        by_room.setdefault(p.room, []).append(p.pk)
    for room, ids in by_room.items():
        events.publish(events.FeedbackChanged(room, tuple(ids)))


def _require_done(passage: Passage) -> None:
    if passage.status != PassageStatus.DONE or not passage.text:
        raise ValidationError("Only a finished draft takes feedback.")


def _project_id(passage: Passage) -> int:
    return passage.project_id


# --- tags ------------------------------------------------------------------------------------


def tags_for(project: Project) -> list[FeedbackTag]:
    """Return the project's tags, giving it the default set on first use.

    It writes: only the write paths that need the tags call it (a draft request, so that its
    cards offer them; a rating with tags; adding a tag). ``feedback_summary`` only reads.
    """
    tags = list(FeedbackTag.objects.filter(project=project))
    if not tags:
        FeedbackTag.objects.bulk_create(
            [FeedbackTag(project=project, name=n) for n in DEFAULT_FEEDBACK_TAGS],
            ignore_conflicts=True,
        )
        tags = list(FeedbackTag.objects.filter(project=project))
    return tags


def tag_add(*, project: Project, name: str) -> FeedbackTag:
    """Add a tag to the project's set."""
    name = " ".join((name or "").split()).lower()
    if not name:
        raise ValidationError("Give the tag a name.")
    if len(name) > TAG_MAX_CHARS:
        raise ValidationError(f"A tag is at most {TAG_MAX_CHARS} characters.")
    tags_for(project)  # so that adding one does not lose the defaults
    try:
        with transaction.atomic():
            return FeedbackTag.objects.create(project=project, name=name)
    except IntegrityError:
        raise ValidationError(f"There is already a tag “{name}”.") from None


def tag_remove(*, project: Project, tag_id) -> None:
    """Remove a tag from the project's set (and from the ratings that carry it)."""
    try:
        tag = FeedbackTag.objects.get(pk=int(tag_id), project=project)
    except (FeedbackTag.DoesNotExist, TypeError, ValueError):
        raise ValidationError("No such tag in this project.") from None
    if not FeedbackTag.objects.filter(project=project).exclude(pk=tag.pk).exists():
        # With none left, the defaults would come back on next use: say so instead.
        raise ValidationError("Keep at least one tag: add another before removing this one.")
    tag.delete()


# --- ratings ---------------------------------------------------------------------------------


def _parse_score(score) -> int | None:
    if score in (None, ""):
        return None
    try:
        value = int(score)
    except (TypeError, ValueError):
        raise ValidationError("A rating is a whole number from 1 to 5.") from None
    if not 1 <= value <= 5:
        raise ValidationError("A rating is from 1 to 5.")
    return value


def rating_submit(*, passage: Passage, user, score=None, tag_ids=None) -> Rating:
    """Rate a passage 1–5 (or change one's rating), optionally setting one's tags.

    ``score`` may be left out to change only the tags of an existing rating;
    ``tag_ids`` None leaves the tags as they are, a list replaces them.
    """
    _require_done(passage)
    value = _parse_score(score)
    tags = None
    if tag_ids is not None:
        try:
            wanted = {int(t) for t in tag_ids}
        except (TypeError, ValueError):
            raise ValidationError("Unknown tag.") from None
        tags = [t for t in tags_for(passage.project) if t.pk in wanted]
        if len(tags) != len(wanted):
            raise ValidationError("Unknown tag: choose from this project's tags.")
    with transaction.atomic():
        rating = Rating.objects.select_for_update().filter(passage=passage, user=user).first()
        if rating is None:
            if value is None:
                raise ValidationError("Give a rating from 1 to 5 with your tags.")
            try:
                with transaction.atomic():
                    rating = Rating.objects.create(passage=passage, user=user, score=value)
            except IntegrityError:
                # A double-submit raced us: the other request made the row; update it.
                rating = Rating.objects.select_for_update().get(passage=passage, user=user)
        if value is not None and rating.score != value:
            rating.score = value
            rating.save(update_fields=["score", "updated_at"])
        if tags is not None:
            rating.tags.set(tags)
        _changed([passage])
    return rating


# --- comments --------------------------------------------------------------------------------


def _parse_anchor(passage: Passage, start, end, quote: str | None):
    if start in (None, "") and end in (None, ""):
        return None, None
    try:
        start, end = int(start), int(end)
    except (TypeError, ValueError):
        raise ValidationError("The selected span is not valid; select the text again.") from None
    if not 0 <= start < end <= len(passage.text):
        raise ValidationError("The selected span is outside the draft's text; select it again.")
    if quote and passage.text[start:end] != quote:
        raise ValidationError("The selected text does not match the draft; select it again.")
    return start, end


def comment_add(
    *,
    passage: Passage,
    user,
    body: str,
    parent_id=None,
    anchor_start=None,
    anchor_end=None,
    anchor_text: str | None = None,
) -> PassageComment:
    """Comment on a passage, on a span of it, or reply to a comment on it."""
    _require_done(passage)
    body = (body or "").strip()
    if not body:
        raise ValidationError("Write something to comment.")
    if len(body) > COMMENT_MAX_CHARS:
        raise ValidationError(f"A comment is at most {COMMENT_MAX_CHARS:,} characters.")
    parent = None
    if parent_id not in (None, ""):
        try:
            parent = PassageComment.objects.get(pk=int(parent_id), passage=passage)
        except (PassageComment.DoesNotExist, TypeError, ValueError):
            raise ValidationError("That comment is not on this draft.") from None
        parent = parent.parent or parent  # threads are one level deep: reply to the root
        if anchor_start not in (None, "") or anchor_end not in (None, ""):
            raise ValidationError("A reply belongs to its thread; it has no span of its own.")
    start, end = _parse_anchor(passage, anchor_start, anchor_end, anchor_text)
    # A double-submit (the same words, just now) is the comment already made.
    recent = timezone.now() - timedelta(seconds=DUPLICATE_SECONDS)
    same = PassageComment.objects.filter(
        passage=passage, user=user, parent=parent, body=body, created_at__gte=recent
    ).first()
    if same is not None:
        return same
    with transaction.atomic():
        comment = PassageComment.objects.create(
            passage=passage, user=user, parent=parent, body=body, anchor_start=start, anchor_end=end
        )
        _changed([passage])
    return comment


def comment_resolve(
    *, comment: PassageComment, user, membership: Membership, resolved: bool = True
) -> PassageComment:
    """Resolve (or reopen) a comment thread: its author, or an editor or owner."""
    if comment.parent_id is not None:
        raise ValidationError("Resolve the thread from its first comment.")
    if comment.user_id != user.pk and not membership.role_enum.at_least(Role.EDITOR):
        raise PermissionDenied("Only the comment's author or an editor can resolve it.")
    with transaction.atomic():
        comment = PassageComment.objects.select_for_update().get(pk=comment.pk)
        if resolved and comment.resolved_at is None:
            comment.resolved_at, comment.resolved_by = timezone.now(), user
        elif not resolved and comment.resolved_at is not None:
            comment.resolved_at, comment.resolved_by = None, None
        else:
            return comment
        comment.save(update_fields=["resolved_at", "resolved_by"])
        _changed([comment.passage])
    return comment


# --- preferences -----------------------------------------------------------------------------


def _done_alternatives(passage: Passage) -> list[Passage]:
    return list(
        Passage.objects.filter(group=passage.group, project_id=passage.project_id)
        .exclude(text="")
        .filter(status=PassageStatus.DONE)
        .select_related("scene")
        .order_by("alternative")
    )


def _record(user, chosen: Passage, rejected: list[Passage], source: str) -> list[Preference]:
    """Create chosen > each rejected (skipping pairs this user already recorded)."""
    made = []
    for other in rejected:
        try:
            with transaction.atomic():
                made.append(
                    Preference.objects.create(
                        user=user, chosen=chosen, rejected=other, source=source
                    )
                )
        except IntegrityError:
            pass  # the same pair from the same source already stands (a double-submit)
    return made


def pick_best(*, passage: Passage, user) -> list[Preference]:
    """Pick a passage as the best of its request's alternatives (replacing one's last pick)."""
    _require_done(passage)
    alternatives = _done_alternatives(passage)
    others = [p for p in alternatives if p.pk != passage.pk]
    if not others:
        raise ValidationError("There is no other finished alternative to compare it with yet.")
    with transaction.atomic():
        Preference.objects.filter(
            user=user, source=PreferenceSource.PICK, rejected__group=passage.group
        ).delete()
        made = _record(user, passage, others, PreferenceSource.PICK)
        _changed(alternatives)
    return made


def rank_alternatives(*, passage: Passage, user, order) -> list[Preference]:
    """Rank the alternatives of ``passage``'s request, best first (ids in ``order``)."""
    try:
        ids = [int(i) for i in order]
    except (TypeError, ValueError):
        raise ValidationError("The ranking is not valid; rank the alternatives again.") from None
    if len(ids) < 2:
        raise ValidationError("Rank at least two alternatives.")
    if len(set(ids)) != len(ids):
        raise ValidationError("Give each alternative a different place.")
    alternatives = {p.pk: p for p in _done_alternatives(passage)}
    if any(i not in alternatives for i in ids):
        raise ValidationError("Rank only finished alternatives of this one request.")
    ranked = [alternatives[i] for i in ids]
    with transaction.atomic():
        Preference.objects.filter(
            user=user, source=PreferenceSource.RANK, rejected__group=passage.group
        ).delete()
        made = []
        for i, better in enumerate(ranked):
            made += _record(user, better, ranked[i + 1 :], PreferenceSource.RANK)
        _changed(list(alternatives.values()))
    return made


def preference_from_accept(*, passage: Passage, user) -> list[Preference]:
    """Record an accepted passage as preferred to its other finished alternatives."""
    others = [p for p in _done_alternatives(passage) if p.pk != passage.pk]
    return _record(user, passage, others, PreferenceSource.ACCEPT)


def preference_undo_accept(*, passage: Passage) -> int:
    """An undone accept no longer says the team preferred this passage: drop the
    preferences its accept recorded (whoever accepted it); return how many."""
    deleted, _ = Preference.objects.filter(chosen=passage, source=PreferenceSource.ACCEPT).delete()
    if deleted:
        _changed(_done_alternatives(passage))
    return deleted


def _normalize(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()


def edit_record(*, passage: Passage, user, text: str) -> Preference | None:
    """Record the text a user kept of an accepted passage (None if they kept it as it was)."""
    if passage.accepted_revision_id is None:
        raise ValidationError("Only an accepted draft's edit can be recorded.")
    text = (text or "").replace("\r\n", "\n")
    if len(text) > EDIT_MAX_CHARS:
        raise ValidationError(f"The edited text is at most {EDIT_MAX_CHARS:,} characters.")
    if not text.strip():
        raise ValidationError("Give the text as you kept it.")
    if _normalize(text) == _normalize(passage.text):
        return None
    with transaction.atomic():
        # One edit per user per passage: the latest is what they kept.
        Preference.objects.filter(
            user=user, source=PreferenceSource.EDIT, rejected=passage
        ).delete()
        pref = Preference.objects.create(
            user=user,
            chosen=None,
            chosen_text=text.strip("\n"),
            rejected=passage,
            source=PreferenceSource.EDIT,
        )
        _changed([passage])
    return pref


# --- opting out ------------------------------------------------------------------------------


def opt_out_set(*, membership: Membership, opt_out: bool) -> Membership:
    """Keep (or stop keeping) this member's own feedback out of training data."""
    Membership.objects.filter(pk=membership.pk).update(feedback_opt_out=bool(opt_out))
    membership.feedback_opt_out = bool(opt_out)
    return membership


# --- the cards' read -------------------------------------------------------------------------


@dataclass
class MemberView:
    """One member as a card sees them: role, and their own feedback on the passage."""

    user_id: int
    username: str
    role: str
    score: int | None = None
    tag_ids: list[int] = field(default_factory=list)
    picked: bool = False

    @property
    def can_act(self) -> bool:
        return Role(self.role).at_least(Role.COMMENTER)

    @property
    def can_moderate(self) -> bool:
        return Role(self.role).at_least(Role.EDITOR)


@dataclass
class Thread:
    comment: PassageComment
    quote: str = ""
    replies: list[PassageComment] = field(default_factory=list)


@dataclass
class CardFeedback:
    """What a passage's card shows of its feedback."""

    viewer: object = None  # the user the card is rendered for, when the caller knows it
    count: int = 0
    average: float | None = None
    tags: list[FeedbackTag] = field(default_factory=list)  # the project's set
    tag_counts: list[tuple[str, int]] = field(default_factory=list)
    threads: list[Thread] = field(default_factory=list)
    comment_count: int = 0
    open_count: int = 0
    members: list[MemberView] = field(default_factory=list)
    picked_by: list[str] = field(default_factory=list)
    accepted: bool = False

    @property
    def collapsed(self) -> bool:
        return self.comment_count > COMMENTS_SHOWN_OPEN


def feedback_summary(passages, *, viewer=None) -> list:
    """Attach ``.feedback`` (a CardFeedback) to each passage, in a constant number of queries.

    Seven queries whatever the number of passages, all reads: a project's default tags
    are created by the write paths that need them (see ``tags_for``), never here. The
    passages must come with ``scene`` loaded. ``viewer`` is the user the cards are
    rendered for; without it the template falls back to ``user``.
    """
    passages = list(passages)
    if not passages:
        return passages
    ids = [p.pk for p in passages]
    project_ids = {p.project_id for p in passages}
    tags = {pid: [] for pid in project_ids}
    for tag in FeedbackTag.objects.filter(project_id__in=project_ids):
        tags[tag.project_id].append(tag)
    members: dict[int, list[tuple]] = {pid: [] for pid in project_ids}
    for row in Membership.objects.filter(project_id__in=project_ids).values_list(
        "project_id", "user_id", "user__username", "role"
    ):
        members[row[0]].append(row[1:])
    ratings = list(
        Rating.objects.filter(passage_id__in=ids).values_list(
            "pk", "passage_id", "user_id", "score"
        )
    )
    rating_tags: dict[int, list[int]] = {}
    for rating_id, tag_id in Rating.tags.through.objects.filter(
        rating__passage_id__in=ids
    ).values_list("rating_id", "feedbacktag_id"):
        rating_tags.setdefault(rating_id, []).append(tag_id)
    comments = list(
        PassageComment.objects.filter(passage_id__in=ids)
        .select_related("user", "resolved_by")
        .order_by("created_at", "pk")
    )
    picks = set(
        Preference.objects.filter(chosen_id__in=ids, source=PreferenceSource.PICK).values_list(
            "chosen_id", "user_id"
        )
    )

    by_passage: dict[int, CardFeedback] = {}
    for p in passages:
        project_id = p.project_id
        fb = CardFeedback(
            viewer=viewer, tags=tags[project_id], accepted=p.accepted_revision_id is not None
        )
        fb.members = [MemberView(user_id=u, username=n, role=r) for u, n, r in members[project_id]]
        by_passage[p.pk] = fb
        p.feedback = fb
    names = {t.pk: t.name for ts in tags.values() for t in ts}
    for rating_id, passage_id, user_id, score in ratings:
        fb = by_passage[passage_id]
        for m in fb.members:
            if m.user_id == user_id:
                m.score, m.tag_ids = score, rating_tags.get(rating_id, [])
    for p in passages:
        fb = by_passage[p.pk]
        scores = [m.score for m in fb.members if m.score is not None]
        fb.count = len(scores)
        fb.average = sum(scores) / len(scores) if scores else None
        counts: dict[str, int] = {}
        for m in fb.members:
            for tag_id in m.tag_ids:
                counts[names[tag_id]] = counts.get(names[tag_id], 0) + 1
        fb.tag_counts = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        for m in fb.members:
            m.picked = (p.pk, m.user_id) in picks
        fb.picked_by = [m.username for m in fb.members if m.picked]
    texts = {p.pk: p.text for p in passages}
    roots: dict[int, Thread] = {}
    for c in comments:
        fb = by_passage[c.passage_id]
        fb.comment_count += 1
        if c.parent_id is None:
            quote = ""
            if c.anchor_start is not None:
                quote = texts[c.passage_id][c.anchor_start : c.anchor_end]
            roots[c.pk] = Thread(comment=c, quote=quote)
            fb.threads.append(roots[c.pk])
            fb.open_count += c.resolved_at is None
    for c in comments:
        if c.parent_id is not None and c.parent_id in roots:
            roots[c.parent_id].replies.append(c)
    return passages
