"""recagent: simulate people inside a recommender system."""

__version__ = "0.1.0"
