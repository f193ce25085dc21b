"""The language backend: a LangChain chat model behind a cache, retries, bounded concurrency,
accounting and a budget.

All LLM acts of a step go out as one concurrent wave (`run_tasks`), at most `max_concurrency`
calls in flight on each endpoint of `llm.base_url`, each call to the endpoint with the most room
(`endpoints.py`). Around every call:

- a SQLite prompt cache (`cache.py`): a re-run with the same prompts replays without calls;
- retries with exponential backoff (`backoff * 2**n` seconds) on 429, 5xx, timeouts, connection
  errors and replies that do not parse; with several endpoints, a retry goes to the next one.
  401/403/404 (a refused key, a wrong path or model) are never retried: the next try would get the
  same answer. A 429/503 with Retry-After pauses that endpoint for as long as it asks (up to
  `ratelimit.RETRY_AFTER_CAP_S`; a longer one is a quota and the call is not retried);
- client-side rate limits per endpoint (`ratelimit.py`: `llm.rate_limit`), waited out before a
  call and outside its timeout;
- a budget (max calls / max tokens): once spent, no further call is made, the act gets its
  offline reply and `exhausted` is set so the runner can stop the run cleanly;
- accounting (`Usage`): calls, tokens, cache hits, failed attempts, retries, fallbacks.

A failing call never kills a run: after the last retry the act falls back to the offline reply
and the failure is counted; `health.py` turns too many fallbacks into a degraded run. A dead,
unauthorised or wrong endpoint is found before the run by `preflight.py`, which `make_backend`
calls. Error texts are scrubbed of the API key before they are stored.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from ..cache import cache_dir as default_cache_dir
from .cache import PromptCache, prompt_key
from .completion import ChatPoster
from .endpoints import Endpoint, EndpointPool
from .fake import ScriptedChatModel
from .offline import OfflineChatModel, speak
from .prompts import render
from .ratelimit import RETRY_AFTER_CAP_S, EndpointGate, estimate_tokens, retry_after_seconds
from .requests import SpeechRequest
from .structured import SCHEMAS, ReplyFormatError, parse_reply
from .wave_gc import older_objects_set_aside


@dataclass
class Usage:
    calls: int = 0  # requests sent to an endpoint (every attempt counts)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    failures: int = 0  # attempts that failed: HTTP errors, timeouts, unparsable replies
    parse_failures: int = 0  # of which the reply came back but did not parse
    retries: int = 0
    fallbacks: int = 0  # acts that ended with the offline reply after the last retry
    budget_skipped: int = 0  # acts answered offline because the budget was spent
    offline_replies: int = 0  # replies written by the offline backend (not LLM calls)
    acts: int = 0  # acts that asked an LLM backend for a reply (cached, answered, fallen back or budget-skipped)
    retry_after_waits: int = 0  # 429/503 replies whose Retry-After paused their endpoint
    rate_limit_wait_s: float = 0.0  # seconds calls waited for llm.rate_limit or a Retry-After
    calls_by_kind: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def last_error(self) -> str | None:
        return self.errors[-1] if self.errors else None

    def as_dict(self) -> dict:
        return {"acts": self.acts, "calls": self.calls, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cache_hits": self.cache_hits,
                "failures": self.failures, "parse_failures": self.parse_failures, "retries": self.retries,
                "fallbacks": self.fallbacks, "budget_skipped": self.budget_skipped,
                "offline_replies": self.offline_replies, "retry_after_waits": self.retry_after_waits,
                "rate_limit_wait_s": round(self.rate_limit_wait_s, 3),
                "calls_by_kind": dict(sorted(self.calls_by_kind.items())), "recent_errors": self.errors[-5:]}


@dataclass
class Task:
    """One LLM act: its messages, the reply schema (by kind), and the offline answer to fall back on."""

    kind: str
    messages: list[BaseMessage]
    fallback: Callable[[], tuple[str, Any]]
    schema: type[BaseModel] | None = None

    def __post_init__(self):
        if self.schema is None:
            self.schema = SCHEMAS.get(self.kind)


@dataclass
class Reply:
    text: str
    data: Any  # the parsed pydantic reply, or what the fallback gave (often None)
    source: str  # "llm", "fake" (the scripted test model), "cache", "offline", "fallback" (failed after retries), "budget"
    error: str | None = None


def _status(error: BaseException) -> int | None:
    import openai

    return error.status_code if isinstance(error, openai.APIStatusError) else None


def _retryable(error: BaseException) -> bool:
    """Worth another try: overload and server errors. 401/403/404 and other 4xx would get the same
    answer again (a refused key, a wrong path, an unknown model, a bad request)."""
    status = _status(error)
    if status is not None:
        return status >= 500 or status in (408, 409, 429)
    return True  # timeouts, connection errors, malformed bodies, unparsable replies


class _Failed(Exception):
    """One attempt failed; `message` is what was recorded. `final`: another try would get the same answer."""

    def __init__(self, message: str, final: bool = False):
        super().__init__(message)
        self.message, self.final = message, final


class LanguageBackend:
    """Wraps one chat model per endpoint; `label` is what users see ("offline" for the offline backend)."""

    def __init__(self, model: BaseChatModel | list[BaseChatModel], label: str, max_concurrency: int = 8, *,
                 cache: PromptCache | None = None, max_retries: int = 0, backoff: float = 1.0,
                 timeout: float | None = None, max_calls: int | None = None, max_tokens: int | None = None,
                 params: dict | None = None, secrets: tuple[str, ...] = (),
                 requests_per_minute: float | None = None, tokens_per_minute: float | None = None,
                 structured_output: str = "json_schema"):
        self.models = list(model) if isinstance(model, (list, tuple)) else [model]
        # one gate per endpoint: rate limits and Retry-After pauses apply to each URL on its own;
        # OpenAI-compatible endpoints are posted to directly (completion.py), others through LangChain
        self.pool = EndpointPool([Endpoint(m, EndpointGate(requests_per_minute, tokens_per_minute),
                                           ChatPoster(m, max_concurrency, structured_output)
                                           if hasattr(m, "root_async_client") else getattr(m, "poster", None))
                                  for m in self.models], per_endpoint=max_concurrency)
        self.model = self.models[0]
        self.label = label
        self.max_concurrency = max_concurrency
        self.cache = cache
        self.max_retries, self.backoff, self.timeout = max_retries, backoff, timeout
        self.max_calls, self.max_tokens = max_calls, max_tokens
        self.params = dict(params or {}, label=label)
        # what a model's reply is recorded as: the scripted stand-in model is no language model
        self.reply_source = "fake" if label == "fake" else "llm"
        self._completion_cap = int(self.params.get("max_tokens") or 0)  # reserved per call by a token limit
        self._secrets = tuple(s for s in secrets if s and len(s) >= 4)
        self.usage = Usage()
        self.exhausted = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def is_offline(self) -> bool:
        return isinstance(self.model, OfflineChatModel)

    # --- public API ------------------------------------------------------------------------------

    def speak_many(self, requests: list[SpeechRequest]) -> list[str]:
        """Texts for all requests, in order (see `respond_many`)."""
        return [r.text for r in self.respond_many(requests)]

    def respond_many(self, requests: list[SpeechRequest]) -> list[Reply]:
        """Structured replies for social and emotional acts, in order, as one concurrent wave."""
        if self.is_offline:
            # The offline model needs no I/O; calling its renderer directly skips LangChain's
            # per-call callback machinery, which would dominate a 10,000-agent step.
            self.usage.offline_replies += len(requests)
            return [Reply(speak(r), None, "offline") for r in requests]
        # rendered lazily, on the wave's loop: the first calls go out while later prompts are rendered
        tasks = (Task(r.kind, render(r), (lambda r=r: (speak(r), None))) for r in requests)
        return self._run(tasks, len(requests)) if requests else []

    def run_tasks(self, tasks: list[Task]) -> list[Reply]:
        """Replies for any LLM tasks, in order: one wave, bounded concurrency, cached, retried."""
        if not tasks:
            return []
        if self.is_offline:
            self.usage.offline_replies += len(tasks)
            return [Reply(*t.fallback(), "offline") for t in tasks]
        return self._run(iter(tasks), len(tasks))

    def _run(self, tasks: Iterator[Task], count: int) -> list[Reply]:
        with older_objects_set_aside():  # collections during the wave scan the wave's objects only
            return asyncio.run_coroutine_threadsafe(self._wave(tasks, count), self._event_loop()).result()

    def over_budget(self) -> bool:
        u = self.usage
        return ((self.max_calls is not None and u.calls >= self.max_calls)
                or (self.max_tokens is not None and u.prompt_tokens + u.completion_tokens >= self.max_tokens))

    def budget_message(self) -> str:
        spent = (f"{self.usage.calls} calls" if self.max_calls is not None and self.usage.calls >= self.max_calls
                 else f"{self.usage.prompt_tokens + self.usage.completion_tokens} tokens")
        limit = (f"llm.budget.max_calls = {self.max_calls}" if self.max_calls is not None
                 and self.usage.calls >= self.max_calls else f"llm.budget.max_tokens = {self.max_tokens}")
        return f"LLM budget spent ({spent}, {limit}); the run stopped after this step"

    def close(self) -> None:
        if self._loop is not None:
            clients = [c for m in self.models if (c := getattr(m, "http_async_client", None)) is not None]

            async def close_clients():
                await self.pool.aclose()
                for client in clients:
                    await client.aclose()
            asyncio.run_coroutine_threadsafe(close_clients(), self._loop).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
            self._loop = None
        if self.cache is not None:
            self.cache.close()
            self.cache = None

    # --- internals -------------------------------------------------------------------------------

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        """A private loop in a daemon thread: waves work the same from scripts, the CLI and servers."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="recagent-llm", daemon=True)
            self._thread.start()
        return self._loop

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _record_error(self, error: BaseException | str) -> str:
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        message = self._scrub(message)[:300]
        self.usage.errors.append(message)
        del self.usage.errors[:-50]
        return message

    async def _wave(self, tasks: Iterator[Task], count: int) -> list[Reply]:
        """Run the tasks with at most twice the pool's slots alive at once: a wave of 10,000 calls keeps
        a few hundred coroutines, not 10,000 queued on a semaphore, so a call costs the same in any wave."""
        replies: list[Reply | None] = [None] * count
        alive = asyncio.Semaphore(2 * self.pool.capacity)

        async def run(index: int, task: Task) -> None:
            try:
                replies[index] = await self._one(task)
            finally:
                alive.release()

        try:
            async with asyncio.TaskGroup() as group:
                for index, task in enumerate(tasks):
                    await alive.acquire()
                    group.create_task(run(index, task))
        except BaseExceptionGroup as failed:  # a bug, not a failed call (those fall back): raise it as gather did
            raise failed.exceptions[0] from None
        return replies

    def _budget_reply(self, task: Task) -> Reply:
        self.exhausted = True
        self.usage.budget_skipped += 1
        self.usage.offline_replies += 1
        return Reply(*task.fallback(), "budget", error="budget spent")

    def _cached(self, key: str | None, task: Task) -> Reply | None:
        if key is None or (hit := self.cache.get(key)) is None:
            return None
        try:
            data = parse_reply(hit[0], task.schema) if task.schema else None
        except ReplyFormatError:
            return None
        self.usage.cache_hits += 1
        return Reply(data.as_text() if data is not None else hit[0], data, "cache")

    async def _one(self, task: Task) -> Reply:
        self.usage.acts += 1
        key = prompt_key(task.messages, self.params, task.kind) if self.cache is not None else None
        if (cached := self._cached(key, task)) is not None:
            return cached
        last_error, endpoint = None, None
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.usage.retries += 1
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))  # holding no slot
            endpoint = await self.pool.acquire(avoid=endpoint)  # a retry goes to another endpoint if any
            try:
                return await self._attempt(task, key, endpoint)
            except _Failed as failed:
                last_error = failed.message
                if failed.final:
                    break
            finally:
                self.pool.release(endpoint)
        self.usage.fallbacks += 1
        self.usage.offline_replies += 1
        return Reply(*task.fallback(), "fallback", error=last_error)

    async def _attempt(self, task: Task, key: str | None, endpoint: Endpoint) -> Reply:
        """One try on one endpoint, holding one of its slots: the reply, or `_Failed`."""
        gate = endpoint.gate
        if self.over_budget():  # checked after waiting for the slot: calls in flight may have spent it
            return self._budget_reply(task)
        reserved = estimate_tokens(task.messages, self._completion_cap) if gate.counts_tokens else 0
        waited = await gate.acquire(reserved)  # before the timeout starts: pacing is not slowness
        if waited:
            self.usage.rate_limit_wait_s += waited
            if self.over_budget():
                gate.settle(reserved, 0)
                return self._budget_reply(task)
        self.usage.calls += 1
        self.usage.calls_by_kind[task.kind] = self.usage.calls_by_kind.get(task.kind, 0) + 1
        try:
            if self.timeout:
                async with asyncio.timeout(self.timeout + 1.0):  # a timer, not a task per call like wait_for
                    reply = await endpoint.complete(task.messages, task.schema)
            else:
                reply = await endpoint.complete(task.messages, task.schema)
        except Exception as e:  # noqa: BLE001 - any backend failure is retried, then degraded
            self.usage.failures += 1
            if _status(e) is not None:
                gate.settle(reserved, 0)  # the server refused the call: it spent no tokens
            message = self._record_error(e if not isinstance(e, TimeoutError) else f"timeout after {self.timeout} s")
            wait = retry_after_seconds(e)
            if wait is not None and wait > RETRY_AFTER_CAP_S:
                raise _Failed(self._record_error(f"Retry-After {wait:g} s is over {RETRY_AFTER_CAP_S:g} s "
                                                 f"(a quota, not a burst): not retried"), final=True) from None
            if wait is not None and _retryable(e):
                gate.pause(wait)
                self.usage.retry_after_waits += 1
            raise _Failed(message, final=not _retryable(e)) from None
        if reply.has_usage:
            gate.settle(reserved, reply.prompt_tokens + reply.completion_tokens)
        self.usage.prompt_tokens += reply.prompt_tokens
        self.usage.completion_tokens += reply.completion_tokens
        try:
            if reply.finish_reason == "length":
                raise ReplyFormatError("truncated reply (finish_reason=length)")
            data = parse_reply(reply.text, task.schema) if task.schema else None
            if data is None and not reply.text.strip():
                raise ReplyFormatError("empty reply")
        except ReplyFormatError as e:
            self.usage.failures += 1
            self.usage.parse_failures += 1
            raise _Failed(self._record_error(f"{task.kind}: {e}")) from None
        if key is not None:
            self.cache.put(key, reply.text, reply.prompt_tokens, reply.completion_tokens)
        return Reply(data.as_text() if data is not None else reply.text, data, self.reply_source)


def make_backend(spec: Any = "offline", max_concurrency: int = 8, *, cache_dir: Path | None = None,
                 model: BaseChatModel | None = None, preflight: bool = True) -> LanguageBackend:
    """A backend from the scenario's `llm` block (an LLMSpec) or a provider name.

    `model` replaces the chat model (tests pass a ScriptedChatModel with a script). For the openai
    provider every endpoint is checked first (`preflight.check_endpoints`, unless `llm.preflight`
    or `preflight` is false): a dead, unauthorised or wrong endpoint raises UserError before the
    prompt cache is opened, so a cache full of replies cannot hide it.
    """
    from .spec import LLMSpec

    if isinstance(spec, str):
        if spec not in ("offline", "openai", "fake", "local"):
            raise ValueError(f"unknown language backend {spec!r}")
        spec = LLMSpec(provider=spec, max_concurrency=max_concurrency)
    if spec.provider == "offline" and model is None:
        return LanguageBackend(OfflineChatModel(), label="offline", max_concurrency=spec.max_concurrency)
    key = None
    if model is None and spec.provider == "openai":  # a missing key fails before anything is opened
        from .openai_provider import api_key

        key = api_key(spec)
        if preflight and spec.preflight:
            from .preflight import check_endpoints

            check_endpoints(spec, key)
    local = None
    if model is None and spec.provider == "local":  # a missing extra or model file fails before the cache opens
        from .local import LocalModel

        local = LocalModel(spec, cache_dir)
    cache = None
    if spec.cache is True:
        cache = PromptCache((cache_dir or default_cache_dir()) / "llm_cache.sqlite")
    elif spec.cache:
        cache = PromptCache(spec.cache)
    common = dict(max_concurrency=spec.max_concurrency, cache=cache, max_retries=spec.max_retries,
                  backoff=spec.backoff, timeout=spec.timeout, max_calls=spec.budget.max_calls,
                  max_tokens=spec.budget.max_tokens, requests_per_minute=spec.rate_limit.requests_per_minute,
                  tokens_per_minute=spec.rate_limit.tokens_per_minute, structured_output=spec.structured_output,
                  params={"model": spec.model, "temperature": spec.temperature, "max_tokens": spec.max_tokens,
                          # the scenario's whole endpoint list: its load-balanced servers share entries,
                          # another server answering to the same model name does not
                          "base_url": sorted([spec.base_url] if isinstance(spec.base_url, str) else spec.base_url or [])})
    if model is not None or spec.provider == "fake":
        return LanguageBackend(model or ScriptedChatModel(), label="fake", **common)
    if local is not None:
        # one call at a time: the process's one llama.cpp context decodes one sequence at a time, and a
        # call queued behind the model's lock would spend its llm.timeout waiting, not generating
        return LanguageBackend(local, label=f"local:{spec.model}", **{**common, "max_concurrency": 1})
    from .openai_provider import openai_models

    return LanguageBackend(openai_models(spec, key), label=f"openai:{spec.model}", secrets=(key,), **common)
