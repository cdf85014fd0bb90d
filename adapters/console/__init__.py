"""The console: a chat page and a small HTTP interface served by psibot's own app, no platform needed.

It translates and nothing more, like every adapter: a posted message, button press or photo becomes a
neutral event for the engine's sink (which returns at once, so the POST answers 202 at once); replies
the outbox delivers land in a per-user mailbox in memory, read by long-polling or Server-Sent Events.
Because the console lets anyone speak as anyone, it is protected by PSIBOT_CONSOLE_TOKEN when one is set
(bearer header or cookie, compared in constant time). The interface is documented in docs/console.md.
Who may be spoken as is the bot's to say (`People`, given by bot.app), not read from the database here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import unicodedata
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any, NamedTuple

from aiohttp import BodyPartReader, web

from adapters.http import read_limited
from bot.adapter import DeliveryError, EventSink
from bot.model import Card, CardAction, ImageMessage, Origin, Reply, Sent, Target, TextMessage
from bot.serial import reply_to_json

PLATFORM = "console"
COOKIE = "psibot_console"
MENTION = "@psibot"
MAILBOX_SIZE = 500  # messages kept per user or chat; older ones fall off
MAX_IMAGE_BYTES = 10 * 1024 * 1024
KEPT_IMAGES = 100
MAX_WAIT_SECONDS = 30.0
HEARTBEAT_SECONDS = 15.0

# The people bound to a console identity, as `GET /console/api/users` lists them (docs/console.md):
# {"id", "name", "role", "role_name", "examples": [{"label", "text"}]} each.
People = Callable[[], Awaitable[list[dict[str, Any]]]]


def utcnow() -> datetime:
    return datetime.now(UTC)

_STATIC = resources.files(__package__) / "static"
_STATIC_TYPES = {"index.html": "text/html", "app.js": "application/javascript", "style.css": "text/css"}


class _Record(NamedTuple):
    """One message in a mailbox, kept as the JSON it is sent as: made once, not at every poll, and
    no tree of dicts for the garbage collector to walk (100 users' full mailboxes are ~50,000 messages)."""

    seq: int
    updated: int  # the sequence number of its last change (a card replaced later gets a new one)
    ref: str
    body: str


@dataclass
class _Mailbox:
    """What one user (or one group chat) sees: their own messages and the bot's, in order."""

    records: list[_Record] = field(default_factory=list)
    newest: int = 0  # the highest `updated` in records: a poll with nothing newer needs no scan
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def news(self, after: int) -> list[_Record]:
        if self.newest <= after:
            return []
        return [record for record in self.records if record.updated > after]


class ConsoleAdapter:
    platform = PLATFORM

    def __init__(self, people: People, *, token: str | None = None) -> None:
        self._people = people
        self._token = token
        self._mailboxes: dict[str, _Mailbox] = {}
        self._where: dict[str, str] = {}  # message ref → mailbox key, for card updates
        self._images: OrderedDict[str, bytes] = OrderedDict()
        self._sequence = 0
        self._closing = False

    # ------------------------------------------------------------------ the Adapter protocol

    def routes(self, app: web.Application, sink: EventSink) -> None:
        self._sink = sink
        app.middlewares.append(self._guard)
        app.router.add_get("/console", self._page)
        app.router.add_get("/console/static/{name}", self._static)
        app.router.add_get("/console/api/users", self._users)
        app.router.add_post("/console/api/messages", self._post_message)
        app.router.add_get("/console/api/messages", self._get_messages)
        app.router.add_post("/console/api/actions", self._post_action)
        app.router.add_post("/console/api/images", self._post_image)
        app.router.add_get("/console/api/stream", self._stream)
        app.on_shutdown.append(self._on_shutdown)

    async def send(self, target: Target, reply: Reply) -> Sent:
        if self._closing:
            raise DeliveryError("console is shutting down", transient=True)
        record = await self._append(_mailbox_key(target.kind, target.id), {"direction": "out", "reply": reply_to_json(reply)})
        return Sent(platform_message_ref=record.ref)

    async def update_card(self, action: CardAction | None, platform_card_ref: str, card: Card) -> None:
        key = self._where.get(platform_card_ref)
        if key is None:
            return  # fell off the mailbox (or the process restarted): nothing left to update
        mailbox = self._mailboxes[key]
        async with mailbox.changed:
            for index, record in enumerate(mailbox.records):
                if record.ref == platform_card_ref:
                    fields = json.loads(record.body)
                    fields["reply"] = reply_to_json(card)
                    fields["updated"] = mailbox.newest = self._next_sequence()
                    mailbox.records[index] = record._replace(updated=fields["updated"], body=_DUMPS(fields))
                    mailbox.changed.notify_all()
                    return

    async def download_image(self, media_handle: str) -> bytes:
        data = self._images.get(media_handle)
        if data is None:
            raise DeliveryError("image no longer held by the console", transient=False)
        return data

    async def close(self) -> None:
        await self._on_shutdown(None)

    # ------------------------------------------------------------------ mailboxes

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def _mailbox(self, key: str) -> _Mailbox:
        """The mailbox of `key`, made the first time (not built on every call as setdefault's argument:
        a dataclass and an asyncio.Condition for each message and each poll)."""
        mailbox = self._mailboxes.get(key)
        if mailbox is None:
            mailbox = self._mailboxes[key] = _Mailbox()
        return mailbox

    async def _append(self, key: str, fields: dict[str, Any]) -> _Record:
        mailbox = self._mailbox(key)
        sequence = self._next_sequence()
        ref = f"m{sequence}"
        body = _DUMPS({"seq": sequence, "ref": ref, "at": utcnow().isoformat(), "updated": sequence, **fields})
        record = _Record(sequence, sequence, ref, body)
        async with mailbox.changed:
            mailbox.records.append(record)
            mailbox.newest = sequence
            self._where[ref] = key
            if len(mailbox.records) > MAILBOX_SIZE:
                self._where.pop(mailbox.records.pop(0).ref, None)
            mailbox.changed.notify_all()
        return record

    async def _wait_for_news(self, key: str, after: int, wait_seconds: float) -> list[_Record]:
        """Records new or updated since `after`; waits up to `wait_seconds` for the first one."""
        mailbox = self._mailbox(key)
        async with mailbox.changed:
            if mailbox.newest <= after and wait_seconds > 0 and not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        mailbox.changed.wait_for(lambda: mailbox.newest > after or self._closing), wait_seconds
                    )
            return mailbox.news(after)

    async def _on_shutdown(self, _app: web.Application | None) -> None:
        self._closing = True
        for mailbox in self._mailboxes.values():
            async with mailbox.changed:
                mailbox.changed.notify_all()

    # ------------------------------------------------------------------ HTTP edge

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/console") or self._token is None:
            return await handler(request)
        given = request.query.get("token", "")
        if request.path == "/console" and given and hmac.compare_digest(given.encode(), self._token.encode()):
            response = web.HTTPFound("/console")
            response.set_cookie(COOKIE, given, httponly=True, samesite="Strict", path="/console")
            raise response
        bearer = request.headers.get("Authorization", "")
        presented = bearer[7:] if bearer.startswith("Bearer ") else request.cookies.get(COOKIE, "")
        if not hmac.compare_digest(presented.encode(), self._token.encode()):
            return _respond({"error": "需要控制台口令（PSIBOT_CONSOLE_TOKEN）"}, status=401)
        return await handler(request)

    async def _page(self, _request: web.Request) -> web.Response:
        return web.Response(text=(_STATIC / "index.html").read_text("utf-8"), content_type="text/html")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _STATIC_TYPES:
            raise web.HTTPNotFound()
        return web.Response(text=(_STATIC / name).read_text("utf-8"), content_type=_STATIC_TYPES[name])

    async def _users(self, _request: web.Request) -> web.Response:
        return _respond({"users": await self._people()})

    async def _post_message(self, request: web.Request) -> web.Response:
        body = await _json(request)
        user, text = _required(body, "user"), str(body.get("text", "")).strip()
        if not text:
            raise _bad("text 不能为空")
        chat = str(body.get("chat", ""))
        # As typed in a Chinese input method too: full-width ＠, any letter case.
        addressed = unicodedata.normalize("NFKC", text[: len(MENTION)]).casefold() == MENTION
        mentioned = bool(body.get("mentioned", not chat or addressed))
        if addressed:
            text = text[len(MENTION) :].strip()
        event_id = str(body.get("event_id") or uuid.uuid4().hex)
        mine = await self._append(
            _mailbox_key("chat" if chat else "user", chat or user), {"direction": "in", "user": user, "text": text}
        )
        await self._sink(
            TextMessage(
                origin=_origin(user, chat),
                event_id=event_id,
                text=text,
                mentioned=mentioned,
                mentions=tuple(str(m) for m in body.get("mentions", ())),
                received_at=utcnow(),
            )
        )
        return _respond({"event_id": event_id, "seq": mine.seq}, status=202)

    async def _post_action(self, request: web.Request) -> web.Response:
        body = await _json(request)
        user = _required(body, "user")
        value, form = body.get("value") or {}, body.get("form") or {}
        if not isinstance(value, dict) or not isinstance(form, dict):
            raise _bad("value 和 form 必须是对象")
        event_id = str(body.get("event_id") or uuid.uuid4().hex)
        chat = str(body.get("chat", ""))
        await self._sink(
            CardAction(
                origin=_origin(user, chat),
                event_id=event_id,
                action=_required(body, "action"),
                value={str(k): str(v) for k, v in value.items()},
                card_id=_required(body, "card_id"),
                platform_card_ref=str(body.get("ref", "")),
                form={str(k): str(v) for k, v in form.items()},
            )
        )
        return _respond({"event_id": event_id, "seq": self._sequence}, status=202)

    async def _post_image(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        if not user:
            raise _bad("缺少 user")
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            data = await _read_part(part, MAX_IMAGE_BYTES) if isinstance(part, BodyPartReader) else b""
        else:
            data = await read_limited(request.content, MAX_IMAGE_BYTES)
        if data is None:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_IMAGE_BYTES, actual_size=request.content_length or 0)
        if not data:
            raise _bad("图片是空的")
        handle = uuid.uuid4().hex
        self._images[handle] = bytes(data)
        while len(self._images) > KEPT_IMAGES:
            self._images.popitem(last=False)
        event_id = request.query.get("event_id") or uuid.uuid4().hex
        mine = await self._append(_mailbox_key("user", user), {"direction": "in", "user": user, "text": "[照片]"})
        await self._sink(ImageMessage(origin=_origin(user, ""), event_id=event_id, media_handle=handle, received_at=utcnow()))
        return _respond({"event_id": event_id, "seq": mine.seq}, status=202)

    async def _get_messages(self, request: web.Request) -> web.Response:
        key = _key_from_query(request)
        after = _int(request.query.get("after", "0"))
        wait = min(float(_int(request.query.get("wait", "0"))), MAX_WAIT_SECONDS)
        records = await self._wait_for_news(key, after, wait)
        body = f'{{"messages": [{", ".join(record.body for record in records)}], "last": {self._sequence}}}'
        return web.Response(text=body, content_type="application/json")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        key = _key_from_query(request)
        after = _int(request.headers.get("Last-Event-ID") or request.query.get("after", "0"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        try:
            while not self._closing:
                records = await self._wait_for_news(key, after, HEARTBEAT_SECONDS)
                if not records:
                    await response.write(b": keep-alive\n\n")
                    continue
                for record in records:
                    after = max(after, record.updated)
                    await response.write(f"id: {after}\nevent: message\ndata: {record.body}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response


def _respond(data: dict[str, Any], status: int = 200) -> web.Response:
    """JSON with Chinese as Chinese, so curl and logs read naturally."""
    return web.json_response(data, status=status, dumps=_DUMPS)


_DUMPS = functools.partial(json.dumps, ensure_ascii=False)


def _mailbox_key(kind: str, identifier: str) -> str:
    return f"{kind}:{identifier}"


def _origin(user: str, chat: str) -> Origin:
    if chat:
        return Origin(PLATFORM, "", chat, "group", user)
    return Origin(PLATFORM, "", user, "direct", user)


def _key_from_query(request: web.Request) -> str:
    if chat := request.query.get("chat", ""):
        return _mailbox_key("chat", chat)
    if user := request.query.get("user", ""):
        return _mailbox_key("user", user)
    raise _bad("缺少 user 或 chat")


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _bad("请求体不是 JSON") from None
    if not isinstance(body, dict):
        raise _bad("请求体必须是 JSON 对象")
    return body


def _required(body: dict[str, Any], name: str) -> str:
    value = str(body.get(name, "")).strip()
    if not value:
        raise _bad(f"缺少 {name}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _bad(f"不是整数: {text}") from None


async def _read_part(part: BodyPartReader, limit: int) -> bytes | None:
    """A multipart part, or None once it passes `limit` bytes (`part.read()` would hold any size)."""
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}, ensure_ascii=False), content_type="application/json")
