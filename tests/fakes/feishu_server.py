"""A fake Feishu open API on loopback: tenant token, send, PATCH, image upload/download, bot info, custom bot.

Tell it to fail with `fail(...)`: the next API calls (not the token call) answer "expired" (99991663),
"limited" (HTTP 429, code 99991400, x-ogw-ratelimit-reset: 7), "error" (HTTP 500), "denied" (a permanent
code), or are "slow" (delayed by `slow_seconds`); `expire_tokens()` ends every token issued so far.
Every request is recorded; `delivered` keeps the sends Feishu accepted. `images` holds the pictures
people sent, by image key. A receive_id must have the shape its receive_id_type says, as on Feishu.

The long connection: POST /callback/ws/endpoint hands out a ws:// URL and `ws_config`; wrong
credentials get HTTP 400 with code 514 (the SDK's AUTH_FAILED; Feishu's exact answer is not documented,
and psibot treats any refusal alike). On the WebSocket, frames are read and written with lark-oapi's
own protobuf classes: a ping is answered with a pong carrying `pong_config` (when set), `push()` sends
a frame to every client, `received` keeps what clients sent, `drop_connections()` hangs up, and
`ws_refusal` refuses the upgrade with Feishu's handshake-* headers.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer
from lark_oapi.ws.pb.pbbp2_pb2 import Frame as PbFrame

IMAGE_BYTES = b"\x89PNG\r\n\x1a\nfeishu-image"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    answer: dict[str, Any] = field(default_factory=dict)  # the data of a successful answer


@dataclass
class FakeFeishu:
    app_id: str = "cli_test"
    app_secret: str = "s3cret"
    bot_open_id: str = "ou_bot"
    slow_seconds: float = 0.5
    requests: list[Recorded] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    delivered: list[Recorded] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=lambda: {"img_v2_abc": IMAGE_BYTES})
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _server: TestServer | None = None
    base_url: str = ""  # set by start()
    service_id: int = 33
    ws_config: dict[str, Any] = field(
        default_factory=lambda: {
            "PingInterval": 120,
            "ReconnectCount": -1,
            "ReconnectInterval": 1,
            "ReconnectNonce": 0,
        }
    )
    pong_config: dict[str, Any] | None = None
    ws_refusal: dict[str, str] | None = None  # handshake-* headers of a refused WebSocket upgrade
    received: list[PbFrame] = field(default_factory=list)
    connections: int = 0
    _sockets: set[web.WebSocketResponse] = field(default_factory=set)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/open-apis/auth/v3/tenant_access_token/internal", self._token)
        app.router.add_post("/open-apis/im/v1/messages", self._send)
        app.router.add_patch("/open-apis/im/v1/messages/{message_id}", self._patch)
        app.router.add_post("/open-apis/im/v1/images", self._upload)
        app.router.add_get("/open-apis/im/v1/messages/{message_id}/resources/{key}", self._resource)
        app.router.add_get("/open-apis/bot/v3/info", self._bot_info)
        app.router.add_post("/open-apis/bot/v2/hook/{hook}", self._webhook)
        app.router.add_post("/callback/ws/endpoint", self._ws_endpoint)
        app.router.add_get("/ws", self._ws)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self.base_url = str(self._server.make_url("")).rstrip("/")
        return self.base_url

    async def close(self) -> None:
        await self.drop_connections()
        if self._server is not None:
            await self._server.close()

    def fail(self, *kinds: str) -> None:
        self.failures.extend(kinds)

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    def calls(self, fragment: str) -> list[Recorded]:
        return [r for r in self.requests if fragment in r.path]

    async def _record(self, request: web.Request) -> Recorded:
        if request.content_type == "application/json":
            body: Any = await request.json()
        elif request.content_type.startswith("multipart/"):
            body = {
                k: (v if isinstance(v, str) else v.file.read()) for k, v in (await request.post()).items()
            }
        else:
            body = None
        recorded = Recorded(request.method, request.path, dict(request.query), dict(request.headers), body)
        self.requests.append(recorded)
        return recorded

    async def _token(self, request: web.Request) -> web.Response:
        body = (await self._record(request)).body
        if body != {"app_id": self.app_id, "app_secret": self.app_secret}:
            return web.json_response({"code": 10014, "msg": "app secret invalid"})
        token = f"t-{next(self._counter)}"
        self.valid_tokens.add(token)
        return web.json_response({"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200})

    async def _gate(self, request: web.Request) -> web.Response | None:
        await self._record(request)
        failure = self.failures.pop(0) if self.failures else ""
        if failure == "slow":
            await asyncio.sleep(self.slow_seconds)
        if failure == "error":
            return web.Response(status=500, text="boom")
        if failure == "limited":
            return web.json_response(
                {"code": 99991400, "msg": "request trigger frequency limit"},
                status=429,
                headers={"x-ogw-ratelimit-reset": "7"},
            )
        if failure == "denied":
            return web.json_response(
                {"code": 230002, "msg": "Bot/User can NOT be out of the chat."}, status=400
            )
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if failure == "expired":
            self.valid_tokens.discard(token)
        if token not in self.valid_tokens:
            return web.json_response(
                {"code": 99991663, "msg": "Invalid access token for authorization."}, status=400
            )
        return None

    async def _send(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        recorded = self.requests[-1]
        if not _fits(recorded.query.get("receive_id_type", ""), recorded.body.get("receive_id", "")):
            return web.json_response({"code": 99992402, "msg": "field validation failed"}, status=400)
        recorded.answer = {"message_id": f"om_{next(self._counter)}"}
        self.delivered.append(recorded)
        return web.json_response({"code": 0, "msg": "success", "data": recorded.answer})

    async def _patch(self, request: web.Request) -> web.Response:
        return await self._gate(request) or web.json_response({"code": 0, "msg": "success", "data": {}})

    async def _upload(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        return web.json_response({"code": 0, "msg": "success", "data": {"image_key": "img_up_1"}})

    async def _resource(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        data = self.images.get(request.match_info["key"])
        if data is None:
            return web.json_response({"code": 234003, "msg": "File not in msg."}, status=400)
        return web.Response(body=data, content_type="image/png")

    async def _bot_info(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        return web.json_response(
            {"code": 0, "msg": "ok", "bot": {"open_id": self.bot_open_id, "app_name": "psibot"}}
        )

    async def _webhook(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response({"code": 0, "msg": "success", "data": {}})

    async def _ws_endpoint(self, request: web.Request) -> web.Response:
        body = (await self._record(request)).body
        if body != {"AppID": self.app_id, "AppSecret": self.app_secret}:
            return web.json_response({"code": 514, "msg": "auth failed"}, status=400)
        assert self._server is not None
        url = self._server.make_url("/ws").with_scheme("ws")
        query = {
            "device_id": f"dev-{next(self._counter)}",
            "service_id": str(self.service_id),
            "ticket": "tk-1",
        }
        return web.json_response(
            {
                "code": 0,
                "msg": "ok",
                "data": {"URL": str(url.with_query(query)), "ClientConfig": self.ws_config},
            }
        )

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self.ws_refusal is not None:
            return web.Response(status=403, headers=self.ws_refusal)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        self._sockets.add(ws)
        self._notify()
        try:
            async for message in ws:
                if message.type != WSMsgType.BINARY:
                    continue
                frame = PbFrame()
                frame.ParseFromString(message.data)
                self.received.append(frame)
                self._notify()
                if frame.method == 0 and _header(frame, "type") == "ping":
                    await ws.send_bytes(self._pong(frame).SerializeToString())
        finally:
            self._sockets.discard(ws)
            self._notify()
        return ws

    def _pong(self, ping: PbFrame) -> PbFrame:
        pong = PbFrame(SeqID=0, LogID=0, service=ping.service, method=0)
        pong.headers.add(key="type", value="pong")
        if self.pong_config is not None:
            pong.payload = json.dumps(self.pong_config).encode()
        return pong

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def push(self, frame: PbFrame) -> None:
        for ws in list(self._sockets):
            await ws.send_bytes(frame.SerializeToString())

    @property
    def open_connections(self) -> int:
        return len(self._sockets)

    async def drop_connections(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    async def wait_for(self, predicate: Callable[[FakeFeishu], bool]) -> None:
        """Until predicate(self) holds; callers bound it with asyncio.timeout."""
        while not predicate(self):
            await self._changed.wait()

    def sent(self, kind: str) -> list[PbFrame]:
        """Frames clients sent with this `type` header (ping, event, ...)."""
        return [f for f in self.received if _header(f, "type") == kind]


def _header(frame: PbFrame, key: str) -> str | None:
    return next((h.value for h in frame.headers if h.key == key), None)


_ID_PREFIXES = {"open_id": "ou_", "union_id": "on_", "chat_id": "oc_"}


def _fits(receive_id_type: str, receive_id: str) -> bool:
    """Feishu refuses an id of another kind than receive_id_type says (user_id: the tenant's own ids)."""
    if receive_id_type == "user_id":
        return bool(receive_id) and not receive_id.startswith(tuple(_ID_PREFIXES.values()))
    if receive_id_type == "email":
        return "@" in receive_id
    prefix = _ID_PREFIXES.get(receive_id_type)
    return prefix is not None and receive_id.startswith(prefix)
