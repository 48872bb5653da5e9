"""The embedded mode's channel layer: Channels' in-memory layer, minus silent losses.

``InMemoryChannelLayer.group_send`` drops a message for every member whose queue is full
and tells nobody. A co-editing socket that misses a relay must resync (Yjs then holds the
sender's later updates as pending until the missing one arrives), so this layer remembers
which channels lost a message; ``SceneDocConsumer`` asks after each message it handles
(a queue that overflowed still holds ``capacity`` messages, so that is soon) and has its
client repaired from the database.
"""

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer


class DropTrackingInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dropped: dict[str, int] = {}
        self.dropped_total = 0

    async def send(self, channel, message):
        try:
            await super().send(channel, message)
        except ChannelFull:
            # group_send swallows this; a direct send raises it to the sender too.
            self.dropped[channel] = self.dropped.get(channel, 0) + 1
            self.dropped_total += 1
            raise

    def take_dropped(self, channel: str) -> int:
        """Return how many messages ``channel`` lost since the last call (and forget them)."""
        return self.dropped.pop(channel, 0)

    def _remove_from_groups(self, channel):
        # A message of this channel expired: Channels forgets the channel, so do we (sockets
        # that never ask, such as the scene rooms', would otherwise pile up here).
        super()._remove_from_groups(channel)
        self.dropped.pop(channel, None)

    async def flush(self):
        await super().flush()
        self.dropped = {}
