"""Checkpoint cost: write time and size of one checkpoint for 1,000 and 100,000 agents (issue 14).

The checkpoint is `checkpoint/state/` (manifest.json, state.json, arrays.npz); its size is the sum
of the three. Synthetic data, popular recommender, bias feedback, offline backend; a few steps first so the
world has history, word of mouth and metric state; then several checkpoints are written and the
median write time is reported with the file size. Also times a resume (rebuild + restore).

    python benchmarks/bench_checkpoint.py [--agents 1000 100000] [--steps 3] [--writes 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from recagent import Simulation


def folder_size(path: Path) -> int:
    """Bytes of a checkpoint: the folder's files (format 3) or the one file (format 2)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def measure(agents: int, steps: int, writes: int, items: int, feedback: str) -> None:
    scenario = {
        "name": f"bench-checkpoint-{agents}", "seed": 1,
        "dataset": {"kind": "synthetic", "users": agents, "items": items, "history_length": 20},
        "social": {"graph": "homophily", "degree": 10},
        "recommender": {"name": "popular", "retrain_every": 1},
        "feedback": {"model": feedback},
        "simulation": {"steps": steps + 5, "activation": {"kind": "pareto", "probability": 0.1}},
    }
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        sim = Simulation.from_dict(scenario, out=Path(tmp) / "run")
        built = time.perf_counter() - started
        sim.run(steps=steps)
        times = []
        for _ in range(writes):
            begun = time.perf_counter()
            path = sim.checkpoint()
            times.append(time.perf_counter() - begun)
        size = folder_size(path)
        begun = time.perf_counter()
        Simulation.resume(sim.run_dir)
        resumed = time.perf_counter() - begun
    print(f"agents={agents:,} items={items:,} feedback={feedback} after {steps} steps: checkpoint write "
          f"{statistics.median(times):.3f} s (median of {writes}; min {min(times):.3f}, max {max(times):.3f}), "
          f"size {size / 2**20:.1f} MiB ({size / agents:,.0f} bytes per agent); resume (rebuild + restore) "
          f"{resumed:.1f} s; building the run {built:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--writes", type=int, default=3)
    parser.add_argument("--feedback", default="bias")
    args = parser.parse_args()
    for agents in args.agents:
        measure(agents, args.steps, args.writes, args.items, args.feedback)


if __name__ == "__main__":
    main()
