"""The ensemble user simulator (Zhang et al., AAAI 2025): f_mat + f_sim + f_sta, voted or stacked.

- `mode="vote"`: the paper's Eq. 9, the majority of the three base models' like/dislike votes
  (predict_proba returns 0.0 or 1.0).
- `mode="soft"` (default): a calibrated P(like) from a stacked model (small gradient-boosted
  trees) over the three base models' raw margins plus rating-model features (user/item biases,
  an MF prediction, the user's genre affinity, counts). The stacker is fitted on training data
  only: the base models are first fitted on 80% of the training ratings, scored on the remaining
  20% (random, or each user's latest 20% with `holdout="temporal"`), the stacker learns from those
  scores, and then the base models are refitted on all training ratings.
- `predict_rating` is the stacked regressor on the same features, clipped to 1-5.
- `predict_shown` answers for items the person is *shown* (a recommender page), not chose: the
  exposure correction of `recagent/feedback/exposure.py` on top of the stacked answers, its head
  fitted (inverse-propensity weighted) on the same held-out 20% the stacker learns from.

Every feature of a pair comes from a small per-user state (IncrementalUserStates) that is advanced
by the items a user's history gained, plus, for f_sim, the pair's own history: a batch of pairs
needs no Python loop per pair, and no per-user work grows with the catalog.

Cold start: see each base model's module; the stacker sees the cold user's features (zero
biases, BOS-only SASRec state, empty keyword matches, count 0) and falls back to what it learned
for users with few ratings, i.e. close to the item's popularity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from pydantic import ValidationError

from ..data import History, Interactions
from ..errors import UserError
from ..keywords.base import ItemKeywords
from .ensemble_features import BASE_FEATURES, COLUMN, FEATURES, Components, EnsembleFeatures, keyword_bitsets
from .ensemble_params import EnsembleParams
from .ensemble_prepare import EnsemblePreparation, fingerprint, save_keywords, split_holdout, versions
from .ensemble_store import FORMAT_VERSION
from .state import coin

# the names other modules import from here
__all__ = ["BASE_FEATURES", "FEATURES", "FORMAT_VERSION", "Components", "EnsembleFeedback", "EnsembleParams",
           "Progress", "fingerprint", "keyword_bitsets", "save_keywords", "split_holdout", "versions"]

Progress = Callable[[str, float], None]
VOTERS = ("f_mat", "f_sim", "f_sta")
STA, MAT_POS, MAT_NEG, SIM_POS, SIM_NEG = (COLUMN[f] for f in ("sta_logit", "mat_pos", "mat_neg", "sim_pos", "sim_neg"))


class EnsembleFeedback(EnsemblePreparation, EnsembleFeatures):
    """The default FeedbackModel: see the module docstring.

    Fitting, caching and persistence: `EnsemblePreparation` (recagent/feedback/ensemble_prepare.py);
    features and per-user state: `EnsembleFeatures` (recagent/feedback/ensemble_features.py).
    """

    name = "ensemble"

    def __init__(self, mode: str = "soft", cache_dir: str | Path | None = None, dataset_name: str = "dataset",
                 keywords: ItemKeywords | None = None, keyword_vectors: dict[str, np.ndarray] | None = None,
                 progress: Progress | None = None, tie_seed: int | None = None, **params):
        if mode not in ("soft", "vote"):
            raise UserError(f"mode must be 'soft' or 'vote', found {mode!r}", "feedback.params.mode")
        unknown = set(params) - set(EnsembleParams.__dataclass_fields__)
        if unknown:
            raise UserError(f"unknown parameter(s) {sorted(unknown)}; expected some of "
                            f"{sorted(EnsembleParams.__dataclass_fields__)} or mode, cache_dir", "feedback.params")
        self.mode = mode
        try:
            self.params = EnsembleParams(**params)
        except ValidationError as e:
            first = e.errors()[0]
            raise UserError(f"{first['msg']}, found {first.get('input')!r}",
                            "feedback.params." + ".".join(str(x) for x in first["loc"])) from None
        # ties of f_mat / f_sim: the scenario's seed; not part of the cache fingerprint
        self.tie_seed = self.params.seed if tie_seed is None else int(tie_seed)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.dataset_name = dataset_name
        self.keywords, self.keyword_vectors = keywords, keyword_vectors
        self._given_keywords = (keywords, keyword_vectors)
        self.voters: tuple[str, ...] = VOTERS
        self.parts_: dict = {}
        self.progress = progress or (lambda stage, frac: None)
        self.loaded_from: Path | None = None
        self.timings: dict[str, float] = {}

    # ===== votes ======================================================================================
    def votes_from(self, X: np.ndarray, user_ids, item_ids) -> np.ndarray:
        """(n, 3) 0/1 votes of f_mat, f_sim, f_sta; ties of f_mat / f_sim by the seeded coin."""
        seed = self.tie_seed
        out = np.empty((len(X), 3), dtype=np.int8)
        for col, (pos, neg, salt) in enumerate([(MAT_POS, MAT_NEG, 1), (SIM_POS, SIM_NEG, 2)]):
            tie = X[:, pos] == X[:, neg]
            out[:, col] = np.where(tie, coin(seed, user_ids, item_ids, salt), X[:, pos] > X[:, neg])
        out[:, 2] = X[:, STA] > 0
        return out

    def verdict(self, votes: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The majority of the voters that fitted (`self.voters`); where the ones left in are evenly
        split (two of them disagree, or none fitted), the soft stacker decides (P(like) >= 0.5)."""
        active = [VOTERS.index(v) for v in self.voters]
        if len(active) == 3:
            return votes.sum(1) >= 2
        yes = votes[:, active].sum(1)
        even = 2 * yes == len(active)
        if not even.any():
            return 2 * yes > len(active)
        soft = self.stack_like.predict_proba(self._stack_inputs(X[even]))[:, 1] >= 0.5
        out = 2 * yes > len(active)
        out[even] = soft
        return out

    def vote(self, user_ids, item_ids, history: History, exposure: str = "chosen") -> np.ndarray:
        """The paper's Eq. 9 verdict (True = like): the majority of f_mat, f_sim and f_sta.

        f_sta (the costly one) runs only for the pairs where f_mat and f_sim disagree; where they
        agree it cannot change the majority. For a *shown* item (exposure="shown") the majority
        must also survive the exposure correction: see `_shown_vote`. With a voter left out (see
        `verdict`) every feature is computed.
        """
        if exposure == "shown":
            X = self.features(user_ids, item_ids, history)
            return self._shown_vote(X, user_ids, item_ids)
        if len(self.voters) < 3:
            X = self.features(user_ids, item_ids, history)
            return self.verdict(self.votes_from(X, user_ids, item_ids), X)
        X, slots = self._features(user_ids, item_ids, history, ratings=False)
        votes = self.votes_from(X, user_ids, item_ids)
        split = votes[:, 0] != votes[:, 1]
        self._fill_sta(X, slots, user_ids, item_ids, history, split)
        return np.where(split, X[:, STA] > 0, votes[:, 0] == 1)

    def scores(self, user_ids, item_ids, history: History) -> dict[str, np.ndarray]:
        """Every model's output for the fidelity harness (one feature pass)."""
        X = self.features(user_ids, item_ids, history)
        votes = self.votes_from(X, user_ids, item_ids)
        return {
            "f_mat": X[:, MAT_POS] - X[:, MAT_NEG], "f_mat_vote": votes[:, 0],
            "f_sim": X[:, SIM_POS] - X[:, SIM_NEG], "f_sim_vote": votes[:, 1],
            "f_sta": 1 / (1 + np.exp(-X[:, STA])), "f_sta_vote": votes[:, 2],
            "vote_share": votes.mean(1), "vote": self.verdict(votes, X).astype(np.int8),
            "soft": self.stack_like.predict_proba(self._stack_inputs(X))[:, 1],
            "rating": np.clip(self.stack_rating.predict(self._stack_inputs(X)), 1, 5),
        }

    # ===== FeedbackModel ====================================================================================
    def predict_proba(self, user_ids, item_ids, history: History) -> np.ndarray:
        if self.mode == "vote":
            return self.vote(user_ids, item_ids, history).astype(np.float64)
        X = self.features(user_ids, item_ids, history)
        return self.stack_like.predict_proba(self._stack_inputs(X))[:, 1]

    def predict_rating(self, user_ids, item_ids, history: History) -> np.ndarray:
        X = self._stack_inputs(self.features(user_ids, item_ids, history))
        return np.clip(self.stack_rating.predict(X), 1.0, 5.0)

    def _shown_vote(self, X: np.ndarray, user_ids, item_ids) -> np.ndarray:
        """The vote for a shown item: the base models' majority, vetoed where the exposure-corrected
        soft model says P(like | shown) < 0.5 (the votes themselves only know chosen ratings)."""
        p_shown, _ = self._shown_from(X, user_ids, item_ids)
        return self.verdict(self.votes_from(X, user_ids, item_ids), X) & (p_shown >= 0.5)

    def _shown_from(self, X: np.ndarray, user_ids, item_ids) -> tuple[np.ndarray, np.ndarray]:
        if getattr(self, "shown", None) is None:
            raise RuntimeError("ensemble: fit() before asking the 'shown' question")
        Xs = self._stack_inputs(X)
        return self.shown.apply(np.asarray(user_ids, dtype=np.int64), np.asarray(item_ids, dtype=np.int64),
                                self.stack_like.predict_proba(Xs)[:, 1], np.clip(self.stack_rating.predict(Xs), 1, 5))

    def predict_shown(self, user_ids, item_ids, history: History) -> tuple[np.ndarray, np.ndarray]:
        """(P(like | shown), rating | shown) from one feature pass (a recommender page asks this)."""
        X = self.features(user_ids, item_ids, history)
        p, rating = self._shown_from(X, user_ids, item_ids)
        if self.mode == "vote":
            p = self._shown_vote(X, user_ids, item_ids).astype(np.float64)
        return p, rating

    def calibrate_shown(self, shown: Interactions, history: History) -> EnsembleFeedback:
        """Refit the shown head on ratings of randomly shown items (see ShownCorrection.calibrated)."""
        Xs = self._stack_inputs(self.features(shown.users, shown.items, history))
        self.shown = self.shown.calibrated(shown.users, shown.items, self.stack_like.predict_proba(Xs)[:, 1],
                                           np.clip(self.stack_rating.predict(Xs), 1, 5), shown.ratings)
        return self

    def predict_both(self, user_ids, item_ids, history: History) -> tuple[np.ndarray, np.ndarray]:
        """predict_proba and predict_rating from one feature pass (what the simulation asks for)."""
        X = self.features(user_ids, item_ids, history)
        if self.mode == "vote":
            proba = self.verdict(self.votes_from(X, user_ids, item_ids), X).astype(np.float64)
        else:
            proba = self.stack_like.predict_proba(self._stack_inputs(X))[:, 1]
        return proba, np.clip(self.stack_rating.predict(self._stack_inputs(X)), 1.0, 5.0)

    def explain(self, user_id: int, item_id: int, history: History) -> dict:
        u, i = np.array([user_id]), np.array([item_id])
        X = self.features(u, i, history)
        votes = self.votes_from(X, u, i)[0]
        hist_items = np.asarray(history.items[user_id], dtype=np.int64)
        hist_ratings = np.asarray(history.ratings[user_id], dtype=np.float64)
        kw = self.keywords
        return {
            "model": self.name, "mode": self.mode,
            "category": kw.categories[item_id], "pros": kw.pos[item_id], "cons": kw.neg[item_id],
            "votes": {"f_mat": int(votes[0]), "f_sim": int(votes[1]), "f_sta": int(votes[2])},
            "vote": int(self.verdict(votes[None], X)[0]), "voters": list(self.voters),
            "f_mat": {"alpha_pos": int(X[0, MAT_POS]), "alpha_neg": int(X[0, MAT_NEG]),
                      **self.f_mat.matched(hist_items, hist_ratings, item_id)},
            "f_sim": {"beta_pos": round(float(X[0, SIM_POS]), 3), "beta_neg": round(float(X[0, SIM_NEG]), 3)},
            "f_sta": {"p_like": round(float(1 / (1 + np.exp(-X[0, STA]))), 3)},
            "p_like": round(float(self.stack_like.predict_proba(self._stack_inputs(X))[0, 1]), 3),
            "predicted_rating": round(float(np.clip(self.stack_rating.predict(self._stack_inputs(X))[0], 1, 5)), 3),
            "shown": {"p_like": round(float(self._shown_from(X, u, i)[0][0]), 3),
                      "predicted_rating": round(float(self._shown_from(X, u, i)[1][0]), 3),
                      **self.shown.describe(user_id, item_id)},
        }
