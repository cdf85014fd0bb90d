"""Outbound rate limiting: a sliding window per target and one for the whole app.

Platforms count messages per recipient (WeCom ~30/min per member, group robots 20/min) and per app;
going over earns an error and sometimes a ban of minutes. The limiter waits when the wait is short and
otherwise raises a transient DeliveryError with `retry_after`, so the engine's outbox retries later
instead of holding a worker. When the platform itself says "slow down" (WeCom 45009, Feishu 99991400 /
HTTP 429 with a reset header), `hold` blocks the target, or the whole app, for that long.

The windows live in this process: several instances share the platform's quota only approximately.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.adapter import DeliveryError


@dataclass(frozen=True, slots=True)
class Rate:
    count: int
    per: float  # seconds


class _Window:
    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.stamps: deque[float] = deque()
        self.held_until = 0.0

    def wait(self, now: float) -> float:
        while self.stamps and self.stamps[0] <= now - self.rate.per:
            self.stamps.popleft()
        wait = self.held_until - now
        if len(self.stamps) >= self.rate.count:
            wait = max(wait, self.stamps[0] + self.rate.per - now)
        return max(wait, 0.0)

    def idle(self, now: float) -> bool:
        return self.wait(now) == 0.0 and not self.stamps


class RateLimiter:
    """`await acquire(target)` before each send; `hold(seconds, target)` when the platform pushes back."""

    def __init__(
        self,
        overall: Rate,
        per_target: Rate,
        *,
        max_wait: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._overall = _Window(overall)
        self._per_target = per_target
        self._targets: dict[str, _Window] = {}
        self._max_wait = max_wait
        self._clock = clock

    def _target(self, target: str) -> _Window:
        window = self._targets.get(target)
        if window is None:
            if len(self._targets) > 1000:
                now = self._clock()
                self._targets = {k: w for k, w in self._targets.items() if not w.idle(now)}
            window = self._targets[target] = _Window(self._per_target)
        return window

    async def acquire(self, target: str) -> None:
        deadline = self._clock() + self._max_wait
        while True:
            now = self._clock()
            window = self._target(target)
            wait = max(self._overall.wait(now), window.wait(now))
            if wait == 0.0:
                self._overall.stamps.append(now)
                window.stamps.append(now)
                return
            if now + wait > deadline:
                raise DeliveryError(f"rate limited for {target}", transient=True, retry_after=round(wait, 3))
            await asyncio.sleep(wait)

    def hold(self, seconds: float, target: str | None = None) -> None:
        """Send nothing to `target` (or to anyone, when None) for `seconds`."""
        window = self._overall if target is None else self._target(target)
        window.held_until = max(window.held_until, self._clock() + seconds)
