"""FEISHU_MODE=websocket against the fake Feishu over a real loopback WebSocket.

Frames on the wire are read and written with lark-oapi's generated protobuf classes, and the acks are
compared with what lark-oapi's own ws client sends for the same frames.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import lark_oapi as lark
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse
from lark_oapi.ws.client import _new_ping_frame
from lark_oapi.ws.pb.pbbp2_pb2 import Frame as PbFrame

from adapters.feishu import FeishuAdapter, Settings
from adapters.feishu.ws import LongConnection
from bot.kv import MemoryStore
from bot.model import CardAction, InboundEvent, TextMessage
from tests.fakes.feishu_server import FakeFeishu

FIXTURES = Path(__file__).parents[2] / "fixtures" / "feishu"
WAIT = 5.0


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def data_frame(payload: bytes, message_id: str, *, seq: int = 0, total: int = 1) -> PbFrame:
    frame = PbFrame(SeqID=0, LogID=0, service=33, method=1, payload=payload)
    for key, value in (
        ("type", "event"),
        ("message_id", message_id),
        ("sum", str(total)),
        ("seq", str(seq)),
        ("trace_id", f"trace-{message_id}"),
    ):
        frame.headers.add(key=key, value=value)
    return frame


async def sdk_acks(frames: list[PbFrame]) -> list[PbFrame]:
    """What lark-oapi's ws client writes back for these frames (its connection replaced by a list)."""
    handler = (
        lark.EventDispatcherHandler.builder("", "")
        .register_p2_im_message_receive_v1(lambda data: None)
        .register_p2_card_action_trigger(lambda data: P2CardActionTriggerResponse({}))
        .build()
    )
    client = lark.ws.Client("cli_test", "s3cret", event_handler=handler, log_level=lark.LogLevel.ERROR)
    written: list[bytes] = []

    async def write(data: bytes) -> None:
        written.append(data)

    client._write_message = write  # type: ignore[method-assign]
    for frame in frames:
        copy = PbFrame()
        copy.CopyFrom(frame)
        await client._handle_data_frame(copy)
    acks = []
    for data in written:
        ack = PbFrame()
        ack.ParseFromString(data)
        acks.append(ack)
    return acks


def without_timing(frame: PbFrame) -> bytes:
    """The frame's bytes with the biz_rt header (milliseconds spent handling it) zeroed."""
    copy = PbFrame()
    copy.CopyFrom(frame)
    for header in copy.headers:
        if header.key == "biz_rt":
            header.value = "0"
    return copy.SerializeToString()


class Running:
    def __init__(self, adapter: FeishuAdapter, client: TestClient, events: list[InboundEvent]) -> None:
        self.adapter, self.client, self.events = adapter, client, events


@pytest.fixture
async def fake() -> AsyncIterator[FakeFeishu]:
    server = FakeFeishu()
    await server.start()
    yield server
    await server.close()


def settings(fake: FakeFeishu, **env: str) -> Settings:
    result = Settings.from_env(
        {
            "FEISHU_APP_ID": fake.app_id,
            "FEISHU_APP_SECRET": fake.app_secret,
            "FEISHU_MODE": "websocket",
            "FEISHU_API_BASE": fake.base_url,
            **env,
        }
    )
    assert result is not None
    return result


@pytest.fixture
async def running(fake: FakeFeishu) -> AsyncIterator[Running]:
    adapter = FeishuAdapter(settings(fake), MemoryStore())
    events: list[InboundEvent] = []

    async def sink(event: InboundEvent) -> None:
        events.append(event)

    app = web.Application()
    adapter.routes(app, sink)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    async with asyncio.timeout(WAIT):
        await fake.wait_for(lambda f: f.open_connections == 1)
    yield Running(adapter, client, events)
    await client.close()
    await adapter.close()


async def wait(fake: FakeFeishu, predicate: Callable[[FakeFeishu], bool]) -> None:
    async with asyncio.timeout(WAIT):
        await fake.wait_for(predicate)


async def test_events_become_neutral_events_and_acks_match_the_sdk(
    fake: FakeFeishu, running: Running
) -> None:
    frames = [data_frame(fixture("text.json"), "m-1"), data_frame(fixture("card_action.json"), "m-2")]
    for frame in frames:
        await fake.push(frame)
    await wait(fake, lambda f: len(f.sent("event")) == 2)
    assert [type(e) for e in running.events] == [TextMessage, CardAction]
    assert running.events[0].event_id == "5e3702a84e847582be8db7fb73283c02"
    acks = fake.sent("event")
    assert [json.loads(a.payload) for a in acks] == [{"code": 200}, {"code": 200, "data": "e30="}]
    assert [without_timing(a) for a in acks] == [without_timing(a) for a in await sdk_acks(frames)]


async def test_a_payload_split_in_parts_is_joined_and_answered_once(
    fake: FakeFeishu, running: Running
) -> None:
    payload = fixture("text.json")
    third = len(payload) // 3
    chunks = [payload[:third], payload[third : 2 * third], payload[2 * third :]]
    frames = [data_frame(chunks[seq], "m-split", seq=seq, total=3) for seq in (2, 0, 1)]
    for frame in frames:
        await fake.push(frame)
    await wait(fake, lambda f: len(f.sent("event")) == 1)
    assert [type(e) for e in running.events] == [TextMessage]
    assert [without_timing(a) for a in fake.sent("event")] == [
        without_timing(a) for a in await sdk_acks(frames)
    ]


async def test_pings_follow_the_configured_interval_and_a_pong_may_change_it(fake: FakeFeishu) -> None:
    fake.ws_config["PingInterval"] = 0.05
    fake.pong_config = {
        "PingInterval": 0.1,
        "ReconnectCount": -1,
        "ReconnectInterval": 1,
        "ReconnectNonce": 0,
    }
    connection = LongConnection(fake.base_url, fake.app_id, fake.app_secret, _ignore)
    task = asyncio.create_task(connection.run())
    try:
        await wait(fake, lambda f: len(f.sent("ping")) >= 3)
    finally:
        task.cancel()
        await asyncio.wait([task])
    assert connection.config.ping_interval == 0.1
    assert fake.sent("ping")[0].SerializeToString() == _new_ping_frame(fake.service_id).SerializeToString()


async def test_the_first_config_is_kept_until_a_pong_changes_it(fake: FakeFeishu, running: Running) -> None:
    await wait(fake, lambda f: len(f.sent("ping")) == 1)
    await asyncio.sleep(0.2)
    assert len(fake.sent("ping")) == 1  # PingInterval is 120 s
    assert running.adapter.connection is not None
    assert running.adapter.connection.config.ping_interval == 120


async def test_no_http_routes_in_websocket_mode(running: Running) -> None:
    assert (await running.client.post("/feishu/events", data=fixture("text.json"))).status == 404


async def test_a_dropped_connection_is_redialled(
    fake: FakeFeishu, running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await fake.drop_connections()
    await wait(fake, lambda f: f.connections == 2 and f.open_connections == 1)
    await fake.push(data_frame(fixture("text.json"), "m-after"))
    await wait(fake, lambda f: len(f.sent("event")) == 1)
    assert len(running.events) == 1
    assert len(fake.calls("/callback/ws/endpoint")) == 2
    assert "tk-1" not in ours(caplog) and fake.app_secret not in ours(caplog)


async def test_shutdown_closes_the_connection(fake: FakeFeishu, running: Running) -> None:
    await running.client.close()
    await wait(fake, lambda f: f.open_connections == 0)
    await asyncio.sleep(0.1)
    assert fake.connections == 1


async def test_bad_credentials_are_reported_and_retried_with_backoff(
    fake: FakeFeishu, caplog: pytest.LogCaptureFixture
) -> None:
    connection = LongConnection(fake.base_url, fake.app_id, "wrong", _ignore, base_delay=0.01)
    task = asyncio.create_task(connection.run())
    await asyncio.sleep(0.3)
    task.cancel()
    await asyncio.wait([task])
    assert fake.connections == 0
    assert 2 <= len(fake.calls("/callback/ws/endpoint")) <= 10  # backing off, not spinning
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "FEISHU_APP_SECRET" in errors[0].getMessage()
    assert "HTTP 400, code 514" in errors[0].getMessage()
    assert "wrong" not in ours(caplog)


async def test_a_refused_websocket_upgrade_is_explained(
    fake: FakeFeishu, caplog: pytest.LogCaptureFixture
) -> None:
    fake.ws_refusal = {
        "handshake-status": "514",
        "handshake-msg": "auth failed",
        "handshake-autherrcode": "1000040350",
    }
    connection = LongConnection(fake.base_url, fake.app_id, fake.app_secret, _ignore, base_delay=0.01)
    task = asyncio.create_task(connection.run())
    await asyncio.sleep(0.1)
    task.cancel()
    await asyncio.wait([task])
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "too many long connections" in errors[0]
    assert "tk-1" not in ours(caplog)


async def test_check_asks_for_an_endpoint(fake: FakeFeishu) -> None:
    adapter = FeishuAdapter(settings(fake), MemoryStore())
    try:
        report = await adapter.check()
    finally:
        await adapter.close()
    assert "Feishu: OK" in report and "Feishu long connection: the endpoint answered" in report
    assert fake.calls("/callback/ws/endpoint")


def ours(caplog: pytest.LogCaptureFixture) -> str:
    """psibot's log lines (the fake server's access log shows URLs, as any web server's would)."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("psibot"))


async def _ignore(event: InboundEvent) -> None:
    """A sink for tests that look only at the wire."""
