"""Recommenders by the name a scenario uses; third parties register through entry points.

A package adds a recommender by declaring, in its pyproject.toml,

    [project.entry-points."recagent.recommenders"]
    my_rec = "my_package:make_my_rec"

where `make_my_rec(context, **params)` returns an object following the Recommender protocol.
Re-rankers (`RERANKERS`, entry-point group `recagent.rerankers`) are factories
`make(context, base, **params)` returning a recommender that wraps `base`; `make_pipeline` builds
a base recommender and its chain of re-rankers from a scenario's names and params.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .base import Recommender
from .builtin import PopularRecommender, RandomRecommender

ENTRY_POINT_GROUP = "recagent.recommenders"
RERANKER_ENTRY_POINT_GROUP = "recagent.rerankers"


@dataclass
class RecommenderContext:
    rng: np.random.Generator  # the model's seeded generator
    seed: int
    cache_dir: Path


RECOMMENDERS: dict[str, Callable[..., Recommender]] = {
    "random": lambda context, **params: RandomRecommender(context.rng, **params),
    "popular": lambda context, **params: PopularRecommender(**params),
}


def _learned(module: str, cls: str, with_seed: bool = False, with_cache: bool = False):
    """A factory importing its module on first use (torch and MiniLM take seconds to load)."""

    def factory(context: RecommenderContext, **params: Any) -> Recommender:
        from importlib import import_module

        kind = getattr(import_module(f"{__package__}.{module}"), cls)
        if with_seed:
            params.setdefault("seed", context.seed)
        if with_cache:
            params.setdefault("cache_dir", context.cache_dir)
        return kind(**params)

    return factory


RECOMMENDERS.update({
    "itemcf": _learned("itemcf", "ItemCFRecommender"),
    "mf": _learned("mf", "BPRMFRecommender", with_seed=True),
    "sasrec": _learned("sasrec", "SASRecRecommender", with_seed=True),
    "content": _learned("content", "ContentRecommender", with_cache=True),
    "social": _learned("social", "SocialRecommender"),
})


def _mmr(context: RecommenderContext, base: Recommender, **params: Any) -> Recommender:
    from .rerank import MMR

    if "lambda" in params:  # the natural YAML name is a Python keyword
        params["lam"] = params.pop("lambda")
    params.setdefault("cache_dir", context.cache_dir)
    return MMR(base, **params)


def _random_k(context: RecommenderContext, base: Recommender, **params: Any) -> Recommender:
    from .rerank import RandomK

    return RandomK(base, context.rng, **params)


def _popularity_penalty(context: RecommenderContext, base: Recommender, **params: Any) -> Recommender:
    from .rerank import PopularityPenalty

    return PopularityPenalty(base, **params)


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


def make_pipeline(name: str, params: dict, rerankers: list, context: RecommenderContext) -> Recommender:
    """A base recommender wrapped by `rerankers`, a list of (name, params) applied in order."""
    recommender = make_recommender(name, context, **dict(params))
    factories = available_rerankers()
    for rname, rparams in rerankers:
        if rname not in factories:
            raise KeyError(rname)
        recommender = factories[rname](context, recommender, **dict(rparams))
    return recommender


def available_recommenders() -> dict[str, Callable[..., Recommender]]:
    """Built-in recommenders plus those installed packages register as entry points."""
    found = dict(RECOMMENDERS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.load())
    return found


def make_recommender(name: str, context: RecommenderContext, **params: Any) -> Recommender:
    factories = available_recommenders()
    if name not in factories:
        raise KeyError(name)
    return factories[name](context, **params)
