"""Runs per minute of `recagent sweep` on the local process pool and on a local Ray instance.

    python benchmarks/bench_sweep.py                    # quickstart, 4 strategies x 2 seeds, 3 repeats
    python benchmarks/bench_sweep.py --agents 20 --steps 3 --seeds 2 --repeat 3 --jobs 2

Each repeat runs the same sweep into a fresh folder with each executor (same runs, same CPUs) and
times it from the call to the written report. Each repeat starts a fresh local Ray instance (cold
workers, as a `recagent sweep --executor ray` has); starting it is timed on its own and left out of
Ray's runs per minute (a sweep from the command line pays it once).
Prints the median and range over repeats, and Ray's overhead per run against the pool.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "quickstart.yaml")
    ap.add_argument("--agents", type=int, default=None, help="agents.count override (default: the scenario's)")
    ap.add_argument("--steps", type=int, default=None, help="simulation.steps override (default: the scenario's)")
    ap.add_argument("--strategies", default="popular,random,popular+mmr(lambda=0.5),popular+random_k",
                    help="comma-separated; a strategy with parameters must not contain commas")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2, help="pool processes = CPUs of the local Ray instance")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import ray
    from rich.console import Console

    from recagent.sweep import build_plan, run_sweep
    from recagent.sweep.strategy import parse_strategy

    fixed = {}
    if args.agents:
        fixed["agents.count"] = args.agents
    if args.steps:
        fixed["simulation.steps"] = args.steps
    strategies = [parse_strategy(s) for s in args.strategies.split(",")]

    def plan():
        return build_plan(args.scenario, strategies=strategies, seeds=args.seeds, fixed=fixed)

    n_runs = len(plan().runs)
    quiet = Console(quiet=True)
    # one run first, so a cold cache (the ensemble prepared on first use) is not timed
    with tempfile.TemporaryDirectory() as tmp:
        warm = build_plan(args.scenario, strategies=strategies[:1], seeds=1, fixed=fixed)
        run_sweep(warm, Path(tmp) / "warm", jobs=1, progress=False, console=quiet)

    walls: dict[str, list[float]] = {"pool": [], "ray": []}
    ray_starts: list[float] = []
    for _ in range(args.repeat):
        for executor in ("pool", "ray"):
            if executor == "ray":  # a fresh instance per repeat, as each `recagent sweep --executor ray` starts one
                t0 = time.perf_counter()
                ray.init(address="local", include_dashboard=False, num_cpus=args.jobs, _node_ip_address="127.0.0.1",
                         log_to_driver=False)
                ray_starts.append(time.perf_counter() - t0)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    result = run_sweep(plan(), Path(tmp) / "out", executor=executor, jobs=args.jobs, progress=False,
                                       console=quiet)
                    walls[executor].append(time.perf_counter() - t0)
                    assert result.ran == n_runs
            finally:
                if executor == "ray":
                    ray.shutdown()

    print(f"sweep of {args.scenario.name}: {len(strategies)} strategies x {args.seeds} seeds = {n_runs} runs, "
          f"agents={args.agents or 'scenario'}, steps={args.steps or 'scenario'}, {args.jobs} parallel, "
          f"{args.repeat} repeats")
    for executor, label in (("pool", "local process pool"), ("ray", "local Ray instance")):
        w = walls[executor]
        rates = [n_runs / x * 60 for x in w]
        print(f"{label:20s} {statistics.median(rates):6.1f} runs/min (median; range {min(rates):.1f}-"
              f"{max(rates):.1f}), sweep wall {statistics.median(w):.1f} s")
    overhead = (statistics.median(walls["ray"]) - statistics.median(walls["pool"])) / n_runs
    print(f"Ray overhead per run vs the pool: {overhead:+.2f} s of sweep wall time per run (median walls / "
          f"{n_runs} runs); starting the local Ray instance: {statistics.median(ray_starts):.1f} s (median), once per sweep")

if __name__ == "__main__":
    main()
