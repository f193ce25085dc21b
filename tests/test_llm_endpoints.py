"""Large waves over several endpoints (issue 17 item 4), against real stand-in servers on 127.0.0.1:
`max_concurrency` holds on each endpoint, a wave is shared by the endpoints with room, a paused or
slow one gets fewer calls, a wave keeps a bounded number of tasks alive whatever its size, failures
are the OpenAI SDK's exceptions, and the prompt cache commits without waiting for fsync."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import openai

from recagent.llm import PromptCache, SpeechRequest, canned_reply, make_backend
from recagent.llm.completion import status_error
from recagent.llm.ratelimit import retry_after_seconds
from recagent.scenario import LLMSpec

from .llm_server import LLMServer


def spec(urls, **kw) -> LLMSpec:
    base = dict(provider="openai", model="stand-in", base_url=urls, timeout=5, max_retries=2, backoff=0.01,
                cache=False, max_concurrency=8)
    return LLMSpec(**(base | kw))


def chat(n: int) -> SpeechRequest:
    return SpeechRequest(kind="chat", speaker=f"A{n}", persona="a viewer", item_title=f"Film {n}",
                         item_genres=["Drama"], sentiment="liked", listener=f"B{n}", key=f"k{n}")


def test_two_endpoints_share_a_wave_each_within_max_concurrency():
    with LLMServer(delay=0.2) as a, LLMServer(delay=0.2) as b:
        backend = make_backend(spec([a.url, b.url], max_concurrency=20))
        started = time.perf_counter()
        replies = backend.respond_many([chat(n) for n in range(400)])
        wall = time.perf_counter() - started
        backend.close()
    assert {r.source for r in replies} == {"llm"} and a.count + b.count == 400
    assert a.max_in_flight == b.max_in_flight == 20  # the limit is per endpoint, and it is reached
    assert 150 <= a.count <= 250  # shared, not all on the first endpoint
    # one endpoint would take 400 / 20 x 0.2 s = 4 s; two take 2 s (slack for a busy machine)
    assert wall < 3.3


def test_a_slow_endpoint_gets_fewer_calls():
    with LLMServer(delay=0.02) as fast, LLMServer(delay=0.3) as slow:
        backend = make_backend(spec([fast.url, slow.url], max_concurrency=4))
        replies = backend.respond_many([chat(n) for n in range(120)])
        backend.close()
    assert {r.source for r in replies} == {"llm"} and fast.count + slow.count == 120
    assert fast.count >= 3 * slow.count  # a slow endpoint's calls hold their slots longer


def test_a_paused_endpoint_is_passed_over_while_another_has_room():
    with LLMServer(script=["429"], retry_after=3) as a, LLMServer() as b:
        backend = make_backend(spec([a.url, b.url], max_concurrency=1))
        [first] = backend.respond_many([chat(0)])  # a answers 429 + Retry-After 3 s: the retry goes to b
        started = time.perf_counter()
        [second] = backend.respond_many([chat(1)])  # a is still paused, b has room: b, at once
        wall = time.perf_counter() - started
        backend.close()
    assert first.source == second.source == "llm" and (a.count, b.count) == (1, 2)
    assert backend.usage.retry_after_waits == 1 and wall < 1.5  # not queued behind a's 3 s pause


def test_a_wave_keeps_a_bounded_number_of_tasks_alive():
    # 1,000 calls through 10 slots: at most twice the slots of tasks exist at once, so the event loop's
    # work per call does not grow with the wave
    with LLMServer(delay=0.005) as server:
        backend = make_backend(spec(server.url, max_concurrency=10))
        loop = backend._event_loop()
        done, peak = threading.Event(), []

        async def probe():
            while not done.is_set():
                peak.append(len(asyncio.all_tasks()))
                await asyncio.sleep(0.002)

        probing = asyncio.run_coroutine_threadsafe(probe(), loop)
        replies = backend.respond_many([chat(n) for n in range(1000)])
        done.set()
        probing.result(timeout=5)
        backend.close()
    assert {r.source for r in replies} == {"llm"} and server.count == 1000 and server.max_in_flight <= 10
    # twice the slots of call tasks, the wave, the probe, aiohttp's connection setup: tens, not 1,000
    assert len(peak) > 10 and max(peak) <= 50


def test_http_errors_are_the_openai_sdks_exceptions():
    error = status_error(429, [("Retry-After", "2"), ("Content-Type", "application/json")],
                         b'{"error": {"message": "slow down", "type": "requests"}}', "http://127.0.0.1:1/v1/chat")
    assert isinstance(error, openai.RateLimitError) and error.status_code == 429
    assert str(error).startswith("Error code: 429 - ") and "slow down" in str(error)
    assert retry_after_seconds(error) == 2.0 and error.body == {"message": "slow down", "type": "requests"}
    assert isinstance(status_error(503, [], b"busy", "u"), openai.InternalServerError)
    assert type(status_error(418, [], b"teapot", "u")) is openai.APIStatusError


def test_a_dead_endpoint_is_a_connection_error_not_a_timeout():
    with LLMServer() as server:
        url = server.url
    backend = make_backend(spec(url, max_retries=0), preflight=False)  # nothing listens there any more
    [reply] = backend.respond_many([chat(0)])
    backend.close()
    assert reply.source == "fallback" and reply.error.startswith("APIConnectionError: Connection error")


def test_a_reply_past_the_timeout_is_the_sdks_timeout_error():
    with LLMServer(script=["slow"], slow_seconds=2) as server:
        backend = make_backend(spec(server.url, timeout=0.3, max_retries=0))
        started = time.perf_counter()
        [reply] = backend.respond_many([chat(0)])
        backend.close()
    assert reply.source == "fallback" and reply.error == "APITimeoutError: Request timed out."
    assert time.perf_counter() - started < 1.5


def test_the_prompt_cache_commits_in_wal_mode(tmp_path):
    cache = PromptCache(tmp_path / "c.sqlite")
    for n in range(200):
        cache.put(f"k{n}", f"text {n}", n, 1)
    cache.close()
    conn = sqlite3.connect(tmp_path / "c.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT COUNT(*), SUM(prompt_tokens) FROM replies").fetchone() == (200, sum(range(200)))
    conn.close()


def test_a_wave_sets_older_objects_aside_from_the_collector_and_gives_them_back():
    import gc

    seen = []

    def responder(prompt):  # runs while the wave is in flight
        seen.append(gc.get_freeze_count())
        return canned_reply(prompt)

    with LLMServer(responder=responder) as server:
        backend = make_backend(spec(server.url))
        replies = backend.respond_many([chat(n) for n in range(3)])
        backend.close()
    assert {r.source for r in replies} == {"llm"} and len(seen) == 3
    assert min(seen) > 1000 and gc.get_freeze_count() == 0  # the test process's objects, then none


def test_calls_take_the_proxy_the_environment_gives(monkeypatch):
    from recagent.llm.completion import env_proxy

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("https://api.openai.com/v1/chat/completions") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert env_proxy("https://api.openai.com/v1/chat/completions") == "http://proxy.example:3128"
    assert env_proxy("http://127.0.0.1:8000/v1/chat/completions") is None  # NO_PROXY
    assert env_proxy("http://gpu1:8000/v1/chat/completions") is None  # no HTTP_PROXY for http://
