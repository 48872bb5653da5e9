"""The channel-layer events (``cowrite.events``): pure unit tests, no server, no database.

For each message type: it survives the wire (``from_message(to_message(e)) == e``), its
``type`` names a handler of the code that receives it, ``from_message`` refuses mistyped
fields, and it goes where it should (group or channel, on which layer).
"""

from dataclasses import dataclass, field

import pytest
from asgiref.sync import async_to_sync
from channels.consumer import get_handler_name

from cowrite import events
from cowrite.events import (
    DEFAULT_LAYER,
    GENERATION_QUEUE,
    GENERATION_WORKERS,
    ROOMS_LAYER,
    AccessChanged,
    ApiDelta,
    ApiDone,
    ApiStarted,
    AwarenessQuery,
    CancelJob,
    DeltaItem,
    DocRelay,
    DraftCreated,
    DraftDelta,
    DraftFinal,
    DraftSnapshot,
    DraftStatus,
    EventError,
    FeedbackChanged,
    Generate,
    GenerateApi,
    GenerationCatchup,
    Route,
)


def _room():
    from generation.consumers import SceneRoomConsumer

    return SceneRoomConsumer


def _doc():
    from scripts_app.consumers.doc import SceneDocConsumer

    return SceneDocConsumer


def _consumer_handles(consumer):
    """A consumer has the handler for this type, and dispatches it lightly (no database
    housekeeping first: see ``LightDispatchMixin``) where that is asked for."""

    def check(event, light=True):
        cls = consumer()
        handler = get_handler_name({"type": event.type})
        assert callable(getattr(cls, handler, None)), f"{cls.__name__} has no {handler}()"
        assert (event.type in cls.light_types) is light

    return check


def _worker_queue(event):
    from generation.worker import GenerationWorker

    assert GenerationWorker.QUEUE_EVENTS[event.type] is type(event)


def _worker_control(event):
    from generation.worker import GenerationWorker

    assert GenerationWorker.CONTROL_EVENTS[event.type] is type(event)


def _api_view(event):
    from generation import api

    assert api._REPLIES[event.type] is type(event)


@dataclass
class Case:
    event: events.Event
    type: str
    receivers: list  # checks that the receiving code handles this type
    route: Route
    bad: list[dict] = field(default_factory=list)  # fields that from_message refuses


FRAME = b"\x00\x02\x05hello"
CASES = [
    Case(
        DocRelay(7, FRAME, "specific.a!b", update=True),
        "doc.relay",
        [_consumer_handles(_doc)],
        Route(ROOMS_LAYER, group="scene-7-doc"),
        [{"data": "text"}, {"update": 1}, {"scene": "7"}, {"sender": 5}, {"to": b"x"}],
    ),
    Case(
        AwarenessQuery(7, "specific.a!c"),
        "awareness.query",
        [_consumer_handles(_doc)],
        Route(ROOMS_LAYER, group="scene-7-doc"),
        [{"reply_to": None}, {"scene": 7.5}],
    ),
    Case(
        AccessChanged(3, 12),
        "access.changed",
        [
            lambda e: _consumer_handles(_doc)(e, light=False),
            _consumer_handles(_room),
        ],
        Route(ROOMS_LAYER, group="project-3-access"),
        [{"user": "12"}, {"user": True}, {"project": None}],
    ),
    Case(
        DraftCreated(
            "scene-7-room", "0f" * 16, {"editor": "<div>e</div>", "other": "<div>o</div>"}
        ),
        "draft.created",
        [_consumer_handles(_room)],
        Route(ROOMS_LAYER, group="scene-7-room"),
        [
            {"html": {"editor": "x"}},
            {"html": {"editor": 1, "other": "y"}},
            {"group": 5},
            {"room": 7},
            {"room": "scene-7"},
        ],
    ),
    Case(
        DraftStatus("scene-7-room", 41, {"status": "streaming", "alternative": 0, "model": "v1"}),
        "draft.status",
        [_consumer_handles(_room)],
        Route(ROOMS_LAYER, group="scene-7-room"),
        [{"head": ["streaming"]}, {"passage": "41"}, {"event": 5}],
    ),
    Case(
        DraftFinal("scene-7-room", 41),
        "draft.final",
        [_consumer_handles(_room)],
        Route(ROOMS_LAYER, group="scene-7-room"),
        [{"passage": None}, {"passage": 4.1}, {"room": "project-3-access"}],
    ),
    Case(
        FeedbackChanged("scene-7-room", (41, 42)),
        "feedback.changed",
        [_consumer_handles(_room)],
        Route(ROOMS_LAYER, group="scene-7-room"),
        [{"passages": 41}, {"passages": [41, "42"]}, {"passages": [True]}],
    ),
    Case(
        DraftDelta("scene-7-room", (DeltaItem(41, 3, "It holds."), DeltaItem(42, 1, "<b>")), 1.7e9),
        "draft.delta",
        [_consumer_handles(_room)],
        Route(ROOMS_LAYER, group="scene-7-room"),
        [
            {"items": [{"passage": 41, "seq": "3", "text": "x"}]},
            {"items": [{"passage": 41, "seq": 3}]},
            {"items": ["x"]},
            {"items": {"passage": 41}},
            {"sent_at": "now"},
            {"sent_at": float("nan")},
            {"room": 7},
            {"room": "scene-7-room x"},
        ],
    ),
    Case(
        DraftSnapshot("specific.a!d", 41, 3, "It holds."),
        "draft.snapshot",
        [_consumer_handles(_room)],
        Route(ROOMS_LAYER, channel="specific.a!d"),
        [{"seq": "3"}, {"text": None}, {"to": 1}],
    ),
    Case(
        Generate(41),
        "generate",
        [_worker_queue],
        Route(DEFAULT_LAYER, channel=GENERATION_QUEUE),
        [{"passage": "41"}, {"passage": False}],
    ),
    Case(
        GenerateApi(
            "ab12",
            "api-completion!x",
            1.7e9,
            {"heading": "INT. KITCHEN - NIGHT", "text_prefix": "MARA\nIt holds."},
            {"max_new_tokens": 16, "temperature": 1.0, "stop": [], "seed": None},
        ),
        "generate_api",
        [_worker_queue],
        Route(DEFAULT_LAYER, channel=GENERATION_QUEUE),
        [{"deadline": "soon"}, {"sampling": [1]}, {"request": 12}, {"prompt": None}],
    ),
    Case(
        CancelJob(("api", "ab12")),
        "generation.cancel",
        [_worker_control],
        Route(DEFAULT_LAYER, group=GENERATION_WORKERS),
        [
            {"job": ["passage", "41"]},  # a passage is named by its integer id
            {"job": ["api", 12]},  # an API request by its string id
            {"job": ["draft", 41]},
            {"job": ["passage"]},
            {"job": "passage-41"},
        ],
    ),
    Case(
        GenerationCatchup("scene-7-room", "specific.a!e"),
        "generation.catchup",
        [_worker_control],
        Route(DEFAULT_LAYER, group=GENERATION_WORKERS),
        [{"room": 7}, {"room": "project-1-story"}, {"reply_to": ["x"]}],
    ),
    Case(
        ApiStarted("api-completion!x"),
        "api.started",
        [_api_view],
        Route(DEFAULT_LAYER, channel="api-completion!x"),
        [{"to": None}],
    ),
    Case(
        ApiDelta("api-completion!x", "word "),
        "api.delta",
        [_api_view],
        Route(DEFAULT_LAYER, channel="api-completion!x"),
        [{"text": b"word"}, {"text": None}],
    ),
    Case(
        ApiDone(
            "api-completion!x",
            "length",
            "",
            {"prompt_tokens": 1, "completion_tokens": 16, "total_tokens": 17},
        ),
        "api.done",
        [_api_view],
        Route(DEFAULT_LAYER, channel="api-completion!x"),
        [{"usage": {"prompt_tokens": "1"}}, {"finish_reason": None}, {"error": False}],
    ),
]
IDS = [c.type for c in CASES]
# Keys a message may lack (decoded as None): a room event's id, and these.
OPTIONAL = {"doc.relay": {"to"}, "access.changed": {"user"}}


def test_every_event_type_is_covered_once():
    assert sorted(IDS) == sorted(events.EVENTS) and len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_round_trip(case):
    message = case.event.to_message()
    assert message["type"] == case.type == type(case.event).type
    assert type(case.event).from_message(message) == case.event
    # What a layer that serializes does to it (channels_redis: msgpack; tuples -> lists).
    msgpack = pytest.importorskip("msgpack")
    over_redis = msgpack.unpackb(msgpack.packb(message), raw=False)
    assert type(case.event).from_message(over_redis) == case.event


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_type_names_the_receivers_handler(case):
    for check in case.receivers:
        check(case.event)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_fields_are_refused(case):
    cls = type(case.event)
    message = case.event.to_message()
    assert case.bad, "each type lists fields it refuses"
    for change in case.bad:
        with pytest.raises(EventError):
            cls.from_message({**message, **change})
    optional = {"event"} | OPTIONAL.get(case.type, set())
    required = [k for k in message if k != "type" and k not in optional]
    assert required
    for key in required:
        with pytest.raises(EventError):
            cls.from_message({k: v for k, v in message.items() if k != key})
    with pytest.raises(EventError):
        cls.from_message(["not", "a", "dict"])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_route(case):
    assert case.event.route == case.route
    assert case.route.layer == type(case.event).layer
    assert (case.route.group is None) != (case.route.channel is None)


# --- details of single types ---------------------------------------------------------------


def test_wire_keys_are_the_ones_receivers_read():
    """The keys of each message (the receivers' code and older messages rely on them)."""
    keys = {c.type: set(c.event.to_message()) - {"type"} for c in CASES}
    assert keys["doc.relay"] == {"scene", "data", "sender", "update", "to"}
    assert keys["draft.delta"] == {"room", "items", "sent_at"}
    assert set(
        DraftDelta("scene-1-room", (DeltaItem(2, 3, "x"),), 0.0).to_message()["items"][0]
    ) == {
        "passage",
        "seq",
        "text",
    }
    assert keys["generate_api"] == {"request", "reply_to", "deadline", "prompt", "sampling"}
    assert keys["api.done"] == {"to", "finish_reason", "error", "usage"}
    assert keys["draft.created"] == {"room", "group", "html", "event"}


def test_room_events_get_a_fresh_id_and_one_without_an_id_decodes_to_none():
    """Sockets of a process share one load per event id; an event without one is not shared."""
    a, b = DraftFinal("scene-7-room", 41), DraftFinal("scene-7-room", 41)
    assert a.event and b.event and a.event != b.event
    message = FeedbackChanged("scene-7-room", (41,)).to_message()
    del message["event"]
    assert FeedbackChanged.from_message(message).event is None


def test_doc_relay_to_one_socket_and_server_updates():
    answer = DocRelay(7, FRAME, "specific.a!b", update=False, to="specific.a!z")
    assert answer.route == Route(ROOMS_LAYER, channel="specific.a!z")
    made = DocRelay.server_update(7, b"\x00\x00")
    assert made.sender is None and made.update and made.route.group == "scene-7-doc"
    assert made.data[:2] == bytes([0, 2])  # y-protocols: sync, update


def test_cancel_job_keys_cover_both_kinds():
    assert CancelJob(("passage", 41)).to_message()["job"] == ("passage", 41)
    assert CancelJob.from_message({"type": "generation.cancel", "job": ["passage", 41]}) == (
        CancelJob(("passage", 41))
    )
    with pytest.raises(EventError):
        CancelJob(("passage", "41"))


def test_events_are_frozen():
    with pytest.raises(AttributeError):
        DraftFinal("scene-7-room", 41).passage = 42


class _Layer:
    def __init__(self):
        self.sent = []

    async def group_send(self, group, message):
        self.sent.append(("group", group, message))

    async def send(self, channel, message):
        self.sent.append(("channel", channel, message))


def test_publishing_goes_to_the_route_on_its_layer(monkeypatch):
    layers = {ROOMS_LAYER: _Layer(), DEFAULT_LAYER: _Layer()}
    monkeypatch.setattr(events, "get_channel_layer", layers.__getitem__)
    async_to_sync(events.apublish)(DraftFinal("scene-7-room", 41, event="e"))
    async_to_sync(events.apublish)(ApiDelta("api-completion!x", "w"))
    assert layers[ROOMS_LAYER].sent == [
        (
            "group",
            "scene-7-room",
            {"type": "draft.final", "room": "scene-7-room", "passage": 41, "event": "e"},
        )
    ]
    assert layers[DEFAULT_LAYER].sent == [
        (
            "channel",
            "api-completion!x",
            {"type": "api.delta", "to": "api-completion!x", "text": "w"},
        )
    ]


def test_publish_from_sync_code_waits_for_the_commit(monkeypatch):
    layers = {ROOMS_LAYER: _Layer(), DEFAULT_LAYER: _Layer()}
    monkeypatch.setattr(events, "get_channel_layer", layers.__getitem__)
    committed = []
    monkeypatch.setattr(events.transaction, "on_commit", committed.append)
    events.publish(Generate(41))
    events.publish(CancelJob(("passage", 41)))
    assert layers[DEFAULT_LAYER].sent == []
    for callback in committed:
        callback()
    assert layers[DEFAULT_LAYER].sent == [
        ("channel", GENERATION_QUEUE, {"type": "generate", "passage": 41}),
        ("group", GENERATION_WORKERS, {"type": "generation.cancel", "job": ("passage", 41)}),
    ]
    events.publish(AccessChanged(3), after_commit=False)
    assert layers[ROOMS_LAYER].sent[-1][1] == "project-3-access"
