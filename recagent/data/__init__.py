"""Datasets as a Catalog (items), Users and Interactions (ratings), with loaders."""

from .core import Catalog, Dataset, Interactions, Users
from .csv_ratings import load_ratings_csv
from .history import History
from .movielens import load_movielens_100k
from .recagent_population import load_recagent_population
from .synthetic import make_synthetic

__all__ = [
    "Catalog", "Dataset", "History", "Interactions", "Users",
    "load_movielens_100k", "load_ratings_csv", "load_recagent_population", "make_synthetic",
]
