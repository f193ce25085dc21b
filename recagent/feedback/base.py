"""The FeedbackModel protocol: how a simulated user responds to an item, without an LLM.

Calls are batched over parallel arrays of (user, item) pairs, so one call serves every browsing
agent of a step. `history` is the live History of the simulation (the dataset's ratings plus what
agents watched since); models that adapt to it read it, others may ignore it.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import numpy as np

from ..data import Catalog, History, Interactions

LIKE_THRESHOLD = 3.0  # rating >= 3 is a "like", the convention of the ensemble simulator paper

# Which question a prediction answers: "chosen" = an item the person picked themselves (what
# rating datasets hold, and what a search finds); "shown" = an item put in front of them by a
# recommender, which people like less often than what they choose (ratings missing not at random).
Exposure = Literal["chosen", "shown"]


@runtime_checkable
class FeedbackModel(Protocol):
    name: str

    def fit(self, catalog: Catalog, interactions: Interactions) -> "FeedbackModel":
        """Learn from the training ratings; returns self."""

    def predict_proba(self, user_ids: np.ndarray, item_ids: np.ndarray, history: History) -> np.ndarray:
        """P(user likes item) for each pair, shape (n,)."""

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray, history: History) -> np.ndarray:
        """Expected 1-5 rating for each pair, shape (n,)."""

    def explain(self, user_id: int, item_id: int, history: History) -> dict:
        """Why the model decided as it did (JSON-serialisable)."""


def predict_both(model: FeedbackModel, user_ids: np.ndarray, item_ids: np.ndarray,
                 history: History, *, exposure: Exposure) -> tuple[np.ndarray, np.ndarray]:
    """(P(like), rating) per pair, for items the person `chose` or was `shown` (see `Exposure`):
    one pass for models that offer `predict_both` (the ensemble builds its features once for
    both), else `predict_proba` then `predict_rating`."""
    both = getattr(model, "predict_both", None)
    if both is not None:
        return both(user_ids, item_ids, history)
    return model.predict_proba(user_ids, item_ids, history), model.predict_rating(user_ids, item_ids, history)
