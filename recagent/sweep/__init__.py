"""Sweeps: one scenario run over strategies x parameter values x seeds, on a local process pool or
Ray, resumable, with a report whose intervals respect each measure's range.

- plan.py: the sweep file and the runs it expands to (dotted scenario overrides);
- strategy.py: strategies as the command line writes them (mf+mmr(lambda=0.7));
- executors.py: local process pool and Ray; worker.py: one run in a worker;
- runner.py: the output folder, resuming, sweep.csv; report.py, stats.py, measures.py: the report;
- run_report.py: the report of a single run (`recagent report RUN_DIR`).

`recagent compare` is the special case of a sweep over strategies only.
"""

from .plan import SweepPlan, build_plan
from .runner import SweepResult, run_sweep
from .strategy import Strategy, parse_strategy

__all__ = ["Strategy", "SweepPlan", "SweepResult", "build_plan", "parse_strategy", "run_sweep"]
