"""Peak RSS of a 1,000-agent, 10-step offline run with RecAgent memory on (target < 2 GiB).

    python benchmarks/bench_memory_rss.py [agents] [steps]
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scenario_run import run_timed  # noqa: E402

agents = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
scenario = {"name": "memory-rss", "seed": 1,
            "dataset": {"kind": "synthetic", "users": agents, "items": 2000, "history_length": 30},
            "social": {"graph": "homophily", "degree": 10}, "recommender": {"name": "popular", "retrain_every": 5},
            "feedback": {"model": "bias"},  # the figure is the memory module's; keep the ensemble's fit out of it
            "llm": {"provider": "offline", "memory": {"enabled": True}},
            "simulation": {"steps": steps, "activation": {"kind": "pareto", "probability": 0.25}}}
result, wall = run_timed(scenario)
mem = result.info["memory"]
peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
print(f"{agents} agents, {steps} steps, offline, memory on: peak RSS {peak_gib:.2f} GiB (target < 2 GiB), "
      f"wall {wall:.1f} s; observations {mem['observed']}, kept {mem['kept']}, reinforced {mem['reinforced']}, "
      f"promoted {mem['promoted']}, to long-term {mem['stored']}, reflections {mem['reflections']}, "
      f"forgotten {mem['forgotten']}")
