"""Report cells: figures, intervals, and n/a always with its reason (issue 28)."""

from types import SimpleNamespace

import numpy as np

from recagent.sweep.measures import BY_COLUMN
from recagent.sweep.report import _cell, _diff_cell

NAN = float("nan")


def test_a_defined_cell_prints_its_interval_and_counts_as_integers():
    assert _cell(0.5, 0.4, 0.6) == "0.500 [0.400, 0.600]"
    assert _cell(31.0, NAN, NAN) == "31"


def test_n_a_says_why():
    measure = BY_COLUMN["genre_entropy_rarefied"]
    assert _cell(NAN, NAN, NAN, undefined=measure.undefined) == "n/a (no agent watched metrics.rarefaction items)"
    row = SimpleNamespace(diff_mean=np.nan, diff_ci_low=np.nan, diff_ci_high=np.nan, diff_clipped=False)
    assert _diff_cell(row, BY_COLUMN["conformity"].undefined).startswith("n/a (no seed where both are defined: no watch")
    assert "n/a (" in _cell(NAN, NAN, NAN)  # a measure without its own words still gets a reason


def test_a_finding_without_a_figure_says_why():
    from recagent.findings.report import _ours

    def result(diff, low, high):
        return SimpleNamespace(diff=diff, low=low, high=high)

    assert _ours(result(0.01, 0.005, 0.02)) == "0.01 [0.005, 0.02]"
    assert _ours(result(NAN, NAN, NAN)) == "n/a (the measure is undefined in every paired seed)"
    assert _ours(result(0.01, NAN, NAN)) == "0.01 (no interval: fewer than 2 paired seeds)"
