"""LLM failures are loud (issue 13 item 3), against the stand-in OpenAI-compatible server:
a preflight that stops a dead, unauthorised or wrong endpoint before the first step, no retry on
401/403/404, Retry-After, client-side rate limits per endpoint, and degraded runs (exit 3)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time

import pytest
from typer.testing import CliRunner

from recagent.cli import app
from recagent.errors import UserError
from recagent.llm import SpeechRequest, make_backend
from recagent.llm.preflight import check_endpoints
from recagent.llm.ratelimit import EndpointGate, retry_after
from recagent.llm.structured import ChatReply
from recagent.scenario import LLMSpec
from recagent.simulation import run_scenario

from .llm_server import LLMServer

KEY = "sk-test-PREFLIGHT-7777777777"


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def spec(url, **kw) -> LLMSpec:
    base = dict(provider="openai", model="stand-in", base_url=url, timeout=2, max_retries=2, backoff=0.01, cache=False,
                max_concurrency=8)
    return LLMSpec(**{**base, **kw})


def chat(n: int) -> SpeechRequest:
    return SpeechRequest(kind="chat", speaker=f"Ann{n}", persona="a 30-year-old teacher", item_title=f"Movie {n}",
                         item_genres=["Drama"], sentiment="liked", rating=5.0, listener="Bob", key=f"k{n}")


def llm_block(url, tmp_path, **kw) -> dict:
    block = {"provider": "openai", "model": "stand-in", "base_url": url, "api_key_env": "RECAGENT_TEST_KEY",
             "timeout": 1, "max_retries": 1, "backoff": 0.01, "max_concurrency": 16,
             "cache": str(tmp_path / "llm_cache.sqlite"), "feeling_share": 0.3, "memory": {"enabled": False}}
    block.update(kw)
    return block


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


# --- preflight: each bad endpoint stops the run before the first step --------------------------------


def bad_endpoint(case: str, stack):
    """(base_url, model, expected message parts) for one kind of broken endpoint."""
    if case == "dead":
        url = dead_url()
        return url, "stand-in", ["field 'llm.base_url'", f"GET {url}/models failed: cannot connect",
                                 "is the server running"]
    if case == "wrong path":  # the server is there, the URL misses /v1
        server = stack.enter_context(LLMServer())
        root = server.url.removesuffix("/v1")
        return root, "stand-in", ["field 'llm.base_url'", f"GET {root}/models answered 404 Not Found",
                                  "does base_url end in /v1?"]
    if case == "401":
        server = stack.enter_context(LLMServer(api_key="sk-the-right-one"))
        return server.url, "stand-in", ["field 'llm.api_key_env'", f"GET {server.url}/models answered 401 Unauthorized",
                                        "Incorrect API key provided", "refused the key (from $RECAGENT_TEST_KEY)"]
    if case == "403":
        server = stack.enter_context(LLMServer(models_status=403))
        return server.url, "stand-in", ["field 'llm.api_key_env'", "answered 403 Forbidden"]
    if case == "404":  # a /v1 URL whose server has no model list: not OpenAI-compatible
        server = stack.enter_context(LLMServer(models_status=404))
        return server.url, "stand-in", ["field 'llm.base_url'", f"GET {server.url}/models answered 404 Not Found",
                                        "is this an OpenAI-compatible server"]
    if case == "unknown model":
        server = stack.enter_context(LLMServer(models=["llama-3-8b", "qwen2.5-7b"]))
        return server.url, "stand-in", ["field 'llm.model'", f"{server.url} does not serve model 'stand-in'",
                                        "it serves llama-3-8b, qwen2.5-7b"]
    raise AssertionError(case)


CASES = ["dead", "wrong path", "401", "403", "404", "unknown model"]


@pytest.mark.parametrize("case", CASES)
def test_a_broken_endpoint_stops_the_run_before_the_first_step(case, scenario_file, tmp_path, monkeypatch):
    from contextlib import ExitStack

    monkeypatch.setenv("RECAGENT_TEST_KEY", KEY)
    with ExitStack() as stack:
        url, model, expected = bad_endpoint(case, stack)
        path = scenario_file({"llm": llm_block(url, tmp_path, model=model),
                              "outputs": {"dir": str(tmp_path / "runs")}})
        result = cli("run", path, "--out", tmp_path / "run")
        checked = cli("validate", path, "--check-llm")
    assert result.exit_code == 2, result.output
    [line] = lines(result.output)
    assert line.startswith("error: ") and "Traceback" not in result.output
    for part in expected:
        assert part in line, (part, line)
    assert KEY not in result.output
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()  # nothing left behind
    assert not (tmp_path / "llm_cache.sqlite").exists()  # found before the prompt cache is opened
    assert checked.exit_code == 2 and lines(checked.output) == [line]  # validate --check-llm says the same


def test_preflight_passes_a_good_endpoint_and_sends_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("RECAGENT_TEST_KEY", KEY)
    with LLMServer(api_key=KEY) as a, LLMServer(api_key=KEY) as b:
        checks = check_endpoints(spec([a.url, b.url], api_key_env="RECAGENT_TEST_KEY"))
        assert [c.url for c in checks] == [a.url, b.url] and checks[0].served == ["gpt-4o-mini", "stand-in", "test-model"]
        assert len(a.model_requests) == len(b.model_requests) == 1 and a.count == b.count == 0  # one GET each
        assert a.model_requests[0]["authorization"] == f"Bearer {KEY}"
        # a run's backend makes the same check once per endpoint, then its calls
        backend = make_backend(spec([a.url, b.url], api_key_env="RECAGENT_TEST_KEY"))
        backend.respond_many([chat(n) for n in range(4)])
        backend.close()
        assert len(a.model_requests) == len(b.model_requests) == 2 and a.count + b.count == 4
    with LLMServer(models=[]) as empty, LLMServer(models_status=429) as busy:  # nothing to compare; rate limited
        assert check_endpoints(spec(empty.url))[0].served == []
        assert check_endpoints(spec(busy.url))[0].status == 429
    assert check_endpoints(LLMSpec()) == [] and check_endpoints(LLMSpec(provider="fake")) == []


def test_preflight_retries_a_failing_server_then_stops(tmp_path):
    with LLMServer(models_status=503) as server:
        with pytest.raises(UserError, match=r"answered 503 Service Unavailable: injected 503, 3 tries; is the server "
                                            r"overloaded or starting\?$"):
            check_endpoints(spec(server.url, max_retries=2))
        assert len(server.model_requests) == 3


def test_preflight_can_be_turned_off(tmp_path):
    backend = make_backend(spec(dead_url(), preflight=False, max_retries=0))  # llm.preflight: false
    [reply] = backend.respond_many([chat(0)])
    backend.close()
    assert reply.source == "fallback" and "Connection" in reply.error


# --- retries: never on 401/403/404, Retry-After honoured --------------------------------------------


@pytest.mark.parametrize("status", ["401", "403", "404"])
def test_refused_calls_are_never_retried(status):
    with LLMServer(script=[status]) as server:
        backend = make_backend(spec(server.url, max_retries=3, max_concurrency=1))
        [reply] = backend.respond_many([chat(0)])
        backend.close()
    assert reply.source == "fallback" and f"Error code: {status}" in reply.error
    assert server.count == 1 and (backend.usage.calls, backend.usage.retries, backend.usage.fallbacks) == (1, 0, 1)


def test_retry_after_pauses_the_endpoint_for_as_long_as_it_asks():
    with LLMServer(script=["429"], retry_after=1.2) as server:
        backend = make_backend(spec(server.url, max_retries=2, backoff=0.01, max_concurrency=1))
        [reply] = backend.respond_many([chat(0)])
        backend.close()
    assert reply.source == "llm" and server.count == 2
    assert server.arrivals[1] - server.arrivals[0] >= 1.15  # backoff alone would retry after 0.01 s
    u = backend.usage
    assert (u.retries, u.retry_after_waits) == (1, 1) and u.rate_limit_wait_s >= 1.1


def test_a_retry_after_beyond_the_cap_is_a_quota_and_not_retried():
    with LLMServer(script=["429"], retry_after=3600) as server:
        backend = make_backend(spec(server.url, max_retries=3, max_concurrency=1))
        started = time.perf_counter()
        [reply] = backend.respond_many([chat(0)])
        backend.close()
    assert time.perf_counter() - started < 2 and server.count == 1 and reply.source == "fallback"
    assert "Retry-After 3600 s is over 60 s" in reply.error


def test_retry_after_header_forms():
    assert retry_after({"retry-after": "2.5"}) == 2.5
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    soon = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < retry_after({"retry-after": soon}) <= 31
    assert retry_after({"retry-after": "soon-ish"}) is None and retry_after({}) is None


# --- client-side rate limits, per endpoint ------------------------------------------------------------


class FakeClock:
    """Time that only moves when the gate sleeps: the pacing arithmetic, exactly."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def paced(gate: EndpointGate, clock: FakeClock, sizes: list[int], monkeypatch) -> list[float]:
    async def sleep(seconds):
        clock.now += seconds

    monkeypatch.setattr("recagent.llm.ratelimit.asyncio.sleep", sleep)

    async def go():
        starts = []
        for size in sizes:
            await gate.acquire(size)
            starts.append(round(clock.now - 100.0, 6))
        return starts

    return asyncio.run(go())


def test_requests_per_minute_spaces_calls_after_a_one_second_burst(monkeypatch):
    clock = FakeClock()
    gate = EndpointGate(requests_per_minute=120, clock=clock)  # 2 per second, a bucket of 2
    assert paced(gate, clock, [0] * 6, monkeypatch) == [0, 0, 0.5, 1.0, 1.5, 2.0]


def test_tokens_per_minute_reserves_then_settles(monkeypatch):
    clock = FakeClock()
    gate = EndpointGate(tokens_per_minute=6000, clock=clock)  # 100 tokens a second, a bucket of 100
    # 80 fits; 80 more waits 0.6 s for 60; 250 (more than the bucket) waits for a full bucket and leaves a
    # debt of 150, which 50 then waits out (2 s)
    assert paced(gate, clock, [80, 80, 250, 50], monkeypatch) == [0, 0.6, 1.6, 3.6]
    gate.settle(reserved=50, used=10)  # the reply spent less than reserved: the rest comes back
    assert gate._tokens.level == pytest.approx(40)
    gate.settle(reserved=50, used=170)  # or more: the difference is owed
    assert gate._tokens.level == pytest.approx(-80)


def test_rate_limit_applies_to_each_endpoint_on_its_own(tmp_path):
    limit = {"requests_per_minute": 240}  # 4 per second, bursts of 4
    with LLMServer() as one:
        backend = make_backend(spec(one.url, rate_limit=limit, max_concurrency=8))
        backend.respond_many([chat(n) for n in range(8)])
        backend.close()
    with LLMServer() as a, LLMServer() as b:
        backend2 = make_backend(spec([a.url, b.url], rate_limit=limit, max_concurrency=8))
        backend2.respond_many([chat(n) for n in range(8)])
        backend2.close()
    span = lambda server: server.arrivals[-1] - server.arrivals[0]
    assert one.count == 8 and span(one) >= 0.95 and backend.usage.rate_limit_wait_s > 1  # 4 waited 0.25..1 s
    assert (a.count, b.count) == (4, 4) and span(a) < 0.5 and span(b) < 0.5  # 4 each: within each bucket


def test_token_limit_paces_real_calls(tmp_path):
    with LLMServer() as server:
        backend = make_backend(spec(server.url, rate_limit={"tokens_per_minute": 30_000}, max_tokens=50,
                                    max_concurrency=8))  # 500 tokens a second, a bucket of 500
        backend.respond_many([chat(n) for n in range(6)])
        backend.close()
    used = backend.usage.prompt_tokens + backend.usage.completion_tokens
    assert server.count == 6 and used > 1000  # twice the bucket
    # before the last call went out, the first five had spent their tokens: at most a bucket plus 500 a second
    before_last = used * 5 / 6
    assert server.arrivals[-1] - server.arrivals[0] >= 0.8 * (before_last - 500) / 500 > 0.5
    assert backend.usage.rate_limit_wait_s > 0.5


def test_a_wave_reuses_one_connection_per_call_in_flight():
    # issue 17: a wave of many calls must not reconnect (each new connection costs the client CPU)
    with LLMServer(delay=0.02) as server:
        backend = make_backend(spec(server.url, max_concurrency=10))
        replies = backend.respond_many([chat(n) for n in range(200)])
        backend.close()
    assert {r.source for r in replies} == {"llm"} and server.count == 200
    assert len({r["_client_port"] for r in server.requests}) <= 10


def test_calls_send_the_body_chatopenai_sends(tmp_path):
    # the backend posts through ChatOpenAI's own OpenAI client, skipping LangChain's per-call machinery
    # (recagent/llm/completion.py): the endpoint must not see a difference
    from recagent.llm.prompts import render

    with LLMServer() as server:
        backend = make_backend(spec(server.url, max_tokens=77, temperature=0.3))
        [reply] = backend.respond_many([chat(0)])
        model = backend.models[0]
        asyncio.run_coroutine_threadsafe(model.ainvoke(render(chat(0))), backend._event_loop()).result()
        backend.close()
    ours, langchains = ({k: v for k, v in r.items() if not k.startswith("_")} for r in server.requests)
    # what recagent adds to ChatOpenAI's body: the token limit under the name older servers read too
    # (llama.cpp's server ignores max_completion_tokens), and the reply's JSON schema
    assert ours.pop("max_tokens") == 77 and ours.pop("response_format") == {
        "type": "json_schema", "json_schema": {"name": "ChatReply", "schema": ChatReply.model_json_schema()}}
    assert reply.source == "llm" and ours == langchains
    assert ours["max_completion_tokens"] == 77 and ours["temperature"] == 0.3 and ours["model"] == "stand-in"
    assert backend.usage.prompt_tokens == sum(len(m["content"]) for m in ours["messages"]) // 4  # the server's count


# --- degraded runs --------------------------------------------------------------------------------------


def test_a_run_over_the_fallback_share_ends_degraded_with_exit_3(scenario_file, tmp_path, monkeypatch):
    monkeypatch.setenv("RECAGENT_TEST_KEY", KEY)
    with LLMServer(fault_every=3, faults=["500"]) as server:  # every third call fails, no retries
        path = scenario_file({"llm": llm_block(server.url, tmp_path, max_retries=0, cache=False)})
        result = cli("run", path, "--out", tmp_path / "run", "--steps", 3)
        allowed = cli("run", path, "--out", tmp_path / "run2", "--steps", 2, "--allow-degraded", "--quiet")
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    llm = info["llm"]
    assert result.exit_code == 3, result.output
    assert info["status"] == "degraded" and info["steps_completed"] == 3
    assert llm["fallbacks"] == llm["failures"] > 0 and llm["acts"] == llm["calls"]
    share = llm["fallbacks"] / llm["acts"]
    assert 0.2 < share < 0.45
    assert info["warning"].startswith(f"{llm['fallbacks']} of {llm['acts']} LLM acts fell back to offline text "
                                      f"({share:.0%}, over llm.max_fallback_share = 0.05): ")
    assert "Error code: 500" in info["warning"] and "injected 500" in info["warning"]  # the last error
    out = result.output
    assert "status" in out and "degraded" in out and "fallbacks to offline text" in out
    assert f"warning: {llm['fallbacks']} of {llm['acts']} LLM acts fell back" in out
    assert f"degraded: {llm['fallbacks']} of {llm['acts']}" in out and "--allow-degraded" in out
    assert allowed.exit_code == 0, allowed.output
    assert json.loads((tmp_path / "run2" / "run.json").read_text())["status"] == "degraded"


def test_the_fallback_share_decides_the_status():
    from recagent.llm import Usage
    from recagent.llm.health import mark_degraded

    usage = Usage(acts=100, fallbacks=5, errors=["APITimeoutError: Request timed out."])
    for status, share, expected in [("completed", 0.05, "completed"), ("completed", 0.04, "degraded"),
                                    ("budget_exhausted", 0.04, "degraded"), ("failed", 0.0, "failed"),
                                    ("interrupted", 0.0, "interrupted")]:
        info = {"status": status}
        mark_degraded(info, usage, share)
        assert info["status"] == expected and ("warning" in info) == (expected == "degraded")
    info = {"status": "completed"}
    mark_degraded(info, usage, 0.0)
    assert info["warning"] == ("5 of 100 LLM acts fell back to offline text (5%, over llm.max_fallback_share = 0): "
                               "APITimeoutError: Request timed out.")
    mark_degraded(info := {"status": "completed"}, Usage(), 0.0)  # no LLM act at all: nothing to judge
    assert info == {"status": "completed"}


def test_the_summary_shows_every_event_kind_the_wall_time_and_the_llm_accounting(scenario_file, tmp_path,
                                                                                  monkeypatch):
    from rich.console import Console

    monkeypatch.setenv("RECAGENT_TEST_KEY", KEY)
    with LLMServer() as server:
        path = scenario_file({"name": "a-scenario-name-long-enough-to-wrap-a-narrow-title",
                              "llm": llm_block(server.url, tmp_path)})
        run_scenario(path, out=tmp_path / "run1", progress=False, steps=3)
        calls = server.count
        console = Console(record=True, width=60, force_terminal=False)
        again = run_scenario(path, out=tmp_path / "run2", progress=True, steps=3, console=console)
    text = console.export_text()
    rows = dict(m.groups() for line in text.splitlines() if (m := re.match(r"^\s*(\S.*?)\s{2,}(\S.*?)\s*$", line)))
    info = again.info
    assert text.splitlines().count("run a-scenario-name-long-enough-to-wrap-a-narrow-title") == 1
    for kind in ("page", "watch", "like", "dislike", "leave", "search", "chat", "post", "hear", "intervention",
                 "feeling"):
        assert rows[f"{kind} events"] == f"{info['counts'].get(kind, 0):,}"
    assert int(rows["page events"].replace(",", "")) > 0 and int(rows["feeling events"]) > 0
    # a fully cached re-run: 0 calls, every act a cache hit, and it says so
    assert server.count == calls and rows["calls"] == "0" and info["llm"]["calls"] == 0
    assert rows["cache hits"] == str(info["llm"]["cache_hits"]) == str(info["llm"]["acts"]) != "0"
    assert rows["fallbacks to offline text"] == "0" and rows["status"] == "completed"
    assert info["total_wall_time_s"] >= info["wall_time_s"] > 0
    assert rows["wall time"] == f"{info['total_wall_time_s']:,.1f} s" and rows["of which steps"] == \
        f"{info['wall_time_s']:,.1f} s"


@pytest.mark.slow
def test_a_degraded_run_with_serve_still_exits_3(scenario_file, tmp_path, monkeypatch):
    """`run --serve` keeps serving after the run; stopping it (Ctrl-C) still reports the degraded run."""
    import signal
    import subprocess
    import sys

    import httpx

    from .conftest import ROOT
    from .test_web_api import free_port

    monkeypatch.setenv("RECAGENT_TEST_KEY", KEY)  # inherited by the process below
    with LLMServer(fault_every=3, faults=["500"]) as server:
        path = scenario_file({"llm": llm_block(server.url, tmp_path, max_retries=0, cache=False)})
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-c", "from recagent.cli import app; app()", "run", str(path),
                                 "--out", str(tmp_path / "run"), "--steps", "3", "--serve", "--port", str(port),
                                 "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline, runs = time.monotonic() + 180, []
            while time.monotonic() < deadline and not (runs and runs[0]["status"] == "degraded"):
                try:
                    runs = httpx.get(f"http://127.0.0.1:{port}/api/runs", timeout=2).json()["runs"]
                except httpx.HTTPError:
                    runs = []
                time.sleep(0.2)
            assert runs and runs[0]["status"] == "degraded", runs
            proc.send_signal(signal.SIGINT)
            output = proc.communicate(timeout=30)[0]
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 3, output
    assert "degraded:" in output and "--allow-degraded" in output
