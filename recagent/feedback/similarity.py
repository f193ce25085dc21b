"""f_sim: embedding similarity between a candidate's keywords and the history's (paper Eq. 4-8).

Each item gets e_pos = mean of its D_pos keyword embeddings (MiniLM, each distinct keyword
embedded once), L2-normalised, and e_neg likewise from D_neg. With the same scope as f_mat
(same-category history if any, else all):

    beta_pos = max cos(e_pos(i), e_pos(j)) over liked j in scope
    beta_neg = max cos(e_neg(i), e_neg(j)) over disliked j in scope
    f_sim = like if beta_pos > beta_neg, dislike if lower, a seeded coin on a tie.

Cold start: no liked item in scope -> beta_pos = 0; no disliked item in scope -> beta_neg = 0
(cosines of averaged keyword embeddings are positive in practice, so one-sided history leans to
that side); no history -> both 0 -> the coin. An item with no keywords has a zero vector and
similarity 0 to everything.

The item-item cosine matrices are precomputed (n_items^2 floats each), so a user's row over all
candidates is a column gather and a masked max.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..data.core import spans
from .base import LIKE_THRESHOLD


def pooled_embeddings(keywords: sparse.csr_matrix, vectors: np.ndarray) -> np.ndarray:
    """(n_items, d) L2-normalised mean of each item's keyword vectors; zero rows for no keywords."""
    counts = np.asarray(keywords.sum(1)).ravel()
    pooled = np.asarray(keywords @ vectors) / np.maximum(counts, 1)[:, None]
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.where(norms > 0, norms, 1)).astype(np.float32)


class KeywordSimilarity:
    name = "f_sim"

    def __init__(self, e_pos: np.ndarray, e_neg: np.ndarray, categories: np.ndarray,
                 like_threshold: float = LIKE_THRESHOLD):
        self.e_pos, self.e_neg = e_pos.astype(np.float32), e_neg.astype(np.float32)
        self.categories = np.asarray(categories, dtype=np.int64)
        self.n_categories = int(self.categories.max()) + 1 if len(self.categories) else 0
        self.like_threshold = like_threshold
        self.s_pos = self.e_pos @ self.e_pos.T
        self.s_neg = self.e_neg @ self.e_neg.T

    def _beta(self, sims: np.ndarray, hist: np.ndarray, all_hist: np.ndarray) -> np.ndarray:
        """Max similarity to `hist` (the liked or the disliked items) within each item's scope.

        Items of a category the user has rated (`all_hist`) look only at `hist` items of that
        category (0 if there are none); items of other categories look at all of `hist`. One
        contiguous row gather and one `maximum.reduceat` over the history sorted by category.
        """
        n_items = sims.shape[0]
        if len(hist) == 0:
            return np.zeros(n_items, dtype=np.float32)
        order = np.argsort(self.categories[hist], kind="stable")
        hist = hist[order]
        cats = self.categories[hist]
        starts = np.flatnonzero(np.r_[True, cats[1:] != cats[:-1]])
        per_cat = np.maximum.reduceat(sims[hist], starts, axis=0)  # (n present categories, n_items)
        lookup = np.full(self.n_categories, -1, dtype=np.int64)
        lookup[cats[starts]] = np.arange(len(starts))
        rated = np.zeros(self.n_categories, dtype=bool)
        rated[self.categories[all_hist]] = True
        item_rated = rated[self.categories]
        row = lookup[self.categories]
        own = per_cat[np.maximum(row, 0), np.arange(n_items)]
        out = np.where(item_rated, np.where(row >= 0, own, 0.0), per_cat.max(0))
        return out.astype(np.float32)

    def user_rows(self, hist_items: np.ndarray, hist_ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """beta_pos and beta_neg of every catalog item for one user's history."""
        hist_items = np.asarray(hist_items, dtype=np.int64)
        liked = np.asarray(hist_ratings) >= self.like_threshold
        return (self._beta(self.s_pos, hist_items[liked], hist_items),
                self._beta(self.s_neg, hist_items[~liked], hist_items))

    def pair_betas(self, item_ids: np.ndarray, rows: np.ndarray, counts: np.ndarray, hist_items: np.ndarray,
                   hist_ratings: np.ndarray, cells: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
        """beta_pos and beta_neg of each candidate against a history: same numbers as `user_rows`.

        The histories come flat (what `History.since(users, 0)` returns): history j is the
        counts[j] entries of `hist_items` / `hist_ratings` after those of histories 0..j-1, and
        candidate k is scored against history `rows[k]`. Costs O(history) per pair, so a batch of
        users asked about one item each (an RL step) does not pay for the whole catalog; about
        `cells` (pair, history entry) cells at a time.
        """
        item_ids, rows = np.asarray(item_ids, dtype=np.int64), np.asarray(rows, dtype=np.int64)
        counts = np.asarray(counts, dtype=np.int64)
        offsets = np.cumsum(counts) - counts
        liked = np.asarray(hist_ratings) >= self.like_threshold
        out_pos = np.zeros(len(item_ids), dtype=np.float32)
        out_neg = np.zeros(len(item_ids), dtype=np.float32)
        if len(item_ids) >= 64 * len(counts):
            # many candidates per history (every item for a user): one history at a time, broadcast;
            # a simulation step (a page or two per browser) stays on the flat path, no loop per user
            order = np.argsort(rows, kind="stable")
            bounds = np.searchsorted(rows[order], np.arange(len(counts) + 1))
            for r in np.flatnonzero(np.diff(bounds) * counts).tolist():
                chunk, entries = order[bounds[r]:bounds[r + 1]], slice(offsets[r], offsets[r] + counts[r])
                hist, hist_liked = hist_items[entries], liked[entries]
                same = self.categories[hist][None, :] == self.categories[item_ids[chunk]][:, None]
                scope = same | ~same.any(1, keepdims=True)  # same-category history if any, else all
                for out, sims, side in ((out_pos, self.s_pos, hist_liked), (out_neg, self.s_neg, ~hist_liked)):
                    mask = scope & side
                    best = np.where(mask, sims[item_ids[chunk, None], hist], -np.inf).max(1)
                    out[chunk] = np.where(mask.any(1), best, 0.0)
            return out_pos, out_neg
        # few candidates per history (an RL step): one flat cell per (pair, history entry); the
        # similarities are gathered only for the cells in scope (usually the candidate's category)
        pair_cells = counts[rows]
        bounds = np.searchsorted(np.cumsum(pair_cells), np.arange(cells, int(pair_cells.sum()), cells))
        n_items = self.s_pos.shape[1]
        for chunk in np.split(np.arange(len(item_ids)), bounds + 1):
            pair, k = spans(pair_cells[chunk])
            src = offsets[rows[chunk]][pair] + k
            hist = hist_items[src]
            same = self.categories[hist] == self.categories[item_ids[chunk]][pair]
            keep = np.flatnonzero(same | (np.bincount(pair, same, len(chunk)) == 0)[pair])
            pair, cell = pair[keep], item_ids[chunk][pair[keep]] * n_items + hist[keep]
            cell_liked = liked[src[keep]]
            for out, sims, side in ((out_pos, self.s_pos, cell_liked), (out_neg, self.s_neg, ~cell_liked)):
                p, c = pair[side], cell[side]
                if len(p) == 0:
                    continue
                starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])  # cells come grouped by pair
                out[chunk[p[starts]]] = np.maximum.reduceat(np.take(sims.reshape(-1), c), starts)
        return out_pos, out_neg
