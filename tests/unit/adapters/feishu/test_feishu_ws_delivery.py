"""The long connection's pure parts: event delivery and its ack codes, split payloads, Feishu's config."""

from __future__ import annotations

import json

import pytest

from adapters.feishu.frame import DATA, Frame, FrameError
from adapters.feishu.ws import ClientConfig, Parts, ack, deliver
from bot.model import InboundEvent, TextMessage

TEXT_EVENT = {
    "schema": "2.0",
    "header": {"event_id": "e-1", "event_type": "im.message.receive_v1", "tenant_key": "t"},
    "event": {
        "sender": {"sender_id": {"open_id": "ou_1"}, "sender_type": "user"},
        "message": {
            "chat_id": "oc_1",
            "chat_type": "p2p",
            "message_type": "text",
            "content": '{"text": "帮助"}',
        },
    },
}


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[InboundEvent] = []
        self.fail = fail

    async def __call__(self, event: InboundEvent) -> None:
        if self.fail:
            raise RuntimeError("engine down")
        self.events.append(event)


async def test_an_event_reaches_the_sink_and_is_acked_200() -> None:
    sink = Sink()
    assert await deliver(json.dumps(TEXT_EVENT).encode(), sink, None) == (200, None)
    [event] = sink.events
    assert isinstance(event, TextMessage) and event.text == "帮助" and event.mentioned


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"not json", 400),
        (json.dumps({"schema": "2.0", "header": {}}).encode(), 400),  # no event_id
        (json.dumps({"uuid": "u", "event": {"type": "x"}}).encode(), 200),  # v1: not subscribed
        (json.dumps({**TEXT_EVENT, "header": {"event_id": "e", "event_type": "other"}}).encode(), 200),
    ],
)
async def test_what_psibot_cannot_or_need_not_take(payload: bytes, code: int) -> None:
    sink = Sink()
    assert await deliver(payload, sink, None) == (code, None)
    assert sink.events == []


async def test_an_engine_failure_is_a_500_so_feishu_sends_it_again() -> None:
    assert await deliver(json.dumps(TEXT_EVENT).encode(), Sink(fail=True), None) == (500, None)


def test_ack_echoes_the_frame_with_the_sdks_response() -> None:
    frame = Frame(1, 2, 3, DATA, [("type", "event")], payload_type="", payload=b"{}", log_id_new="x")
    reply = ack(frame, 200, {}, started=0.0)
    assert reply.payload == b'{"code": 200, "data": "e30="}'
    assert reply.headers[0] == ("type", "event") and reply.headers[1][0] == "biz_rt"
    assert (reply.seq_id, reply.log_id, reply.service, reply.payload_type, reply.log_id_new) == (
        1,
        2,
        3,
        "",
        "x",
    )
    assert frame.headers == [("type", "event")]  # the received frame is left alone
    assert ack(frame, 500).headers == [("type", "event")] and ack(frame, 500).payload == b'{"code": 500}'


def test_parts_join_in_any_order_and_expire() -> None:
    now = [0.0]
    parts = Parts(clock=lambda: now[0])
    assert parts.add("m", 1, 0, b"whole") == b"whole"
    assert parts.add("m", 3, 2, b"c") is None
    assert parts.add("m", 3, 0, b"a") is None
    assert parts.add("m", 3, 1, b"b") == b"abc"
    assert parts.add("n", 2, 0, b"a") is None
    now[0] = 10.0
    assert parts.add("n", 2, 1, b"b") is None  # the first half was forgotten
    with pytest.raises(FrameError):
        parts.add("o", 2, 2, b"x")
    with pytest.raises(FrameError):
        parts.add("n", 3, 0, b"x")


def test_config_takes_what_feishu_sends_and_ignores_nonsense() -> None:
    config = ClientConfig().updated(
        {"PingInterval": 90, "ReconnectCount": -1, "ReconnectInterval": 60, "ReconnectNonce": "30"}
    )
    assert config == ClientConfig(ping_interval=90, reconnect_interval=60, reconnect_nonce=30)
    assert config.updated({"PingInterval": 0, "ReconnectInterval": True}) == config
