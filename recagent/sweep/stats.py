"""Intervals over seeds that a reviewer accepts.

- Means over seeds and paired differences (strategy - baseline, seed by seed) get a 95% percentile
  bootstrap interval over seeds by default. A bootstrap mean is a mean of observed values, so the
  interval never leaves the measure's range (nor, for a difference, [low - high, high - low]).
- A t-interval is used only when asked for and only with at least 5 seeds; where it leaves the
  range it is clipped to it and flagged. With fewer seeds the bootstrap is used instead.
- With fewer than 5 seeds any interval is unreliable (a bootstrap over 2 seeds is just the span of
  the 2 values); reports say so (see `SMALL_N`).
- Effect size of a paired difference: d_z = mean difference / standard deviation of differences.
- p-value of a paired difference: the exact sign-flip (permutation) test, two-sided; Holm's step-
  down adjustment across all the differences a report tests.

Resampling uses a fixed seed, so a report is reproducible from its runs.
"""

from __future__ import annotations

import functools
import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 10_000
SMALL_N = 5  # fewer seeds than this: warn, and never a t-interval
EXACT_SIGN_FLIP_MAX_N = 16  # 2**16 sign patterns; above this a Monte Carlo sample of them


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int
    method: str  # "bootstrap", "t", or "none" (fewer than 2 values)
    clipped: bool = False  # a t-interval that left the range and was cut back to it

    @property
    def excludes_zero(self) -> bool:
        return bool(np.isfinite(self.low) and (self.low > 0 or self.high < 0))


def _finite(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    return v[np.isfinite(v)]


def bootstrap_means(values: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Means of `resamples` resamples (with replacement) of the last axis of `values` (NaN ignored)."""
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[-1]
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    with _quiet():
        return np.nanmean(values[..., idx], axis=-1)  # (..., resamples)


@contextmanager
def _quiet():
    """Silence numpy's 'mean of empty slice' for all-NaN resamples (they give NaN, as they should)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def percentile_interval(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - CONFIDENCE) / 2 * 100
    with _quiet():
        lo, hi = np.nanpercentile(means, [tail, 100 - tail], axis=-1)
    return lo, hi


def t_half_width(v: np.ndarray) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))


def mean_interval(values, low: float = -math.inf, high: float = math.inf, method: str = "bootstrap") -> Interval:
    """Mean over seeds and its 95% interval inside [low, high]."""
    v = _finite(values)
    n = len(v)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0, "none")
    mean = float(v.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, "none")
    if method == "t" and n >= SMALL_N:
        half = t_half_width(v)
        lo, hi = mean - half, mean + half
        clipped = lo < low or hi > high
        return Interval(mean, float(max(lo, low)), float(min(hi, high)), n, "t", clipped)
    lo, hi = percentile_interval(bootstrap_means(v))
    # a percentile of means of in-range values is in range; the clip only removes rounding
    return Interval(mean, float(np.clip(lo, low, high)), float(np.clip(hi, low, high)), n, "bootstrap")


@dataclass(frozen=True)
class PairedDifference:
    interval: Interval
    effect_size: float  # d_z; NaN with fewer than 2 pairs or no spread
    p_value: float  # exact two-sided sign-flip test; NaN with fewer than 2 pairs


def paired_difference(mine, base, low: float = -math.inf, high: float = math.inf,
                      method: str = "bootstrap") -> PairedDifference:
    """Seed-by-seed difference mine - base (aligned arrays; pairs with a NaN are dropped)."""
    mine, base = np.asarray(mine, dtype=np.float64), np.asarray(base, dtype=np.float64)
    d = mine - base
    d = d[np.isfinite(d)]
    span = high - low
    interval = mean_interval(d, -span, span, method)
    if len(d) < 2:
        return PairedDifference(interval, math.nan, math.nan)
    sd = float(d.std(ddof=1))
    effect = float(d.mean() / sd) if sd > 0 else math.nan
    return PairedDifference(interval, effect, sign_flip_p(d))


def sign_flip_p(d: np.ndarray, seed: int = 0) -> float:
    """Two-sided p of the mean difference under 'no effect' (each difference's sign is a coin flip)."""
    d = _finite(d)
    n = len(d)
    if n == 0:
        return math.nan
    observed = abs(d.mean())
    if n <= EXACT_SIGN_FLIP_MAX_N:
        signs = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1) * 2 - 1
        stats = np.abs(signs @ d) / n
        return float(np.mean(stats >= observed - 1e-12 * max(1.0, observed)))
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(RESAMPLES, n))
    stats = np.abs(signs @ d) / n
    return float((np.sum(stats >= observed - 1e-12 * max(1.0, observed)) + 1) / (RESAMPLES + 1))


def smallest_sign_flip_p(n: int) -> float:
    """The smallest two-sided p the exact sign-flip test can give with n pairs."""
    return 2.0 / 2 ** n if n >= 1 else math.nan


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out[order] = np.minimum(adjusted, 1.0)
    return out


def step_bands(matrix: np.ndarray, low: float, high: float, resamples: int = 2_000,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-step 95% percentile bootstrap band of the mean over seeds; `matrix` is (steps, seeds), NaN
    allowed. The resamples are `bootstrap_means`' (same seed), computed as a product with each
    resample's counts instead of indexing the matrix by them: (steps x resamples) floats instead of
    (steps x resamples x seeds), 3 groups x 20 seeds x 1,000 steps in well under a second instead of
    27 s (the report's plots and the page's study bands). tests/test_web_bands.py holds it to
    `percentile_interval(bootstrap_means(...))`."""
    matrix = np.asarray(matrix, dtype=np.float64)
    weights = _resample_counts(matrix.shape[1], resamples, seed)
    finite = np.isfinite(matrix)
    if finite.all():  # the usual case: every seed has every step
        means = matrix @ (weights.T / matrix.shape[1])
    else:
        sums = np.where(finite, matrix, 0.0) @ weights.T
        counts = finite.astype(np.float64) @ weights.T
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / counts, np.nan)  # a resample of only NaN seeds has no mean
    tail = (1 - CONFIDENCE) / 2
    lo, hi = _nan_quantiles(means, (tail, 1 - tail))
    return np.clip(lo, low, high), np.clip(hi, low, high)


@functools.lru_cache(maxsize=16)
def _resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n): how often each of n seeds is drawn in each resample, as sweep.stats.bootstrap_means draws."""
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    counts = (idx[:, :, None] == np.arange(n)).sum(1).astype(np.float64)
    counts.flags.writeable = False  # shared between calls
    return counts


def _nan_quantiles(values: np.ndarray, qs: tuple[float, ...]) -> list[np.ndarray]:
    """np.nanquantile(values, q, axis=1) for each q (linear interpolation), vectorised over rows:
    one partition for all of them where a row has no NaN (numpy's nanquantile loops over rows)."""
    rows = np.arange(len(values))
    if np.isfinite(values).all():
        k = values.shape[1]
        pos = [q * (k - 1) for q in qs]
        kth = sorted({int(np.floor(p)) for p in pos} | {min(int(np.floor(p)) + 1, k - 1) for p in pos})
        part = np.partition(values, kth, axis=1)
        return [part[:, int(np.floor(p))] + (part[:, min(int(np.floor(p)) + 1, k - 1)] - part[:, int(np.floor(p))])
                * (p - np.floor(p)) for p in pos]
    ordered = np.sort(values, axis=1)  # NaN sorts last
    k = np.isfinite(ordered).sum(1)
    out = []
    for q in qs:
        pos = q * np.maximum(k - 1, 0)
        below = np.floor(pos).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(k - 1, 0))
        a, b = ordered[rows, below], ordered[rows, above]
        out.append(np.where(k > 0, a + (b - a) * (pos - below), np.nan))
    return out
