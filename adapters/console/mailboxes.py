"""What each console user (or group chat) has seen: their messages and the bot's.

In process memory for a single instance; in Redis when psibot runs with Redis, so that several
instances serve one console: a reply delivered by one instance reaches the person long-polling
another, as the platforms' messages do. Both keep the same records in the same JSON, so the HTTP
interface above them does not know which one runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.columns import utcnow

log = logging.getLogger("psibot.console")

MAILBOX_SIZE = 500  # messages kept per user or chat; older ones fall off
MAILBOX_TTL_SECONDS = 7 * 24 * 3600  # in Redis: a mailbox nobody wrote to for a week is dropped

_DUMPS = functools.partial(json.dumps, ensure_ascii=False)
_OWN_FIELDS = ("seq", "updated", "ref")


class News(NamedTuple):
    last: int  # the newest sequence number handed out
    records: list[tuple[int, str]]  # (updated, the record as JSON) of records new or changed since `after`


class Mailboxes(Protocol):
    async def append(self, key: str, fields: dict[str, Any]) -> tuple[int, str]:
        """Add a record to mailbox `key`; its (seq, ref)."""
        ...

    async def replace_reply(self, ref: str, reply: dict[str, Any]) -> None:
        """Give the record `ref` a new reply and a new `updated` (a card replaced after a decision)."""
        ...

    async def news(self, key: str, after: int, wait_seconds: float) -> News:
        """Records new or changed since `after`; waits up to `wait_seconds` for the first one."""
        ...

    async def last(self) -> int: ...

    async def close(self) -> None:
        """Wake every waiting reader (shutdown); later reads return at once."""
        ...


def _rest(fields: dict[str, Any]) -> str:
    """The record's JSON without its numbers, which are put in front when it is stored."""
    return _DUMPS({"at": utcnow().isoformat(), **fields})


def _body(seq: int, updated: int, ref: str, rest: str) -> str:
    return f'{{"seq": {seq}, "updated": {updated}, "ref": "{ref}", {rest[1:]}'


def _with_reply(body: str, reply: dict[str, Any]) -> tuple[int, str]:
    """The record's seq and its JSON without numbers, its reply replaced."""
    fields = json.loads(body)
    seq = int(fields["seq"])
    fields["reply"] = reply
    return seq, _DUMPS({name: value for name, value in fields.items() if name not in _OWN_FIELDS})


class _Record(NamedTuple):
    """Kept as the JSON it is sent as: made once, not at every poll, and no tree of dicts for the
    garbage collector to walk (100 users' full mailboxes are ~50,000 records)."""

    seq: int
    updated: int
    ref: str
    body: str


@dataclass
class _Mailbox:
    records: list[_Record] = field(default_factory=list)
    newest: int = 0  # the highest `updated` in records: a poll with nothing newer needs no scan
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def news(self, after: int) -> list[tuple[int, str]]:
        if self.newest <= after:
            return []
        return [(record.updated, record.body) for record in self.records if record.updated > after]


class MemoryMailboxes:
    """One instance's mailboxes."""

    def __init__(self) -> None:
        self._mailboxes: dict[str, _Mailbox] = {}
        self._where: dict[str, str] = {}  # ref → mailbox key
        self._sequence = 0
        self._closing = False

    def _mailbox(self, key: str) -> _Mailbox:
        """Made the first time (not on every call as setdefault's argument: a Condition each time)."""
        mailbox = self._mailboxes.get(key)
        if mailbox is None:
            mailbox = self._mailboxes[key] = _Mailbox()
        return mailbox

    async def append(self, key: str, fields: dict[str, Any]) -> tuple[int, str]:
        mailbox = self._mailbox(key)
        self._sequence += 1
        seq, ref = self._sequence, f"m{self._sequence}"
        async with mailbox.changed:
            mailbox.records.append(_Record(seq, seq, ref, _body(seq, seq, ref, _rest(fields))))
            mailbox.newest = seq
            self._where[ref] = key
            if len(mailbox.records) > MAILBOX_SIZE:
                self._where.pop(mailbox.records.pop(0).ref, None)
            mailbox.changed.notify_all()
        return seq, ref

    async def replace_reply(self, ref: str, reply: dict[str, Any]) -> None:
        key = self._where.get(ref)
        if key is None:
            return  # fell off the mailbox (or the process restarted): nothing left to update
        mailbox = self._mailboxes[key]
        async with mailbox.changed:
            for index, record in enumerate(mailbox.records):
                if record.ref == ref:
                    seq, rest = _with_reply(record.body, reply)
                    self._sequence += 1
                    mailbox.newest = updated = self._sequence
                    mailbox.records[index] = _Record(seq, updated, ref, _body(seq, updated, ref, rest))
                    mailbox.changed.notify_all()
                    return

    async def news(self, key: str, after: int, wait_seconds: float) -> News:
        mailbox = self._mailbox(key)
        async with mailbox.changed:
            if mailbox.newest <= after and wait_seconds > 0 and not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        mailbox.changed.wait_for(lambda: mailbox.newest > after or self._closing), wait_seconds
                    )
            return News(self._sequence, mailbox.news(after))

    async def last(self) -> int:
        return self._sequence

    async def close(self) -> None:
        self._closing = True
        for mailbox in self._mailboxes.values():
            async with mailbox.changed:
                mailbox.changed.notify_all()


# A record's JSON is put together in Redis, where its sequence number is drawn, so an append is one
# round trip. Keys: seq (the counter), box:<key> (refs by `updated`), bodies:<key> (ref → JSON),
# where:<ref> (ref → mailbox key, for card updates). Readers learn of news by a publication of the key.
_APPEND = """
local seq = redis.call('INCR', KEYS[1])
local ref = 'm' .. seq
redis.call('ZADD', KEYS[2], seq, ref)
redis.call('HSET', KEYS[3], ref,
  '{"seq": ' .. seq .. ', "updated": ' .. seq .. ', "ref": "' .. ref .. '", ' .. string.sub(ARGV[1], 2))
redis.call('SET', ARGV[4] .. ref, ARGV[3], 'EX', ARGV[5])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[2])
if excess > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #old, 2 do
    redis.call('HDEL', KEYS[3], old[i])
    redis.call('DEL', ARGV[4] .. old[i])
  end
end
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[3])
return seq
"""

_REPLACE = """
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then return 0 end
local updated = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], updated, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1],
  '{"seq": ' .. ARGV[2] .. ', "updated": ' .. updated .. ', "ref": "' .. ARGV[1] .. '", ' .. string.sub(ARGV[3], 2))
redis.call('PUBLISH', ARGV[4], ARGV[5])
return updated
"""

_NEWS = """
local found = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf', 'WITHSCORES')
local out = {redis.call('GET', KEYS[1]) or '0'}
for i = 1, #found, 2 do
  out[#out + 1] = found[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[3], found[i]) or ''
end
return out
"""


class RedisMailboxes:
    """Mailboxes shared by every instance on one Redis (the client of the app's `RedisStore`)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._channel = prefix + "news"
        self._append = redis.register_script(_APPEND)
        self._replace = redis.register_script(_REPLACE)
        self._news = redis.register_script(_NEWS)
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._closing = False

    def _keys(self, key: str) -> list[str]:
        return [self._prefix + "seq", f"{self._prefix}box:{key}", f"{self._prefix}bodies:{key}"]

    async def append(self, key: str, fields: dict[str, Any]) -> tuple[int, str]:
        args = [_rest(fields), MAILBOX_SIZE, key, self._prefix + "where:", MAILBOX_TTL_SECONDS, self._channel]
        seq = int(await self._append(keys=self._keys(key), args=args))
        return seq, f"m{seq}"

    async def replace_reply(self, ref: str, reply: dict[str, Any]) -> None:
        key = await self._redis.get(f"{self._prefix}where:{ref}")
        if key is None:
            return  # fell off the mailbox: nothing left to update
        body = await self._redis.hget(f"{self._prefix}bodies:{key}", ref)
        if body is None:
            return
        seq, rest = _with_reply(body, reply)
        await self._replace(keys=self._keys(key), args=[ref, seq, rest, self._channel, key])

    async def news(self, key: str, after: int, wait_seconds: float) -> News:
        if wait_seconds <= 0 or self._closing:
            return await self._read(key, after)
        woken = asyncio.Event()
        waiting = self._waiting.setdefault(key, set())
        waiting.add(woken)
        try:
            with contextlib.suppress(TimeoutError):  # a lost subscription: answer after the wait, by reading
                await asyncio.wait_for(self._listening(), wait_seconds)
            news = await self._read(key, after)  # read after joining the waiters: no publication is missed
            if news.records or self._closing:
                return news
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), wait_seconds)
        finally:
            waiting.discard(woken)
            if not waiting:
                self._waiting.pop(key, None)
        return await self._read(key, after)

    async def _read(self, key: str, after: int) -> News:
        found = await self._news(keys=self._keys(key), args=[after])
        records = [(int(found[i]), found[i + 1]) for i in range(1, len(found), 2) if found[i + 1]]
        return News(int(found[0]), records)

    async def last(self) -> int:
        return int(await self._redis.get(self._prefix + "seq") or 0)

    async def close(self) -> None:
        self._closing = True
        self._wake_all()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    async def _listening(self) -> None:
        """Subscribed to the publications of news (started by the first reader that waits)."""
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="psibot-console-news")
        await self._subscribed.wait()

    async def _listen(self) -> None:
        while not self._closing:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        if message["type"] == "subscribe":
                            self._subscribed.set()
                        elif message["type"] == "message":
                            for woken in self._waiting.get(message["data"], ()):
                                woken.set()
            except (RedisError, OSError):
                log.warning("console news subscription lost; reconnecting", exc_info=True)
            # Waiting readers wake and read again, so a publication made while unsubscribed is not lost.
            self._subscribed.clear()
            self._wake_all()
            if not self._closing:
                await asyncio.sleep(1.0)

    def _wake_all(self) -> None:
        for waiting in self._waiting.values():
            for woken in waiting:
                woken.set()
