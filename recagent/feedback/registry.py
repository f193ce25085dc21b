"""Feedback models by the name a scenario uses.

A factory takes the build context (seed, cache folder, dataset name) and the scenario's
`feedback.params` as keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .base import FeedbackModel
from .bias import BiasFeedback


@dataclass
class FeedbackContext:
    seed: int
    cache_dir: Path
    dataset_name: str


FEEDBACK_MODELS: dict[str, Callable[..., FeedbackModel]] = {
    "bias": lambda context, **params: BiasFeedback(**params),
    "llm_rating": lambda context, **params: __import__("recagent.feedback.llm_rating", fromlist=["x"]).LLMRatingFeedback(
        context, **params),
}


def make_feedback(name: str, context: FeedbackContext, **params: Any) -> FeedbackModel:
    if name not in FEEDBACK_MODELS:
        raise KeyError(name)
    return FEEDBACK_MODELS[name](context, **params)
