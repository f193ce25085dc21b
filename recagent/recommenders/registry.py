"""Recommenders by the name a scenario uses; third parties register through entry points.

A package adds a recommender by declaring, in its pyproject.toml,

    [project.entry-points."recagent.recommenders"]
    my_rec = "my_package:make_my_rec"

where `make_my_rec(context, **params)` returns an object following the Recommender protocol.
The factory may declare its parameters as a pydantic model in a `Params` attribute
(`make_my_rec.Params = MyParams`, see recagent.params.ComponentParams); without one, the keyword
parameters of its signature are checked. Either way a scenario's bad `params` are reported by
field before anything runs. Re-rankers (`RERANKERS`, entry-point group `recagent.rerankers`) are factories
`make(context, base, **params)` returning a recommender that wraps `base`; `make_pipeline` builds
a base recommender and its chain of re-rankers from a scenario's names and params.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
from pydantic import Field

from ..params import ComponentParams, check_params, params_model_for
from .base import Recommender
from .builtin import PopularRecommender, RandomRecommender

ENTRY_POINT_GROUP = "recagent.recommenders"
RERANKER_ENTRY_POINT_GROUP = "recagent.rerankers"


@dataclass
class RecommenderContext:
    rng: np.random.Generator  # the model's seeded generator
    seed: int
    cache_dir: Path


# --- parameters of the built-in components (one model per component, next to its factory) -----
# Bounds keep a typo from allocating the machine away (`dim: 1e9`) and name the field instead of a
# torch or numpy error deep inside fit().


class NoParams(ComponentParams):
    """random and popular take no parameters."""


class ItemCFParams(ComponentParams):
    neighbours: int = Field(50, ge=1, le=100_000, description="similar items kept per item")
    min_rating: float = Field(0.0, ge=0, description="ratings below this are not evidence of taste")


class MFParams(ComponentParams):
    seed: int | None = Field(None, description="training seed (default: the scenario seed)")
    dim: int = Field(32, ge=1, le=4096, description="embedding dimension")
    epochs: int = Field(20, ge=1, le=10_000)
    update_epochs: int = Field(2, ge=0, le=10_000, description="epochs per retraining on simulated feedback")
    lr: float = Field(0.01, gt=0, le=10, allow_inf_nan=False)
    reg: float = Field(1e-4, ge=0, allow_inf_nan=False)
    batch_size: int = Field(4096, ge=1, le=10_000_000)
    min_rating: float = Field(0.0, ge=0)
    threads: int = Field(1, ge=1, le=1024, description="torch CPU threads")


class SASRecParams(ComponentParams):
    seed: int | None = Field(None, description="training seed (default: the scenario seed)")
    dim: int = Field(32, ge=1, le=4096, description="embedding dimension")
    max_len: int = Field(50, ge=1, le=10_000, description="history length the model reads")
    epochs: int = Field(10, ge=1, le=10_000)
    update_epochs: int = Field(2, ge=0, le=10_000)
    lr: float = Field(0.005, gt=0, le=10, allow_inf_nan=False)
    batch_size: int = Field(128, ge=1, le=1_000_000)
    threads: int = Field(1, ge=1, le=1024, description="torch CPU threads")


class ContentParams(ComponentParams):
    centre: float = Field(2.5, allow_inf_nan=False, description="ratings above this pull the profile towards an item")
    features: Literal["text", "genres"] = Field("text", description="MiniLM text embeddings or genre vectors")


class SocialParams(ComponentParams):
    like_rating: float = Field(4.0, allow_inf_nan=False, description="a friend's rating at least this counts as a like")
    watched_weight: float = Field(0.2, ge=0, allow_inf_nan=False, description="weight of a friend's other watches")


class MMRParams(ComponentParams):
    lam: float = Field(0.5, ge=0, le=1, alias="lambda", description="relevance weight (1 = no diversification)")
    features: Literal["genres", "text"] = "genres"
    pool: int = Field(3, ge=1, le=100, description="candidates asked of the base: pool x slots")


class RandomKParams(ComponentParams):
    every: int = Field(4, ge=1, le=1_000_000, description="one random unseen item in every block of this many slots")


class PopularityPenaltyParams(ComponentParams):
    beta: float = Field(0.5, ge=0, allow_inf_nan=False, description="weight of the log-popularity penalty")
    pool: int = Field(3, ge=1, le=100, description="candidates asked of the base: pool x slots")


def _random(context: RecommenderContext) -> Recommender:
    return RandomRecommender(context.rng)


def _popular(context: RecommenderContext) -> Recommender:
    return PopularRecommender()


_random.Params = _popular.Params = NoParams


def _learned(module: str, cls: str, params: type[ComponentParams], with_seed: bool = False, with_cache: bool = False):
    """A factory importing its module on first use (torch and MiniLM take seconds to load)."""

    def factory(context: RecommenderContext, **params: Any) -> Recommender:
        from importlib import import_module

        kind = getattr(import_module(f"{__package__}.{module}"), cls)
        if with_seed and params.get("seed") is None:
            params["seed"] = context.seed
        if with_cache:
            params.setdefault("cache_dir", context.cache_dir)
        return kind(**params)

    factory.Params = params
    return factory


RECOMMENDERS: dict[str, Callable[..., Recommender]] = {
    "random": _random,
    "popular": _popular,
    "itemcf": _learned("itemcf", "ItemCFRecommender", ItemCFParams),
    "mf": _learned("mf", "BPRMFRecommender", MFParams, with_seed=True),
    "sasrec": _learned("sasrec", "SASRecRecommender", SASRecParams, with_seed=True),
    "content": _learned("content", "ContentRecommender", ContentParams, with_cache=True),
    "social": _learned("social", "SocialRecommender", SocialParams),
    "oracle": _learned("oracle", "OracleRecommender", NoParams),  # ranks by the run's feedback model (the truth)
}


def _mmr(context: RecommenderContext, base: Recommender, **params: Any) -> Recommender:
    from .rerank import MMR

    if "lambda" in params:  # callers outside a scenario may still use the YAML name
        params["lam"] = params.pop("lambda")
    params.setdefault("cache_dir", context.cache_dir)
    return MMR(base, **params)


def _random_k(context: RecommenderContext, base: Recommender, **params: Any) -> Recommender:
    from .rerank import RandomK

    return RandomK(base, context.rng, **params)


def _popularity_penalty(context: RecommenderContext, base: Recommender, **params: Any) -> Recommender:
    from .rerank import PopularityPenalty

    return PopularityPenalty(base, **params)


_mmr.Params, _random_k.Params, _popularity_penalty.Params = MMRParams, RandomKParams, PopularityPenaltyParams


RERANKERS: dict[str, Callable[..., Recommender]] = {
    "mmr": _mmr,
    "random_k": _random_k,
    "popularity_penalty": _popularity_penalty,
}


def available_rerankers() -> dict[str, Callable[..., Recommender]]:
    found = dict(RERANKERS)
    for ep in entry_points(group=RERANKER_ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.load())
    return found


def recommender_params(factory: Callable) -> type[ComponentParams]:
    """The params model of a recommender factory (declared `Params`, or derived from its signature)."""
    return params_model_for(factory, skip=1)


def reranker_params(factory: Callable) -> type[ComponentParams]:
    """The params model of a re-ranker factory (declared `Params`, or derived from its signature)."""
    return params_model_for(factory, skip=2)


def make_pipeline(name: str, params: dict, rerankers: list, context: RecommenderContext,
                  field: str = "recommender") -> Recommender:
    """A base recommender wrapped by `rerankers`, a list of (name, params) applied in order.

    Params are checked against each component's model; errors name `field` (the scenario's
    recommender block, e.g. `interventions[2]`).
    """
    recommender = make_recommender(name, context, scenario_field=f"{field}.params", **dict(params or {}))
    factories = available_rerankers()
    for j, (rname, rparams) in enumerate(rerankers):
        if rname not in factories:
            raise KeyError(rname)
        factory = factories[rname]
        checked = check_params(reranker_params(factory), rparams, f"{field}.rerankers[{j}].params")
        recommender = factory(context, recommender, **checked)
    return recommender


def available_recommenders() -> dict[str, Callable[..., Recommender]]:
    """Built-in recommenders plus those installed packages register as entry points."""
    found = dict(RECOMMENDERS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.load())
    return found


def make_recommender(name: str, context: RecommenderContext, scenario_field: str = "recommender.params",
                     **params: Any) -> Recommender:
    """`params` checked against the recommender's params model; errors name `scenario_field`."""
    factories = available_recommenders()
    if name not in factories:
        raise KeyError(name)
    factory = factories[name]
    return factory(context, **check_params(recommender_params(factory), params, scenario_field))
