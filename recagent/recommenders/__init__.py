"""Recommendation strategies behind one batched protocol."""

from .base import Recommender, top_k
from .builtin import PopularRecommender, RandomRecommender
from .registry import RECOMMENDERS, RecommenderContext, available_recommenders, make_recommender

__all__ = [
    "RECOMMENDERS", "PopularRecommender", "RandomRecommender", "Recommender", "RecommenderContext",
    "available_recommenders", "make_recommender", "top_k",
]
