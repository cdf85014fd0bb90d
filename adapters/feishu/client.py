"""Feishu open API calls: tenant access token, send, card PATCH, image upload and download, bot info.

Rules (open.feishu.cn 服务端 API 调用流程, 频控策略, 通用错误码): the envelope is {"code", "msg", "data"};
code 0 is success. 99991663 / 99991661 mean the tenant token is bad: refresh it (one caller, shared
through the store) and retry once. HTTP 429 or code 99991400 mean rate limited: wait the seconds in
`x-ogw-ratelimit-reset` (the target, or the whole app, is held that long) and fail transiently with
retry_after. 5xx and network errors are transient; other codes are permanent, with Feishu's msg.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from adapters.http import Response, SessionOwner, request
from adapters.ratelimit import Rate, RateLimiter
from adapters.token import AccessToken, TokenProvider, TokenRejected
from bot.adapter import DeliveryError
from bot.kv import KeyValueStore

log = logging.getLogger("psibot.feishu")

TOKEN_ERRORS = frozenset({99991663, 99991661})
RATE_LIMITED = frozenset({99991400, 11232})  # API frequency limit; custom bot overload
DEFAULT_PAUSE = 1.0


class FeishuClient(SessionOwner):
    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        store: KeyValueStore,
        api_base: str,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._base = api_base.rstrip("/")
        self.tokens = TokenProvider(store, f"feishu:{app_id}", self.fetch_token)
        # Feishu: 50 messages/s per app, 5/s to one user or chat.
        self.limiter = limiter or RateLimiter(Rate(50, 1), Rate(5, 1))

    async def fetch_token(self) -> AccessToken:
        resp = await request(
            self.session,
            "POST",
            f"{self._base}/open-apis/auth/v3/tenant_access_token/internal",
            json={"app_id": self._app_id, "app_secret": self._app_secret},
            what="feishu tenant_access_token",
        )
        data = judge(resp, "feishu tenant_access_token", None)
        token = data.get("tenant_access_token")
        if not isinstance(token, str) or not token:
            raise DeliveryError("feishu tenant_access_token: no token in the answer", transient=True)
        return AccessToken(token, float(data.get("expire") or 7200))

    async def call(
        self, method: str, path: str, *, what: str, target: str = "", raw: bool = False, **kwargs: Any
    ) -> Response:
        """One authorised call with token refresh and rate-limit handling; `raw` skips envelope checks."""
        if target:
            await self.limiter.acquire(target)

        async def attempt(token: str) -> Response:
            resp = await request(
                self.session,
                method,
                f"{self._base}{path}",
                headers={"Authorization": f"Bearer {token}"},
                what=what,
                **kwargs,
            )
            if not raw or resp.content_type == "application/json" or resp.status != 200:
                judge(resp, what, self.limiter, target)
            return resp

        return await self.tokens.call(attempt)

    async def send(self, receive_id_type: str, receive_id: str, msg_type: str, content: str) -> str:
        resp = await self.call(
            "POST",
            "/open-apis/im/v1/messages",
            what="feishu send message",
            target=receive_id,
            params={"receive_id_type": receive_id_type},
            json={"receive_id": receive_id, "msg_type": msg_type, "content": content},
        )
        return str(resp.json().get("data", {}).get("message_id", ""))

    async def patch_card(self, message_id: str, content: str) -> None:
        await self.call(
            "PATCH",
            f"/open-apis/im/v1/messages/{message_id}",
            what="feishu update card",
            json={"content": content},
        )

    async def upload_image(self, data: bytes, mime_type: str) -> str:
        form = aiohttp.FormData()
        form.add_field("image_type", "message")
        form.add_field("image", data, filename="image", content_type=mime_type)
        resp = await self.call("POST", "/open-apis/im/v1/images", what="feishu upload image", data=form)
        return str(resp.json().get("data", {}).get("image_key", ""))

    async def download_image(self, message_id: str, image_key: str) -> bytes:
        resp = await self.call(
            "GET",
            f"/open-apis/im/v1/messages/{message_id}/resources/{image_key}",
            what="feishu download image",
            params={"type": "image"},
            raw=True,
            time_limit=60.0,
        )
        return resp.body

    async def bot_open_id(self) -> str:
        resp = await self.call("GET", "/open-apis/bot/v3/info", what="feishu bot info")
        return str(resp.json().get("bot", {}).get("open_id", ""))


def judge(resp: Response, what: str, limiter: RateLimiter | None, target: str = "") -> dict[str, Any]:
    """The envelope of a successful answer; raises for token, rate-limit and other errors."""
    data = resp.json()
    code = data.get("code")
    if code in TOKEN_ERRORS:
        raise TokenRejected(f"{code} {data.get('msg', '')}")
    if resp.status == 429 or code in RATE_LIMITED:
        pause = _reset_seconds(resp)
        if limiter is not None:
            limiter.hold(pause, target or None)
        raise DeliveryError(f"{what}: rate limited ({code or 429})", transient=True, retry_after=pause)
    if code == 0 and resp.status == 200:
        return data
    message = f"{what}: {code} {data.get('msg', '')}" if code is not None else f"{what}: HTTP {resp.status}"
    log.warning("%s", message)
    raise DeliveryError(message, transient=False)


def _reset_seconds(resp: Response) -> float:
    for name, value in resp.headers.items():
        if name.lower() == "x-ogw-ratelimit-reset":
            try:
                return max(float(value), 0.1)
            except ValueError:
                break
    return DEFAULT_PAUSE
