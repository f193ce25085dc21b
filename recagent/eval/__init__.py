"""Fidelity evaluation: how well feedback models predict real users' held-out ratings."""

from .fidelity import ALL_MODELS, evaluate_feedback, load_splits

__all__ = ["ALL_MODELS", "evaluate_feedback", "load_splits"]
