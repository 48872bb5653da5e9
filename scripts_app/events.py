"""The one funnel for pushes to browsers.

Every push goes through a function here, is sent to a channel-layer group only after the
current database transaction commits (so nobody hears of a row that then rolls back), and
carries a typed payload that consumers handle with one method per type.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from pycrdt import create_update_message


def scene_doc_group(scene_id: int) -> str:
    """Name the group of every socket editing one scene's document."""
    return f"scene-{int(scene_id)}-doc"


def _send_after_commit(group: str, message: dict) -> None:
    def send():
        async_to_sync(get_channel_layer().group_send)(group, message)

    transaction.on_commit(send)


def send_doc_update(scene_id: int, update: bytes) -> None:
    """Relay a server-made document update to every open editor of the scene."""
    _send_after_commit(
        scene_doc_group(scene_id),
        # "sender": None — no socket made it, so every socket receives it once.
        {"type": "doc.relay", "data": create_update_message(update), "sender": None, "update": True},
    )
