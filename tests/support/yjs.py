"""Real Yjs (Node, the project's ``yjs`` package) playing a browser against a scene's live
document: relative positions taken the way the drafts panel takes them, and typing sent
as the co-editing socket would log it. See ``tests/support/yjs_tool.mjs``."""

import base64
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts_app import documents

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tests" / "support" / "yjs_tool.mjs"


@dataclass
class Browser:
    positions: list[str]  # base64, as the browser sends them
    update: bytes  # its edits
    text: str


def run(state: bytes, steps: list[dict], client_id: int | None = None) -> Browser:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "yjs").exists():
        pytest.fail("These tests need Node and the project's node_modules (make setup-dev).")
    payload = {"state": base64.b64encode(state).decode(), "steps": steps}
    if client_id:
        payload["clientID"] = client_id
    done = subprocess.run(
        [node, str(TOOL)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        check=True,
    )
    out = json.loads(done.stdout)
    return Browser(out["positions"], base64.b64decode(out["update"]), out["text"])


def browser(scene_id: int, steps: list[dict], client_id: int | None = None) -> Browser:
    """A browser synced with the scene's live document now, taking ``steps``."""
    return run(documents.load_state(scene_id), steps, client_id)


def type_into(scene_id: int, steps: list[dict], user_id=None, client_id=None) -> str:
    """A writer's edits reaching the server (logged like the doc socket does); the text."""
    b = browser(scene_id, steps, client_id)
    if b.update:
        documents.append_update(scene_id=scene_id, data=b.update, user_id=user_id)
    return b.text
