"""Paired comparisons of recommendation strategies: `recagent compare`.

A comparison is a sweep over strategies only (recagent.sweep): the same scenario runs once per
(strategy, seed); every strategy sees the same seeds, so runs are paired and differences are taken
seed by seed.
"""

from ..sweep.strategy import Strategy, parse_strategy
from .runner import run_comparison

__all__ = ["Strategy", "parse_strategy", "run_comparison"]
