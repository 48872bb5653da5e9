"""Feedback on passages: ratings and tags, comments, preferences (pick, rank, accept, edit),
the training opt-out, the card's summary, and a live re-render through the scene room."""

import asyncio
import re
import urllib.parse
import urllib.request
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cowrite import events
from generation import drafts, feedback
from generation.models import (
    DEFAULT_FEEDBACK_TAGS,
    FeedbackTag,
    Passage,
    PassageComment,
    Preference,
    Rating,
)
from scripts_app import services
from scripts_app.models import Membership
from tests.support.models import register_tiny_version
from tests.support.roomclient import RoomClient
from tests.support.servers import generation_stack, session_for
from tests.support.threads import in_thread, run_async

HX = {"HTTP_HX_REQUEST": "true"}


def make_group(scene, user, texts, task="continue"):
    """One draft request's alternatives, finished, with these texts ("" = still queued).

    Like ``drafts.draft_request``, it gives the project its default tags on first use."""
    feedback.tags_for(scene.project)
    group = uuid.uuid4()
    return [
        Passage.objects.create(
            scene=scene,
            group=group,
            alternative=i,
            alternatives=len(texts),
            requested_by=user,
            task=task,
            status="done" if text else "queued",
            text=text,
            sampling={"preset": "balanced", "seed": i},
        )
        for i, text in enumerate(texts)
    ]


def snapshot():
    """Everything a feedback request could change, as comparable values."""
    return (
        list(Rating.objects.order_by("pk").values_list("pk", "passage_id", "user_id", "score")),
        sorted(Rating.tags.through.objects.values_list("rating_id", "feedbacktag_id")),
        list(
            PassageComment.objects.order_by("pk").values_list(
                "pk", "passage_id", "parent_id", "body", "anchor_start", "anchor_end", "resolved_at"
            )
        ),
        list(
            Preference.objects.order_by("pk").values_list(
                "pk", "chosen_id", "rejected_id", "chosen_text", "user_id", "source"
            )
        ),
        list(FeedbackTag.objects.order_by("pk").values_list("pk", "project_id", "name")),
        list(Membership.objects.order_by("pk").values_list("pk", "role", "feedback_opt_out")),
    )


@pytest.fixture
def pushed(monkeypatch):
    """The feedback.changed events sent (room, passages), instead of sending them."""
    sent, real = [], events.publish

    def publish(event, **kwargs):
        if isinstance(event, events.FeedbackChanged):
            sent.append((event.room, sorted(event.passages)))
        else:
            real(event, **kwargs)

    monkeypatch.setattr(events, "publish", publish)
    return sent


@pytest.fixture
def alts(team):
    return make_group(team.scenes[0], team.users["editor"], ["First take.", "Second.", "Third!"])


def url(name, team, passage, *extra):
    return reverse(name, args=[team.project.pk, passage.scene_id, passage.pk, *extra])


# --- ratings and tags ------------------------------------------------------------------------


def test_rating_is_one_row_per_user_changeable_with_tags(client, team, alts, pushed):
    p = alts[0]
    client.force_login(team.users["commenter"])
    r = client.post(url("passage_rate", team, p), {"score": "4"}, **HX)
    assert r.status_code == 200 and "★ 4.0" in r.content.decode()
    tags = {t.name: t for t in FeedbackTag.objects.filter(project=team.project)}
    assert sorted(tags) == sorted(DEFAULT_FEEDBACK_TAGS)  # the defaults, on first use
    r = client.post(
        url("passage_rate", team, p),
        {"score": "2", "tags_sent": "1", "tag": [tags["repetitive"].pk, tags["too long"].pk]},
        **HX,
    )
    assert r.status_code == 200
    rating = Rating.objects.get()
    assert rating.score == 2 and {t.name for t in rating.tags.all()} == {"repetitive", "too long"}
    # Tags alone (no score): keeps the score, replaces the tags.
    client.post(url("passage_rate", team, p), {"tags_sent": "1", "tag": [tags["wrong tone"].pk]})
    rating.refresh_from_db()
    assert rating.score == 2 and [t.name for t in rating.tags.all()] == ["wrong tone"]
    client.force_login(team.users["owner"])
    client.post(url("passage_rate", team, p), {"score": "5"}, **HX)
    assert Rating.objects.count() == 2
    (card,) = feedback.feedback_summary(
        [Passage.objects.select_related("scene").get(pk=p.pk)], viewer=team.users["owner"]
    )
    assert card.feedback.count == 2 and card.feedback.average == 3.5
    assert card.feedback.tag_counts == [("wrong tone", 1)]
    assert pushed and all(ids == [p.pk] for _, ids in pushed)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"score": "0"}, "A rating is from 1 to 5."),
        ({"score": "6"}, "A rating is from 1 to 5."),
        ({"score": "five"}, "A rating is a whole number from 1 to 5."),
        ({}, "Give a rating from 1 to 5 with your tags."),
        ({"score": "3", "tags_sent": "1", "tag": "999999"}, "Unknown tag"),
    ],
)
def test_bad_ratings_are_refused_with_a_message_and_change_nothing(
    client, team, alts, data, message
):
    feedback.tags_for(team.project)
    before = snapshot()
    client.force_login(team.users["commenter"])
    r = client.post(url("passage_rate", team, alts[0]), data, **HX)
    assert r.status_code == 422 and message in r.content.decode()
    assert r["HX-Retarget"] == f"#passage-{alts[0].pk}-feedback-msg"
    assert snapshot() == before


def test_viewers_outsiders_and_tampered_ids_cannot_rate(client, team, alts, db):
    other = services.project_create(user=team.users["outsider"], title="Other")
    other_scene = services.scene_create(
        project=other, user=team.users["outsider"], heading="INT. ELSEWHERE - DAY"
    )
    (foreign,) = make_group(other_scene, team.users["outsider"], ["Not yours."])
    queued = make_group(team.scenes[0], team.users["editor"], [""])[0]
    feedback.tags_for(team.project)
    other_tag = feedback.tags_for(other)[0]
    before = snapshot()
    client.force_login(team.users["viewer"])
    r = client.post(url("passage_rate", team, alts[0]), {"score": "5"}, **HX)
    assert r.status_code == 403 and "commenter role" in r.content.decode()
    client.force_login(team.users["outsider"])
    assert client.post(url("passage_rate", team, alts[0]), {"score": "5"}).status_code == 404
    client.force_login(team.users["commenter"])
    # Another project's passage under this project's scene: not found.
    tampered = reverse("passage_rate", args=[team.project.pk, team.scenes[0].pk, foreign.pk])
    assert client.post(tampered, {"score": "5"}).status_code == 404
    # This project's passage under the other scene id: not found either.
    wrong_scene = reverse("passage_rate", args=[team.project.pk, team.scenes[1].pk, alts[0].pk])
    assert client.post(wrong_scene, {"score": "5"}).status_code == 404
    # Another project's tag; a passage still being written.
    r = client.post(
        url("passage_rate", team, alts[0]),
        {"score": "5", "tags_sent": "1", "tag": other_tag.pk},
        **HX,
    )
    assert r.status_code == 422 and "Unknown tag" in r.content.decode()
    r = client.post(url("passage_rate", team, queued), {"score": "5"}, **HX)
    assert r.status_code == 422 and "Only a finished draft" in r.content.decode()
    assert snapshot() == before


def test_the_database_keeps_one_rating_per_user_and_scores_in_range(team, alts):
    Rating.objects.create(passage=alts[0], user=team.users["editor"], score=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(passage=alts[0], user=team.users["editor"], score=4)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(passage=alts[1], user=team.users["editor"], score=9)
    # The service updates the existing row (a double-submit lands on the same row).
    feedback.rating_submit(passage=alts[0], user=team.users["editor"], score=5)
    feedback.rating_submit(passage=alts[0], user=team.users["editor"], score=5)
    assert list(Rating.objects.values_list("score", flat=True)) == [5]


def test_a_racing_double_submit_lands_on_the_one_row(team, alts, monkeypatch):
    real = Rating.objects.select_for_update
    reads = []

    def racing_read():
        # The other request's INSERT lands between this one's read and its own INSERT.
        if not reads:
            reads.append(1)
            Rating.objects.bulk_create(
                [Rating(passage=alts[0], user=team.users["editor"], score=1)]
            )
            return Rating.objects.none()
        return real()

    monkeypatch.setattr(Rating.objects, "select_for_update", racing_read)
    rating = feedback.rating_submit(passage=alts[0], user=team.users["editor"], score=4)
    assert list(Rating.objects.values_list("pk", "score")) == [(rating.pk, 4)]


def test_a_double_submitted_comment_is_kept_once(client, team, alts):
    client.force_login(team.users["commenter"])
    for _ in range(2):
        r = client.post(url("passage_comment", team, alts[0]), {"body": "Same words"}, **HX)
        assert r.status_code == 200
    assert PassageComment.objects.count() == 1


def test_tags_are_managed_by_editors_and_owners(client, team):
    page = reverse("feedback_tags", args=[team.project.pk])
    client.force_login(team.users["commenter"])
    r = client.get(page)
    assert r.status_code == 200 and "great dialogue" in r.content.decode()
    before = snapshot()
    assert client.post(page, {"name": "cheesy"}).status_code == 403
    assert snapshot() == before
    client.force_login(team.users["editor"])
    assert client.post(page, {"name": "  Cheesy   Lines "}).status_code == 302
    assert FeedbackTag.objects.filter(project=team.project, name="cheesy lines").exists()
    before = snapshot()
    r = client.post(page, {"name": "cheesy lines"})
    assert r.status_code == 400 and "already a tag" in r.content.decode()
    assert client.post(page, {"name": "x" * 41}).status_code == 400
    assert client.post(page, {"name": "  "}).status_code == 400
    assert snapshot() == before
    tag = FeedbackTag.objects.get(name="repetitive")
    assert client.post(page, {"remove": tag.pk}).status_code == 302
    assert not FeedbackTag.objects.filter(pk=tag.pk).exists()
    other = services.project_create(user=team.users["outsider"], title="Other")
    foreign = feedback.tags_for(other)[0]
    assert client.post(page, {"remove": foreign.pk}).status_code == 400
    assert FeedbackTag.objects.filter(pk=foreign.pk).exists()
    # The last tag stays (with none, the defaults would come back).
    FeedbackTag.objects.filter(project=team.project).exclude(name="wrong tone").delete()
    last = FeedbackTag.objects.get(project=team.project)
    r = client.post(page, {"remove": last.pk})
    assert r.status_code == 400 and "Keep at least one tag" in r.content.decode()
    assert FeedbackTag.objects.filter(pk=last.pk).exists()


# --- comments --------------------------------------------------------------------------------


def test_comments_thread_and_anchor_to_a_span(client, team, alts, pushed):
    p = alts[0]  # "First take."
    client.force_login(team.users["commenter"])
    r = client.post(
        url("passage_comment", team, p),
        {"body": "Love this", "anchor_start": "6", "anchor_end": "10", "anchor_text": "take"},
        **HX,
    )
    assert r.status_code == 200
    root = PassageComment.objects.get()
    assert (root.anchor_start, root.anchor_end, root.parent_id) == (6, 10, None)
    assert "<blockquote" in r.content.decode() and "take" in r.content.decode()
    client.force_login(team.users["editor"])
    client.post(url("passage_comment", team, p), {"body": "Agreed", "parent": root.pk}, **HX)
    reply = PassageComment.objects.get(parent=root)
    # A reply to a reply joins the same thread.
    client.post(url("passage_comment", team, p), {"body": "Me too", "parent": reply.pk}, **HX)
    assert PassageComment.objects.filter(parent=root).count() == 2
    (card,) = feedback.feedback_summary([Passage.objects.select_related("scene").get(pk=p.pk)])
    (thread,) = card.feedback.threads
    assert thread.quote == "take" and [c.body for c in thread.replies] == ["Agreed", "Me too"]
    assert len(pushed) == 3


@pytest.mark.parametrize(
    "data, message",
    [
        ({"body": ""}, "Write something"),
        ({"body": "x" * 5001}, "at most 5,000 characters"),
        ({"body": "hm", "anchor_start": "3", "anchor_end": "3"}, "outside the draft"),
        ({"body": "hm", "anchor_start": "5", "anchor_end": "2"}, "outside the draft"),
        ({"body": "hm", "anchor_start": "0", "anchor_end": "999"}, "outside the draft"),
        ({"body": "hm", "anchor_start": "-1", "anchor_end": "2"}, "outside the draft"),
        ({"body": "hm", "anchor_start": "0"}, "not valid"),
        ({"body": "hm", "anchor_start": "a", "anchor_end": "b"}, "not valid"),
        ({"body": "hm", "anchor_start": "0", "anchor_end": "5", "anchor_text": "Other"}, "match"),
        ({"body": "hm", "parent": "999999"}, "not on this draft"),
    ],
)
def test_bad_comments_are_refused_and_change_nothing(client, team, alts, data, message):
    before = snapshot()
    client.force_login(team.users["commenter"])
    r = client.post(url("passage_comment", team, alts[0]), data, **HX)
    assert r.status_code == 422 and message in r.content.decode()
    assert snapshot() == before


def test_a_reply_cannot_point_at_a_comment_on_another_passage(team, alts):
    other = feedback.comment_add(passage=alts[1], user=team.users["editor"], body="On two")
    before = snapshot()
    with pytest.raises(Exception, match="not on this draft"):
        feedback.comment_add(
            passage=alts[0], user=team.users["editor"], body="x", parent_id=other.pk
        )
    assert snapshot() == before


def test_resolving_is_for_the_author_or_an_editor(client, team, alts):
    p = alts[0]
    comment = feedback.comment_add(passage=p, user=team.users["commenter"], body="Tighten?")
    other = feedback.comment_add(passage=p, user=team.users["owner"], body="Cut the end")
    resolve = url("comment_resolve", team, p, other.pk)
    client.force_login(team.users["commenter"])
    before = snapshot()
    r = client.post(resolve, **HX)
    assert r.status_code == 403 and "author or an editor" in r.content.decode()
    client.force_login(team.users["viewer"])
    assert client.post(resolve).status_code == 403
    assert snapshot() == before
    client.force_login(team.users["commenter"])
    assert client.post(url("comment_resolve", team, p, comment.pk), **HX).status_code == 200
    comment.refresh_from_db()
    assert comment.resolved_at and comment.resolved_by == team.users["commenter"]
    client.force_login(team.users["editor"])
    assert client.post(resolve, **HX).status_code == 200
    assert client.post(resolve, {"resolved": "0"}, **HX).status_code == 200
    other.refresh_from_db()
    assert other.resolved_at is None
    # A comment id from another passage, under this passage's URL: refused.
    elsewhere = feedback.comment_add(passage=alts[1], user=team.users["editor"], body="B")
    r = client.post(url("comment_resolve", team, p, elsewhere.pk), **HX)
    assert r.status_code == 422


# --- preferences -----------------------------------------------------------------------------


def pairs(source, user=None):
    qs = Preference.objects.filter(source=source)
    if user is not None:
        qs = qs.filter(user=user)
    return sorted(qs.values_list("chosen_id", "rejected_id"))


def test_pick_best_replaces_the_users_previous_pick(client, team, alts, pushed):
    a, b, c = alts
    client.force_login(team.users["commenter"])
    assert client.post(url("passage_pick", team, b), **HX).status_code == 200
    assert pairs("pick") == sorted([(b.pk, a.pk), (b.pk, c.pk)])
    assert client.post(url("passage_pick", team, b), **HX).status_code == 200  # double-submit
    assert client.post(url("passage_pick", team, c), **HX).status_code == 200
    assert pairs("pick") == sorted([(c.pk, a.pk), (c.pk, b.pk)])
    assert pushed[-1] == (events.scene_room_group(a.scene_id), sorted([a.pk, b.pk, c.pk]))
    client.force_login(team.users["owner"])
    client.post(url("passage_pick", team, a), **HX)
    assert len(pairs("pick", team.users["commenter"])) == 2 and len(pairs("pick")) == 4
    (card,) = feedback.feedback_summary([Passage.objects.select_related("scene").get(pk=c.pk)])
    assert card.feedback.picked_by == ["commenter"]


def test_pick_needs_a_finished_sibling_and_never_crosses_groups(client, team, alts):
    lone = make_group(team.scenes[0], team.users["editor"], ["Only one.", ""])
    before = snapshot()
    client.force_login(team.users["commenter"])
    r = client.post(url("passage_pick", team, lone[0]), **HX)
    assert r.status_code == 422 and "no other finished alternative" in r.content.decode()
    client.force_login(team.users["viewer"])
    assert client.post(url("passage_pick", team, alts[0]), **HX).status_code == 403
    assert snapshot() == before


def test_rank_orders_every_pair_and_refuses_other_groups(client, team, alts):
    a, b, c = alts
    other = make_group(team.scenes[0], team.users["editor"], ["X.", "Y."])
    client.force_login(team.users["commenter"])
    form = client.get(url("passage_rank", team, a))
    assert form.status_code == 200 and f'name="place_{c.pk}"' in form.content.decode()
    r = client.post(
        url("passage_rank", team, a), {f"place_{c.pk}": 1, f"place_{a.pk}": 2, f"place_{b.pk}": 3}
    )
    assert r.status_code == 302
    assert pairs("rank") == sorted([(c.pk, a.pk), (c.pk, b.pk), (a.pk, b.pk)])
    before = snapshot()
    for data, message in [
        ({f"place_{a.pk}": 1, f"place_{other[0].pk}": 2}, "this one request"),
        ({f"place_{a.pk}": 1, f"place_{b.pk}": 1}, "different place"),
        ({f"place_{a.pk}": 1}, "at least two"),
        ({f"place_{a.pk}": "first", f"place_{b.pk}": 2}, "is a number"),
        ({"place_abc": 1, f"place_{b.pk}": 2}, "not valid"),
    ]:
        r = client.post(url("passage_rank", team, a), data, **HX)
        assert r.status_code == 422 and message in r.content.decode(), data
    assert snapshot() == before
    # Ranking again replaces this user's ranking of the group.
    client.post(url("passage_rank", team, b), {f"place_{b.pk}": 1, f"place_{a.pk}": 2}, **HX)
    assert pairs("rank") == [(b.pk, a.pk)]


def test_accepting_prefers_the_passage_to_its_alternatives(client, team, alts):
    a, b, c = alts
    Passage.objects.filter(pk=c.pk).update(status="failed")  # not a finished alternative
    client.force_login(team.users["editor"])
    accept = reverse("passage_accept", args=[team.project.pk, a.scene_id, b.pk])
    assert client.post(accept, {"mode": "append"}, **HX).status_code == 200
    assert pairs("accept") == [(b.pk, a.pk)]
    assert Preference.objects.get(source="accept").user == team.users["editor"]
    # Accepting again does not duplicate the pair.
    client.post(accept, {"mode": "append"}, **HX)
    assert pairs("accept") == [(b.pk, a.pk)]


def test_recording_an_edit_of_accepted_text(client, team, alts):
    a, b, _ = alts
    client.force_login(team.users["editor"])
    edit = url("passage_edit_record", team, a)
    before = snapshot()
    r = client.post(edit, {"text": "First take, better."}, **HX)
    assert r.status_code == 422 and "Only an accepted draft" in r.content.decode()
    assert snapshot() == before
    drafts.passage_accept(passage=a, user=team.users["editor"], mode="append")
    card = client.get(reverse("passage_card", args=[team.project.pk, a.scene_id, a.pk]))
    assert "Record my edit" in card.content.decode()
    before = snapshot()
    r = client.post(edit, {"text": "First take.\r\n"}, **HX)  # unchanged: nothing recorded
    assert r.status_code == 200 and "nothing recorded" in r.content.decode()
    assert snapshot() == before
    client.post(edit, {"text": "First take, better."}, **HX)
    client.post(edit, {"text": "First take, best."}, **HX)
    pref = Preference.objects.get(source="edit")
    assert (pref.chosen_id, pref.chosen_text, pref.rejected_id) == (None, "First take, best.", a.pk)
    client.force_login(team.users["viewer"])
    assert client.post(edit, {"text": "Mine."}, **HX).status_code == 403
    assert Preference.objects.filter(source="edit").count() == 1


# --- opting out ------------------------------------------------------------------------------


def test_each_member_opts_out_only_for_themselves(client, team):
    opt = reverse("feedback_opt_out", args=[team.project.pk])
    client.force_login(team.users["viewer"])
    page = client.get(reverse("project_detail", args=[team.project.pk])).content.decode()
    assert "Keep my ratings, comments and choices out of training" in page
    # A membership id in the form is ignored: only one's own membership changes.
    r = client.post(opt, {"opt_out": "1", "membership": team.membership["owner"].pk}, **HX)
    assert r.status_code == 200 and "kept out of training" in r.content.decode()
    opted = set(Membership.objects.filter(feedback_opt_out=True).values_list("user__username"))
    assert opted == {("viewer",)}
    assert client.post(opt, {}).status_code == 302
    assert not Membership.objects.filter(feedback_opt_out=True).exists()
    client.force_login(team.users["outsider"])
    assert client.post(opt, {"opt_out": "1"}).status_code == 404
    assert not Membership.objects.filter(feedback_opt_out=True).exists()


# --- the card --------------------------------------------------------------------------------


def test_cards_show_feedback_by_role_in_a_constant_number_of_queries(
    client, team, django_assert_max_num_queries
):
    scene = team.scenes[0]
    feedback.tags_for(team.project)  # steady state: the project has its tags
    groups = [make_group(scene, team.users["editor"], ["One.", "Two."]) for _ in range(6)]
    for group in groups:
        for p in group:
            feedback.rating_submit(passage=p, user=team.users["editor"], score=4)
            feedback.comment_add(passage=p, user=team.users["owner"], body="Note <b>x</b>")
    one = list(Passage.objects.filter(pk=groups[0][0].pk).select_related("scene"))
    many = list(Passage.objects.filter(scene=scene).select_related("scene"))
    with django_assert_max_num_queries(7) as one_ctx:
        feedback.feedback_summary(one)
    with django_assert_max_num_queries(7) as many_ctx:
        feedback.feedback_summary(many)
    assert len(one_ctx.captured_queries) == len(many_ctx.captured_queries)
    card = reverse("passage_card", args=[team.project.pk, scene.pk, groups[0][0].pk])
    client.force_login(team.users["commenter"])
    html = client.get(card).content.decode()
    assert "★ 4.0" in html and "(1 rating)" in html and 'name="score"' in html
    assert "Note &lt;b&gt;x&lt;/b&gt;" in html  # escaped
    assert "Resolve" not in html  # not the author, not an editor
    client.force_login(team.users["viewer"])
    html = client.get(card).content.decode()
    assert "★ 4.0" in html and "Note &lt;b&gt;x" in html
    assert 'name="score"' not in html and "You can read the feedback" in html
    client.force_login(team.users["editor"])
    html = client.get(reverse("scene_detail", args=[team.project.pk, scene.pk])).content.decode()
    assert html.count('class="passage-feedback"') == 12 and "Resolve" in html


def test_the_cards_read_never_writes_not_even_on_a_fresh_project(team):
    """``feedback_summary`` is a read: a fresh project's default tags come from the write
    paths (a draft request, a rating with tags, adding a tag), not from rendering a card."""
    scene = team.scenes[0]
    Passage.objects.create(  # as an import or the admin could leave it: no tags yet
        scene=scene, group=uuid.uuid4(), task="continue", status="done", text="Hello."
    )
    assert not FeedbackTag.objects.filter(project=team.project).exists()
    passages = list(Passage.objects.filter(scene=scene).select_related("scene"))
    with CaptureQueriesContext(connection) as ctx:
        feedback.feedback_summary(passages, viewer=team.users["editor"])
        feedback.feedback_summary(passages, viewer=team.users["editor"])
    writes = [q["sql"] for q in ctx.captured_queries if not q["sql"].lstrip().startswith("SELECT")]
    assert writes == [] and len(ctx.captured_queries) == 12  # six reads, twice
    assert passages[0].feedback.tags == []
    assert not FeedbackTag.objects.filter(project=team.project).exists()
    # The write path that needs them gives the defaults, once.
    assert sorted(t.name for t in feedback.tags_for(team.project)) == sorted(DEFAULT_FEEDBACK_TAGS)
    with CaptureQueriesContext(connection) as ctx:
        feedback.feedback_summary(passages)
    assert not [q for q in ctx.captured_queries if "INSERT" in q["sql"].upper()]
    assert sorted(t.name for t in passages[0].feedback.tags) == sorted(DEFAULT_FEEDBACK_TAGS)


def test_many_comments_start_collapsed(team, alts):
    for i in range(feedback.COMMENTS_SHOWN_OPEN + 1):
        feedback.comment_add(passage=alts[0], user=team.users["editor"], body=f"c{i}")
    (card,) = feedback.feedback_summary(
        [Passage.objects.select_related("scene").get(pk=alts[0].pk)]
    )
    assert card.feedback.collapsed and card.feedback.comment_count == 4


# --- live: a rating re-renders the card in every page on the scene ----------------------------

AVERAGE_RE = re.compile(r'<article id="passage-(\d+)".*?class="fb-average"[^>]*>★ ([\d.]+)<', re.S)


class FeedbackRoomClient(RoomClient):
    """A room client that also reads the average rating off each card it receives."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.averages: dict[int, str] = {}
        self.can_rate: dict[int, bool] = {}

    def _parse(self, frame, received_at):
        super()._parse(frame, received_at)
        for pid, avg in AVERAGE_RE.findall(frame):
            self.averages[int(pid)] = avg
        for pid in re.findall(r'<article id="passage-(\d+)"', frame):
            self.can_rate[int(pid)] = 'name="score"' in frame


@pytest.fixture
def model(settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    return register_tiny_version(settings.MODEL_DIR)


@pytest.fixture
def stack(team, model):
    with generation_stack() as (server, _):
        yield server


def http_post(server, path: str, session: str, data: dict) -> int:
    """POST as a logged-in page would (htmx: session cookie, CSRF header)."""
    token = "t" * 32
    request = urllib.request.Request(
        server.http_url + path,
        data=urllib.parse.urlencode(data).encode(),
        headers={
            "Cookie": f"sessionid={session}; csrftoken={token}",
            "X-CSRFToken": token,
            "HX-Request": "true",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_rating_reaches_every_page_on_the_scene(stack, team):
    server = stack
    scene = team.scenes[0]
    (p,) = make_group(scene, team.users["editor"], ["It's holding. For now."])

    def client(who):
        return FeedbackRoomClient(
            server.ws_url, team.project.pk, scene.pk, session_for(team.users[who]), server.http_url
        )

    async def run():
        watcher, viewer = client("editor"), client("viewer")
        for c in (watcher, viewer):
            await c.connect()
        await asyncio.sleep(0.3)
        status = await in_thread(
            http_post,
            server,
            reverse("passage_rate", args=[team.project.pk, scene.pk, p.pk]),
            session_for(team.users["commenter"]),
            {"score": "4"},
        )
        for _ in range(200):
            if watcher.averages.get(p.pk) and viewer.averages.get(p.pk):
                break
            await asyncio.sleep(0.05)
        for c in (watcher, viewer):
            await c.close()
        return status, watcher, viewer

    status, watcher, viewer = run_async(run())
    assert status == 200
    assert watcher.averages[p.pk] == "4.0" and viewer.averages[p.pk] == "4.0"
    # Each socket's card is rendered for its own role.
    assert watcher.can_rate[p.pk] and not viewer.can_rate[p.pk]
    assert Rating.objects.get().score == 4


@pytest.mark.parametrize(
    "name, data",
    [
        ("passage_rate", {"score": "5"}),
        ("passage_comment", {"body": "Hi"}),
        ("passage_pick", {}),
        ("passage_rank", {}),
        ("passage_edit_record", {"text": "Mine."}),
        ("comment_resolve", {}),
    ],
)
def test_every_feedback_action_is_refused_to_viewers_and_hidden_from_outsiders(
    client, team, alts, name, data
):
    comment = feedback.comment_add(passage=alts[0], user=team.users["owner"], body="Note")
    drafts.passage_accept(passage=alts[0], user=team.users["editor"], mode="append")
    extra = [comment.pk] if name == "comment_resolve" else []
    if name == "passage_rank":
        data = {f"place_{alts[0].pk}": 1, f"place_{alts[1].pk}": 2}
    before = snapshot()
    client.force_login(team.users["viewer"])
    assert client.post(url(name, team, alts[0], *extra), data, **HX).status_code == 403
    client.force_login(team.users["outsider"])
    assert client.post(url(name, team, alts[0], *extra), data, **HX).status_code == 404
    client.logout()
    assert client.post(url(name, team, alts[0], *extra), data).status_code == 302  # to log in
    assert snapshot() == before
    # And an editor may (so the refusals above are about the role, not the request).
    client.force_login(team.users["editor"])
    assert client.post(url(name, team, alts[0], *extra), data, **HX).status_code == 200
