"""Fidelity evaluation: how well feedback models predict real users' held-out ratings."""

from ..lazy import lazy_exports

__all__ = ["ALL_MODELS", "evaluate_feedback", "load_splits"]
__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, ".fidelity"))
