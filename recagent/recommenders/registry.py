"""Recommenders by the name a scenario uses; third parties register through entry points.

A package adds a recommender by declaring, in its pyproject.toml,

    [project.entry-points."recagent.recommenders"]
    my_rec = "my_package:make_my_rec"

where `make_my_rec(context, **params)` returns an object following the Recommender protocol.
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


@dataclass
class RecommenderContext:
    rng: np.random.Generator  # the model's seeded generator
    seed: int
    cache_dir: Path


RECOMMENDERS: dict[str, Callable[..., Recommender]] = {
    "random": lambda context, **params: RandomRecommender(context.rng, **params),
    "popular": lambda context, **params: PopularRecommender(**params),
}


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
