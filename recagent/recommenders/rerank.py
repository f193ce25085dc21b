"""Re-rankers that wrap any recommender: MMR diversity, random-k exploration, popularity penalty.

A re-ranker asks the wrapped recommender for a longer candidate list (`pool` times the slots
needed), then reorders or replaces items. Relevance is the candidate's rank in the wrapped list
(1 for the first, falling linearly), because the Recommender protocol returns ranks, not scores.
Everything is vectorised over all users of a call.

- `mmr` (Carbonell & Goldstein 1998): greedily pick argmax lambda * relevance - (1 - lambda) *
  max similarity to the items already picked; similarity is cosine of genre vectors
  (`features: genres`) or of MiniLM text embeddings (`features: text`).
- `random_k`: RecAgent's cocoon mitigation. In every block of `every` slots, the last slot is
  holds an item drawn uniformly from the unseen catalog (with `every: 4` and pages of 4, one
  random item per page) and the base's list fills the other slots in order; the model's seeded
  generator draws the random items.
- `popularity_penalty`: reorder by relevance - beta * log1p(popularity) / log1p(max popularity),
  popularity counted over all interactions seen (fit + online updates).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data import Catalog, Interactions
from .base import RecommenderWorld
from .state import Accumulated


class Reranked:
    """A recommender wrapped by one re-ranker; wrappers nest (mf+mmr+random_k)."""

    pool = 3

    def __init__(self, base):
        self.base = base
        self.name = f"{base.name}+{self.kind}"

    def fit(self, catalog: Catalog, interactions: Interactions) -> None:
        self.catalog = catalog
        self.n_items = len(catalog)
        self.base.fit(catalog, interactions)

    def update(self, feedback: Interactions) -> None:
        self.base.update(feedback)

    def bind(self, world: RecommenderWorld) -> None:
        bind = getattr(self.base, "bind", None)
        if bind is not None:
            bind(world)

    def candidates(self, user_ids, k: int, exclude) -> np.ndarray:
        return self.base.recommend(user_ids, min(k * self.pool, self.n_items), exclude)

    @staticmethod
    def relevance(cands: np.ndarray) -> np.ndarray:
        width = cands.shape[1]
        rel = 1.0 - np.arange(width) / max(width, 1)
        return np.where(cands >= 0, rel[None, :], -np.inf)


def _pad(result: np.ndarray, k: int) -> np.ndarray:
    if result.shape[1] >= k:
        return result[:, :k]
    return np.hstack([result, np.full((len(result), k - result.shape[1]), -1)])


class MMR(Reranked):
    kind = "mmr"

    def __init__(self, base, lam: float = 0.5, features: str = "genres", cache_dir: Path | None = None,
                 pool: int = 3):
        if not 0 <= lam <= 1:
            raise TypeError(f"lambda must be in [0, 1], found {lam}")
        if features not in ("genres", "text"):
            raise TypeError(f"features must be 'genres' or 'text', found {features!r}")
        self.lam, self.features, self.cache_dir, self.pool = lam, features, cache_dir, pool
        super().__init__(base)

    def fit(self, catalog: Catalog, interactions: Interactions) -> None:
        super().fit(catalog, interactions)
        if self.features == "text":
            from .content import item_embeddings

            v = item_embeddings(catalog, self.cache_dir)
        else:
            v = catalog.genres.astype(np.float32)
        self.vectors = (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def recommend(self, user_ids, k, exclude=None) -> np.ndarray:
        cands = self.candidates(user_ids, k, exclude)
        n, width = cands.shape
        rel = self.relevance(cands)
        vec = self.vectors[np.maximum(cands, 0)]  # (n, width, d)
        sim = np.einsum("nid,njd->nij", vec, vec)  # (n, width, width)
        max_sim = np.zeros((n, width))
        chosen = np.zeros((n, width), bool)
        out = np.full((n, min(k, width)), -1)
        rows = np.arange(n)
        for slot in range(out.shape[1]):
            score = self.lam * rel - (1 - self.lam) * max_sim
            score = np.where(chosen | (cands < 0), -np.inf, score)
            pick = np.argmax(score, 1)
            ok = np.isfinite(score[rows, pick])
            out[ok, slot] = cands[rows[ok], pick[ok]]
            chosen[rows[ok], pick[ok]] = True
            max_sim = np.maximum(max_sim, sim[rows, pick])
        return _pad(out, k)


class RandomK(Reranked):
    kind = "random_k"
    pool = 1

    def __init__(self, base, rng: np.random.Generator, every: int = 4):
        if every < 1:
            raise TypeError(f"every must be at least 1, found {every}")
        self.rng, self.every = rng, every
        super().__init__(base)

    def recommend(self, user_ids, k, exclude=None) -> np.ndarray:
        slots = np.arange(self.every - 1, k, self.every)
        base = _pad(self.base.recommend(user_ids, k - len(slots), exclude), k - len(slots))
        if len(slots) == 0:
            return base
        out = np.full((len(base), k), -1)
        out[:, np.setdiff1d(np.arange(k), slots)] = base  # the base's list, in order, around the random slots
        # random unseen items not already in the list: Gumbel-top-k over a masked uniform draw
        noise = self.rng.random((len(out), self.n_items))
        if exclude is not None and exclude.nnz:
            r, c = exclude.nonzero()
            noise[r, c] = -1.0
        keep_slots = np.setdiff1d(np.arange(k), slots)
        kept = out[:, keep_slots]
        rr = np.repeat(np.arange(len(out)), kept.shape[1])[kept.ravel() >= 0]
        noise[rr, kept.ravel()[kept.ravel() >= 0]] = -1.0
        picks = np.argsort(-noise, axis=1)[:, :len(slots)]
        valid = np.take_along_axis(noise, picks, 1) >= 0
        out[:, slots] = np.where(valid, picks, -1)
        return out


class PopularityPenalty(Reranked):
    kind = "popularity_penalty"

    def __init__(self, base, beta: float = 0.5, pool: int = 3):
        self.beta, self.pool = beta, pool
        super().__init__(base)

    def fit(self, catalog: Catalog, interactions: Interactions) -> None:
        super().fit(catalog, interactions)
        self.data = Accumulated(len(catalog), interactions)

    def update(self, feedback: Interactions) -> None:
        super().update(feedback)
        self.data.add(feedback)

    def recommend(self, user_ids, k, exclude=None) -> np.ndarray:
        cands = self.candidates(user_ids, k, exclude)
        pop = np.log1p(self.data.popularity())
        penalty = pop / max(pop.max(), 1e-12)
        score = self.relevance(cands) - self.beta * penalty[np.maximum(cands, 0)]
        order = np.argsort(-score, axis=1, kind="stable")
        return _pad(np.take_along_axis(cands, order, 1), k)
