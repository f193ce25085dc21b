"""The ensemble's parameters, defined once.

`EnsembleParams` is everything that changes what `EnsembleFeedback.fit` produces (and so is part
of the cache fingerprint). It is a pydantic dataclass: the ranges below are checked wherever it
is built, `dataclasses.fields`/`asdict` work on it, and the scenario's `feedback.params` model of
the ensemble (recagent/feedback/registry.py) is derived from it, adding only `mode`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass

from .base import LIKE_THRESHOLD
from .sample import FIT_USERS, MAX_INTERACTIONS


@dataclass(config=ConfigDict(extra="forbid", allow_inf_nan=False))
class EnsembleParams:
    """Everything that changes what `fit` produces (part of the cache fingerprint)."""

    route: Literal["offline", "llm"] = Field("offline", description="keywords: offline extraction or prepared by the LLM")
    top_k: int = Field(8, ge=1, le=1000, description="keywords kept per item")
    min_items: int = Field(2, ge=1, description="a keyword must describe at least this many items")
    max_fraction: float = Field(0.25, gt=0, le=1, description="... and at most this share of the catalog")
    holdout: Literal["random", "temporal"] = "random"
    holdout_fraction: float = Field(0.2, gt=0, lt=1)
    stacker: Literal["linear", "gbm"] = "linear"
    stack_features: Literal["all", "base", "ratings"] = Field(
        "all", description='"base": only the f_mat/f_sim/f_sta margins; "ratings": all but those (ablations)')
    sasrec_epochs: int = Field(30, ge=1, le=10_000)
    sasrec_max_len: int = Field(50, ge=1, le=10_000)
    sasrec_dim: int = Field(32, ge=1, le=4096)
    sasrec_dropout: float = Field(0.2, ge=0, lt=1)
    mf_factors: int = Field(24, ge=1, le=4096)
    mf_reg: float = Field(12.0, ge=0, allow_inf_nan=False)
    like_threshold: float = Field(LIKE_THRESHOLD, allow_inf_nan=False)
    seed: int = Field(0, description="training seed; part of the cache key")
    fit_users: int = Field(FIT_USERS, ge=1, description="fit on a seeded sample of at most this many users; each "
                           "user's own parameters come from its ratings (fitting time stops growing with users)")
    max_interactions: int = Field(MAX_INTERACTIONS, ge=1, description="... and at most this many of their ratings")
