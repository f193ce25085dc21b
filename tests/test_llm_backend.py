"""The language backend against a real OpenAI-compatible HTTP server on 127.0.0.1 (tests/llm_server.py):
retries, fallbacks, cache replay, accounting, budget, load balancing, key hygiene."""

from __future__ import annotations

import time

import pytest

from recagent.errors import UserError
from recagent.llm import PromptCache, ReplyFormatError, ScriptedChatModel, SpeechRequest, make_backend, parse_reply
from recagent.llm.structured import ChatReply, RatingReply
from recagent.scenario import LLMSpec

from .llm_server import LLMServer

KEY = "sk-test-SECRET-0123456789"


def spec(server_url, tmp_path, **kw):
    base = dict(provider="openai", model="test-model", base_url=server_url, timeout=0.5, max_retries=2,
                backoff=0.01, cache=tmp_path / "cache.sqlite", max_concurrency=8)
    base.update(kw)
    return LLMSpec(**base)


def chat_request(n: int) -> SpeechRequest:
    return SpeechRequest(kind="chat", speaker=f"Ann{n}", persona="a 30-year-old teacher", item_title=f"Movie {n}",
                         item_genres=["Drama"], sentiment="liked", rating=5.0, listener="Bob", key=f"k{n}")


def test_parse_reply_tolerates_fences_and_rejects_bad_shapes():
    reply = parse_reply('Sure!\n```json\n{"turns": [{"speaker": "A", "text": "hi"}], "sentiment": "liked", '
                        '"listener_wants_to_watch": true}\n```', ChatReply)
    assert reply.listener_wants_to_watch and reply.as_text() == "A: hi"
    for bad in ('{"turns": [{"speaker": "A", "te', '{"unexpected": 1}', "no json here", '{"rating": 9}'):
        with pytest.raises(ReplyFormatError):
            parse_reply(bad, RatingReply if "rating" in bad else ChatReply)


def test_openai_backend_parses_structured_replies_and_counts_tokens(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", KEY)
    with LLMServer() as server:
        backend = make_backend(spec(server.url, tmp_path, api_key_env="TEST_LLM_KEY"))
        replies = backend.respond_many([chat_request(n) for n in range(6)])
        backend.close()
    assert [r.source for r in replies] == ["llm"] * 6
    assert all(isinstance(r.data, ChatReply) for r in replies)
    assert server.count == 6
    assert server.requests[0]["model"] == "test-model"
    assert server.requests[0]["_headers"]["authorization"] == f"Bearer {KEY}"  # the key reaches the server only
    u = backend.usage.as_dict()
    assert u["calls"] == 6 and u["failures"] == 0 and u["calls_by_kind"] == {"chat": 6}
    assert u["prompt_tokens"] > 6 * 50 and u["completion_tokens"] > 0


@pytest.mark.parametrize("fault", ["429", "500", "503", "slow", "malformed", "truncated", "wrong_format"])
def test_each_fault_is_retried_then_succeeds(tmp_path, fault):
    with LLMServer(script=[fault], slow_seconds=1.5) as server:
        backend = make_backend(spec(server.url, tmp_path, max_concurrency=1))
        [reply] = backend.respond_many([chat_request(0)])
        backend.close()
    assert reply.source == "llm" and isinstance(reply.data, ChatReply)
    u = backend.usage
    assert (u.calls, u.failures, u.retries, u.fallbacks) == (2, 1, 1, 0)
    assert u.parse_failures == (1 if fault in ("truncated", "wrong_format") else 0)
    assert server.count == 2


def test_persistent_failure_falls_back_to_offline_text_and_is_recorded(tmp_path):
    with LLMServer(script=["500", "429", "500", "ok"]) as server:
        backend = make_backend(spec(server.url, tmp_path, max_retries=2))
        replies = backend.respond_many([chat_request(0)])
        backend.close()
    [reply] = replies
    assert reply.source == "fallback" and reply.data is None
    assert reply.text.startswith("Ann0: ")  # the offline dialogue
    assert backend.usage.fallbacks == 1 and backend.usage.failures == 3 and backend.usage.calls == 3
    assert "injected" in reply.error


def test_client_errors_are_not_retried(tmp_path):
    with LLMServer(script=["401"]) as server:
        backend = make_backend(spec(server.url, tmp_path, max_retries=3))
        [reply] = backend.respond_many([chat_request(0)])
        backend.close()
    assert reply.source == "fallback" and server.count == 1 and backend.usage.retries == 0


def test_cache_replays_without_calls(tmp_path):
    requests = [chat_request(n) for n in range(5)]
    with LLMServer() as server:
        first = make_backend(spec(server.url, tmp_path))
        texts = first.speak_many(requests)
        first.close()
        second = make_backend(spec(server.url, tmp_path))
        replay = second.respond_many(requests)
        second.close()
    assert server.count == 5
    assert [r.text for r in replay] == texts and {r.source for r in replay} == {"cache"}
    assert second.usage.calls == 0 and second.usage.cache_hits == 5
    assert len(PromptCache(tmp_path / "cache.sqlite")) == 5
    assert KEY not in (tmp_path / "cache.sqlite").read_bytes().decode("latin-1")


def test_malformed_replies_are_not_cached(tmp_path):
    with LLMServer(script=["wrong_format", "wrong_format"]) as server:
        backend = make_backend(spec(server.url, tmp_path, max_retries=1))
        [reply] = backend.respond_many([chat_request(0)])
        backend.close()
    assert reply.source == "fallback"
    assert len(PromptCache(tmp_path / "cache.sqlite")) == 0


def test_budget_stops_calls_and_flags_exhaustion(tmp_path):
    with LLMServer() as server:
        backend = make_backend(spec(server.url, tmp_path, budget={"max_calls": 3}, max_concurrency=4))
        replies = backend.respond_many([chat_request(n) for n in range(10)])
        backend.close()
    assert server.count == 3 and backend.usage.calls == 3
    assert backend.exhausted and "llm.budget.max_calls = 3" in backend.budget_message()
    assert sum(r.source == "budget" for r in replies) == 7
    assert all(r.text for r in replies)


def test_concurrency_is_bounded_and_waves_are_concurrent(tmp_path):
    with LLMServer(delay=0.2) as server:
        backend = make_backend(spec(server.url, tmp_path, max_concurrency=50, cache=False, timeout=5))
        started = time.perf_counter()
        backend.respond_many([chat_request(n) for n in range(50)])
        wall = time.perf_counter() - started
        backend.close()
    assert server.count == 50 and wall < 4  # 50 x 0.2 s sequentially would be 10 s


def test_several_base_urls_are_load_balanced(tmp_path):
    with LLMServer() as a, LLMServer() as b:
        backend = make_backend(spec([a.url, b.url], tmp_path, cache=False))
        backend.respond_many([chat_request(n) for n in range(10)])
        backend.close()
    assert (a.count, b.count) == (5, 5)


def test_failover_to_the_next_url_on_retry(tmp_path):
    with LLMServer(script=["500"]) as a, LLMServer() as b:
        backend = make_backend(spec([a.url, b.url], tmp_path, cache=False, max_concurrency=1))
        [reply] = backend.respond_many([chat_request(0)])
        backend.close()
    assert reply.source == "llm" and (a.count, b.count) == (1, 1)


def test_api_key_is_scrubbed_from_recorded_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_LLM_KEY", KEY)
    with LLMServer(script=[{"content": f"echo {KEY}"}] * 3) as server:
        backend = make_backend(spec(server.url, tmp_path, api_key_env="TEST_LLM_KEY", max_retries=0))
        # a reply that is not JSON is recorded with the offending text; fake an error that echoes the key
        backend._record_error(RuntimeError(f"Incorrect API key provided: {KEY}"))
        backend.respond_many([chat_request(0)])
        backend.close()
    assert KEY not in str(backend.usage.as_dict()) and "***" in str(backend.usage.as_dict())


def test_missing_key_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(UserError, match="NO_SUCH_KEY_VAR"):
        make_backend(LLMSpec(provider="openai", api_key_env="NO_SUCH_KEY_VAR"))
    with pytest.raises(UserError, match="api_key_env"):
        make_backend(LLMSpec(provider="openai"))
    with pytest.raises(UserError, match="NO_SUCH_KEY_VAR"):  # nothing is opened or written first
        make_backend(LLMSpec(provider="openai", api_key_env="NO_SUCH_KEY_VAR", cache=True), cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_reply_that_breaks_a_whole_object_rule_names_no_empty_field():
    from pydantic import BaseModel, model_validator

    from recagent.llm.structured import ReplyFormatError, parse_reply

    class Span(BaseModel):
        low: int
        high: int

        @model_validator(mode="after")
        def ordered(self):
            if self.low > self.high:
                raise ValueError("low must not exceed high")
            return self

    with pytest.raises(ReplyFormatError, match=r"^wrong format: Value error, low must not exceed high$"):
        parse_reply('{"low": 5, "high": 1}', Span)
    with pytest.raises(ReplyFormatError, match=r"^wrong format: high: "):
        parse_reply('{"low": 5}', Span)


def test_scripted_fake_model_drives_retries_without_network(tmp_path):
    model = ScriptedChatModel(script=[TimeoutError("slow"), "not json", '{"rating": 4}'])
    backend = make_backend(LLMSpec(provider="fake", max_retries=2, backoff=0, cache=False), model=model)
    from recagent.llm import Task

    [reply] = backend.run_tasks([Task("rating", [], lambda: ("3", None))])
    backend.close()
    assert reply.data == RatingReply(rating=4) and backend.usage.failures == 2 and backend.usage.parse_failures == 1


def test_offline_backend_makes_no_calls():
    backend = make_backend("offline")
    texts = backend.speak_many([chat_request(n) for n in range(3)])
    assert backend.label == "offline" and backend.usage.calls == 0 and backend.usage.offline_replies == 3
    assert all(t.startswith(f"Ann{n}: ") for n, t in enumerate(texts))
