"""Recommendation strategies behind one batched protocol."""

from .base import Recommender, RecommenderWorld, top_k
from .builtin import PopularRecommender, RandomRecommender
from .registry import (
    RECOMMENDERS,
    RERANKERS,
    RecommenderContext,
    available_recommenders,
    available_rerankers,
    make_pipeline,
    make_recommender,
)

__all__ = [
    "RECOMMENDERS", "RERANKERS", "PopularRecommender", "RandomRecommender", "Recommender", "RecommenderContext",
    "RecommenderWorld", "available_recommenders", "available_rerankers", "make_pipeline", "make_recommender", "top_k",
]
