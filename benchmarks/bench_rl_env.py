"""Environment steps per second: single RecSimEnv and the vectorised env with 256 users.

    python benchmarks/bench_rl_env.py [--dataset /work/shared/data/ml-100k] [--feedback bias,ensemble] [--envs 256]

Actions are drawn uniformly at random ahead of time, so the figures exclude any policy. A step
of the vectorised env counts one step per user (256 users stepped together = 256 steps). Each
figure is the median over --windows windows after a warm-up (range in brackets).
Target (issue 7): >= 20,000 vectorised steps/s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from recagent.feedback import FEEDBACK_MODELS
from recagent.rl import RecSimEnv, RecSimVectorEnv, load_world


def rate(step, seconds: float, windows: int) -> tuple[float, float, float]:
    """Steps/s of `step()` (which returns how many steps it took): median, min and max over
    `windows` windows of `seconds` / `windows` each, after a warm-up of the same length (the
    first episode of each user builds its feedback state from scratch, and the ensemble keeps a
    snapshot of it for later episodes; the figure is the steady state). The median of several
    windows is quoted because this shared 2-core machine's speed drifts by +-30% within minutes.
    """
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
    rates = []
    for _ in range(windows):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / windows:
            n += step()
        rates.append(n / (time.perf_counter() - start))
    return float(np.median(rates)), min(rates), max(rates)


def bench_single(world, seconds: float, windows: int, **cfg) -> tuple[float, float, float]:
    env = RecSimEnv(world=world, **cfg)
    env.reset(seed=0)
    actions = iter(np.random.default_rng(0).integers(world.n_items, size=10_000_000).tolist())

    def step() -> int:
        for _ in range(50):
            _, _, term, trunc, _ = env.step(next(actions))
            if term or trunc:
                env.reset()
        return 50

    return rate(step, seconds, windows)


def bench_vector(world, num_envs: int, seconds: float, windows: int, **cfg) -> tuple[float, float, float]:
    venv = RecSimVectorEnv(num_envs, world=world, **cfg)
    venv.reset(seed=0)
    actions = np.random.default_rng(0).integers(world.n_items, size=(64, num_envs))
    count = iter(range(10_000_000))

    def step() -> int:
        venv.step(actions[next(count) % 64])
        return num_envs

    return rate(step, seconds, windows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"
    parser.add_argument("--dataset", default=str(default) if default.is_dir() else "synthetic")
    parser.add_argument("--feedback", default="bias,ensemble", help="comma-separated registry names")
    parser.add_argument("--envs", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per figure (after as long a warm-up)")
    parser.add_argument("--windows", type=int, default=5, help="the figure is the median over this many windows")
    args = parser.parse_args()
    for name in args.feedback.split(","):
        if name not in FEEDBACK_MODELS:
            print(f"feedback {name!r}: not installed, skipped")
            continue
        t0 = time.perf_counter()
        world = load_world(args.dataset, name)
        print(f"world: {world.name}, {world.n_users} users x {world.n_items} items, feedback {world.feedback_name} "
              f"(fitted in {time.perf_counter() - t0:.1f}s)")
        for label, cfg in [("reward=vote", {}), ("reward=sample", {"reward": "sample"}),
                           ("reward=vote, frozen users", {"update_history": False})]:
            single = bench_single(world, args.seconds, args.windows, **cfg)
            vector = bench_vector(world, args.envs, args.seconds, args.windows, **cfg)
            print(f"  {label:27s} single env: {single[0]:7,.0f} steps/s ({single[1]:,.0f}-{single[2]:,.0f})   "
                  f"vectorised ({args.envs} users): {vector[0]:8,.0f} steps/s ({vector[1]:,.0f}-{vector[2]:,.0f})   "
                  f"target >= 20,000: {'met' if vector[0] >= 20_000 else 'MISSED'}", flush=True)


if __name__ == "__main__":
    main()
