"""The real app plus a few test probes, for servers started by fault tests.

``DaphneServer(app="tests.support.probe_app:application")``. Under ``/__probe__/`` (GET):

- ``groups/<name>``: the members of a group of the in-memory rooms layer (embedded mode);
- ``dropped``: how many messages that layer dropped for full queues;
- ``swallow-relays``: from now on this process commits updates but never publishes their
  relays (a server dying between the commit and the publish, made deterministic).

``COWRITE_PROBE_NO_REPAIR=1`` in the server's environment turns the co-editing repair
off, to show what a fault test catches without it.
"""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cowrite.settings")

from channels.layers import get_channel_layer  # noqa: E402

from cowrite import events  # noqa: E402
from cowrite.asgi import application as app  # noqa: E402
from scripts_app.consumers.repairs import SceneRepairs  # noqa: E402

_state = {"swallow": False}
_rooms = get_channel_layer(events.ROOMS_LAYER)
_group_send = _rooms.group_send


async def _swallowing_group_send(group, message):
    if _state["swallow"] and message.get("type") == "doc.relay" and message.get("update"):
        return
    await _group_send(group, message)


_rooms.group_send = _swallowing_group_send

if os.environ.get("COWRITE_PROBE_NO_REPAIR"):
    SceneRepairs.join = lambda self, consumer: None
    SceneRepairs.missed = lambda self, consumer: None


def _probe(path: str):
    if path.startswith("groups/"):
        return sorted(getattr(_rooms, "groups", {}).get(path.removeprefix("groups/"), {}))
    if path == "dropped":
        return getattr(_rooms, "dropped_total", None)
    if path == "swallow-relays":
        _state["swallow"] = True
        return True
    return None


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"].startswith("/__probe__/"):
        body = json.dumps(_probe(scope["path"].removeprefix("/__probe__/"))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    await app(scope, receive, send)
