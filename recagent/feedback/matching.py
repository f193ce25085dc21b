"""f_mat: keyword matching between a candidate item and the user's history (paper Eq. 1-3).

For user u and candidate i, the scope is u's history items of i's category (D_cate) if u has rated
any, else u's whole history. Then

    alpha_pos = |D_pos(i) ∩ ⋃ D_pos(j) over liked j in scope|     (liked: rating >= 3)
    alpha_neg = |D_neg(i) ∩ ⋃ D_neg(j) over disliked j in scope|
    f_mat = like if alpha_pos > alpha_neg, dislike if lower, a seeded coin on a tie.

Cold start: no liked item in scope -> alpha_pos = 0; no disliked item in scope -> alpha_neg = 0;
so a user with only liked history likes whatever shares a pro with it and flips the coin
otherwise, and a user with no history at all always gets the coin (the reference's "no history
-> random").

For speed the model computes, per user, the alphas of *every* catalog item at once (one sparse
product per user) and the ensemble caches these rows until the user's history grows; scoring a
batch of pairs is then a gather.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .base import LIKE_THRESHOLD


def scope_columns(categories: np.ndarray, n_categories: int, hist_items: np.ndarray) -> np.ndarray:
    """Per catalog item: its category's column if the history has that category, else column C (all)."""
    has = np.zeros(n_categories + 1, dtype=bool)
    if len(hist_items):
        has[categories[hist_items]] = True
    return np.where(has[categories], categories, n_categories)


def scope_indicator(categories: np.ndarray, n_categories: int, items: np.ndarray) -> sparse.csr_matrix:
    """(C+1, len(items)) 0/1 matrix: row c marks the items of category c, row C marks them all."""
    m = len(items)
    rows = np.concatenate([categories[items], np.full(m, n_categories)])
    cols = np.concatenate([np.arange(m), np.arange(m)])
    return sparse.csr_matrix((np.ones(2 * m, dtype=np.float32), (rows, cols)), shape=(n_categories + 1, m))


class KeywordMatching:
    name = "f_mat"

    def __init__(self, pos: sparse.csr_matrix, neg: sparse.csr_matrix, categories: np.ndarray,
                 vocabulary: list[str], like_threshold: float = LIKE_THRESHOLD):
        self.pos, self.neg = pos.tocsr(), neg.tocsr()
        self.categories = np.asarray(categories, dtype=np.int64)
        self.n_categories = int(self.categories.max()) + 1 if len(self.categories) else 0
        self.vocabulary = vocabulary
        self.like_threshold = like_threshold

    def _alpha_block(self, keywords: sparse.csr_matrix, hists: list[np.ndarray],
                     columns: np.ndarray) -> np.ndarray:
        """alpha of every catalog item for a block of users, from one sparse product.

        Row b*(C+1)+c of `union` is the keyword union of user b's items of category c (c = C: all
        of them); `columns[b, i]` picks the scope column of item i for user b.
        """
        n_items, width = keywords.shape[0], self.n_categories + 1
        lengths = np.array([len(h) for h in hists])
        if lengths.sum() == 0:
            return np.zeros((len(hists), n_items), dtype=np.float32)
        owner = np.repeat(np.arange(len(hists)), lengths)
        items = np.concatenate(hists)
        rows = np.concatenate([owner * width + self.categories[items], owner * width + self.n_categories])
        cols = np.concatenate([items, items])
        z = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                              shape=(len(hists) * width, n_items))
        union = z @ keywords  # (B*(C+1), V)
        union.data[:] = 1.0
        counts = (keywords @ union.T).toarray()  # (n_items, B*(C+1))
        pick = np.arange(len(hists))[:, None] * width + columns
        return counts[np.arange(n_items)[None, :], pick].astype(np.float32)

    def rows(self, hist_items: list[np.ndarray], hist_ratings: list[np.ndarray],
             block: int = 128) -> tuple[np.ndarray, np.ndarray]:
        """alpha_pos and alpha_neg, (n_users, n_items) each, for a list of user histories."""
        n_items = self.pos.shape[0]
        out_pos = np.zeros((len(hist_items), n_items), dtype=np.float32)
        out_neg = np.zeros_like(out_pos)
        for start in range(0, len(hist_items), block):
            its = [np.asarray(h, dtype=np.int64) for h in hist_items[start:start + block]]
            rts = [np.asarray(r, dtype=np.float64) for r in hist_ratings[start:start + block]]
            columns = np.stack([scope_columns(self.categories, self.n_categories, h) for h in its]) \
                if its else np.zeros((0, n_items), dtype=np.int64)
            liked = [h[r >= self.like_threshold] for h, r in zip(its, rts)]
            disliked = [h[r < self.like_threshold] for h, r in zip(its, rts)]
            out_pos[start:start + len(its)] = self._alpha_block(self.pos, liked, columns)
            out_neg[start:start + len(its)] = self._alpha_block(self.neg, disliked, columns)
        return out_pos, out_neg

    def user_rows(self, hist_items: np.ndarray, hist_ratings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """alpha_pos and alpha_neg of every catalog item for one user's history."""
        a_pos, a_neg = self.rows([hist_items], [hist_ratings])
        return a_pos[0], a_neg[0]

    def matched(self, hist_items: np.ndarray, hist_ratings: np.ndarray, item: int) -> dict:
        """The keywords behind alpha_pos / alpha_neg for one candidate (for explain())."""
        hist_items = np.asarray(hist_items, dtype=np.int64)
        cat = self.categories[item]
        same = self.categories[hist_items] == cat if len(hist_items) else np.zeros(0, dtype=bool)
        scope = hist_items[same] if same.any() else hist_items
        scope_r = np.asarray(hist_ratings)[same] if same.any() else np.asarray(hist_ratings)
        liked, disliked = scope[scope_r >= self.like_threshold], scope[scope_r < self.like_threshold]
        cand_pos = set(self.pos[item].indices.tolist())
        cand_neg = set(self.neg[item].indices.tolist())
        hist_pos = set(self.pos[liked].indices.tolist()) if len(liked) else set()
        hist_neg = set(self.neg[disliked].indices.tolist()) if len(disliked) else set()
        return {
            "scope": "same category" if same.any() else "all history",
            "matched_pros": sorted(self.vocabulary[k] for k in cand_pos & hist_pos),
            "matched_cons": sorted(self.vocabulary[k] for k in cand_neg & hist_neg),
        }
