"""Feedback models by the name a scenario uses.

A factory takes the build context (seed, cache folder, dataset name) and the scenario's
`feedback.params` as keyword arguments. Each factory declares the params it accepts as a pydantic
model in its `Params` attribute (one class per model, right above its factory: add a parameter
there when the model gains one); `make_feedback` checks them, so errors name the scenario field
(`field 'feedback.params.factors': ...`) instead of surfacing from inside fit().
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import Field, create_model

from ..params import ComponentParams, check_params, params_model_for
from .base import LIKE_THRESHOLD, FeedbackModel
from .bias import BiasFeedback
from .ensemble_params import EnsembleParams as FittedEnsembleParams


@dataclass
class FeedbackContext:
    seed: int
    cache_dir: Path
    dataset_name: str


# the scenario's params of the ensemble: recagent.feedback.ensemble_params.EnsembleParams (the one
# definition) plus `mode`, which changes how it answers, not what is fitted
EnsembleParams = create_model(
    "EnsembleParams", __base__=ComponentParams, __doc__="What a scenario may set of the ensemble.",
    mode=(Literal["soft", "vote"], Field("soft", description="average the members' probabilities, or vote")),
    **{name: (info.annotation, info) for name, info in FittedEnsembleParams.__pydantic_fields__.items()})


def _ensemble(context: FeedbackContext, **params: Any) -> FeedbackModel:
    """The ensemble prepares itself into context.cache_dir on first fit (or reuses `recagent prepare`'s).

    The training seed (`params.seed`, default 0) is part of the cache key, so runs with different
    scenario seeds share one prepared model; the scenario seed breaks f_mat / f_sim ties.
    """
    from .ensemble import EnsembleFeedback

    params.setdefault("cache_dir", context.cache_dir)
    params.setdefault("tie_seed", context.seed)
    return EnsembleFeedback(dataset_name=context.dataset_name, **params)


class BiasParams(ComponentParams):
    reg_user: float = Field(5.0, ge=0, allow_inf_nan=False, description="shrinkage of the user bias")
    reg_item: float = Field(10.0, ge=0, allow_inf_nan=False, description="shrinkage of the item bias")
    like_threshold: float = Field(LIKE_THRESHOLD, allow_inf_nan=False)
    iterations: int = Field(5, ge=1, le=10_000)
    shown_correction: bool = Field(True, description="answer 'liked if shown' by correcting for self-selection (exposure)")


def _bias(context: FeedbackContext, **params: Any) -> FeedbackModel:
    return BiasFeedback(**params)


class MFParams(ComponentParams):
    factors: int = Field(24, ge=1, le=4096, description="latent dimension")
    reg: float = Field(12.0, ge=0, allow_inf_nan=False)
    reg_bias: float = Field(5.0, ge=0, allow_inf_nan=False)
    iterations: int = Field(12, ge=1, le=10_000)
    seed: int | None = Field(None, description="default: the scenario seed")
    like_threshold: float = Field(LIKE_THRESHOLD, allow_inf_nan=False)
    shown_correction: bool = Field(True, description="answer 'liked if shown' by correcting for self-selection (exposure)")


def _mf(context: FeedbackContext, **params: Any) -> FeedbackModel:
    from .mf import MatrixFactorization

    if params.get("seed") is None:
        params["seed"] = context.seed
    return MatrixFactorization(**params)


class LLMRatingParams(ComponentParams):
    batch: int = Field(20, ge=1, le=1000, description="items rated per LLM call")
    history: int = Field(10, ge=0, le=1000, description="recent ratings shown in the prompt")
    profile_ratings: int = Field(40, ge=1, le=10_000, description="ratings summarised into the taste profile")
    like_threshold: float = Field(3.5, allow_inf_nan=False)


def _llm_rating(context: FeedbackContext, **params: Any) -> FeedbackModel:
    from .llm_rating import LLMRatingFeedback

    return LLMRatingFeedback(context, **params)


_ensemble.Params, _bias.Params, _mf.Params, _llm_rating.Params = EnsembleParams, BiasParams, MFParams, LLMRatingParams

FEEDBACK_MODELS: dict[str, Callable[..., FeedbackModel]] = {
    "bias": _bias,
    "ensemble": _ensemble,
    "mf": _mf,
    "llm_rating": _llm_rating,
}


def feedback_params(factory: Callable) -> type[ComponentParams]:
    """The params model of a feedback factory (declared `Params`, or derived from its signature)."""
    return params_model_for(factory, skip=1)


def make_feedback(name: str, context: FeedbackContext, scenario_field: str = "feedback.params",
                  **params: Any) -> FeedbackModel:
    """`params` checked against the model's params model; errors name `scenario_field`."""
    if name not in FEEDBACK_MODELS:
        raise KeyError(name)
    factory = FEEDBACK_MODELS[name]
    return factory(context, **check_params(feedback_params(factory), params, scenario_field))
