"""Phase 8, measure: Mesa's DataCollector reads the step's counters and the cocoon and influence
measures (`recagent.metrics`) into one row of metrics.csv."""

from __future__ import annotations

import numpy as np

from ...metrics.measures import entropy_bits


def run(model) -> None:
    model.datacollector.collect(model)


def mean_genre_entropy(watched_genres: np.ndarray) -> float:
    """Mean genre entropy (bits) of the run's watches over agents who watched something."""
    watched = watched_genres.sum(1) > 0
    return float(entropy_bits(watched_genres[watched]).mean()) if watched.any() else 0.0
