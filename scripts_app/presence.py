"""Presence (Yjs awareness) states as the server relays them: identity from the session.

A browser's awareness state is what its editor chose to send; others render it (a caret
with a name, a coloured selection, a line in the presence row). Nothing of it is trusted:
the server rebuilds every state from what it knows and what the editor legitimately
needs, and drops the rest.

- ``user``: ``id``, ``name``, ``role`` and ``canEdit`` come from the session and the
  membership, never from the client; ``color`` is kept only if it is a strict ``#rrggbb``
  (otherwise the user's palette colour), and ``colorLight`` is always ``color + "33"``.
- ``cursor``: ``null`` or ``{anchor, head}``, each a Yjs relative position as JSON
  (``type``/``item``: ``{client, clock}`` or null, ``tname``: a short string or null,
  ``assoc``: an integer); anything else is dropped.
- every other field is dropped.
"""

import json
import re

# The editor's palette (static/src/editor/colors.js): a user's colour by numeric id.
PALETTE = (
    "#1f6fb2",
    "#b3261e",
    "#2e7d32",
    "#7b3fb3",
    "#a84a00",
    "#00796b",
    "#c2185b",
    "#3949ab",
    "#6d4c41",
    "#0277bd",
    "#8e24aa",
    "#5d6d1e",
)
COLOR_RE = re.compile(r"#[0-9a-fA-F]{6}")
MAX_NAME_CHARS = 80
MAX_TNAME_CHARS = 100
MAX_SAFE_INTEGER = 2**53 - 1


def palette_color(user_id: int) -> str:
    return PALETTE[int(user_id) % len(PALETTE)]


def _uint(value) -> int | None:
    if type(value) is int and 0 <= value <= MAX_SAFE_INTEGER:
        return value
    return None


def _id(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    client, clock = _uint(value.get("client")), _uint(value.get("clock"))
    if client is None or clock is None:
        return None
    return {"client": client, "clock": clock}


def _relative_position(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    tname = value.get("tname")
    if not (tname is None or (isinstance(tname, str) and len(tname) <= MAX_TNAME_CHARS)):
        return None
    assoc = value.get("assoc", 0)
    if type(assoc) is not int or not -MAX_SAFE_INTEGER <= assoc <= MAX_SAFE_INTEGER:
        return None
    out = {"type": None, "tname": tname, "item": None, "assoc": assoc}
    for key in ("type", "item"):
        if value.get(key) is not None:
            out[key] = _id(value[key])
            if out[key] is None:
                return None
    if out["type"] is None and out["tname"] is None and out["item"] is None:
        return None
    return out


def _cursor(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    anchor, head = _relative_position(value.get("anchor")), _relative_position(value.get("head"))
    if anchor is None or head is None:
        return None
    return {"anchor": anchor, "head": head}


def clean_state(state_json: str, *, user_id: int, name: str, role: str, can_edit: bool) -> str:
    """Return the JSON of the state others may see for this client (``"null"``: gone).

    Raises ValueError if the text is not JSON (or nested beyond the parser's limit).
    """
    try:
        state = json.loads(state_json)
    except RecursionError as exc:
        raise ValueError("awareness state nested too deep") from exc
    if state is None:
        return "null"
    if not isinstance(state, dict):
        raise ValueError("awareness state is not an object")
    sent = state.get("user") if isinstance(state.get("user"), dict) else {}
    color = sent.get("color")
    if not (isinstance(color, str) and COLOR_RE.fullmatch(color)):
        color = palette_color(user_id)
    clean = {
        "user": {
            "id": str(user_id),
            "name": name[:MAX_NAME_CHARS],
            "role": role,
            "canEdit": bool(can_edit),
            "color": color.lower(),
            "colorLight": color.lower() + "33",
        },
        "cursor": _cursor(state.get("cursor")),
    }
    return json.dumps(clean, ensure_ascii=False, separators=(",", ":"))
