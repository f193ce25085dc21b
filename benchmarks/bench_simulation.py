"""Wall time of a simulation: 1,000 synthetic agents for 10 steps, offline backend (issue 2).

Runs the real runner (scenario file, SQLite event log, metrics.csv) and prints wall time and
agent-steps per second. Model construction (data generation, graph, feedback fit) is timed
separately from stepping.

    python benchmarks/bench_simulation.py [--agents 1000] [--steps 10] [--activity 0.3]
"""

from __future__ import annotations

import argparse

from scenario_run import run_timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--activity", type=float, default=0.3, help="mean share of agents active per step")
    parser.add_argument("--recommender", default="popular")
    parser.add_argument("--feedback", default="bias")
    args = parser.parse_args()

    scenario = {
        "name": "bench", "seed": 1,
        "dataset": {"kind": "synthetic", "users": args.agents, "items": args.items, "history_length": 20},
        "social": {"graph": "homophily", "degree": 10},
        "recommender": {"name": args.recommender, "retrain_every": 1},
        "feedback": {"model": args.feedback},
        "simulation": {"steps": args.steps, "activation": {"kind": "pareto", "probability": args.activity}},
    }
    result, total = run_timed(scenario)
    stepping = result.info["wall_time_s"]
    counts = result.info["counts"]
    print(f"agents={args.agents} steps={args.steps} recommender={args.recommender} feedback={args.feedback} "
          f"backend={result.info['language_backend']}")
    print(f"events: watch={counts.get('watch', 0)} chat={counts.get('chat', 0)} post={counts.get('post', 0)} "
          f"hear={counts.get('hear', 0)} total={sum(counts.values())}")
    print(f"wall time total (load + build + run + write): {total:.2f} s")
    print(f"wall time stepping only: {stepping:.2f} s")
    print(f"agent-steps per second (stepping): {args.agents * args.steps / stepping:,.0f}")
    print(f"agent-steps per second (total): {args.agents * args.steps / total:,.0f}")


if __name__ == "__main__":
    main()
