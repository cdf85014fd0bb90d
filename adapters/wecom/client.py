"""WeCom open API calls: access token, message send, card update, media upload and download.

Rules (developer.work.weixin.qq.com/document/path/91039, 90236, 94888, 90254): errors come back as HTTP
200 with a non-zero `errcode`. 40014 / 42001 / 40001 mean the token is bad: refresh it (one caller,
shared through the store) and retry once. 45009 means rate limited: the target is held for a minute and
the send fails transiently with retry_after. -1 (system busy), 5xx and network errors are transient;
everything else is permanent and carries WeCom's errmsg. An app may message one member ~30 times a
minute. A card's response_code updates it once, within 72 hours.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from adapters.http import SessionOwner, request
from adapters.ratelimit import Rate, RateLimiter
from adapters.token import AccessToken, TokenProvider, TokenRejected
from bot.adapter import DeliveryError
from bot.kv import KeyValueStore

log = logging.getLogger("psibot.wecom")

TOKEN_ERRORS = frozenset({40014, 42001, 40001})
RATE_LIMITED = 45009
BUSY = -1
RATE_LIMIT_PAUSE = 60.0


class WeComClient(SessionOwner):
    def __init__(
        self,
        *,
        corp_id: str,
        agent_id: int,
        secret: str,
        store: KeyValueStore,
        api_base: str,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._corp_id = corp_id
        self._agent_id = agent_id
        self._secret = secret
        self._base = api_base.rstrip("/")
        self.tokens = TokenProvider(store, f"wecom:{corp_id}:{agent_id}", self.fetch_token)
        self.limiter = limiter or RateLimiter(Rate(20, 1), Rate(30, 60))

    async def fetch_token(self) -> AccessToken:
        resp = await request(
            self.session,
            "GET",
            f"{self._base}/gettoken",
            params={"corpid": self._corp_id, "corpsecret": self._secret},
            what="wecom gettoken",
        )
        data = _checked(resp.json(), "wecom gettoken", resp.status)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise DeliveryError("wecom gettoken: no access_token in the answer", transient=True)
        return AccessToken(token, float(data.get("expires_in") or 7200))

    async def call(
        self, path: str, *, what: str, payload: dict[str, Any], target: str = ""
    ) -> dict[str, Any]:
        """POST JSON to an API that takes `access_token`, with token refresh and rate-limit handling."""
        if target:
            await self.limiter.acquire(target)

        async def attempt(token: str) -> dict[str, Any]:
            resp = await request(
                self.session,
                "POST",
                f"{self._base}/{path}",
                params={"access_token": token},
                json=payload,
                what=what,
            )
            return self._judge(resp.json(), what, resp.status, target)

        return await self.tokens.call(attempt)

    def _judge(self, data: dict[str, Any], what: str, status: int, target: str) -> dict[str, Any]:
        code = data.get("errcode")
        if code in TOKEN_ERRORS:
            raise TokenRejected(f"{code} {data.get('errmsg', '')}")
        if code == RATE_LIMITED:
            self.limiter.hold(RATE_LIMIT_PAUSE, target or None)
            raise DeliveryError(f"{what}: rate limited (45009)", transient=True, retry_after=RATE_LIMIT_PAUSE)
        return _checked(data, what, status)

    async def send(self, body: dict[str, Any], *, to_user: str) -> dict[str, Any]:
        payload = {"touser": to_user, "agentid": self._agent_id, **body}
        return await self.call("message/send", what="wecom message/send", payload=payload, target=to_user)

    async def send_to_chat(self, body: dict[str, Any], *, chat_id: str) -> dict[str, Any]:
        payload = {"chatid": chat_id, **body}
        return await self.call("appchat/send", what="wecom appchat/send", payload=payload, target=chat_id)

    async def update_template_card(self, response_code: str, template_card: dict[str, Any]) -> None:
        payload = {
            "atall": 1,
            "agentid": self._agent_id,
            "response_code": response_code,
            "template_card": template_card,
        }
        await self.call("message/update_template_card", what="wecom update_template_card", payload=payload)

    async def upload_image(self, data: bytes, filename: str, mime_type: str) -> str:
        async def attempt(token: str) -> str:
            form = aiohttp.FormData()
            form.add_field("media", data, filename=filename, content_type=mime_type)
            resp = await request(
                self.session,
                "POST",
                f"{self._base}/media/upload",
                params={"access_token": token, "type": "image"},
                data=form,
                what="wecom media/upload",
            )
            result = self._judge(resp.json(), "wecom media/upload", resp.status, "")
            return str(result.get("media_id", ""))

        return await self.tokens.call(attempt)

    async def download_media(self, media_id: str) -> bytes:
        async def attempt(token: str) -> bytes:
            resp = await request(
                self.session,
                "GET",
                f"{self._base}/media/get",
                params={"access_token": token, "media_id": media_id},
                what="wecom media/get",
                time_limit=60.0,
            )
            if resp.content_type in ("application/json", "text/plain") or resp.status != 200:
                self._judge(resp.json(), "wecom media/get", resp.status, "")
                raise DeliveryError("wecom media/get: no file in the answer", transient=False)
            return resp.body

        return await self.tokens.call(attempt)


def _checked(data: dict[str, Any], what: str, status: int) -> dict[str, Any]:
    code = data.get("errcode", 0 if status == 200 and data else None)
    if code == 0:
        return data
    message = (
        f"{what}: {code} {data.get('errmsg', '')}".strip() if code is not None else f"{what}: HTTP {status}"
    )
    log.warning("%s", message)
    raise DeliveryError(message, transient=code == BUSY or status == 429)


async def send_webhook(
    url: str, secret: str | None, body: dict[str, Any], *, session: aiohttp.ClientSession | None = None
) -> None:
    """Post one message to a group robot (the key in `url` is its only credential; `secret` is unused).

    Robots take 20 messages a minute; 45009 beyond that.
    """
    own = session is None
    session = session or aiohttp.ClientSession()
    try:
        resp = await request(session, "POST", url, json=body, what="wecom robot webhook")
    finally:
        if own:
            await session.close()
    data = resp.json()
    if data.get("errcode") == RATE_LIMITED:
        raise DeliveryError("wecom robot webhook: rate limited (45009)", transient=True, retry_after=60.0)
    _checked(data, "wecom robot webhook", resp.status)
