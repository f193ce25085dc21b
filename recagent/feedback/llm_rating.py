"""`llm_rating`: Lusifer's LLM user simulator as a feedback model.

Each (user, item) pair is rated 1-5 in character by the LLM from the user's taste profile
(`recagent.llm.profiles`, built from their ratings in batches of `batch`) and their last
`history` ratings; the reply is JSON {"rating": n}, parsed, retried, and on failure replaced by the
bias model's prediction. Profiles are rebuilt from the newest ratings once a user has `batch` new
ones. All pairs of one `predict_rating` call go out as one concurrent wave; `predict_proba`
reuses those ratings (memoised by user, item and history length), so a browse step costs one
call per (browser, shown item) and nothing twice.

This model calls the LLM for every rating: it is for studying rating behaviour (and is what
`recagent eval feedback` scores with Lusifer's RMSE and match rates), not for large runs. With the
offline backend it falls back to the bias model throughout and says so in `explain`.

Items the user is *shown* rather than chose (`predict_shown`): the LLM's answers go through the
exposure correction fitted with the fallback bias model (recagent/feedback/exposure.py); fitting
that head on the LLM's own held-out answers would cost an LLM call per training rating.
`calibrate_shown` refits it on the LLM's answers for ratings of randomly shown items.
"""

from __future__ import annotations

import numpy as np

from ..data import Catalog, History, Interactions
from ..llm.backend import LanguageBackend, Task
from ..llm.profiles import build_profiles
from ..llm.prompts import render_rating
from .bias import BiasFeedback
from .exposure import AnswersShown


def lusifer_scores(true: np.ndarray, predicted: np.ndarray) -> dict:
    """Lusifer's figures: RMSE, exact-match and off-by-one match rates of rounded predictions."""
    true, predicted = np.asarray(true, float), np.asarray(predicted, float)
    rounded = np.clip(np.rint(predicted), 1, 5)
    return {"n": int(len(true)), "rmse": float(np.sqrt(np.mean((predicted - true) ** 2))) if len(true) else 0.0,
            "exact": float(np.mean(rounded == true)) if len(true) else 0.0,
            "off_by_one": float(np.mean(np.abs(rounded - true) <= 1)) if len(true) else 0.0}


class LLMRatingFeedback(AnswersShown):
    name = "llm_rating"

    def __init__(self, context=None, batch: int = 20, history: int = 10, profile_ratings: int = 40,
                 like_threshold: float = 3.5):
        self.batch, self.history_n, self.profile_ratings = batch, history, profile_ratings
        self.like_threshold = like_threshold
        self.backend: LanguageBackend | None = None
        self.profiles: dict[int, str] = {}
        self.profiled_at: dict[int, int] = {}  # history length when the profile was last updated
        self.memo: dict[tuple[int, int, int], float] = {}
        self.sources: dict[tuple[int, int, int], str] = {}

    def attach_backend(self, backend: LanguageBackend) -> None:
        self.backend = backend

    def fit(self, catalog: Catalog, interactions: Interactions) -> LLMRatingFeedback:
        self.catalog = catalog
        self.fallback = BiasFeedback().fit(catalog, interactions)
        self.shown = self.fallback.shown
        return self

    def _ratings(self, history: History, user: int, start: int = 0, end: int | None = None) -> list:
        items, ratings = history.items[user][start:end], history.ratings[user][start:end]
        return [(self.catalog.titles[i], ", ".join(self.catalog.item_genres(i)), float(r)) for i, r in zip(items, ratings)]

    def _ensure_profiles(self, users: list[int], history: History) -> None:
        """Create missing profiles; update those whose user has `batch` new ratings since."""
        new, update = {}, {}
        for u, n in zip(users, history.lengths(users).tolist()):
            if u not in self.profiles:
                new[u] = self._ratings(history, u)
            elif n - self.profiled_at[u] >= self.batch:
                update[u] = self._ratings(history, u, self.profiled_at[u])
        for group in (new, update):
            if group:
                self.profiles.update(build_profiles(self.backend, group, self.batch, self.profile_ratings,
                                                    previous={u: self.profiles[u] for u in group if u in self.profiles}))
                self.profiled_at.update(zip(group, history.lengths(list(group)).tolist()))

    def predict_rating(self, user_ids, item_ids, history: History) -> np.ndarray:
        user_ids, item_ids = np.asarray(user_ids, int), np.asarray(item_ids, int)
        keys = list(zip(user_ids.tolist(), item_ids.tolist(), history.lengths(user_ids).tolist()))
        missing = sorted(set(k for k in keys if k not in self.memo))
        if missing:
            if self.backend is None:
                raise RuntimeError("llm_rating needs a language backend: call attach_backend() first")
            self._ensure_profiles(sorted({u for u, _, _ in missing}), history)
            fallback = self.fallback.predict_rating(np.array([u for u, _, _ in missing]),
                                                    np.array([i for _, i, _ in missing]), history)
            tasks = [Task("rating", render_rating(self.profiles[u], self._ratings(history, u, -self.history_n),
                                                  self.catalog.titles[i], ", ".join(self.catalog.item_genres(i))),
                          (lambda f=float(f): (f"{f:.2f}", None)))
                     for (u, i, _), f in zip(missing, fallback)]
            for key, reply in zip(missing, self.backend.run_tasks(tasks)):
                self.memo[key] = float(reply.data.rating) if reply.data is not None else float(reply.text)
                self.sources[key] = reply.source
        return np.array([self.memo[k] for k in keys], dtype=np.float64)

    def predict_proba(self, user_ids, item_ids, history: History) -> np.ndarray:
        rating = self.predict_rating(user_ids, item_ids, history)
        return 1.0 / (1.0 + np.exp(-2.0 * (rating - self.like_threshold)))

    def explain(self, user_id: int, item_id: int, history: History) -> dict:
        rating = float(self.predict_rating(np.array([user_id]), np.array([item_id]), history)[0])
        key = (int(user_id), int(item_id), len(history.items[user_id]))
        return {"model": self.name, "rating": rating, "source": self.sources.get(key),
                "profile": self.profiles.get(int(user_id)), "backend": self.backend.label if self.backend else None}
