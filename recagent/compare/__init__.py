"""Paired comparisons of recommendation strategies: `recagent compare`.

The same scenario runs once per (strategy, seed); every strategy sees the same seeds, so runs are
paired and differences are taken seed by seed. Runs go to parallel worker processes. See
`run_comparison` for the folder it writes and `report.py` for the report.
"""

from .runner import Strategy, parse_strategy, run_comparison

__all__ = ["Strategy", "parse_strategy", "run_comparison"]
