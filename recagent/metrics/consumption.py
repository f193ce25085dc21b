"""Measures of what a population consumed, as the published feedback-loop studies define them, each
with a version that does not move with volume (docs/metrics.md, docs/findings.md).

- homogenization (Chaney, Stewart and Engelhardt 2018): the mean pairwise Jaccard index of users'
  consumption sets; `mean_pairwise_jaccard` exactly over every pair. Jaccard grows with set sizes
  (two random sets of 50 items out of 1,682 overlap more than two of 5), so a strategy that gets
  more watches looks more homogenizing whatever it recommends. Two volume-matched versions:
  `expected_random_jaccard` (the same pairs' expected Jaccard if each set were drawn uniformly at
  random with its own size: the ratio observed / expected is the excess over chance) and
  `rarefied_jaccard` (every set subsampled to the same m items);
- utility (Chaney's utility loss against an ideal recommender): `utility_loss`;
- popularity of recommended items and per-group miscalibration (Mansoury et al. 2020; Steck 2018's
  calibration divergence): `item_popularity`, `mean_by`, `genre_distributions`, `miscalibration`;
- genre diversity of likes per retraining round (Agent4Rec): `entropy_by_round` and its rarefied
  version (every agent's likes of a round at the same volume, `rarefied_entropy_bits`).

All are plain numpy / scipy.sparse functions over event columns; tests/test_metrics.py checks them
on hand-computable cases.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.stats import hypergeom

from .measures import entropy_bits, rarefied_entropy_bits

EXACT_PAIRS_MAX_USERS = 6000  # above this the (users x users) intersection matrix is sampled by pairs


def consumption_sets(agents: np.ndarray, items: np.ndarray, n_agents: int, n_items: int) -> sparse.csr_matrix:
    """A binary (n_agents, n_items) matrix: 1 where the agent consumed the item (repeats count once)."""
    agents, items = np.asarray(agents, dtype=np.int64), np.asarray(items, dtype=np.int64)
    m = sparse.csr_matrix((np.ones(len(agents), dtype=np.float64), (agents, items)), shape=(n_agents, n_items))
    m.data[:] = 1.0  # duplicates were summed
    return m


def _pairs_upper(matrix: np.ndarray) -> np.ndarray:
    return matrix[np.triu_indices(matrix.shape[0], 1)]


def mean_pairwise_jaccard(sets: sparse.csr_matrix, rng: np.random.Generator | None = None,
                          pairs: int = 200_000) -> float:
    """Mean Jaccard index |A & B| / |A | B| over every pair of non-empty rows of `sets`; NaN with fewer
    than two. Exact (one sparse product) up to EXACT_PAIRS_MAX_USERS rows, else over `pairs` random
    pairs drawn with `rng`."""
    sets = sparse.csr_matrix(sets, dtype=np.float64)  # a boolean product would say 1 for any overlap
    sets.data[:] = 1.0
    sizes = np.asarray(sets.sum(1)).ravel()
    who = np.flatnonzero(sizes > 0)
    if len(who) < 2:
        return float("nan")
    s = sets[who]
    size = sizes[who]
    if len(who) <= EXACT_PAIRS_MAX_USERS:
        inter = _pairs_upper((s @ s.T).toarray())
        a, b = np.triu_indices(len(who), 1)
        return float(np.mean(inter / (size[a] + size[b] - inter)))
    rng = rng if rng is not None else np.random.default_rng(0)
    a = rng.integers(0, len(who), pairs)
    b = (a + rng.integers(1, len(who), pairs)) % len(who)
    inter = np.asarray(s[a].multiply(s[b]).sum(1)).ravel()
    return float(np.mean(inter / (size[a] + size[b] - inter)))


def _expected_jaccard_of_sizes(a: int, b: int, n_items: int) -> float:
    """E[|A & B| / |A | B|] for A, B drawn uniformly without replacement, |A| = a, |B| = b, of n_items:
    |A & B| is hypergeometric (population n_items, a marked, b drawn)."""
    k = np.arange(max(0, a + b - n_items), min(a, b) + 1)
    p = hypergeom.pmf(k, n_items, a, b)
    return float(np.sum(p * k / (a + b - k)))


def expected_random_jaccard(sizes: np.ndarray, n_items: int) -> float:
    """The mean pairwise Jaccard that sets of these `sizes` (non-empty ones) would have if each were
    drawn uniformly from `n_items` items: the chance level homogenization is compared against.
    Computed once per distinct pair of sizes, weighted by how many pairs have it."""
    sizes = np.asarray(sizes, dtype=np.int64)
    sizes = sizes[sizes > 0]
    if len(sizes) < 2:
        return float("nan")
    values, counts = np.unique(sizes, return_counts=True)
    total = weight = 0.0
    for i, (a, ca) in enumerate(zip(values.tolist(), counts.tolist())):
        for b, cb in zip(values[i:].tolist(), counts[i:].tolist()):
            n_pairs = ca * (ca - 1) / 2 if a == b else ca * cb
            if n_pairs:
                total += n_pairs * _expected_jaccard_of_sizes(a, b, n_items)
                weight += n_pairs
    return total / weight


def rarefied_jaccard(sets: sparse.csr_matrix, m: int, rng: np.random.Generator, draws: int = 8) -> float:
    """Mean pairwise Jaccard with every set subsampled (without replacement) to the same m items,
    over the rows with at least m items, averaged over `draws` subsamplings; NaN with fewer than two
    such rows. Sets of one size cannot look similar by being large."""
    sets = sets.tocsr()
    sizes = np.diff(sets.indptr)
    who = np.flatnonzero(sizes >= max(m, 1))
    if len(who) < 2:
        return float("nan")
    row_of = np.repeat(np.arange(sets.shape[0]), sizes)
    eligible = np.isin(row_of, who)
    values = []
    for _ in range(draws):
        # a random key per stored item; each row keeps its m smallest keys: a uniform m-subset
        order = np.lexsort((rng.random(sets.nnz), row_of))
        rank = np.empty(sets.nnz, dtype=np.int64)
        rank[order] = np.arange(sets.nnz) - sets.indptr[row_of[order]]
        keep = eligible & (rank < m)
        sub = consumption_sets(row_of[keep], sets.indices[keep], sets.shape[0], sets.shape[1])
        values.append(mean_pairwise_jaccard(sub, rng))
    return float(np.mean(values))


def utility_loss(utility: float, ideal: float) -> float:
    """Chaney et al.'s utility loss: the share of the ideal recommender's utility a strategy gives up,
    1 - utility / ideal (0 = as good as the ideal, negative = better than it)."""
    return float(1.0 - utility / ideal) if ideal else float("nan")


def item_popularity(items: np.ndarray, users: np.ndarray, n_items: int, n_users: int) -> np.ndarray:
    """Each item's popularity: the share of users who rated it (a user rating it twice counts once)."""
    keys = np.unique(np.asarray(users, dtype=np.int64) * n_items + np.asarray(items, dtype=np.int64))
    return np.bincount(keys % n_items, minlength=n_items) / max(n_users, 1)


def mean_by(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean of `values` per group id 0..n_groups-1 (NaN for an empty group)."""
    groups = np.asarray(groups, dtype=np.int64)
    total = np.bincount(groups, np.asarray(values, dtype=np.float64), n_groups)
    count = np.bincount(groups, minlength=n_groups)
    return np.divide(total, count, out=np.full(n_groups, np.nan), where=count > 0)


def genre_distributions(agents: np.ndarray, items: np.ndarray, genres: np.ndarray, n_agents: int) -> np.ndarray:
    """Per agent, the genre distribution of the given items as Steck (2018) defines it: each item
    spreads weight 1 evenly over its genres; rows sum to 1 (0 for agents without items)."""
    genres = np.asarray(genres, dtype=np.float64)
    per_item = genres / np.maximum(genres.sum(1, keepdims=True), 1)
    out = np.zeros((n_agents, genres.shape[1]))
    np.add.at(out, np.asarray(agents, dtype=np.int64), per_item[np.asarray(items, dtype=np.int64)])
    total = out.sum(1, keepdims=True)
    return np.divide(out, total, out=np.zeros_like(out), where=total > 0)


def miscalibration(profile: np.ndarray, recommended: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Steck's calibration divergence per row: KL(p || q~) in bits, q~ = (1 - alpha) q + alpha p, p the
    genre distribution of the profile, q that of the recommendations (alpha keeps it finite where the
    recommendations miss a genre). 0 = recommendations in the proportions of the profile."""
    p, q = np.atleast_2d(profile), np.atleast_2d(recommended)
    q_mix = (1 - alpha) * q + alpha * p
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / q_mix), 0.0)
    return terms.sum(1)


def entropy_by_round(agents: np.ndarray, items: np.ndarray, rounds: np.ndarray, genres: np.ndarray,
                     n_agents: int, n_rounds: int) -> np.ndarray:
    """Per round, the mean over agents with at least one item in it of the genre entropy (bits) of
    their items of that round (summed 0/1 genre rows, as metrics.csv's genre entropies)."""
    agents, items, rounds = (np.asarray(x, dtype=np.int64) for x in (agents, items, rounds))
    genres = np.asarray(genres, dtype=np.float64)
    out = np.full(n_rounds, np.nan)
    for r in range(n_rounds):
        here = rounds == r
        counts = np.zeros((n_agents, genres.shape[1]))
        np.add.at(counts, agents[here], genres[items[here]])
        active = counts.sum(1) > 0
        if active.any():
            out[r] = float(entropy_bits(counts[active]).mean())
    return out


def rarefied_entropy_by_round(agents: np.ndarray, items: np.ndarray, rounds: np.ndarray, genres: np.ndarray,
                              n_agents: int, n_rounds: int, m: int, rng: np.random.Generator,
                              draws: int = 16) -> np.ndarray:
    """`entropy_by_round` at a fixed volume: per round, the mean over agents with at least m items in
    it of the expected genre entropy of m of them (`rarefied_entropy_bits`); NaN for a round where
    nobody reaches m."""
    agents, items, rounds = (np.asarray(x, dtype=np.int64) for x in (agents, items, rounds))
    out = np.full(n_rounds, np.nan)
    for r in range(n_rounds):
        here = rounds == r
        per_agent = rarefied_entropy_bits(agents[here], items[here], genres, n_agents, m, rng, draws)
        if np.isfinite(per_agent).any():
            out[r] = float(np.nanmean(per_agent))
    return out
