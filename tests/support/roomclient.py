"""A draft-room client (a scene's room or a project's story drafts room; what htmx's ws extension does in a page), for tests and benchmarks.

It sends the JSON a ``ws-send`` form sends and parses the HTML fragments it receives:
token deltas (``<span data-seq>`` appended to ``#passage-N-text``), snapshots and cards.
"""

import asyncio
import html
import json
import re
import time

import websockets

DELTA_RE = re.compile(
    r'<div hx-swap-oob="beforeend:#passage-(\d+)-text"><span data-seq="(\d+)" data-t="(\d+)">(.*?)</span></div>',
    re.S,
)
TEXT_RE = re.compile(
    r'<div id="passage-(\d+)-text" class="passage-text" data-seq="(\d+)"[^>]*>(.*?)</div>', re.S
)
CARD_RE = re.compile(r'<article id="passage-(\d+)" class="passage status-(\w+)"')
# A header swapped on its own (a draft started streaming): its state.
HEAD_RE = re.compile(
    r'<header id="passage-(\d+)-head" class="passage-head" hx-swap-oob="outerHTML">.*?'
    r'data-status="(\w+)"',
    re.S,
)
ERROR_RE = re.compile(r'<div class="msg msg-error" role="alert">(.*?)</div>', re.S)


class RoomClient:
    def __init__(
        self, base_ws_url: str, project_id: int, scene_id: int | None, session: str, origin: str
    ):
        # A scene's room, or (scene_id None) the project's story drafts room.
        if scene_id is None:
            self.url = f"{base_ws_url}/ws/projects/{project_id}/story/drafts"
        else:
            self.url = f"{base_ws_url}/ws/projects/{project_id}/scenes/{scene_id}/room"
        self.headers = {"Cookie": f"sessionid={session}", "Origin": origin}
        self.ws = None
        self.reader = None
        self.close_code = None
        self.deltas: dict[int, list[tuple[int, str]]] = {}  # passage -> [(seq, text)]
        self.snapshots: dict[int, tuple[int, str]] = {}
        self.cards: dict[int, str] = {}  # passage -> status of the last card seen
        self.card_texts: dict[int, str] = {}
        self.errors: list[str] = []
        self.frames = 0
        self.on_delta = None  # optional callback(passage, seq, text, received_at, sent_at)

    async def connect(self) -> None:
        self.ws = await websockets.connect(self.url, additional_headers=self.headers, max_size=None)
        self.reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)

    async def send(self, **data) -> None:
        await self.ws.send(json.dumps({k: str(v) for k, v in data.items()}))

    async def request_draft(self, **fields) -> None:
        await self.send(action="draft_request", **fields)

    async def _read(self) -> None:
        ws = self.ws
        try:
            async for frame in ws:
                received_at = time.time()
                self.frames += 1
                self._parse(frame, received_at)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code

    def _parse(self, frame: str, received_at: float) -> None:
        for pid, seq, sent, text in DELTA_RE.findall(frame):
            pid, seq, text = int(pid), int(seq), html.unescape(text)
            self.deltas.setdefault(pid, []).append((seq, text))
            if self.on_delta:
                self.on_delta(pid, seq, text, received_at, int(sent) / 1000)
        for pid, status in CARD_RE.findall(frame):
            self.cards[int(pid)] = status
        for pid, status in HEAD_RE.findall(frame):
            self.cards[int(pid)] = status
        for pid, seq, text in TEXT_RE.findall(frame):
            pid = int(pid)
            if (
                f'id="passage-{pid}-text" class="passage-text" data-seq="{seq}" hx-swap-oob'
                in frame
            ):
                self.snapshots[pid] = (int(seq), html.unescape(text))
            else:
                self.card_texts[pid] = html.unescape(text)
        self.errors += [html.unescape(e) for e in ERROR_RE.findall(frame)]

    def streamed_text(self, passage_id: int) -> str:
        """The passage's text as a page would show it: snapshot, then deltas in order."""
        seq, text = self.snapshots.get(passage_id, (0, ""))
        for s, t in sorted(set(self.deltas.get(passage_id, []))):
            if s == seq + 1:
                text, seq = text + t, s
        return text

    def gaps(self, passage_id: int) -> list[int]:
        seqs = sorted({s for s, _ in self.deltas.get(passage_id, [])})
        start = self.snapshots.get(passage_id, (0, ""))[0]
        expected = list(range(start + 1, (seqs[-1] if seqs else start) + 1))
        return [s for s in expected if s not in seqs]
