"""The story room: one socket per open story page of a project (bible, characters,
plotlines, beat board). It only sends: when something of the story layer changes
(``events.StoryChanged``), the page gets one small out-of-band element naming the part,
and ``static/js/story.js`` makes the page re-fetch the fragments that show it (each
fragment's view checks access again). Nothing the client sends is read.

Role checks: on connect; at once when the project's access changes
(``events.AccessChanged``); otherwise before relaying, at most every
``ROOM_ROLE_RECHECK_SECONDS``. A removed member's socket is closed (4403).
"""

import html
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from cowrite import events, origin
from cowrite.events import AccessChanged, StoryChanged

from ..access import membership_for
from .base import ROOM_ROLE_RECHECK_SECONDS, LightDispatchMixin

PARTS = frozenset({"bible", "characters", "plotlines", "board", "beat", "script"})


def _role(user, project_id: int):
    membership = membership_for(user, project_id)
    return membership.role_enum if membership else None


class StoryRoomConsumer(LightDispatchMixin, AsyncWebsocketConsumer):
    channel_layer_alias = events.ROOMS_LAYER
    light_types = frozenset({AccessChanged.type, StoryChanged.type})

    async def connect(self):
        self.project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        self.joined = False
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user = user
        self.role = await database_sync_to_async(_role)(user, self.project_id)
        self.role_checked = time.monotonic()
        if self.role is None:
            await self.close(code=4404)
            return
        self.groups_joined = (
            events.story_room_group(self.project_id),
            events.project_access_group(self.project_id),
        )
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = True

    async def disconnect(self, code):
        if self.joined:
            for group in self.groups_joined:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        return  # a listening socket: nothing the client sends is read

    async def _allowed(self, force: bool = False) -> bool:
        if force or time.monotonic() - self.role_checked > ROOM_ROLE_RECHECK_SECONDS:
            self.role = await database_sync_to_async(_role)(self.user, self.project_id)
            self.role_checked = time.monotonic()
        if self.role is None:
            await self.close(code=4403)
            return False
        return True

    async def access_changed(self, event):
        if AccessChanged.from_message(event).user in (None, self.user.pk):
            await self._allowed(force=True)

    async def story_changed(self, event):
        change = StoryChanged.from_message(event)
        if change.part not in PARTS or not await self._allowed():
            return
        await self.send(
            text_data=(
                '<div id="story-signal" hx-swap-oob="true" hidden '
                f'data-part="{html.escape(change.part)}" data-item="{int(change.item)}" '
                f'data-origin="{html.escape(origin.for_user(change.origin, self.user.pk))}" '
                f'data-at="{time.monotonic_ns()}"></div>'
            )
        )
