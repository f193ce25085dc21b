"""Environment steps per second: single RecSimEnv and the vectorised env with 256 users.

    python benchmarks/bench_rl_env.py [--dataset /work/shared/data/ml-100k] [--feedback bias,ensemble] [--envs 256]

Actions are drawn uniformly at random ahead of time, so the figures exclude any policy. A step
of the vectorised env counts one step per user (256 users stepped together = 256 steps).
Target (issue 7): >= 20,000 vectorised steps/s.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from recagent.feedback import FEEDBACK_MODELS
from recagent.rl import RecSimEnv, RecSimVectorEnv, load_world


def bench_single(world, seconds: float, **cfg) -> float:
    env = RecSimEnv(world=world, **cfg)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(world.n_items, size=100_000)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in actions[n % 90_000: n % 90_000 + 50]:
            _, _, term, trunc, _ = env.step(int(a))
            if term or trunc:
                env.reset()
        n += 50
    return n / (time.perf_counter() - start)


def bench_vector(world, num_envs: int, seconds: float, **cfg) -> float:
    venv = RecSimVectorEnv(num_envs, world=world, **cfg)
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(world.n_items, size=(64, num_envs))
    # warm up: the first episode of each user builds its feedback state from scratch (and the
    # ensemble keeps a snapshot of it for later episodes); the figure is the steady state
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        venv.step(actions[steps % 64])
        steps += 1
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        venv.step(actions[steps % 64])
        steps += 1
    return steps * num_envs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"
    parser.add_argument("--dataset", default=str(default) if default.is_dir() else "synthetic")
    parser.add_argument("--feedback", default="bias,ensemble", help="comma-separated registry names")
    parser.add_argument("--envs", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=5.0)
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
            single = bench_single(world, args.seconds, **cfg)
            vector = bench_vector(world, args.envs, args.seconds, **cfg)
            print(f"  {label:27s} single env: {single:9,.0f} steps/s   vectorised ({args.envs} users): "
                  f"{vector:9,.0f} steps/s   target >= 20,000: {'met' if vector >= 20_000 else 'MISSED'}", flush=True)


if __name__ == "__main__":
    main()
