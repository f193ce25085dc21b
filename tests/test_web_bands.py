"""The study bands of the page and the report (recagent.sweep.stats.step_bands, a product with the
resamples' counts) against the bootstrap by indexing (percentile_interval of bootstrap_means), NaN
cells, all-NaN steps, one seed and ranges included."""

from __future__ import annotations

import numpy as np
import pytest

from recagent.sweep.stats import bootstrap_means, percentile_interval, step_bands


def report_bands(matrix, low, high, resamples=2_000):
    """The band by indexing the matrix by each resample (what step_bands computed before)."""
    lo, hi = percentile_interval(bootstrap_means(np.asarray(matrix, dtype=np.float64), resamples))
    return np.clip(lo, low, high), np.clip(hi, low, high)


@pytest.mark.parametrize("steps, seeds", [(50, 2), (40, 5), (30, 20), (20, 1)])
@pytest.mark.parametrize("holes", [0.0, 0.3])
def test_the_pages_bands_equal_the_reports(steps, seeds, holes):
    rng = np.random.default_rng(steps * seeds)
    matrix = rng.gamma(2.0, size=(steps, seeds))
    if holes:
        matrix[rng.random(matrix.shape) < holes] = np.nan
        matrix[0] = np.nan  # a step no seed reached
    for low, high in ((-np.inf, np.inf), (0.0, 1.5)):
        mine, theirs = step_bands(matrix, low, high), report_bands(matrix, low, high)
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a, b, atol=1e-12, equal_nan=True)
    lo, hi = step_bands(matrix, -np.inf, np.inf)
    finite = np.isfinite(lo)
    assert np.all(lo[finite] <= hi[finite]) and (not holes or np.isnan(lo[0]))
