"""The draft room sockets: draft requests in, draft events out (htmx ws extension).

``SceneRoomConsumer``: one socket per page open on a scene (its drafts, history and
notes). ``StoryDraftsConsumer``: one per story page of a project (the story page, the
board), for the model's story proposals (``drafts/story.py``). Both are a
``DraftRoomConsumer``: the same cards, token stream and checks, for a different room.

One socket per page. JSON frames come in (``action``: draft_request,
draft_cancel, catchup); HTML fragments go out, swapped out of band by htmx. The token
stream (``draft.delta``) is formatted straight from the event, so it never waits on the
database; card updates go through a per-socket queue, load once per process
(``SharedLoads``) and render once per kind of viewer (``_Rendered``).
"""

import asyncio
import logging
import time
from html import escape

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.urls import reverse

from cowrite import events, strictjson
from cowrite.events import (
    AccessChanged,
    DraftCreated,
    DraftDelta,
    DraftFinal,
    DraftSnapshot,
    DraftStatus,
    FeedbackChanged,
    GenerationCatchup,
    HistoryChanged,
    NotesChanged,
    apublish,
)
from scripts_app.access import membership_for, scene_role
from scripts_app.consumers.base import (
    ROOM_ROLE_RECHECK_SECONDS,
    LightDispatchMixin,
    SharedLoads,
)
from scripts_app.models import Project, Role, Scene

from . import drafts as drafts_service
from . import feedback
from .drafts import story as story_drafts
from .models import Passage

log = logging.getLogger(__name__)


class DraftRoomConsumer(LightDispatchMixin, AsyncWebsocketConsumer):
    """One page open on one room: draft events out; draft requests and cancels in.

    Incoming frames are the JSON that htmx's ws extension sends for ``ws-send`` forms
    (an ``action`` field picks the handler). Outgoing frames are HTML fragments that htmx
    swaps out of band. Role checks: on connect, on every incoming message, at once when
    the project's access changes (``events.AccessChanged``: a member removed or demoted,
    a scene or the project deleted), and otherwise on outgoing events at most every
    ROOM_ROLE_RECHECK_SECONDS (so the token stream does not wait on the database).
    """

    MAX_MESSAGE_BYTES = 64 * 1024
    channel_layer_alias = events.ROOMS_LAYER
    light_types = frozenset(
        e.type
        for e in (
            AccessChanged,
            DraftCreated,
            DraftStatus,
            DraftFinal,
            DraftDelta,
            DraftSnapshot,
            FeedbackChanged,
            HistoryChanged,
            NotesChanged,
        )
    )

    NOT_HERE = "No such draft here."
    # What a room is: set by ``_route`` from the URL.
    project_id: int
    scene_id: int | None = None
    group: str

    def _route(self, kwargs) -> None:
        raise NotImplementedError

    def _role_now(self) -> Role | None:
        """The user's role here (sync; None: not a member, or the room is gone)."""
        raise NotImplementedError

    async def connect(self):
        self._route(self.scope["url_route"]["kwargs"])
        self.joined = False
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user = user
        self.role = await database_sync_to_async(self._role_now)()
        self.role_checked = time.monotonic()
        if self.role is None:
            await self.close(code=4404)
            return
        self.access_group = events.project_access_group(self.project_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(self.access_group, self.channel_name)
        self.joined = True
        # Card updates of existing passages go through their own queue (in order), so
        # the token stream never waits for a card's database load or rendering.
        self.card_jobs: asyncio.Queue = asyncio.Queue()
        self.card_task = asyncio.create_task(self._card_loop())
        await self._request_catch_up()

    async def disconnect(self, code):
        if self.joined:
            self.card_task.cancel()
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(self.access_group, self.channel_name)

    async def _card_loop(self) -> None:
        while True:
            passage_id, event_id = await self.card_jobs.get()
            try:
                await self._send_card(passage_id, event_id)
            except Exception:  # one card failing must not stop the others
                log.exception("Could not send the card of passage %s", passage_id)

    async def access_changed(self, event):
        if AccessChanged.from_message(event).user in (None, self.user.pk):
            await self._recheck_role(force=True)

    async def _request_catch_up(self) -> None:
        # Streams in flight send their text so far to this socket (late joiner, reconnect):
        # the request goes to the workers over the default layer, the answer comes back to
        # this socket's channel on the rooms layer.
        await apublish(GenerationCatchup(self.group, self.channel_name))

    @property
    def _can_edit(self) -> bool:
        return self.role.at_least(Role.EDITOR)

    async def _recheck_role(self, force: bool = False) -> Role | None:
        if force or time.monotonic() - self.role_checked > ROOM_ROLE_RECHECK_SECONDS:
            self.role = await database_sync_to_async(self._role_now)()
            self.role_checked = time.monotonic()
            if self.role is None:
                await self.close(code=4403)
        return self.role

    # ------------------------------------------------------------------ incoming
    async def receive(self, text_data=None, bytes_data=None):
        if not self.joined:
            return
        if text_data is None or len(text_data) > self.MAX_MESSAGE_BYTES:
            await self._error("That message was too large or not text.")
            return
        try:
            # Strict: no Infinity/NaN, bounded nesting (json.loads would recurse).
            data = strictjson.loads(text_data)
            if not isinstance(data, dict):
                raise strictjson.InvalidJSON
        except strictjson.InvalidJSON:
            await self._error("That message was not understood.")
            return
        except ValueError as exc:
            await self._error(f"That message was not understood: {exc}")
            return
        action = data.get("action")
        if action == "catchup":
            await self._request_catch_up()
            return
        if action not in ("draft_request", "draft_cancel"):
            await self._error("That action is not known.")
            return
        role = await self._recheck_role(force=True)
        if role is None:
            return
        if not role.at_least(Role.EDITOR):
            await self._error("Only editors and owners can ask for or cancel drafts.")
            return
        try:
            if action == "draft_request":
                await database_sync_to_async(self._draft_request)(data)
            else:
                await database_sync_to_async(self._draft_cancel)(data.get("passage"))
        except ValidationError as exc:
            await self._error(" ".join(exc.messages))
        except Exception:  # a bad request must not take the page's socket down
            log.exception("Scene room request failed: %r", action)
            await self._error("That request could not be handled; try again.")

    def _draft_request(self, data: dict) -> None:
        raise NotImplementedError

    def _draft_cancel(self, passage_id) -> None:
        try:
            if isinstance(passage_id, bool) or not isinstance(passage_id, int | str):
                raise ValueError
            pk = int(passage_id)
            if not 0 < pk < 2**63:
                raise ValueError
            passage = Passage.objects.select_related("scene").get(
                pk=pk, project_id=self.project_id, scene_id=self.scene_id, blind=False
            )
        except (Passage.DoesNotExist, TypeError, ValueError, OverflowError):
            raise ValidationError(self.NOT_HERE) from None
        # Only its requester or a project owner (refused otherwise; the draft goes on).
        drafts_service.draft_cancel(passage=passage, user=self.user)

    async def _error(self, message: str) -> None:
        await self.send(
            text_data=render_to_string("generation/drafts/draft_error.html", {"message": message})
        )

    # ------------------------------------------------------------------ outgoing
    # Every page on the scene hears each event, and nothing here may hold up the token
    # stream: deltas and snapshots are formatted from the event; a stream start swaps the
    # card's header from the event; a new request's cards come rendered in the event;
    # other card updates go through this socket's card queue, load once per server
    # process (SharedLoads) and render once per kind of viewer (_Rendered).
    async def draft_created(self, event):
        created = DraftCreated.from_message(event)
        if await self._recheck_role() is None:
            return
        await self.send(text_data=created.html["editor" if self._can_edit else "other"])

    async def draft_status(self, event):
        status = DraftStatus.from_message(event)
        if await self._recheck_role() is None:
            return
        await self.send(text_data=_head_html(status.passage, status.head))

    async def draft_final(self, event):
        # Safe to send after later deltas of other passages: a passage's own deltas all
        # come before its final event, and nothing streams into it afterwards.
        final = DraftFinal.from_message(event)
        self.card_jobs.put_nowait((final.passage, final.event))

    async def feedback_changed(self, event):
        changed = FeedbackChanged.from_message(event)
        for passage_id in changed.passages:
            self.card_jobs.put_nowait((passage_id, changed.event))

    async def _send_card(self, passage_id: int, event_id: str | None) -> None:
        if await self._recheck_role() is None:
            return
        loaded = await SharedLoads.get(
            ("card", self.group, passage_id, event_id),
            lambda: _load_card(self.project_id, self.scene_id, passage_id),
        )
        if loaded is not None:
            await self.send(text_data=loaded.render(self._can_edit, self.user))

    async def draft_delta(self, event):
        delta = DraftDelta.from_message(event)
        if await self._recheck_role() is None:
            return
        # Escaped once here; the same text goes to everyone, so no template per token.
        # data-t: when the worker sent it (ms since the epoch), for latency measurements.
        sent = int(delta.sent_at * 1000)
        await self.send(
            text_data="".join(
                f'<div hx-swap-oob="beforeend:#passage-{i.passage}-text">'
                f'<span data-seq="{i.seq}" data-t="{sent}">{escape(i.text)}</span></div>'
                for i in delta.items
            )
        )

    async def draft_snapshot(self, event):
        snapshot = DraftSnapshot.from_message(event)
        if await self._recheck_role() is None:
            return
        await self.send(
            text_data=render_to_string(
                "generation/drafts/passage_text.html",
                {
                    "passage_id": snapshot.passage,
                    "seq": snapshot.seq,
                    "text": snapshot.text,
                    "oob": True,
                },
            )
        )


class SceneRoomConsumer(DraftRoomConsumer):
    """A page open on one scene: its drafts; its history and notes lists (re-fetched)."""

    NOT_HERE = "No such draft in this scene."

    def _route(self, kwargs) -> None:
        self.project_id, self.scene_id = int(kwargs["project_id"]), int(kwargs["scene_id"])
        self.group = events.scene_room_group(self.scene_id)

    def _role_now(self) -> Role | None:
        return scene_role(self.user.pk, self.project_id, self.scene_id)

    def _draft_request(self, data: dict) -> None:
        scene = Scene.objects.defer("doc_state").get(pk=self.scene_id)
        cast = scene.cast.values_list("name", flat=True)
        drafts_service.draft_request(
            scene=scene, user=self.user, spec=drafts_service.draft_spec_from(data, cast=cast)
        )

    async def history_changed(self, event):
        # The page fetches its history itself (the revision list view checks access
        # again): one small GET per page per revision, nothing loaded here.
        HistoryChanged.from_message(event)
        if await self._recheck_role() is None:
            return
        url = reverse("revision_list", args=[self.project_id, self.scene_id])
        await self.send(
            text_data=f'<div id="history-refresh" hx-swap-oob="true" hidden hx-get="{url}" '
            'hx-trigger="load" hx-target="#revisions" hx-swap="outerHTML"></div>'
        )

    async def notes_changed(self, event):
        # As history_changed: the page fetches its notes list itself (access checked again).
        NotesChanged.from_message(event)
        if await self._recheck_role() is None:
            return
        url = reverse("scene_notes", args=[self.project_id, self.scene_id])
        await self.send(
            text_data=f'<div id="notes-refresh" hx-swap-oob="true" hidden hx-get="{url}" '
            'hx-trigger="load" hx-target="#notes-list" hx-swap="outerHTML"></div>'
        )


class StoryDraftsConsumer(DraftRoomConsumer):
    """A story page of a project (the story page, the board): the model's story
    proposals — loglines, characters, beats, briefs (``drafts/story.py``)."""

    def _route(self, kwargs) -> None:
        self.project_id, self.scene_id = int(kwargs["project_id"]), None
        self.group = events.story_drafts_group(self.project_id)

    def _role_now(self) -> Role | None:
        membership = membership_for(self.user, self.project_id)
        return membership.role_enum if membership is not None else None

    def _draft_request(self, data: dict) -> None:
        project = Project.objects.get(pk=self.project_id)
        story_drafts.story_request(project=project, user=self.user, data=data)


class _Rendered:
    """Passages loaded for one event, rendered at most once per kind of viewer.

    A finished card's feedback part is the viewer's own (their stars, tags, pick, which
    comments they may resolve), so it is rendered per *viewer state*: viewers whose
    state is the same (e.g. every editor who has not rated yet) share one rendering.
    ``_viewer_key`` lists everything of the viewer that the feedback templates read.
    """

    def __init__(self, template: str, context: dict, per_user: bool):
        self.template, self.context, self.per_user = template, context, per_user
        self.html: dict[tuple, str] = {}

    def render(self, can_edit: bool, user) -> str:
        key = (can_edit, self._viewer_key(user) if self.per_user else None)
        html = self.html.get(key)
        if html is None:
            html = render_to_string(
                self.template, {**self.context, "can_edit": can_edit, "user": user, "oob": True}
            )
            self.html[key] = html
        return html

    def _viewer_key(self, user) -> tuple:
        fb = getattr(self.context.get("passage"), "feedback", None)
        if fb is None:
            return ("user", user.pk)  # unknown shape: do not share
        me = next((m for m in fb.members if m.user_id == user.pk), None)
        if me is None:
            return ("not a member",)
        authors = {c.user_id for th in fb.threads for c in (th.comment, *th.replies)}
        return (
            me.role,
            me.score,
            tuple(me.tag_ids),
            me.picked,
            user.pk if user.pk in authors else None,
        )


def _head_html(passage_id: int, head: dict) -> str:
    """A card's header from event data (no database): see ``drafts.head_of``."""
    passage = Passage(
        pk=passage_id,
        status=str(head.get("status", "")),
        alternative=int(head.get("alternative", 0)),
        alternatives=int(head.get("alternatives", 1)),
        sampling=dict(head.get("sampling") or {}),
        prompt={"dropped": [str(d) for d in head.get("dropped") or []]},
    )
    passage.model_record = {"name": str(head.get("model") or "")}
    return render_to_string(
        "generation/drafts/passage_head.html", {"passage": passage, "oob": True}
    )


def _load_card(project_id: int, scene_id: int | None, passage_id: int) -> _Rendered | None:
    passage = drafts_service.card_passage(project_id, scene_id, passage_id)
    if passage is None:
        return None
    drafts_service.with_queue_positions([passage])
    feedback.feedback_summary([passage])  # the viewer's own controls: rendered per user
    per_user = passage.status == "done"
    return _Rendered("generation/drafts/passage.html", {"passage": passage}, per_user=per_user)
