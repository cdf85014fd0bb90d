"""DingTalk Stream mode: the bot dials out over a WebSocket, so it needs no public address.

Protocol: POST /v1.0/gateway/connections/open with the app key and secret and the topics we want
(robot messages, card clicks) → an endpoint and a one-time ticket; connect to `endpoint?ticket=…`; every
frame is JSON whose `data` is itself a JSON string. The TLS connection and the app secret sent to the
gateway stand in for a request signature: frames carry none.
Deadline and retry rule: every frame must be acked with its `headers.messageId`; an unacked frame is
pushed again, so a frame the engine could not take is deliberately left unacked (and the engine
drops the repeat of one it did take by msgId). SYSTEM `ping` frames are echoed; `disconnect` means
"reconnect now". Any failure reconnects with exponential backoff (1 s doubling to 60 s, jittered),
reset once a connection has delivered a frame.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import aiohttp

from bot.adapter import EventSink
from bot.model import InboundEvent

from .parse import MalformedPayload, parse_card_callback, parse_message

log = logging.getLogger("psibot.dingtalk")

BOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"
USER_AGENT = "psibot-dingtalk-stream/0.1"
CONNECT_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_read=None)


@dataclass(frozen=True, slots=True)
class Handled:
    """What to do with a frame: the ack to send (None: leave it unacked) and whether to reconnect."""

    ack: dict[str, Any] | None
    reconnect: bool = False


def ack(message_id: str, code: int, message: str, data: str) -> dict[str, Any]:
    """The ack frame, shaped exactly as dingtalk_stream's AckMessage.to_dict()."""
    return {
        "code": code,
        "headers": {"contentType": "application/json", "messageId": message_id},
        "message": message,
        "data": data,
    }


async def handle_frame(frame: Mapping[str, Any], sink: EventSink) -> Handled:
    """One frame → events to the sink, and the ack."""
    headers = frame.get("headers")
    if not isinstance(headers, dict):
        headers = {}
    message_id = str(headers.get("messageId", ""))
    topic = headers.get("topic")
    kind = frame.get("type")
    raw = frame.get("data") or ""
    try:
        data = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return Handled(ack(message_id, 400, "data is not JSON", json.dumps({"response": "bad request"})))
    if kind == "SYSTEM":
        # Echo, as the SDK does; `disconnect` asks us to move to a fresh connection.
        return Handled(ack(message_id, 200, "OK", json.dumps(data)), reconnect=topic == "disconnect")
    if kind == "EVENT":
        return Handled(ack(message_id, 200, "OK", json.dumps(data)))
    if kind != "CALLBACK" or topic not in (BOT_TOPIC, CARD_TOPIC):
        return Handled(ack(message_id, 404, "not implemented", json.dumps({"response": "not implemented"})))
    try:
        if not isinstance(data, dict):
            raise MalformedPayload("data is not an object")
        events: tuple[InboundEvent, ...] = (
            parse_message(data) if topic == BOT_TOPIC else (parse_card_callback(data),)
        )
    except MalformedPayload as exc:
        log.warning("dingtalk stream: malformed %s frame: %s", topic, exc)
        return Handled(ack(message_id, 400, str(exc), json.dumps({"response": "bad request"})))
    try:
        for event in events:
            await sink(event)
    except Exception:
        log.exception("dingtalk stream: the engine did not take the event; leaving the frame unacked")
        return Handled(None)
    # A card click answers with no immediate card change: the engine updates the card itself.
    response: object = "OK" if topic == BOT_TOPIC else {}
    return Handled(ack(message_id, 200, "", json.dumps({"response": response})))


class StreamClient:
    """Keeps one Stream connection open and feeds its frames to the sink until stopped."""

    def __init__(
        self,
        api_base: str,
        app_key: str,
        app_secret: str,
        sink: EventSink,
        *,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
    ) -> None:
        self._api_base = api_base
        self._app_key = app_key
        self._app_secret = app_secret
        self._sink = sink
        self._base_delay = base_delay
        self._max_delay = max_delay
        self.connections = 0  # connections made so far (for `psibot check` and tests)

    async def run(self) -> None:
        # Its own session: a total timeout (as the API client has) would cut the long-lived socket.
        async with aiohttp.ClientSession(timeout=CONNECT_TIMEOUT) as session:
            await self._run(session)

    async def _run(self, session: aiohttp.ClientSession) -> None:
        failures = 0
        while True:
            try:
                delivered = await self._connect_once(session)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dingtalk stream: connection failed: %s", _describe(exc))
                delivered = False
            failures = 0 if delivered else failures + 1
            delay = min(self._max_delay, self._base_delay * 2 ** min(failures, 10)) if failures else 0.0
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    async def _connect_once(self, session: aiohttp.ClientSession) -> bool:
        """One connection's life; True if it delivered at least one frame."""
        endpoint, ticket = await self._open(session)
        delivered = False
        async with session.ws_connect(f"{endpoint}?ticket={quote_plus(ticket)}", heartbeat=30) as ws:
            self.connections += 1
            log.info("dingtalk stream: connected")
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                try:
                    frame = json.loads(message.data)
                except ValueError:
                    log.warning("dingtalk stream: a frame that is not JSON was ignored")
                    continue
                if not isinstance(frame, dict):
                    continue
                delivered = True
                handled = await handle_frame(frame, self._sink)
                if handled.ack is not None:
                    await ws.send_str(json.dumps(handled.ack))
                if handled.reconnect:
                    log.info("dingtalk stream: gateway asked to reconnect")
                    break
        return delivered

    async def _open(self, session: aiohttp.ClientSession) -> tuple[str, str]:
        body = {
            "clientId": self._app_key,
            "clientSecret": self._app_secret,
            "subscriptions": [
                {"type": "CALLBACK", "topic": BOT_TOPIC},
                {"type": "CALLBACK", "topic": CARD_TOPIC},
            ],
            "ua": USER_AGENT,
            "localIp": "",
        }
        url = f"{self._api_base}/v1.0/gateway/connections/open"
        async with session.post(url, json=body, headers={"Accept": "application/json"}) as response:
            text = await response.text()
            if response.status != 200:
                raise ConnectionError(f"gateway answered HTTP {response.status}: {text[:200]}")
        data = json.loads(text)
        endpoint, ticket = data.get("endpoint"), data.get("ticket")
        if not isinstance(endpoint, str) or not isinstance(ticket, str):
            raise ConnectionError("gateway answered without endpoint or ticket")
        return endpoint, ticket


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientResponseError):  # its text holds the URL, and so the ticket
        return f"{type(exc).__name__}: HTTP {exc.status}"
    return f"{type(exc).__name__}: {exc}"[:300]
