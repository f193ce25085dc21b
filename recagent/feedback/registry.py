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


def _ensemble(context: FeedbackContext, **params: Any) -> FeedbackModel:
    """The ensemble prepares itself into context.cache_dir on first fit (or reuses `recagent prepare`'s).

    The training seed (`params.seed`, default 0) is part of the cache key, so runs with different
    scenario seeds share one prepared model; the scenario seed breaks f_mat / f_sim ties.
    """
    from .ensemble import EnsembleFeedback

    params.setdefault("cache_dir", context.cache_dir)
    params.setdefault("tie_seed", context.seed)
    return EnsembleFeedback(dataset_name=context.dataset_name, **params)


def _mf(context: FeedbackContext, **params: Any) -> FeedbackModel:
    from .mf import MatrixFactorization

    params.setdefault("seed", context.seed)
    return MatrixFactorization(**params)


FEEDBACK_MODELS: dict[str, Callable[..., FeedbackModel]] = {
    "bias": lambda context, **params: BiasFeedback(**params),
    "ensemble": _ensemble,
    "mf": _mf,
    "llm_rating": lambda context, **params: __import__("recagent.feedback.llm_rating", fromlist=["x"]).LLMRatingFeedback(
        context, **params),
}


def make_feedback(name: str, context: FeedbackContext, **params: Any) -> FeedbackModel:
    if name not in FEEDBACK_MODELS:
        raise KeyError(name)
    return FEEDBACK_MODELS[name](context, **params)
