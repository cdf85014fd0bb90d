"""Feishu long connection (长连接, FEISHU_MODE=websocket): the bot dials out, so it needs no public address.

Protocol (as lark-oapi's ws client speaks it): POST {api_base}/callback/ws/endpoint with AppID and
AppSecret → a wss:// URL (its query names the service_id and holds the connection's credentials, so it
is never logged) and a ClientConfig. Every WebSocket message is a binary `pbbp2.Frame` (frame.py).
The client sends a control frame `type: ping` every PingInterval; the `pong` may carry a new config.
A data frame `type: event` carries the same plaintext v2 event JSON as the request URL, with no token
check, encryption or signature: the connection is authenticated. A payload may come split into `sum`
parts numbered by `seq` under one `message_id`; the frame that completes it is answered.
Deadline and retry rule: answer each event within 3 s by sending its frame back with payload
{"code": 200} (a card click adds "data": base64 of the callback response, {} = no card change) and a
`biz_rt` header; a 500 (the engine did not take the event) makes Feishu deliver it again, and the
engine drops the repeat by event_id. A dropped connection is redialled after a random pause of up to
ReconnectNonce seconds; failures back off exponentially up to ReconnectInterval, for ever (psibot never
gives up, unlike the SDK's ReconnectCount), and credentials Feishu refuses are logged as an error.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from adapters.http import json_object, request
from bot.adapter import EventSink

from .frame import CONTROL, DATA, Frame, FrameError, decode, encode
from .parse import PayloadError, parse_event

log = logging.getLogger("psibot.feishu")

ENDPOINT_PATH = "/callback/ws/endpoint"
CONNECT_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_read=None)
HEARTBEAT = 20.0  # WebSocket-level pings, as the SDK's websockets library sends them
PART_TTL = 5.0  # seconds the parts of a split payload wait for the rest (the SDK's cache time)
MAX_PARTS = 64
_BUSY = frozenset({1, 1000040343, 1000040345})  # system busy, internal error: try again later
_TOO_MANY = 1000040350  # more than 50 connections for the app
_HINTS = {
    _TOO_MANY: "too many long connections for this app (at most 50): stop other clients using it",
    403: "this app may not use the long connection",
}
_SETUP_HINT = (
    "check FEISHU_APP_ID and FEISHU_APP_SECRET, and that the published app version receives events "
    "through the long connection (事件与回调 → 订阅方式 → 使用长连接接收事件)"
)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Timings Feishu sets for the connection (seconds); the SDK's defaults until it says otherwise."""

    ping_interval: float = 120.0
    reconnect_interval: float = 120.0
    reconnect_nonce: float = 30.0

    def updated(self, data: Mapping[str, Any]) -> ClientConfig:
        def number(key: str, current: float, minimum: float) -> float:
            value = data.get(key)
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= minimum
            return float(value) if ok else current  # type: ignore[arg-type]

        return ClientConfig(
            ping_interval=number("PingInterval", self.ping_interval, 0.01),
            reconnect_interval=number("ReconnectInterval", self.reconnect_interval, 0.0),
            reconnect_nonce=number("ReconnectNonce", self.reconnect_nonce, 0.0),
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str = field(repr=False)
    service_id: int
    config: ClientConfig

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


class EndpointError(Exception):
    """Feishu would not give a connection; `refused` when retrying soon will not help."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


async def discover(
    session: aiohttp.ClientSession, api_base: str, app_id: str, app_secret: str, config: ClientConfig
) -> Endpoint:
    """Ask Feishu where to connect; DeliveryError (transient) on network errors and 5xx."""
    resp = await request(
        session,
        "POST",
        api_base.rstrip("/") + ENDPOINT_PATH,
        json={"AppID": app_id, "AppSecret": app_secret},
        headers={"locale": "zh"},
        what="feishu long-connection endpoint",
    )
    body = resp.json()
    code, msg = body.get("code"), str(body.get("msg") or "")[:200]
    if resp.status != 200 or code != 0:
        what = f"HTTP {resp.status}, code {code}: {msg}" if isinstance(code, int) else f"HTTP {resp.status}"
        if code in _BUSY:
            raise EndpointError(f"Feishu is busy ({what}); trying again", refused=False)
        hint = _HINTS.get(code, _SETUP_HINT)  # type: ignore[arg-type]
        raise EndpointError(f"Feishu refused the long connection ({what}): {hint}", refused=True)
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(url := data.get("URL"), str):
        raise EndpointError("endpoint answered without a URL", refused=False)
    service = parse_qs(urlsplit(url).query).get("service_id", [""])[0]
    if not service.lstrip("-").isdigit():
        raise EndpointError("endpoint answered with a URL that names no service_id", refused=False)
    if isinstance(client_config := data.get("ClientConfig"), dict):
        config = config.updated(client_config)
    return Endpoint(url, int(service), config)


class Parts:
    """Joins a payload Feishu split into `sum` frames; incomplete ones are forgotten after PART_TTL."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pending: dict[str, tuple[float, list[bytes | None]]] = {}

    def add(self, message_id: str, total: int, seq: int, part: bytes) -> bytes | None:
        """The whole payload once every part is in, else None."""
        now = self._clock()
        self._pending = {k: v for k, v in self._pending.items() if v[0] > now}
        if total <= 1:
            return part
        if not (total <= MAX_PARTS and 0 <= seq < total):
            raise FrameError(f"part {seq} of {total}")
        _, parts = self._pending.setdefault(message_id, (now + PART_TTL, [None] * total))
        if len(parts) != total:
            raise FrameError(f"message {message_id} changed its number of parts")
        parts[seq] = part
        if any(p is None for p in parts):
            return None
        del self._pending[message_id]
        return b"".join(p for p in parts if p is not None)


def ack(frame: Frame, code: int, data: object = None, *, started: float | None = None) -> Frame:
    """The reply to a data frame: the frame itself, with the SDK's Response JSON as payload.

    A handled event also gets a `biz_rt` header (milliseconds spent), as the SDK adds it.
    """
    response: dict[str, Any] = {"code": code}
    if data is not None:
        response["data"] = base64.b64encode(json.dumps(data, ensure_ascii=False).encode()).decode()
    headers = list(frame.headers)
    if started is not None:
        headers.append(("biz_rt", str(int(round((time.monotonic() - started) * 1000)))))
    return Frame(
        frame.seq_id,
        frame.log_id,
        frame.service,
        frame.method,
        headers,
        frame.payload_encoding,
        frame.payload_type,
        json.dumps(response, ensure_ascii=False).encode(),
        frame.log_id_new,
    )


async def deliver(payload: bytes, sink: EventSink, bot_open_id: str | None) -> tuple[int, object]:
    """One event's JSON → the sink; (status, response data) for its ack, as the HTTP route would answer."""
    body = json_object(payload)
    if body is None:
        log.warning("feishu long connection: an event that is not a JSON object was refused")
        return 400, None
    if body.get("schema") != "2.0":
        return 200, None  # v1 events: nothing psibot subscribes to
    try:
        event = parse_event(body, bot_open_id)
    except PayloadError as exc:
        log.warning("feishu long connection: malformed event (%s)", exc)
        return 400, None
    if event is not None:
        try:
            await sink(event)
        except Exception:
            log.exception("feishu long connection: the engine did not take the event; Feishu will resend it")
            return 500, None
    header = body.get("header")
    is_click = isinstance(header, dict) and header.get("event_type") == "card.action.trigger"
    return 200, ({} if is_click else None)  # a click: no toast, no card change (the engine PATCHes it)


class LongConnection:
    """Keeps one long connection open and feeds its events to the sink until cancelled."""

    def __init__(
        self,
        api_base: str,
        app_id: str,
        app_secret: str,
        sink: EventSink,
        bot_open_id: Callable[[], str | None] = lambda: None,
        *,
        base_delay: float = 1.0,
    ) -> None:
        self._api_base = api_base
        self._app_id = app_id
        self._app_secret = app_secret
        self._sink = sink
        self._bot_open_id = bot_open_id
        self._base_delay = base_delay
        self.config = ClientConfig()
        self._parts = Parts()

    async def run(self) -> None:
        # Its own session: a total timeout (as the API client has) would cut the long-lived socket.
        async with aiohttp.ClientSession(timeout=CONNECT_TIMEOUT) as session:
            failures = 0
            while True:
                try:
                    alive = await self._connect_once(session)
                except asyncio.CancelledError:
                    raise
                except EndpointError as exc:
                    log.log(
                        logging.ERROR if exc.refused else logging.WARNING, "feishu long connection: %s", exc
                    )
                    alive = False
                except Exception as exc:
                    log.warning("feishu long connection: connection failed: %s", describe(exc))
                    alive = False
                if alive:
                    failures = 0
                    delay = random.uniform(0, self.config.reconnect_nonce)  # spread many clients out
                else:
                    failures += 1
                    step = self._base_delay * 2 ** min(failures - 1, 16)
                    delay = min(self.config.reconnect_interval, step) * random.uniform(0.8, 1.2)
                await asyncio.sleep(delay)

    async def _connect_once(self, session: aiohttp.ClientSession) -> bool:
        """One connection's life; True if Feishu sent at least one frame on it."""
        endpoint = await discover(session, self._api_base, self._app_id, self._app_secret, self.config)
        self.config = endpoint.config
        alive = False
        try:
            ws = await session.ws_connect(endpoint.url, heartbeat=HEARTBEAT)
        except aiohttp.WSServerHandshakeError as exc:
            raise _handshake_error(exc) from None
        async with ws:
            log.info("feishu long connection: connected to %s", endpoint.host)
            lock = asyncio.Lock()
            pinger = asyncio.create_task(self._ping(ws, lock, endpoint.service_id))
            try:
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.BINARY:
                        if message.type == aiohttp.WSMsgType.ERROR:
                            break
                        continue
                    alive = True
                    reply = await self._on_message(message.data)
                    if reply is not None:
                        async with lock:
                            await ws.send_bytes(encode(reply))
            finally:
                pinger.cancel()
                await asyncio.wait([pinger])
        log.info("feishu long connection: closed by %s", endpoint.host)
        return alive

    async def _ping(self, ws: aiohttp.ClientWebSocketResponse, lock: asyncio.Lock, service_id: int) -> None:
        ping = encode(Frame(service=service_id, method=CONTROL, headers=[("type", "ping")]))
        while not ws.closed:
            try:
                async with lock:
                    await ws.send_bytes(ping)
            except (ConnectionError, aiohttp.ClientError):
                return  # the receive loop sees the close and reconnects
            await asyncio.sleep(self.config.ping_interval)

    async def _on_message(self, data: bytes) -> Frame | None:
        try:
            frame = decode(data)
            kind = frame.header("type")
            if frame.method == CONTROL:
                if kind == "pong" and frame.payload:
                    config = json_object(frame.payload)
                    self.config = self.config.updated(config or {})
                return None
            if frame.method != DATA:
                return None
            payload = self._parts.add(
                frame.header("message_id") or "",
                _int(frame.header("sum"), 1),
                _int(frame.header("seq"), 0),
                frame.payload or b"",
            )
        except FrameError as exc:
            log.warning("feishu long connection: a frame was ignored (%s)", exc)
            return None
        if payload is None:
            return None
        if kind != "event":
            # The SDK leaves other data frames (old-style "card") unanswered; card clicks that psibot
            # renders arrive as card.action.trigger events.
            log.info("feishu long connection: ignored a %r frame", kind)
            return None
        started = time.monotonic()
        code, result = await deliver(payload, self._sink, self._bot_open_id())
        return ack(frame, code, result, started=started if code == 200 else None)


def _int(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise FrameError(f"header value {value!r} is not a number") from None


def _handshake_error(exc: aiohttp.WSServerHandshakeError) -> Exception:
    """Feishu explains a refused upgrade in handshake-* headers (read as the SDK reads them)."""
    headers: Mapping[str, str] = exc.headers or {}
    status = headers.get("handshake-status", "")
    if not status.isdigit():
        return ConnectionError(f"WebSocket upgrade refused: HTTP {exc.status}")
    too_many = headers.get("handshake-autherrcode") == str(_TOO_MANY)
    code = _TOO_MANY if too_many else int(status)
    hint = _HINTS.get(code)
    return EndpointError(
        f"Feishu refused the WebSocket (code {code}: {headers.get('handshake-msg', '')})"
        + (f": {hint}" if hint else ""),
        refused=code in (403, _TOO_MANY),
    )


def describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientResponseError):  # its text holds the URL, and so the credentials
        return f"{type(exc).__name__}: HTTP {exc.status}"
    return f"{type(exc).__name__}: {exc}"[:300]
