"""Client-side rate limiting: a sliding-window limiter per access token, so normal use never
meets the Sferum API's «Too many requests per second» (error 6).

VK allows 3 requests per second per user token and counts them, like the sandbox, in a
*sliding* one-second window at their arrival. A client that lets request `n` go at least one
window after request `n - 3` *arrived* never exceeds it. The client does not see arrivals,
only bounds: a request arrived after it was let through (`acquired`) and before its answer
came back (`finished`). Measured on loopback (bench/sferum_throughput.py), the delay from
`acquired` to arrival is 1–5 ms, but ~60 ms for a client's first request (lazy imports and
the connection set-up in httpx), and a request can take 50–200 ms to answer (an `execute`
of 25 writes). So the anchor of a past request is

    min(finished, acquired + arrival_cap)

— its answer time when it came back quickly (exact enough and always safe), else its start
plus a bound on the arrival delay — and the next request waits until `anchor + period +
margin`. With `arrival_cap` 60 ms and `margin` 20 ms a slow `execute` costs at most 80 ms per
window (measured: 2.81–2.86 requests/s, 70–71.5 batched operations/s of the 75 bound), a
fast call its round trip (a 300-call burst: 2.88–2.91 requests/s, no error 6).

- `penalize()` (the server answered error 6 anyway) fills the window from now, so the next
  request waits a whole window (the server did not count the refused call, and its window is
  clear by then), and widens `margin` by `margin_step` up to `max_margin`; every
  `relax_after` requests without error 6 narrow it again by one step.
- Consecutive requests are at least `min_gap` (100 ms) apart: three sent at the same instant
  make the server handle them at once and stamp their arrivals late and unevenly (measured:
  one error 6 in a 300-call burst without the gap, none in two with it); spread out, each is
  answered before the next goes, so its anchor is its exact answer time. This costs a burst of three
  UI calls 0.2 s and no throughput.
- Waiters are served first come, first served (an `asyncio.Lock` is FIFO-fair); a cancelled
  waiter gives up its turn cleanly; a slot left unfinished counts as `acquired + arrival_cap`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass
class LimiterStats:
    """What a limiter did: requests let through, how long they waited, error 6 penalties."""

    acquired: int = 0
    waited_s: float = 0.0
    penalties: int = 0


@dataclass
class Slot:
    """One request's place in the window: when it went out and when its answer came back."""

    acquired: float
    finished: float | None = None


class SlidingWindowLimiter:
    """At most `rate` request arrivals in any `period` (plus margin); use `async with slot()`."""

    def __init__(
        self,
        rate: int = 3,
        period: float = 1.0,
        *,
        margin: float = 0.02,
        arrival_cap: float = 0.06,
        min_gap: float = 0.1,
        margin_step: float = 0.05,
        max_margin: float = 0.5,
        relax_after: int = 300,
        poll: float = 0.005,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if rate < 1 or period <= 0 or not 0 <= margin <= max_margin or arrival_cap < 0:
            raise ValueError("a limiter needs rate >= 1, period > 0 and 0 <= margin <= max_margin")
        self.rate = rate
        self.period = period
        self.base_margin = margin
        self.margin = margin
        self.arrival_cap = arrival_cap
        self.min_gap = min_gap  # between consecutive requests: no simultaneous bursts
        self.margin_step = margin_step
        self.max_margin = max_margin
        self.relax_after = relax_after  # requests without error 6 before the margin narrows
        self.stats = LimiterStats()
        self._poll = poll  # re-check interval while the oldest request is still in flight
        self._clock = clock
        self._sleep = sleep
        self._slots: deque[Slot] = deque(maxlen=rate)  # the last `rate` requests
        self._lock = asyncio.Lock()
        self._clean = 0  # requests since the last penalty or relaxation

    @property
    def window(self) -> float:
        """The spacing kept between a request and the `rate`-th one after it."""
        return self.period + self.margin

    def _anchor(self, slot: Slot) -> float:
        """The latest moment the server may have counted `slot` (see the module docstring)."""
        cap = slot.acquired + self.arrival_cap
        return cap if slot.finished is None else min(slot.finished, cap)

    def delay(self) -> float:
        """Seconds until the next request may go (0 when it may go now)."""
        if not self._slots:
            return 0.0
        now = self._clock()
        wait = self._slots[-1].acquired + self.min_gap - now
        if len(self._slots) == self.rate:
            wait = max(wait, self._anchor(self._slots[0]) + self.window - now)
        return max(0.0, wait)

    async def acquire(self) -> Slot:
        """Wait for a free place in the window and take it; call `finish(slot)` on the answer."""
        async with self._lock:
            started = self._clock()
            while (wait := self.delay()) > 0:
                oldest = self._slots[0]
                # While the oldest is in flight its answer may move the anchor earlier.
                await self._sleep(wait if oldest.finished is not None else min(wait, self._poll))
            slot = Slot(self._clock())
            self._slots.append(slot)
            self.stats.acquired += 1
            self.stats.waited_s += slot.acquired - started
            self._clean += 1
            if self._clean >= self.relax_after and self.margin > self.base_margin:
                self.margin = max(self.base_margin, self.margin - self.margin_step)
                self._clean = 0
            return slot

    def finish(self, slot: Slot) -> None:
        """The request of `slot` has its answer (or failed): it arrived by now at the latest."""
        if slot.finished is None:
            slot.finished = self._clock()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[Slot]:
        """`async with limiter.slot(): send()` — acquire before, finish after."""
        taken = await self.acquire()
        try:
            yield taken
        finally:
            self.finish(taken)

    def penalize(self) -> None:
        """The server answered error 6 anyway: wait a whole window and widen the margin."""
        now = self._clock()
        for _ in range(self.rate):
            self._slots.append(Slot(now, now))
        self.margin = min(self.max_margin, self.margin + self.margin_step)
        self.stats.penalties += 1
        self._clean = 0

    def ceiling_rps(self) -> float:
        """The most requests per second this limiter lets through (with slow answers)."""
        return self.rate / (self.window + self.arrival_cap)


LimiterFactory = Callable[[], SlidingWindowLimiter]


def token_key(token: str) -> str:
    """A key for a token that is not the token (limiters must not keep secrets)."""
    return hashlib.sha256(token.encode()).hexdigest()[:24]


class PerTokenLimiter:
    """One `SlidingWindowLimiter` per access token, as the server counts; share it between
    clients that use the same tokens (the UI and the sync in one process)."""

    def __init__(self, factory: LimiterFactory = SlidingWindowLimiter) -> None:
        self._factory = factory
        self._limiters: dict[str, SlidingWindowLimiter] = {}

    def for_token(self, token: str) -> SlidingWindowLimiter:
        """The limiter of this token (made on first use)."""
        key = token_key(token)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = self._factory()
        return limiter

    def forget(self, token: str) -> None:
        """Drop a token's limiter (after the token was replaced)."""
        self._limiters.pop(token_key(token), None)
