"""Client-side pacing for one endpoint: requests and tokens per minute, and the server's Retry-After.

Each endpoint of `llm.base_url` gets its own `EndpointGate`. Before a call the backend awaits
`gate.acquire(tokens)`, outside the call's timeout, so waiting for a slot never reads as a slow
server. Three things can make it wait:

- `requests_per_minute`: a token bucket refilled at rpm/60 per second, holding at most one second's
  worth (at least 1), so a wave starts without a burst of a whole minute's requests;
- `tokens_per_minute`: the same for tokens. What a call will spend is only known from its reply, so
  it reserves its prompt estimate (characters / 4) plus `max_tokens`, the way hosted APIs count a
  request against the limit, and `settle()` corrects the reservation with the reply's usage. A call
  larger than the bucket may leave it in debt, which later calls wait out: the long-run rate holds
  and no call waits forever;
- a pause set by a 429/503 reply's Retry-After: no call goes to that endpoint before it ends.

LangChain's `InMemoryRateLimiter` counts requests only and, passed to the chat model, would wait
inside the call (inside our timeout), so one bucket class serves both limits here.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Callable

# A Retry-After longer than this is a quota, not a burst: the call is not retried (it falls back and
# is counted) rather than stalling the whole run for it.
RETRY_AFTER_CAP_S = 60.0


@dataclass
class _Bucket:
    rate: float  # units per second
    capacity: float
    level: float
    stamp: float

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def delay(self, amount: float, now: float) -> float:
        """Seconds until `amount` may go: when the bucket holds it (or is full, for a larger amount)."""
        self._refill(now)
        return max(0.0, (min(amount, self.capacity) - self.level) / self.rate)

    def take(self, amount: float, now: float) -> None:
        self._refill(now)
        self.level -= amount

    def give(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)


def _bucket(per_minute: float | None, now: float) -> _Bucket | None:
    if not per_minute:
        return None
    capacity = max(1.0, per_minute / 60.0)
    return _Bucket(per_minute / 60.0, capacity, capacity, now)


@dataclass
class EndpointGate:
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    clock: Callable[[], float] = time.monotonic
    paused_until: float = 0.0
    _requests: _Bucket | None = field(init=False, default=None)
    _tokens: _Bucket | None = field(init=False, default=None)
    _lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    def __post_init__(self):
        now = self.clock()
        self._requests = _bucket(self.requests_per_minute, now)
        self._tokens = _bucket(self.tokens_per_minute, now)

    @property
    def counts_tokens(self) -> bool:
        return self._tokens is not None

    async def acquire(self, tokens: int = 0) -> float:
        """Wait until this endpoint may take a call of `tokens` tokens; returns the seconds waited."""
        if self._requests is None and self._tokens is None and self.paused_until <= self.clock():
            return 0.0  # nothing to pace: the common case costs no lock
        started = self.clock()
        async with self._lock:  # first come, first served: waiters queue on the lock
            while True:
                now = self.clock()
                delay = self.paused_until - now
                if self._requests is not None:
                    delay = max(delay, self._requests.delay(1, now))
                if self._tokens is not None:
                    delay = max(delay, self._tokens.delay(tokens, now))
                if delay <= 1e-6:  # not 0: refill arithmetic in floats can leave an endless sliver
                    break
                await asyncio.sleep(delay)
            if self._requests is not None:
                self._requests.take(1, now)
            if self._tokens is not None:
                self._tokens.take(tokens, now)
        return self.clock() - started

    def settle(self, reserved: int, used: int) -> None:
        """Correct a call's token reservation with what it spent (0 for a call the server refused)."""
        if self._tokens is not None and reserved != used:
            if reserved > used:
                self._tokens.give(reserved - used)
            else:
                self._tokens.take(used - reserved, self.clock())

    def pause(self, seconds: float) -> None:
        """Send nothing to this endpoint for `seconds` (a Retry-After)."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)


def retry_after_seconds(error: BaseException) -> float | None:
    """The wait a failed call's 429/503 reply asks for, if it carried one."""
    headers = getattr(getattr(error, "response", None), "headers", None)
    return None if headers is None else retry_after(headers)


def retry_after(headers) -> float | None:
    """The wait that reply headers ask for (`retry-after-ms`, or `Retry-After` in seconds or as a date)."""
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(ms) / 1000.0)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):  # a header we cannot read is no instruction
        return None


def estimate_tokens(messages, max_tokens: int) -> int:
    """What a call may spend, before its reply says: its prompt (about 4 characters a token) plus its cap."""
    return sum(len(str(m.content)) for m in messages) // 4 + max_tokens
