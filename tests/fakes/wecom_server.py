"""A fake WeCom open API on loopback: token, message send, card update, media; records every request.

`media` holds the files `media/get` serves, by media id (a received photo is put there first).

Tell it to fail with `fail(...)`: the next API calls (not gettoken) answer "expired" (42001), "limited"
(45009), "error" (HTTP 500), "denied" (a permanent errcode), or are "slow" (delayed by `slow_seconds`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

IMAGE_BYTES = b"\x89PNG\r\n\x1a\nfake-image"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeWeCom:
    corp_id: str = "ww_corp_test"
    secret: str = "s3cret"
    slow_seconds: float = 0.5
    requests: list[Recorded] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    delivered: list[Recorded] = field(default_factory=list)  # the message sends WeCom accepted
    media: dict[str, bytes] = field(default_factory=lambda: {"media_abc123": IMAGE_BYTES})
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _server: TestServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_post("/cgi-bin/message/send", self._send)
        app.router.add_post("/cgi-bin/appchat/send", self._send)
        app.router.add_post("/cgi-bin/message/update_template_card", self._ok)
        app.router.add_post("/cgi-bin/media/upload", self._upload)
        app.router.add_get("/cgi-bin/media/get", self._media)
        app.router.add_post("/cgi-bin/webhook/send", self._webhook)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return str(self._server.make_url("/cgi-bin"))

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    def fail(self, *kinds: str) -> None:
        self.failures.extend(kinds)

    def expire_tokens(self) -> None:
        self.valid_tokens.clear()

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(path)]

    async def _record(self, request: web.Request) -> Recorded:
        if request.content_type == "application/json":
            body: Any = await request.json()
        elif request.content_type.startswith("multipart/"):
            body = {
                k: (v if isinstance(v, str) else v.file.read()) for k, v in (await request.post()).items()
            }
        else:
            body = None
        recorded = Recorded(request.method, request.path, dict(request.query), body)
        self.requests.append(recorded)
        return recorded

    async def _gettoken(self, request: web.Request) -> web.Response:
        await self._record(request)
        if request.query.get("corpid") != self.corp_id or request.query.get("corpsecret") != self.secret:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        token = f"token-{next(self._counter)}"
        self.valid_tokens.add(token)
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    async def _gate(self, request: web.Request) -> web.Response | None:
        """Apply the queued failure or the token check; None when the call may proceed."""
        await self._record(request)
        failure = self.failures.pop(0) if self.failures else ""
        if failure == "slow":
            await asyncio.sleep(self.slow_seconds)
        if failure == "error":
            return web.Response(status=500, text="boom")
        if failure == "limited":
            return web.json_response({"errcode": 45009, "errmsg": "api freq out of limit"})
        if failure == "denied":
            return web.json_response({"errcode": 81013, "errmsg": "user & party & tag all invalid"})
        if failure == "expired":
            self.valid_tokens.discard(request.query.get("access_token", ""))
        if request.query.get("access_token") not in self.valid_tokens:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        return None

    async def _send(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        self.delivered.append(self.requests[-1])
        body = self.requests[-1].body
        answer = {"errcode": 0, "errmsg": "ok", "msgid": f"msg-{next(self._counter)}"}
        if body.get("msgtype") == "template_card":
            answer["response_code"] = f"rc-{next(self._counter)}"
        return web.json_response(answer)

    async def _ok(self, request: web.Request) -> web.Response:
        return await self._gate(request) or web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _upload(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        return web.json_response({"errcode": 0, "errmsg": "ok", "type": "image", "media_id": "media-up-1"})

    async def _media(self, request: web.Request) -> web.Response:
        if (refused := await self._gate(request)) is not None:
            return refused
        data = self.media.get(request.query.get("media_id", ""))
        if data is None:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        return web.Response(
            body=data,
            content_type="image/png",
            headers={"Content-Disposition": 'attachment; filename="a.png"'},
        )

    async def _webhook(self, request: web.Request) -> web.Response:
        await self._record(request)
        if self.failures and self.failures[0] == "limited":
            self.failures.pop(0)
            return web.json_response({"errcode": 45009, "errmsg": "api freq out of limit"})
        ok = request.query.get("key") == "robot-key"
        return web.Response(
            text=json.dumps({"errcode": 0 if ok else 93000, "errmsg": "ok" if ok else "invalid webhook url"}),
            content_type="application/json",
        )
