"""recommend() throughput for 1,000 users x a page of 10 over the 1,682 MovieLens-100K items, per
strategy, and BPR-MF online retraining time. Needs ../shared/data/ml-100k (skips otherwise).

    python benchmarks/bench_recommenders.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np

from recagent.cache import cache_dir
from recagent.data import History, Interactions, load_movielens_100k
from recagent.recommenders import RecommenderContext, RecommenderWorld, make_pipeline

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

STRATEGIES = [("random", []), ("popular", []), ("itemcf", []), ("mf", []), ("sasrec", []), ("content", []),
              ("social", []), ("mf", [("mmr", {"lambda": 0.5})]), ("mf", [("random_k", {"every": 4})]),
              ("mf", [("popularity_penalty", {"beta": 0.5})])]


def main() -> None:
    if not (DATA / "ml-100k" / "u.data").exists():
        print("skipped: ../shared/data/ml-100k is not on this machine")
        return
    tmdb = DATA / "ml-100k-tmdb" / "movies_enriched.csv"
    ds = load_movielens_100k(DATA / "ml-100k", tmdb=tmdb if tmdb.exists() else None)
    n_users, n_items = len(ds.users), len(ds.catalog)
    rng = np.random.default_rng(0)
    users = rng.integers(0, n_users, 1000)
    history = History.from_interactions(ds.interactions, n_users)
    exclude = history.seen_matrix(users, n_items)
    graph = nx.random_regular_graph(10, n_users, seed=0)
    nx.set_edge_attributes(graph, 0.7, "closeness")
    print(f"ML-100K: {n_users} users, {n_items} items, {len(ds.interactions):,} ratings; 1,000 users x 10 items")
    print(f"{'strategy':28s} {'fit s':>8s} {'recommend s':>12s} {'users/s':>10s}")
    for name, rr in STRATEGIES:
        ctx = RecommenderContext(np.random.default_rng(0), 0, cache_dir())
        rec = make_pipeline(name, {}, rr, ctx)
        if hasattr(rec, "bind"):
            rec.bind(RecommenderWorld(graph=graph, users=np.arange(n_users), history=history))
        t0 = time.perf_counter()
        rec.fit(ds.catalog, ds.interactions)
        fit = time.perf_counter() - t0
        rec.recommend(users[:10], 10, exclude[:10])  # warm-up
        t0 = time.perf_counter()
        rec.recommend(users, 10, exclude)
        took = time.perf_counter() - t0
        print(f"{rec.name:28s} {fit:8.2f} {took:12.3f} {1000 / took:10,.0f}")
        sys.stdout.flush()
    # online retraining: 5 steps of simulated feedback (~1,000 new ratings) into a fitted BPR-MF
    rec = make_pipeline("mf", {}, [], RecommenderContext(np.random.default_rng(0), 0, cache_dir()))
    rec.fit(ds.catalog, ds.interactions)
    new = Interactions(rng.integers(0, n_users, 1000), rng.integers(0, n_items, 1000), np.full(1000, 4.0),
                       np.arange(1000))
    t0 = time.perf_counter()
    rec.update(new)
    print(f"BPR-MF online retraining (update with 1,000 new ratings, 2 epochs over {len(rec.data.users):,}): "
          f"{time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
