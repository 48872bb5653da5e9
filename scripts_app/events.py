"""The one funnel for pushes to browsers.

Every push goes through a function here, is sent to a channel-layer group only after the
current database transaction commits (so nobody hears of a row that then rolls back), and
carries a typed payload that consumers handle with one method per type.
"""

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from pycrdt import create_update_message


def scene_doc_group(scene_id: int) -> str:
    """Name the group of every socket editing one scene's document."""
    return f"scene-{int(scene_id)}-doc"


def _event_id() -> str:
    """A fresh id for one room event: the sockets of one server process that receive the
    same event load what it names once, together (see ``consumers.SharedLoads``)."""
    return uuid.uuid4().hex


# The channel layer of live pages (see settings.CHANNEL_LAYERS): co-editing relays, draft
# streams, cards and access notices go through it (fan-out); the generation queue and the
# workers' control messages use "default" (stored, each queue message to one reader).
ROOMS_LAYER = "rooms"


def _send_after_commit(group: str, message: dict, alias: str = ROOMS_LAYER) -> None:
    def send():
        async_to_sync(get_channel_layer(alias).group_send)(group, message)

    transaction.on_commit(send)


def send_doc_update(scene_id: int, update: bytes) -> None:
    """Relay a server-made document update to every open editor of the scene."""
    _send_after_commit(
        scene_doc_group(scene_id),
        # "sender": None — no socket made it, so every socket receives it once.
        {
            "type": "doc.relay",
            "data": create_update_message(update),
            "sender": None,
            "update": True,
        },
    )


# --- access: who may see a project ---------------------------------------------------------


def project_access_group(project_id: int) -> str:
    """Name the group of every live page of one project (told when access changes)."""
    return f"project-{int(project_id)}-access"


def access_changed(project_id: int, user_id: int | None = None) -> None:
    """Tell a project's open pages that a member's role changed or they were removed
    (``user_id``), or that scenes or the project went away (``None``: everyone): those
    sockets check their access again at once instead of at their next periodic check."""
    _send_after_commit(
        project_access_group(project_id),
        {"type": "access.changed", "user": None if user_id is None else int(user_id)},
    )


# --- scene rooms: drafts ---------------------------------------------------------------------

GENERATION_QUEUE = "generation.requests"  # a named channel: each message reaches one worker
GENERATION_WORKERS = "generation-workers"  # a group: every worker (cancel, catch-up)


def scene_room_group(scene_id: int) -> str:
    """Name the group of every page open on one scene (draft events)."""
    return f"scene-{int(scene_id)}-room"


def draft_created(scene_id: int, group, html: dict) -> None:
    """Tell the scene's pages that a draft request (all its alternatives) was queued.

    ``html`` (``drafts.group_html``): the cards, rendered for editors and for others."""
    _send_after_commit(
        scene_room_group(scene_id),
        {"type": "draft.created", "group": str(group), "event": _event_id(), "html": html},
    )


def draft_status(scene_id: int, passage_id: int, head: dict) -> None:
    """Tell the scene's pages that a passage started streaming: they swap just the card's
    header, rendered from ``head`` (``drafts.head_of``)."""
    _send_after_commit(
        scene_room_group(scene_id),
        {"type": "draft.status", "passage": passage_id, "event": _event_id(), "head": head},
    )


def draft_final(scene_id: int, passage_id: int) -> None:
    """Tell the scene's pages that a passage ended (or was accepted): re-render its card."""
    _send_after_commit(
        scene_room_group(scene_id),
        {"type": "draft.final", "passage": passage_id, "event": _event_id()},
    )


def enqueue_generation(passage_ids: list[int]) -> None:
    """Ring the generation workers' doorbell for these passages (after commit)."""

    def send():
        layer = get_channel_layer()
        for pk in passage_ids:
            async_to_sync(layer.send)(GENERATION_QUEUE, {"type": "generate", "passage": pk})

    transaction.on_commit(send)


def cancel_generation(passage_id: int) -> None:
    """Ask every worker to stop a passage (the one running it does)."""
    _send_after_commit(
        GENERATION_WORKERS, {"type": "generation.cancel", "passage": passage_id}, alias="default"
    )


def feedback_changed(scene_id: int, passage_ids: list[int]) -> None:
    """Tell the scene's pages that feedback on these passages changed: re-render the cards."""
    _send_after_commit(
        scene_room_group(scene_id),
        {
            "type": "feedback.changed",
            "passages": [int(p) for p in passage_ids],
            "event": _event_id(),
        },
    )
