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
    """Two questions, asked explicitly (two methods, not a flag, so that no caller gets the wrong one
    by default and a model that cannot answer the second fails loudly instead of answering the first):

    - **chosen**: `predict_proba` / `predict_rating`, about an item the person picked themselves.
      This is what rating datasets hold, so it is what held-out ratings score (`recagent eval
      feedback`) and what a search finds.
    - **shown**: `predict_shown`, about an item put in front of them (a recommender page, an RL
      slate, a random exposure), corrected for self-selection (see `recagent/feedback/exposure.py`).
      `calibrate_shown` refits that correction's few parameters on ratings of randomly shown items.
    """

    name: str

    def fit(self, catalog: Catalog, interactions: Interactions) -> FeedbackModel:
        """Learn from the training ratings; returns self."""

    def predict_proba(self, user_ids: np.ndarray, item_ids: np.ndarray, history: History) -> np.ndarray:
        """P(user likes item | they chose it) for each pair, shape (n,)."""

    def predict_rating(self, user_ids: np.ndarray, item_ids: np.ndarray, history: History) -> np.ndarray:
        """Expected 1-5 rating of an item they chose, for each pair, shape (n,)."""

    def predict_shown(self, user_ids: np.ndarray, item_ids: np.ndarray,
                      history: History) -> tuple[np.ndarray, np.ndarray]:
        """(P(like | shown), expected 1-5 rating | shown) for items put in front of the person."""

    def calibrate_shown(self, shown: Interactions, history: History) -> FeedbackModel:
        """Refit the shown-question correction on ratings of randomly shown items; returns self."""

    def explain(self, user_id: int, item_id: int, history: History) -> dict:
        """Why the model decided as it did (JSON-serialisable)."""


def predict_both(model: FeedbackModel, user_ids: np.ndarray, item_ids: np.ndarray,
                 history: History, *, exposure: Exposure) -> tuple[np.ndarray, np.ndarray]:
    """(P(like), rating) per pair, for items the person `chose` or was `shown` (see `Exposure`).

    "shown" asks `predict_shown`; "chosen" asks `predict_both` where a model offers it (the
    ensemble builds its features once for both), else `predict_proba` then `predict_rating`.
    """
    if exposure == "shown":
        shown = getattr(model, "predict_shown", None)
        if shown is None:
            raise TypeError(f"feedback model {getattr(model, 'name', type(model).__name__)!r} does not answer the "
                            "'shown' question: it needs predict_shown() (see recagent.feedback.base.FeedbackModel)")
        return shown(user_ids, item_ids, history)
    if exposure != "chosen":
        raise ValueError(f"exposure must be 'chosen' or 'shown', found {exposure!r}")
    both = getattr(model, "predict_both", None)
    if both is not None:
        return both(user_ids, item_ids, history)
    return model.predict_proba(user_ids, item_ids, history), model.predict_rating(user_ids, item_ids, history)
