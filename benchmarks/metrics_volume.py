"""Genre entropy against volume: the plug-in estimator and the rarefied one (metrics.rarefaction).

Draws every agent's watches from ONE fixed distribution over the ML-100K catalog (its real multi-genre
vectors; synthetic genres when ../shared/data is absent), at several volumes, and prints the mean
per-agent genre entropy of each estimator: a measure that survives volume stays flat. Then times
`rarefied_entropy_bits` at the size of the reference study's last step (943 agents; 6,900 watches,
140,000 shown items), the cost the tracker adds per step for its three rarefied columns.

    python benchmarks/metrics_volume.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from recagent.metrics import entropy_bits, rarefied_entropy_bits
from recagent.metrics.tracker import RAREFACTION_DRAWS

ITEMS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.item"


def genres() -> tuple[np.ndarray, str]:
    if ITEMS.exists():
        return np.loadtxt(ITEMS, delimiter="|", encoding="latin-1", usecols=range(5, 24)), "ML-100K genres"
    rng = np.random.default_rng(0)
    g = (rng.random((1682, 19)) < 0.09).astype(float)
    g[g.sum(1) == 0, 0] = 1
    return g, "synthetic genres (../shared/data absent)"


def main() -> None:
    g, source = genres()
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.full(len(g), 0.3))
    agents, m = 3000, 5
    print(f"{source}; {agents} agents; watches drawn from one fixed distribution; rarefied at m = {m}")
    print(f"{'watches/agent':>14} {'plug-in (bits)':>15} {'rarefied (bits)':>16}")
    for n in (5, 10, 20, 40, 200):
        groups = np.repeat(np.arange(agents), n)
        items = rng.choice(len(g), size=agents * n, p=p)
        counts = np.zeros((agents, g.shape[1]))
        np.add.at(counts, groups, g[items])
        rare = rarefied_entropy_bits(groups, items, g, agents, m, rng, RAREFACTION_DRAWS)
        print(f"{n:>14} {entropy_bits(counts).mean():>15.3f} {np.nanmean(rare):>16.3f}")

    times = []
    n_agents = 943
    watched = (rng.integers(0, n_agents, 6900), rng.choice(len(g), 6900, p=p))
    shown = (rng.integers(0, n_agents, 140_000), rng.choice(len(g), 140_000, p=p))
    for _ in range(7):
        start = time.perf_counter()
        for agents_, items_ in (watched, watched, shown):  # the tracker's three columns
            rarefied_entropy_bits(agents_, items_, g, n_agents, m, rng, RAREFACTION_DRAWS)
        times.append(time.perf_counter() - start)
    print(f"three rarefied columns at the reference study's size: median {1000 * np.median(times):.0f} ms per step "
          f"(range {1000 * min(times):.0f}-{1000 * max(times):.0f} ms over {len(times)} repeats)")


if __name__ == "__main__":
    main()
