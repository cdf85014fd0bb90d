"""A fake DingTalk on loopback: open API, webhooks, file downloads and the Stream gateway.

It records every request, answers in DingTalk's shapes (v1.0: non-2xx + {"code","message"}; oapi and
webhooks: 200 + errcode) and can be told to misbehave: expire every token, fail the next calls to a
path with a status (rate limit, 5xx…), or answer slowly. The Stream side hands out a ticket, pushes
frames over a WebSocket and keeps the acks it gets back.

The bottom of the file is the harness the integration tests share: the adapter on a real loopback
server with a recording sink, and a client that signs its requests as DingTalk does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from adapters.dingtalk import DingTalkAdapter, Settings
from adapters.dingtalk.crypto import BadSignature, sign, verify
from bot.kv import KeyValueStore, MemoryStore
from bot.model import InboundEvent

APP_KEY = "dingappkey0001"
APP_SECRET = "fake-app-secret"
WEBHOOK_TOKEN = "robot-token-1"
WEBHOOK_SECRET = "SECfake-webhook-secret"


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # parsed JSON when it was JSON, else the raw bytes


RECORDED = web.RequestKey("recorded", Recorded)


@dataclass(slots=True)
class Failure:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeDingTalk:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.delivered: list[Recorded] = []  # the sends, cards and card updates DingTalk accepted
        self.valid_tokens: set[str] = set()
        self.files: dict[str, bytes] = {}
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.acks: list[dict[str, Any]] = []
        self.connections = 0
        self._failures: dict[str, deque[Failure]] = {}
        self._delays: dict[str, float] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._tickets: set[str] = set()
        self._changed = asyncio.Event()
        self._numbers = itertools.count(1)
        self._token_numbers = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- control -------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every token issued so far is now rejected with 401, as after DingTalk's 2-hour expiry."""
        self.valid_tokens.clear()

    def fail(
        self,
        path: str,
        status: int,
        body: dict[str, Any],
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        queue = self._failures.setdefault(path, deque())
        queue.extend(Failure(status, body, headers or {}) for _ in range(times))

    def slow(self, path: str, seconds: float) -> None:
        self._delays[path] = seconds

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    async def push(self, frame: dict[str, Any]) -> None:
        await self.frames.put(frame)

    async def wait_acks(self, count: int) -> list[dict[str, Any]]:
        """Wait (callers bound it with asyncio.timeout) until `count` acks have arrived."""
        while len(self.acks) < count:
            await self._wait_change()
        return self.acks

    async def wait_connections(self, count: int) -> None:
        while self.connections < count:
            await self._wait_change()

    async def _wait_change(self) -> None:
        self._changed.clear()
        await self._changed.wait()

    async def drop_connections(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(middlewares=[self._record])
        app.router.add_post("/v1.0/oauth2/accessToken", self._token)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._batch_send)
        app.router.add_post("/v1.0/robot/groupMessages/send", self._group_send)
        app.router.add_post("/v1.0/card/instances/createAndDeliver", self._card_create)
        app.router.add_put("/v1.0/card/instances", self._card_update)
        app.router.add_post("/v1.0/robot/messageFiles/download", self._download)
        app.router.add_get("/files/{code}", self._file)
        app.router.add_post("/media/upload", self._upload)
        app.router.add_post("/topapi/im/chat/scencegroup/interactivecard/callback/register", self._register)
        app.router.add_post("/robot/send", self._custom_robot)
        app.router.add_post("/robot/sendBySession", self._session_webhook)
        app.router.add_post("/v1.0/gateway/connections/open", self._gateway_open)
        app.router.add_get("/gateway", self._gateway_ws)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        await self.drop_connections()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- plumbing ------------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        recorded = Recorded(request.method, request.path, dict(request.query), dict(request.headers), body)
        self.requests.append(recorded)
        request[RECORDED] = recorded
        if delay := self._delays.get(request.path):
            await asyncio.sleep(delay)
        queue = self._failures.get(request.path)
        if queue:
            failure = queue.popleft()
            return web.json_response(failure.body, status=failure.status, headers=failure.headers)
        return await handler(request)

    def _authorized(self, request: web.Request) -> bool:
        token = request.headers.get("x-acs-dingtalk-access-token") or request.query.get("access_token")
        return token in self.valid_tokens

    def _unauthorized(self) -> web.Response:
        return web.json_response(
            {"code": "InvalidAuthentication", "message": "不合法的access_token", "requestid": "r"}, status=401
        )

    def _accept(self, request: web.Request) -> None:
        self.delivered.append(request[RECORDED])

    def _number(self) -> int:
        return next(self._numbers)

    # -- open API ------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("appKey") != APP_KEY or body.get("appSecret") != APP_SECRET:
            return web.json_response(
                {"code": "invalidClientIdOrSecret", "message": "无效的clientId或者clientSecret"}, status=400
            )
        token = f"tok-{next(self._token_numbers)}"
        self.valid_tokens.add(token)
        return web.json_response({"accessToken": token, "expireIn": 7200})

    async def _batch_send(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        body = await request.json()
        json.loads(body["msgParam"])  # must be a JSON string
        self._accept(request)
        return web.json_response(
            {
                "processQueryKey": f"pqk-{self._number()}",
                "invalidStaffIdList": [],
                "flowControlledStaffIdList": [],
            }
        )

    async def _group_send(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        body = await request.json()
        json.loads(body["msgParam"])
        self._accept(request)
        return web.json_response({"processQueryKey": f"pqk-{self._number()}"})

    async def _card_create(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        body = await request.json()
        space_type, _, space_id = body["openSpaceId"].removeprefix("dtv1.card//").partition(".")
        self._accept(request)
        return web.json_response(
            {
                "success": True,
                "result": {
                    "outTrackId": body["outTrackId"],
                    "deliverResults": [
                        {"spaceType": space_type, "spaceId": space_id, "success": True, "carrierId": "c1"}
                    ],
                },
            }
        )

    async def _card_update(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        self._accept(request)
        return web.json_response({"success": True, "result": True})

    async def _download(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        body = await request.json()
        code = body["downloadCode"]
        if code not in self.files:
            return web.json_response(
                {"code": "invalidDownloadCode", "message": "downloadCode无效"}, status=400
            )
        return web.json_response({"downloadUrl": f"{self.base_url}/files/{code}"})

    async def _file(self, request: web.Request) -> web.Response:
        return web.Response(body=self.files[request.match_info["code"]], content_type="image/jpeg")

    async def _upload(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"errcode": 40014, "errmsg": "不合法的access_token"})
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "type": "image", "media_id": f"@media-{self._number()}"}
        )

    async def _register(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"errcode": 40014, "errmsg": "不合法的access_token"})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    # -- webhooks ------------------------------------------------------------------------------

    async def _custom_robot(self, request: web.Request) -> web.Response:
        if request.query.get("access_token") != WEBHOOK_TOKEN:
            return web.json_response({"errcode": 300001, "errmsg": "token is not exist"})
        try:
            verify(
                request.query.get("timestamp"),
                request.query.get("sign"),
                WEBHOOK_SECRET,
                int(time.time() * 1000),
            )
        except BadSignature:
            return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
        recent = [r for r in self.calls("/robot/send") if r.query.get("access_token") == WEBHOOK_TOKEN]
        if len(recent) > 20:
            return web.json_response(
                {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
            )
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _session_webhook(self, request: web.Request) -> web.Response:
        self._accept(request)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    # -- Stream gateway ------------------------------------------------------------------------

    async def _gateway_open(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("clientId") != APP_KEY or body.get("clientSecret") != APP_SECRET:
            return web.json_response(
                {"code": "invalidClientIdOrSecret", "message": "bad credentials"}, status=400
            )
        ticket = f"ticket/{self._number()}+="  # characters that must be URL-encoded
        self._tickets.add(ticket)
        endpoint = self.base_url.replace("http://", "ws://") + "/gateway"
        return web.json_response({"endpoint": endpoint, "ticket": ticket})

    async def _gateway_ws(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.json_response({"code": "invalidTicket"}, status=403)
        self._tickets.discard(ticket)  # one-time
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        self.connections += 1
        self._changed.set()
        pusher = asyncio.create_task(self._push_frames(ws))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.acks.append(json.loads(message.data))
                    self._changed.set()
        finally:
            pusher.cancel()
            self._sockets.discard(ws)
        return ws

    async def _push_frames(self, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            frame = await self.frames.get()
            if ws.closed:
                await self.frames.put(frame)
                return
            await ws.send_str(json.dumps(frame))


# -- harness -------------------------------------------------------------------------------------

FIXTURES = Path(__file__).parents[1] / "fixtures" / "dingtalk"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class RecordingSink:
    def __init__(self) -> None:
        self.events: list[InboundEvent] = []

    async def __call__(self, event: InboundEvent) -> None:
        self.events.append(event)


def settings_for(fake: FakeDingTalk, **changes: Any) -> Settings:
    base = Settings(
        app_key=APP_KEY,
        app_secret=APP_SECRET,
        robot_code=APP_KEY,
        api_base=fake.base_url,
        oapi_base=fake.base_url,
        card_template_id="tpl-psibot.schema",
    )
    return replace(base, **changes)


@dataclass
class Bot:
    adapter: DingTalkAdapter
    sink: RecordingSink
    url: str
    http: aiohttp.ClientSession

    async def post(
        self,
        path: str,
        body: dict[str, Any] | bytes,
        *,
        secret: str = APP_SECRET,
        timestamp: int | None = None,
    ) -> aiohttp.ClientResponse:
        """POST as DingTalk would: `timestamp` and `sign` headers over the app secret."""
        ts = str(int(time.time() * 1000) if timestamp is None else timestamp)
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        headers = {"timestamp": ts, "sign": sign(ts, secret), "Content-Type": "application/json"}
        async with self.http.post(f"{self.url}{path}", data=data, headers=headers) as response:
            await response.read()
            return response


@asynccontextmanager
async def running_bot(settings: Settings, store: KeyValueStore | None = None) -> AsyncIterator[Bot]:
    """The adapter mounted on a real aiohttp server on loopback (its startup and cleanup hooks run)."""
    adapter = DingTalkAdapter(settings, store or MemoryStore())
    sink = RecordingSink()
    app = web.Application()
    adapter.routes(app, sink)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Bot(adapter, sink, str(server.make_url("")).rstrip("/"), http)
    finally:
        await server.close()
        await adapter.close()
