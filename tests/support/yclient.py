"""A Yjs client in Python (pycrdt + websockets) speaking y-websocket's protocol.

Used by the co-editing tests and benchmark as a stand-in for a browser: it syncs on
connect (answering the server's step 1 with what it has, so offline edits merge), sends
each local edit as an update, and applies what it receives.
"""

import asyncio
import contextlib
import time

import websockets
from pycrdt import (
    Doc,
    Text,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    read_message,
    write_message,
)


def utf8_offset(text: str, index: int) -> int:
    """pycrdt's Text counts UTF-8 bytes: convert a character index."""
    return len(text[:index].encode("utf-8"))


class YClient:
    def __init__(
        self, base_ws_url: str, project_id: int, scene_id: int, session_cookie: str, origin: str
    ):
        self.url = f"{base_ws_url}/ws/projects/{project_id}/scenes/{scene_id}/doc"
        self.headers = {"Cookie": f"sessionid={session_cookie}", "Origin": origin}
        self.doc = Doc()
        self.text = self.doc.get("text", type=Text)
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.synced = asyncio.Event()
        self.close_code: int | None = None
        self.received_updates = 0
        self.on_frame = None  # optional callback(frame: bytes, received_at: float)

    @property
    def connected(self) -> bool:
        return self.ws is not None

    async def connect(self, url: str | None = None) -> None:
        if url:
            self.url = url
        self.synced = asyncio.Event()
        self.close_code = None
        self.ws = await websockets.connect(self.url, additional_headers=self.headers, max_size=None)
        self.reader = asyncio.create_task(self._read())
        # Our step 1; a socket refused at once raises here, and close_code says why.
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(create_sync_message(self.doc))

    async def disconnect(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            await ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)
            self.reader = None

    async def _read(self) -> None:
        ws = self.ws
        try:
            async for frame in ws:
                received_at = time.perf_counter()
                if isinstance(frame, str):
                    continue
                if self.on_frame:
                    self.on_frame(frame, received_at)
                await self._handle(ws, frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code
            if self.ws is ws:
                self.ws = None

    async def _handle(self, ws, frame: bytes) -> None:
        if frame[0] != YMessageType.SYNC:
            return
        sync_type, payload = frame[1], read_message(frame[2:])
        if sync_type == YSyncMessageType.SYNC_STEP1:
            reply = self.doc.get_update(payload)
            await ws.send(
                bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP2]) + write_message(reply)
            )
        else:
            self.doc.apply_update(payload)
            self.received_updates += 1
            if sync_type == YSyncMessageType.SYNC_STEP2:
                self.synced.set()

    async def _edit(self, fn) -> bytes:
        before = self.doc.get_state()
        with self.doc.transaction():
            fn()
        update = self.doc.get_update(before)
        if self.ws is not None:
            # If the socket just closed, the edit stays local and merges on the next sync.
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.ws.send(
                    bytes([YMessageType.SYNC, YSyncMessageType.SYNC_UPDATE]) + write_message(update)
                )
        return update

    async def insert(self, index: int, s: str) -> None:
        current = str(self.text)
        index = max(0, min(index, len(current)))
        await self._edit(lambda: self.text.insert(utf8_offset(current, index), s))

    async def delete(self, index: int, length: int) -> str:
        """Delete ``length`` characters at ``index``; return what was deleted."""
        current = str(self.text)
        index = max(0, min(index, len(current)))
        gone = current[index : index + length]
        if gone:
            start, end = utf8_offset(current, index), utf8_offset(current, index + len(gone))
            await self._edit(lambda: self.text.__delitem__(slice(start, end)))
        return gone

    def value(self) -> str:
        return str(self.text)


def team_client(srv, team, who: str, scene=None) -> YClient:
    """A client for ``team.users[who]`` on ``scene`` (default: the team's first scene)."""
    from tests.support.servers import session_for

    scene = scene or team.scenes[0]
    return YClient(
        srv.ws_url, team.project.pk, scene.pk, session_for(team.users[who]), srv.http_url
    )
