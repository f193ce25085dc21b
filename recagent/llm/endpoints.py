"""The endpoints of `llm.base_url` as one pool: at most `max_concurrency` calls in flight on each,
and every call goes to the endpoint with the most room.

A wave of thousands of calls waits on one semaphore holding every endpoint's slots; a call that
gets a slot takes the least busy endpoint that is not paused by a Retry-After, other than the one
its previous attempt failed on (the retry goes elsewhere when there is an elsewhere). So two
endpoints answering at the same speed share a wave evenly, and a slower one gets fewer calls,
since its calls hold their slots longer. Picking is a scan of the endpoints: constant per call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .completion import ChatPoster, Completion, invoke
from .ratelimit import EndpointGate


@dataclass(eq=False)
class Endpoint:
    model: object  # the LangChain chat model of this URL
    gate: EndpointGate
    poster: ChatPoster | None = None  # the direct path for OpenAI-compatible endpoints and the local model
    in_flight: int = 0

    async def complete(self, messages, schema=None) -> Completion:
        """The reply, constrained to the pydantic `schema` where the endpoint can do it (LangChain's path cannot)."""
        if self.poster is not None:
            return await self.poster.complete(messages, schema)
        return await invoke(self.model, messages)


@dataclass(eq=False)
class EndpointPool:
    endpoints: list[Endpoint]
    per_endpoint: int  # llm.max_concurrency
    _slots: asyncio.Semaphore | None = field(default=None, init=False)

    @property
    def capacity(self) -> int:
        return self.per_endpoint * len(self.endpoints)

    async def acquire(self, avoid: Endpoint | None = None) -> Endpoint:
        """Wait for a free slot and take the endpoint with the most room (see the module doc)."""
        if self._slots is None:  # made on the backend's event loop, where it is used
            self._slots = asyncio.Semaphore(self.capacity)
        await self._slots.acquire()
        best, best_rank = None, None
        now = None
        for endpoint in self.endpoints:
            if endpoint.in_flight >= self.per_endpoint:
                continue
            if now is None:
                now = endpoint.gate.clock()
            rank = (endpoint is avoid, endpoint.gate.paused_until > now, endpoint.in_flight)
            if best_rank is None or rank < best_rank:
                best, best_rank = endpoint, rank
        # the semaphore holds sum(per_endpoint) slots, so some endpoint has room
        best.in_flight += 1
        return best

    def release(self, endpoint: Endpoint) -> None:
        endpoint.in_flight -= 1
        self._slots.release()

    async def aclose(self) -> None:
        self._slots = None  # bound to this event loop; a backend used again gets a new loop
        for endpoint in self.endpoints:
            if endpoint.poster is not None:
                await endpoint.poster.aclose()
