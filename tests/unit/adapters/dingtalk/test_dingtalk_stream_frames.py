"""Frame handling judged against dingtalk_stream 0.24.3, the platform's own client, as the other side."""

import json
from pathlib import Path
from typing import Any

from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage, ChatbotHandler, SystemHandler
from dingtalk_stream.frames import SystemMessage

from adapters.dingtalk.stream import BOT_TOPIC, CARD_TOPIC, handle_frame
from bot.model import CardAction, InboundEvent, TextMessage

FIXTURES = Path(__file__).parents[3] / "fixtures" / "dingtalk"


class OkChatbot(ChatbotHandler):
    async def process(self, callback: CallbackMessage) -> tuple[int, Any]:
        return AckMessage.STATUS_OK, "OK"


class NoCardChange(CallbackHandler):
    async def process(self, callback: CallbackMessage) -> tuple[int, Any]:
        return AckMessage.STATUS_OK, {}


def callback_frame(topic: str, fixture: str, message_id: str) -> dict[str, Any]:
    return {
        "specVersion": "1.0",
        "type": "CALLBACK",
        "headers": {
            "appId": "dingappkey0001",
            "connectionId": "conn-1",
            "contentType": "application/json",
            "messageId": message_id,
            "time": "1700000000000",
            "topic": topic,
        },
        "data": (FIXTURES / fixture).read_text(encoding="utf-8"),
    }


class Sink:
    def __init__(self) -> None:
        self.events: list[InboundEvent] = []

    async def __call__(self, event: InboundEvent) -> None:
        self.events.append(event)


async def test_bot_message_ack_matches_the_sdk() -> None:
    frame = callback_frame(BOT_TOPIC, "text_group.json", "m-1")
    sink = Sink()
    handled = await handle_frame(frame, sink)
    sdk_ack = await OkChatbot().raw_process(CallbackMessage.from_dict(frame))
    assert handled.ack == sdk_ack.to_dict()
    assert not handled.reconnect
    assert [type(e) for e in sink.events] == [TextMessage]


async def test_card_click_ack_matches_the_sdk() -> None:
    frame = callback_frame(CARD_TOPIC, "card_callback.json", "m-2")
    sink = Sink()
    handled = await handle_frame(frame, sink)
    sdk_ack = await NoCardChange().raw_process(CallbackMessage.from_dict(frame))
    assert handled.ack == sdk_ack.to_dict()
    assert isinstance(sink.events[0], CardAction)


async def test_ping_is_echoed_like_the_sdk_and_disconnect_reconnects() -> None:
    frame = json.loads((FIXTURES / "stream_ping.json").read_text(encoding="utf-8"))
    handled = await handle_frame(frame, Sink())
    assert handled.ack == (await SystemHandler().raw_process(SystemMessage.from_dict(frame))).to_dict()
    assert not handled.reconnect
    disconnect = {**frame, "headers": {**frame["headers"], "topic": "disconnect"}}
    assert (await handle_frame(disconnect, Sink())).reconnect


async def test_malformed_frame_is_acked_400_and_reaches_no_sink() -> None:
    frame = callback_frame(BOT_TOPIC, "text_group.json", "m-3")
    frame["data"] = json.dumps({"msgtype": "text"})
    sink = Sink()
    handled = await handle_frame(frame, sink)
    assert handled.ack is not None and handled.ack["code"] == 400
    assert sink.events == []


async def test_a_frame_the_engine_refuses_stays_unacked() -> None:
    async def refusing(event: InboundEvent) -> None:
        raise RuntimeError("engine down")

    handled = await handle_frame(callback_frame(BOT_TOPIC, "text_direct.json", "m-4"), refusing)
    assert handled.ack is None
