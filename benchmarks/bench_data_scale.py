"""Time and peak RSS of the world's data at scale: the synthetic dataset, the History, the graph.

    python benchmarks/bench_data_scale.py [--users 100000 1000000] [--items 5000] [--history 20] [--nx]

Each part runs in its own process, so its peak RSS (ru_maxrss, which includes the interpreter
and numpy, ~60 MB) is its own:

- synthetic: `make_synthetic(users, items, history)`;
- history: that dataset's `History.from_interactions`, then one step's watches (30% of users, one
  item each) appended in one `add`, and the batched reads of 100,000 users (`padded` to 50,
  `since`, `signatures`, `seen_matrix`);
- graph: the homophily edges (degree 8, strength 4) over the genre tastes a run derives from
  that dataset's ratings (`derive_traits`), the CSR adjacency, `pick_neighbour` for 30% of
  agents; with --nx also the nx.Graph from the arrays. The homophily sampler's cost depends on
  how alike tastes are (it rejects against the best possible cosine): tastes drawn at random
  (Dirichlet(0.3) over 19 genres) take about 5x longer than these.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KB on Linux


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def part_synthetic(users: int, items: int, history: int) -> dict:
    from recagent.data import make_synthetic

    data, seconds = timed(lambda: make_synthetic(users, items, history, seed=0))
    return {"ratings": len(data.interactions), "make_synthetic_s": seconds, "peak_gb": peak_gb()}


def part_history(users: int, items: int, history: int) -> dict:
    from recagent.data import History, make_synthetic

    data = make_synthetic(users, items, history, seed=0)
    interactions = data.interactions
    del data
    base_gb = peak_gb()
    hist, build_s = timed(lambda: History.from_interactions(interactions, users))
    rng = np.random.default_rng(0)
    who = np.flatnonzero(rng.random(users) < 0.3)
    _, add_s = timed(lambda: hist.add(who, rng.integers(0, items, len(who)), rng.integers(1, 6, len(who))))
    sample = rng.choice(users, min(users, 100_000), replace=False)
    _, padded_s = timed(lambda: hist.padded(sample, 50))
    _, since_s = timed(lambda: hist.since(sample, np.maximum(hist.lengths(sample) - 5, 0)))
    _, signatures_s = timed(lambda: hist.signatures(sample, hist.lengths(sample)))
    _, seen_s = timed(lambda: hist.seen_matrix(sample, items))
    arrays = sum(getattr(hist, name).nbytes for name in ("_start", "_len", "_cap", "_items", "_ratings"))
    return {"from_interactions_s": build_s, "add_step_s": add_s, "added": len(who), "padded_100k_s": padded_s,
            "since_100k_s": since_s, "signatures_100k_s": signatures_s, "seen_matrix_100k_s": seen_s,
            "history_mb": arrays / 1e6, "peak_gb": peak_gb(), "peak_before_history_gb": base_gb}


def part_graph(users: int, items: int, history: int, with_nx: bool) -> dict:
    from recagent.agents import derive_traits
    from recagent.data import make_synthetic
    from recagent.social import homophily_edges

    data = make_synthetic(users, items, history, seed=0)
    tastes = derive_traits(data.catalog, data.interactions, users)["taste"]  # what a run links by
    del data
    base_gb = peak_gb()
    edges, edges_s = timed(lambda: homophily_edges(tastes, 8, 4.0, np.random.default_rng(1)))
    adjacency, adjacency_s = timed(edges.adjacency)
    rng = np.random.default_rng(2)
    chatters = np.flatnonzero(rng.random(users) < 0.3)
    _, pick_s = timed(lambda: adjacency.pick_neighbour(chatters, rng, tastes))
    out = {"edges": len(edges), "homophily_edges_s": edges_s, "adjacency_s": adjacency_s,
           "pick_neighbour_30pct_s": pick_s, "peak_gb": peak_gb(), "peak_before_graph_gb": base_gb}
    if with_nx:
        _, out["to_graph_s"] = timed(edges.to_graph)
        out["peak_gb_with_nx"] = peak_gb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--history", type=int, default=20)
    parser.add_argument("--nx", action="store_true", help="also build the nx.Graph from the edge arrays")
    parser.add_argument("--part", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:  # a child process: one part at one size
        users = args.users[0]
        if args.part == "graph":
            result = part_graph(users, args.items, args.history, args.nx)
        else:
            result = {"synthetic": part_synthetic, "history": part_history}[args.part](users, args.items, args.history)
        print(json.dumps(result))
        return
    for users in args.users:
        print(f"== {users:,} users x {args.items:,} items x {args.history} ratings")
        for part in ("synthetic", "history", "graph"):
            cmd = [sys.executable, __file__, "--part", part, "--users", str(users), "--items", str(args.items),
                   "--history", str(args.history)] + (["--nx"] if args.nx else [])
            result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            print(f"  {part:<9} " + "  ".join(f"{k} {v:,.2f}" if isinstance(v, float) else f"{k} {v:,}"
                                              for k, v in result.items()))


if __name__ == "__main__":
    main()
