"""DingTalk open API calls: token, robot messages, cards, files, webhooks.

Deadline: each call has a 10 s total timeout. Retry rule: a call refused for its token (HTTP 401, or an
auth error code) invalidates the shared token and is retried once (adapters.token); anything else is
not retried here but raised as DeliveryError for the engine's outbox — transient (with retry_after)
for timeouts, 5xx, throttling and flow control, permanent with DingTalk's own message otherwise.
Error shapes differ by API family: api.dingtalk.com v1.0 answers non-2xx with {"code","message"};
oapi.dingtalk.com and webhooks answer HTTP 200 with {"errcode","errmsg"}.
Signature: custom robot webhooks are signed in the query string (crypto.signed_webhook_url).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from adapters.http import SessionOwner, read_limited
from adapters.ratelimit import Rate, RateLimiter
from adapters.token import AccessToken, TokenProvider, TokenRejected
from bot.adapter import DeliveryError
from bot.kv import KeyValueStore

from .crypto import signed_webhook_url
from .render import Message

if TYPE_CHECKING:
    from . import Settings

log = logging.getLogger("psibot.dingtalk")

TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)
MAX_DOWNLOAD = 20 * 1024 * 1024
CARD_ROUTE_KEY = "psibot"
_AUTH_ERRCODES = {40001, 40014, 42001}  # oapi: invalid credential / invalid token / token expired
_THROTTLE_ERRCODES = {-1, 88, 90002, 90018, 130101, 130102}  # busy, QPS and robot "send too fast"
_THROTTLE_WORDS = ("throttl", "qpslimit", "flowcontrol", "ratelimit", "toomanyrequests")


class Throttled(DeliveryError):
    """DingTalk said "slow down"; the limiter holds that target (or the app) for retry_after."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, transient=True, retry_after=retry_after)


class DingTalkClient(SessionOwner):
    """One app's open API; tokens are shared through the KeyValueStore, sends go through the limiters."""

    def __init__(self, settings: Settings, store: KeyValueStore) -> None:
        self._settings = settings
        self._tokens = TokenProvider(store, f"dingtalk:{settings.app_key}", self.fetch_token)
        # Robot sends: ~20 QPS per app; a person or a group should not get more than 20 a minute.
        self._limiter = RateLimiter(Rate(20, 1.0), Rate(20, 60.0))

    def session_timeout(self) -> aiohttp.ClientTimeout:
        return TIMEOUT

    async def fetch_token(self) -> AccessToken:
        """A new app access token, straight from DingTalk (the provider caches it)."""
        url = f"{self._settings.api_base}/v1.0/oauth2/accessToken"
        body = {"appKey": self._settings.app_key, "appSecret": self._settings.app_secret}
        try:
            data = await _request(self.session, "POST", url, json_body=body)
        except TokenRejected as exc:
            raise DeliveryError(f"app key or secret refused: {exc}", transient=False) from exc
        token = data.get("accessToken")
        if not isinstance(token, str) or not token:
            raise DeliveryError("token endpoint answered without accessToken", transient=True, retry_after=5)
        return AccessToken(token, float(data.get("expireIn", 7200)))

    async def send_to_user(self, user_id: str, message: Message) -> str:
        """A 1:1 robot message; returns DingTalk's processQueryKey."""
        await self._limiter.acquire(f"user:{user_id}")
        msg_key, msg_param = message.openapi()
        body = {
            "robotCode": self._settings.robot_code,
            "userIds": [user_id],
            "msgKey": msg_key,
            "msgParam": msg_param,
        }
        data = await self.api("POST", "/v1.0/robot/oToMessages/batchSend", body)
        if user_id in (data.get("invalidStaffIdList") or []):
            raise DeliveryError(
                f"DingTalk does not know user {user_id} (invalidStaffIdList)", transient=False
            )
        if user_id in (data.get("flowControlledStaffIdList") or []):
            self._limiter.hold(60, f"user:{user_id}")
            raise DeliveryError(f"DingTalk flow-controlled user {user_id}", transient=True, retry_after=60)
        return str(data.get("processQueryKey", ""))

    async def send_to_group(self, conversation_id: str, message: Message) -> str:
        await self._limiter.acquire(f"chat:{conversation_id}")
        msg_key, msg_param = message.openapi()
        body = {
            "robotCode": self._settings.robot_code,
            "openConversationId": conversation_id,
            "msgKey": msg_key,
            "msgParam": msg_param,
        }
        data = await self.api("POST", "/v1.0/robot/groupMessages/send", body)
        return str(data.get("processQueryKey", ""))

    async def send_session_webhook(self, url: str, message: Message, limit_key: str) -> None:
        await self._limiter.acquire(limit_key)
        await _post_webhook(self.session, url, message.webhook())

    async def create_card(
        self, kind: str, target_id: str, out_track_id: str, params: Mapping[str, str]
    ) -> None:
        """Create and deliver an interactive card from the configured template to a user or a group."""
        settings = self._settings
        body: dict[str, Any] = {
            "cardTemplateId": settings.card_template_id,
            "outTrackId": out_track_id,
            "cardData": {"cardParamMap": dict(params)},
            "callbackType": "STREAM" if settings.mode == "stream" else "HTTP",
        }
        if settings.mode != "stream":
            body["callbackRouteKey"] = CARD_ROUTE_KEY
        if kind == "chat":
            body["openSpaceId"] = f"dtv1.card//IM_GROUP.{target_id}"
            body["imGroupOpenSpaceModel"] = {"supportForward": True}
            body["imGroupOpenDeliverModel"] = {"robotCode": settings.robot_code}
        else:
            body["openSpaceId"] = f"dtv1.card//IM_ROBOT.{target_id}"
            body["imRobotOpenSpaceModel"] = {"supportForward": True}
            body["imRobotOpenDeliverModel"] = {"spaceType": "IM_ROBOT", "robotCode": settings.robot_code}
        await self._limiter.acquire(f"{kind}:{target_id}")
        data = await self.api("POST", "/v1.0/card/instances/createAndDeliver", body)
        result = data.get("result")
        deliveries = result.get("deliverResults") if isinstance(result, dict) else None
        for delivery in deliveries or []:
            if isinstance(delivery, dict) and delivery.get("success") is False:
                raise DeliveryError(
                    f"card not delivered: {delivery.get('errorMsg', 'no reason given')}", transient=False
                )

    async def update_card(self, out_track_id: str, params: Mapping[str, str]) -> None:
        """Replace the card's shared data: everyone who sees the card sees the change."""
        await self._limiter.acquire(f"card:{out_track_id}")
        body = {
            "outTrackId": out_track_id,
            "cardData": {"cardParamMap": dict(params)},
            "cardUpdateOptions": {"updateCardDataByKey": True},
        }
        await self.api("PUT", "/v1.0/card/instances", body)

    async def download_file(self, download_code: str) -> bytes:
        """A received picture: trade the downloadCode for a short-lived URL, then fetch it (no auth)."""
        body = {"downloadCode": download_code, "robotCode": self._settings.robot_code}
        data = await self.api("POST", "/v1.0/robot/messageFiles/download", body)
        url = data.get("downloadUrl")
        if not isinstance(url, str) or not url:
            raise DeliveryError("DingTalk gave no downloadUrl", transient=False)
        try:
            async with self.session.get(url) as response:
                if response.status != 200:
                    raise DeliveryError(
                        f"image download answered HTTP {response.status}",
                        transient=response.status >= 500,
                        retry_after=5,
                    )
                data_bytes = await read_limited(response.content, MAX_DOWNLOAD)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(
                f"image download failed: {type(exc).__name__}", transient=True, retry_after=5
            ) from exc
        if data_bytes is None:
            raise DeliveryError("image larger than 20 MB", transient=False)
        return data_bytes

    async def upload_image(self, data: bytes, mime_type: str) -> str:
        """Upload an image for sampleImageMsg; returns the media id DingTalk accepts as photoURL."""
        suffix = mime_type.partition("/")[2] or "png"

        async def call(token: str) -> dict[str, Any]:
            form = aiohttp.FormData()
            form.add_field("type", "image")
            form.add_field("media", data, filename=f"image.{suffix}", content_type=mime_type)
            url = f"{self._settings.oapi_base}/media/upload"
            return _oapi_result(
                await _request(self.session, "POST", url, params={"access_token": token}, data=form)
            )

        result = await self._tokens.call(call)
        media_id = result.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise DeliveryError("image upload gave no media_id", transient=False)
        return media_id

    async def register_card_callback(self, callback_url: str) -> None:
        """Point HTTP card callbacks (route key `psibot`) at our /dingtalk/card, signed with the app secret."""
        body = {
            "callback_url": callback_url,
            "api_secret": self._settings.app_secret,
            "callbackRouteKey": CARD_ROUTE_KEY,
            "forceUpdate": True,
        }

        async def call(token: str) -> dict[str, Any]:
            url = f"{self._settings.oapi_base}/topapi/im/chat/scencegroup/interactivecard/callback/register"
            return _oapi_result(
                await _request(self.session, "POST", url, params={"access_token": token}, json_body=body)
            )

        await self._tokens.call(call)

    async def api(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A v1.0 API call with the shared token; refreshed and retried once if DingTalk rejects it."""
        url = f"{self._settings.api_base}{path}"

        async def call(token: str) -> dict[str, Any]:
            return await _request(
                self.session, method, url, json_body=body, headers={"x-acs-dingtalk-access-token": token}
            )

        try:
            return await self._tokens.call(call)
        except Throttled as exc:
            self._limiter.hold(exc.retry_after or 2)
            raise


def _oapi_result(data: dict[str, Any]) -> dict[str, Any]:
    """oapi answers 200 with an errcode; translate it like the v1.0 errors."""
    errcode = data.get("errcode", 0)
    if errcode in (0, "0"):
        return data
    message = f"errcode {errcode} {data.get('errmsg', '')}".strip()
    if errcode in _AUTH_ERRCODES:
        raise TokenRejected(message)
    if errcode in _THROTTLE_ERRCODES:
        raise Throttled(f"throttled: {message}", retry_after=2)
    raise DeliveryError(message, transient=False)


async def _post_webhook(session: aiohttp.ClientSession, url: str, body: Mapping[str, Any]) -> None:
    data = await _request(session, "POST", url, json_body=body)
    errcode = data.get("errcode", 0)
    if errcode in (0, "0"):
        return
    message = f"webhook refused: errcode {errcode} {data.get('errmsg', '')}".strip()
    if errcode in _THROTTLE_ERRCODES:
        raise Throttled(message, retry_after=60)
    raise DeliveryError(message, transient=False)


async def _request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    json_body: Mapping[str, Any] | None = None,
    data: aiohttp.FormData | None = None,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One HTTP exchange → its JSON object, or the right DingTalk-flavoured exception."""
    try:
        async with session.request(
            method, url, json=json_body, data=data, params=params, headers=headers
        ) as response:
            text = await response.text()
            status = response.status
            retry_after = response.headers.get("Retry-After", "")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryError(
            f"DingTalk unreachable: {type(exc).__name__}", transient=True, retry_after=5
        ) from exc
    try:
        payload = json.loads(text) if text else {}
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    if 200 <= status < 300:
        return payload
    code = str(payload.get("code", ""))
    message = f"HTTP {status} {code} {payload.get('message', '')}".strip()
    lowered = code.lower()
    if status == 401 or (status in (400, 403) and ("token" in lowered or "authentication" in lowered)):
        raise TokenRejected(message)
    if status == 429 or any(word in lowered for word in _THROTTLE_WORDS):
        wait = float(retry_after) if retry_after.isdigit() else 2.0
        raise Throttled(f"throttled: {message}", retry_after=wait)
    if status >= 500:
        raise DeliveryError(message, transient=True, retry_after=5)
    raise DeliveryError(message, transient=False)


# Custom group robots take 20 messages a minute each, then DingTalk mutes them for 10 minutes; the
# limiter is per process because alerts need no DingTalk app (and so no client) at all.
_ROBOT_LIMITER = RateLimiter(Rate(1000, 1.0), Rate(20, 60.0))


async def send_custom_webhook(url: str, secret: str | None, message: Message) -> None:
    """One message to a custom group robot; the URL is signed when the robot has a `SEC…` secret."""
    robot = url.partition("access_token=")[2] or url
    await _ROBOT_LIMITER.acquire(robot)
    signed = signed_webhook_url(url, secret, int(time.time() * 1000)) if secret else url
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        try:
            await _post_webhook(session, signed, message.webhook())
        except Throttled as exc:
            _ROBOT_LIMITER.hold(exc.retry_after or 60, robot)
            raise
