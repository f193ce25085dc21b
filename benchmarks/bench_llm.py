"""LLM cost and concurrency, against the stand-in OpenAI-compatible server of the test suite.

1. LLM calls per active agent-step for the movielens cocoon scenario (target <= 0.3), with the
   openai provider pointed at a local stand-in server (synthetic 200 users if MovieLens is absent).
2. Wall time of one social wave of 100 chats against a server answering in 200 ms
   (target < 2 s; sequential would be 20 s).
3. The client's cost per call as waves grow (issue 17): waves of 100, 1,000 and 10,000 chats with
   `max_concurrency: 100` against a stand-in server answering in 200 ms in ANOTHER process, so the
   CPU time measured (time.process_time) is the client's alone: wall time of the wave, client CPU
   per call (target: <= 2 ms at every size; 1,000 calls < 3 s, 10,000 < 25 s) and the CPU the
   server process used; each run starts fresh servers and a fresh backend, and the medians of
   `--repeat` runs close the figure. `--endpoints 2` spreads the waves over two server processes
   (max_concurrency is per endpoint); `--cache` adds an empty prompt cache (every call a miss and
   a write).

    python benchmarks/bench_llm.py [--no-memory] [--waves 100,1000,10000] [--repeat 3] [--endpoints 1]
                                   [--cache] [--only-waves]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recagent.llm import SpeechRequest, make_backend  # noqa: E402
from recagent.scenario import LLMSpec  # noqa: E402
from recagent.simulation import run_scenario  # noqa: E402
from tests.llm_server import LLMServer  # noqa: E402


def calls_per_active_agent_step(memory: bool) -> None:
    data = yaml.safe_load((ROOT / "scenarios" / "movielens_cocoon.yaml").read_text())
    ml = (ROOT / "scenarios" / data["dataset"]["path"]).resolve()
    if (ml / "u.data").exists():
        data["dataset"]["path"] = str(ml)
        label = "movielens-cocoon (MovieLens-100K, 200 agents, 20 steps)"
    else:
        data["dataset"] = {"kind": "synthetic", "users": 200, "items": 1000, "history_length": 40}
        label = "movielens-cocoon shape on synthetic data (MovieLens-100K absent)"
    with tempfile.TemporaryDirectory() as tmp, LLMServer() as server:
        data["llm"] = {"provider": "openai", "base_url": server.url, "model": "stand-in", "max_concurrency": 32,
                       "timeout": 5, "cache": False, "memory": {"enabled": memory}}
        path = Path(tmp) / "scenario.yaml"
        path.write_text(yaml.safe_dump(data))
        started = time.perf_counter()
        result = run_scenario(path, out=Path(tmp) / "run", progress=False)
        wall = time.perf_counter() - started
        metrics = result.model.datacollector.get_model_vars_dataframe()
        active = int(metrics["active_agents"].sum())
        llm = result.info["llm"]
    print(f"{label}, memory {'on' if memory else 'off'}: {llm['calls']} LLM calls for {active} active agent-steps "
          f"= {llm['calls'] / max(active, 1):.3f} calls per active agent-step (target <= 0.3); "
          f"by kind {json.dumps(llm['calls_by_kind'])}; wall {wall:.1f} s")


def chat_wave(n: int = 100, latency: float = 0.2) -> None:
    requests = [SpeechRequest(kind="chat", speaker=f"A{k}", persona="a viewer", item_title=f"Film {k}",
                              item_genres=["Drama"], sentiment="liked", listener=f"B{k}", key=str(k)) for k in range(n)]
    with LLMServer(delay=latency) as server:
        backend = make_backend(LLMSpec(provider="openai", base_url=server.url, max_concurrency=n, timeout=10,
                                       cache=False))
        backend.respond_many(requests[:2])  # warm the connection pool
        started = time.perf_counter()
        replies = backend.respond_many(requests)
        wall = time.perf_counter() - started
        backend.close()
    ok = sum(r.source == "llm" for r in replies)
    print(f"one social wave: {n} chats ({ok} answered) against a server answering in {latency * 1000:.0f} ms: "
          f"{wall:.2f} s wall (target < 2 s; sequential would be {n * latency:.0f} s)")


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU of another process (Linux /proc), None where there is no /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _chats(n: int, tag: str) -> list[SpeechRequest]:
    return [SpeechRequest(kind="chat", speaker=f"A{k}", persona="a viewer", item_title=f"Film {k}",
                          item_genres=["Drama"], sentiment="liked", listener=f"B{k}", key=f"{tag}:{k}")
            for k in range(n)]


def client_cost_run(sizes: list[int], latency: float, concurrency: int, endpoints: int, cache: bool) -> dict:
    """One run: fresh servers (one process each) and a fresh backend, then one wave per size.
    Returns {size: (wall s, client CPU ms per call, server CPU ms per call)}."""
    servers = [subprocess.Popen([sys.executable, "-m", "tests.llm_server", "--delay", str(latency)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True) for _ in range(endpoints)]
    figures = {}
    try:
        urls = [server.stdout.readline().strip() for server in servers]
        with tempfile.TemporaryDirectory() as tmp:
            backend = make_backend(LLMSpec(provider="openai", base_url=urls if endpoints > 1 else urls[0],
                                           model="stand-in", max_concurrency=concurrency, timeout=60,
                                           cache=Path(tmp) / "llm_cache.sqlite" if cache else False))
            backend.respond_many(_chats(concurrency * endpoints, "warm"))  # open the connections, as a first wave does
            for n in sizes:
                requests = _chats(n, str(n))
                server_cpu = [_cpu_seconds(s.pid) for s in servers]
                cpu, started = time.process_time(), time.perf_counter()
                replies = backend.respond_many(requests)
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
                after = [_cpu_seconds(s.pid) for s in servers]
                served = (sum(a - b for a, b in zip(after, server_cpu)) if None not in server_cpu + after else None)
                ok = sum(r.source == "llm" for r in replies)
                figures[n] = (wall, cpu / n * 1000, served / n * 1000 if served is not None else None)
                ideal = n / (concurrency * endpoints) * latency
                print(f"  wave of {n:,} chats ({ok:,} answered): {wall:.2f} s wall (ideal {ideal:.1f} s), "
                      f"client CPU {cpu / n * 1000:.2f} ms per call, server CPU "
                      + (f"{served / n * 1000:.2f} ms per call" if served is not None else "n/a"), flush=True)
            backend.close()
    finally:
        for server in servers:
            server.terminate()
            server.wait()
    return figures


def client_cost(sizes: list[int], repeat: int, latency: float = 0.2, concurrency: int = 100, endpoints: int = 1,
                cache: bool = False) -> None:
    print(f"waves of {', '.join(f'{n:,}' for n in sizes)} chats, max_concurrency {concurrency} per endpoint, "
          f"{endpoints} stand-in server process{'es' * (endpoints > 1)} answering in {latency * 1000:.0f} ms, "
          f"prompt cache {'on (empty: every call a miss and a write)' if cache else 'off'}; "
          f"client CPU is this process's time.process_time()", flush=True)
    runs = []
    for r in range(repeat):
        print(f"run {r + 1} of {repeat}", flush=True)
        runs.append(client_cost_run(sizes, latency, concurrency, endpoints, cache))
    print(f"medians of {repeat} run{'s' * (repeat > 1)} (targets at one endpoint: 1,000 calls < 3 s, "
          f"10,000 < 25 s, client CPU <= 2 ms per call)")
    for n in sizes:
        wall, client, server = (statistics.median(x) if None not in (x := [run[n][i] for run in runs]) else None
                                for i in range(3))
        print(f"  {n:>6,} calls: wall {wall:.2f} s (ideal {n / (concurrency * endpoints) * latency:.1f} s), "
              f"client CPU {client:.2f} ms per call, server CPU "
              + (f"{server:.2f} ms per call" if server is not None else "n/a"), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-memory", action="store_true", help="scenario run without agent memory")
    parser.add_argument("--waves", default="100,1000,10000", help="wave sizes for the client-cost figure")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the client-cost figure (medians printed)")
    parser.add_argument("--endpoints", type=int, default=1, help="stand-in server processes in llm.base_url")
    parser.add_argument("--cache", action="store_true", help="client-cost waves with an (empty) prompt cache")
    parser.add_argument("--only-waves", action="store_true", help="only the client-cost figure")
    args = parser.parse_args()
    client_cost([int(n) for n in args.waves.split(",") if n], args.repeat, endpoints=args.endpoints, cache=args.cache)
    if not args.only_waves:
        chat_wave()
        calls_per_active_agent_step(memory=not args.no_memory)
