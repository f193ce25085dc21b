"""Decisions per second of the ensemble user simulator for a batch of 100,000 (user, item) pairs.

Uses a prepared cache (run `recagent prepare` first, or this script prepares one). Prints the
first call (which builds every user's state: rating sums, MF normal equations, keyword unions,
SASRec state) and the warm calls (state reused; f_sim still reads each pair's history), plus a
step-like call after 100 users rated one more item (their state advanced by that item).

    python benchmarks/bench_feedback.py [--path ../shared/data/ml-100k] [--cache DIR] [--pairs 100000]

At scale (`--users N`): a synthetic population of N users x 5,000 items (20 ratings each, as
`bench_simulation.py` makes), the ensemble prepared from an EMPTY cache (a temporary folder; the
fit sample bounds of recagent/feedback/sample.py apply), its stage timings and peak RSS, then
simulation-like steps: 30% of the users are shown 10 items each and asked the "shown" question
(`predict_both(..., exposure="shown")`, what the browse phase asks), and a third of them rate one
item before the next step.

    python benchmarks/bench_feedback.py --users 100000 [--steps 4]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from recagent.data import History, load_movielens_100k, make_synthetic
from recagent.feedback.ensemble import EnsembleFeedback

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", default=str(ROOT.parent / "shared" / "data" / "ml-100k"))
    ap.add_argument("--tmdb", default=str(ROOT.parent / "shared" / "data" / "ml-100k-tmdb" / "movies_enriched.csv"))
    ap.add_argument("--cache", default=os.environ.get("RECAGENT_CACHE", str(Path("~/.cache/recagent").expanduser())))
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--users", type=int, default=0, help="at scale: this many synthetic users (see above)")
    ap.add_argument("--steps", type=int, default=4, help="at scale: simulation-like steps to time")
    ap.add_argument("--reuse-cache", action="store_true",
                    help="at scale: prepare into (or load from) --cache instead of an empty temporary folder")
    args = ap.parse_args()
    if args.users:
        return at_scale(args.users, args.steps, Path(args.cache) if args.reuse_cache else None)
    if Path(args.path).is_dir():
        data = load_movielens_100k(args.path, tmdb=args.tmdb if Path(args.tmdb).is_file() else None)
    else:
        print(f"{args.path} not found: using a synthetic dataset (943 users, 1682 items)")
        data = make_synthetic(943, 1682, 100, seed=0)
    start = time.perf_counter()
    model = EnsembleFeedback(cache_dir=Path(args.cache), dataset_name=data.name).fit(data.catalog, data.interactions)
    how = f"loaded from {model.loaded_from}" if model.loaded_from else "prepared"
    print(f"model {how} in {time.perf_counter() - start:.1f} s")
    history = History.from_interactions(data.interactions, len(data.users))
    rng = np.random.default_rng(0)
    users = rng.integers(0, len(data.users), args.pairs)
    items = rng.integers(0, len(data.catalog), args.pairs)

    def timed(label: str) -> float:
        t = time.perf_counter()
        p = model.predict_proba(users, items, history)
        dt = time.perf_counter() - t
        print(f"{label:<52} {dt * 1000:8.1f} ms  {args.pairs / dt:>12,.0f} decisions/s  (mean P(like) {p.mean():.3f})")
        return args.pairs / dt

    timed("first call (every user's state built)")
    warm = [timed(f"warm call {k + 1}") for k in range(args.repeats)]
    movers = rng.choice(len(data.users), 100, replace=False)
    history.add(movers, rng.integers(0, len(data.catalog), 100), rng.integers(1, 6, 100).astype(float))
    timed("after 100 users rated one more item")
    print(f"median warm: {np.median(warm):,.0f} decisions/s for a batch of {args.pairs:,} pairs "
          f"({len(data.users)} users, {len(data.catalog)} items, {os.cpu_count()} CPUs)")


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def at_scale(n_users: int, steps: int, cache: Path | None) -> None:
    import tempfile

    from recagent.feedback import predict_both

    start = time.perf_counter()
    data = make_synthetic(n_users, 5000, 20, seed=1)
    print(f"synthetic data: {n_users:,} users, {len(data.interactions):,} ratings "
          f"({time.perf_counter() - start:.1f} s)", flush=True)
    with tempfile.TemporaryDirectory() as empty:
        folder = cache or Path(empty)
        os.environ["RECAGENT_CACHE"] = str(folder)  # the exposure model's cache too
        start = time.perf_counter()
        model = EnsembleFeedback(cache_dir=folder, dataset_name=data.name).fit(data.catalog, data.interactions)
        prep = time.perf_counter() - start
    how = f"loaded from {model.loaded_from}" if model.loaded_from else \
        f"prepared from {'an EMPTY cache' if cache is None else folder}"
    print(f"ensemble {how} in {prep:.1f} s; stages {model.timings}; fit sample {getattr(model, 'fit_sample_', None)}; "
          f"SASRec {model.components.extra}; peak RSS so far {peak_rss_mb():,.0f} MB", flush=True)
    start = time.perf_counter()
    history = History.from_interactions(data.interactions, n_users)
    print(f"history built in {time.perf_counter() - start:.1f} s", flush=True)
    rng = np.random.default_rng(0)
    rates = []
    for step in range(steps):
        browsers = rng.choice(n_users, int(0.3 * n_users), replace=False)
        users = np.repeat(browsers, 10)
        items = rng.integers(0, 5000, len(users))
        t = time.perf_counter()
        p, _ = predict_both(model, users, items, history, exposure="shown")
        dt = time.perf_counter() - t
        rates.append(len(users) / dt)
        print(f"step {step + 1}: {len(users):,} shown pairs in {dt:.2f} s = {len(users) / dt:,.0f} pairs/s "
              f"(mean P(like | shown) {p.mean():.3f})", flush=True)
        movers = browsers[: len(browsers) // 3]
        history.add(movers, rng.integers(0, 5000, len(movers)), rng.integers(1, 6, len(movers)).astype(float))
    later = rates[1:] or rates
    print(f"median of steps 2-{steps}: {np.median(later):,.0f} shown pairs/s; first step {rates[0]:,.0f} "
          f"(every user's state built); peak RSS {peak_rss_mb():,.0f} MB ({n_users:,} users, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
