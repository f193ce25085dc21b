"""A simulation at scale (issue 17): 10,000, 100,000 and 1,000,000 agents x 10 steps, from an empty cache.

The scenario is bench_simulation.py's at 5,000 items: synthetic data (history_length 20), a
homophily graph of degree 10, Pareto activation with mean 0.3, the popular recommender retrained
every step, the ensemble user simulator, the offline language backend. Each size runs in its own
process with RECAGENT_CACHE pointing at a fresh temporary folder, so the ensemble is prepared from
scratch and the peak RSS is that size's alone. Printed per size:

- preparation: fitting the ensemble for the new catalog (empty cache);
- build: the dataset, the world (population, graph, personas) and the model, the ensemble loaded
  from the cache just prepared;
- stepping: agent-steps per second (agents x steps / stepping wall time, as run.json counts it);
- finish: metrics.csv and agent_metrics.csv;
- peak RSS of the process, events written, and the total wall time.

    python benchmarks/bench_scale.py                       # 10,000 and 100,000 agents
    python benchmarks/bench_scale.py --agents 1000000      # a million (minutes, up to ~16 GB)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def scenario(agents: int, steps: int, items: int, feedback: str) -> dict:
    return {
        "name": "scale", "seed": 1,
        "dataset": {"kind": "synthetic", "users": agents, "items": items, "history_length": 20},
        "social": {"graph": "homophily", "degree": 10},
        "recommender": {"name": "popular", "retrain_every": 1},
        "feedback": {"model": feedback},
        "simulation": {"steps": steps, "activation": {"kind": "pareto", "probability": 0.3}},
    }


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux


def note(text: str) -> None:
    """Progress on stderr (a run of a million agents takes many minutes)."""
    print(text, file=sys.stderr, flush=True)


def one(agents: int, steps: int, items: int, feedback: str) -> dict:
    """One size in this process (RECAGENT_CACHE already points at an empty folder)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from recagent.cache import cache_dir
    from recagent.feedback import FeedbackContext, make_feedback
    from recagent.scenario_loading import parse_scenario
    from recagent.simulation.build import build_model, load_dataset
    from recagent.simulation.session import Session

    begun = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        spec = parse_scenario(scenario(agents, steps, items, feedback), Path(tmp) / "scale.yaml")
        t = time.perf_counter()
        dataset = load_dataset(spec)
        data_s = time.perf_counter() - t
        t = time.perf_counter()
        prepared = make_feedback(spec.feedback.model, FeedbackContext(spec.seed, cache_dir(), dataset.name),
                                 **spec.feedback.params)
        if hasattr(prepared, "progress"):  # the ensemble says which stage it is in
            stages = set()
            prepared.progress = lambda stage, _: stage in stages or stages.add(stage) or note(
                f"  preparing: {stage} ({time.perf_counter() - t:.0f} s)")
        prepared.fit(dataset.catalog, dataset.interactions)  # the one-time preparation, into the empty cache
        del prepared
        prepare_s = time.perf_counter() - t
        note(f"{agents:,} agents: dataset {data_s:.1f} s, preparation {prepare_s:.1f} s")
        t = time.perf_counter()
        model = build_model(spec, dataset, preflight=False)
        session = Session.start(spec, dataset, model, Path(tmp) / "run")  # writes the agents, items and edges
        build_s = data_s + time.perf_counter() - t
        note(f"built in {build_s:.1f} s")
        while session.steps_left:
            t = time.perf_counter()
            session.step()
            note(f"step {model.world.step_index}: {time.perf_counter() - t:.1f} s, {len(model.world.step_events):,} "
                 f"events, peak RSS {peak_rss_gib():.2f} GiB")
        session.finish("completed")
        info = session.info
        total = time.perf_counter() - begun
        return {"agents": agents, "steps": steps, "prepare_s": prepare_s, "build_s": build_s,
                "stepping_s": info["wall_time_s"], "agent_steps_per_s": agents * steps / info["wall_time_s"],
                "finish_s": total - prepare_s - build_s - info["wall_time_s"], "total_s": total,
                "peak_rss_gib": peak_rss_gib(), "events": sum(info["counts"].values()), "counts": info["counts"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--feedback", default="ensemble")
    parser.add_argument("--cache", help="use this cache folder instead of a fresh one (preparation then counts "
                                        "only what the folder lacks)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child process: one size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.agents[0], args.steps, args.items, args.feedback)))
        return
    print(f"{'agents':>10} {'prepare s':>10} {'build s':>8} {'agent-steps/s':>14} {'finish s':>9} {'total s':>8} "
          f"{'peak RSS GiB':>13} {'events':>11}")
    for n in args.agents:
        with tempfile.TemporaryDirectory() as fresh:
            env = dict(os.environ, RECAGENT_CACHE=args.cache or fresh)
            done = subprocess.run([sys.executable, __file__, "--one", "--agents", str(n), "--steps", str(args.steps),
                                   "--items", str(args.items), "--feedback", args.feedback],
                                  env=env, stdout=subprocess.PIPE, text=True)  # progress goes to stderr as it comes
        if done.returncode != 0:
            print(f"{n:>10,} failed (exit {done.returncode})")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{n:>10,} {r['prepare_s']:>10.1f} {r['build_s']:>8.1f} {r['agent_steps_per_s']:>14,.0f} "
              f"{r['finish_s']:>9.1f} {r['total_s']:>8.1f} {r['peak_rss_gib']:>13.2f} {r['events']:>11,}", flush=True)


if __name__ == "__main__":
    main()
