"""Published findings as tested scenarios: `recagent findings` (docs/findings.md).

- catalog.py: the findings, their claims (which arm's measure against which, in which direction);
- measures.py: each finding's measures of one run; tables.py: a run folder as arrays;
- runner.py: run the findings' sweeps (recagent.sweep) and the paired differences (sweep.stats);
- report.py: findings.csv, measures.csv, report.md/html, plots; cli.py: the command.
"""

from .catalog import FINDINGS, Claim, Finding
from .runner import FindingsResult, run_findings

__all__ = ["FINDINGS", "Claim", "Finding", "FindingsResult", "run_findings"]
