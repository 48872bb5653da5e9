"""Baseline for bench_coedit: the same websocket path with a plain relay — no permission
re-check, no validation, no persistence — so the cost of those is visible side by side."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cowrite.settings")
django_app = get_asgi_application()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402
from pycrdt import Doc, Text, create_sync_message  # noqa: E402


class PlainRelay(AsyncWebsocketConsumer):
    async def connect(self):
        self.group = f"relay-{self.scope['url_route']['kwargs']['scene_id']}"
        await self.accept()
        await self.channel_layer.group_add(self.group, self.channel_name)
        doc = Doc()
        doc.get("text", type=Text)
        await self.send(bytes_data=create_sync_message(doc))

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data and bytes_data[0] == 0 and bytes_data[1] == 0:
            # Answer a sync step 1 with an empty step 2 (the baseline keeps no document).
            await self.send(bytes_data=b"\x00\x01\x02\x00\x00")
            return
        await self.channel_layer.group_send(
            self.group, {"type": "relay", "data": bytes_data, "sender": self.channel_name}
        )

    async def relay(self, event):
        if event["sender"] != self.channel_name:
            await self.send(bytes_data=event["data"])


application = ProtocolTypeRouter(
    {
        "http": django_app,
        "websocket": URLRouter(
            [path("ws/projects/<int:project_id>/scenes/<int:scene_id>/doc", PlainRelay.as_asgi())]
        ),
    }
)
