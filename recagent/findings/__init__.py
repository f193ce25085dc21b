"""Published findings as tested scenarios: `recagent findings` (docs/findings.md).

- catalog.py: the findings, their claims (which arm's measure against which, in which direction);
- measures.py: each finding's measures of one run; tables.py: a run folder as arrays;
- runner.py: run the findings' sweeps (recagent.sweep) and the paired differences (sweep.stats);
- report.py: findings.csv, measures.csv, report.md/html, plots; cli.py: the command.
"""

from ..lazy import lazy_exports

__all__ = ["FINDINGS", "Claim", "Finding", "FindingsResult", "run_findings"]
# imported on first use, so mounting `recagent findings` on the CLI loads no SciPy
__getattr__ = lazy_exports(__name__, {"FINDINGS": ".catalog", "Claim": ".catalog", "Finding": ".catalog",
                                      "FindingsResult": ".runner", "run_findings": ".runner"})
