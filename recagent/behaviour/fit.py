"""Maximum-likelihood fit of the browse model's parameters from an impression log.

The log's likelihood factorises into two independent parts (see model.py for the process):

- watches: each shown item is a Bernoulli draw with q = watch_scale * P(like)^2 * f(position),
  f(k) = max(1 - position_decay * k, min_position_factor). (watch_scale, position_decay,
  min_position_factor) maximise it (scipy L-BFGS-B, analytic gradient, several starts because f
  has a kink). min_position_factor is identified only when the fitted floor binds at a position the
  log shows; otherwise any floor below the last position's factor explains the log equally well
  and the given default is kept (lowered to that factor if it would bind). position_decay needs at
  least two positions.
- leaving: after a page the person moves on (the next page of the visit is in the log) or leaves
  (it was the visit's last page). The MLE of continue_if_watched / continue_if_nothing is the share
  of moves among the decisions after pages with / without a watch. A visit's last page at the
  page cap is censored (the page cap, not the person, ended it) and counts for neither.

The social factor is taken as 1 (an impression log has no word of mouth), so social_influence and
search_boost are not fitted and keep their values. P(like | shown) comes from the log's p_like
column when it has one, else from the caller (a constant, or a feedback model's predictions).
Standard errors come from the expected Fisher information at the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.stats import chi2

from ..errors import UserError
from ..scenario import BehaviourSpec

WATCH_PARAMS = ("watch_scale", "position_decay", "min_position_factor")
LEAVE_PARAMS = ("continue_if_nothing", "continue_if_watched")
EPS = 1e-12


@dataclass
class BehaviourFit:
    behaviour: BehaviourSpec  # fitted values where identified, the given defaults elsewhere
    fitted: dict[str, bool]  # which parameters the log identified
    stderr: dict[str, float]  # standard error of each fitted parameter
    visits: int
    impressions: int
    watches: int
    decisions: dict[str, int]  # observed continue/leave decisions after pages without / with a watch
    p_like_source: str
    log_likelihood: float
    notes: list[str] = field(default_factory=list)
    kept_from: str = "the default"  # where the values of parameters the log does not identify come from

    def to_yaml(self, source: str = "") -> str:
        """A `behaviour:` block to paste under `simulation:` in a scenario, with where each value came from."""
        head = f"# fitted by `recagent calibrate behaviour`{' from ' + source if source else ''}: {self.visits} visits, " \
               f"{self.impressions} impressions, {self.watches} watches; P(like | shown) from {self.p_like_source}"
        lines = [head, "# paste under `simulation:` (indent it by two spaces)", "behaviour:"]
        for name in BehaviourSpec.model_fields:
            value = getattr(self.behaviour, name)
            if self.fitted.get(name):
                why = f"fitted, standard error {self.stderr[name]:.4f}"
            elif name in WATCH_PARAMS + LEAVE_PARAMS:
                why = f"not identified by this log: {self.kept_from} kept"
            else:
                why = f"not fitted (an impression log has no word of mouth or searches): {self.kept_from} kept"
            lines.append(f"  {name}: {round(float(value), 4)}  # {why}")
        lines += [f"# note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _watch_probability(theta, a, k):
    s, d, m = theta
    ramp = 1 - d * k
    floored = ramp <= m
    f = np.where(floored, m, ramp)
    q = s * a * f
    # dq/d(s, d, m)
    grad = np.stack([a * f, np.where(floored, 0.0, -s * a * k), np.where(floored, s * a, 0.0)])
    return q, grad


def _negative_log_likelihood(theta, a, k, y):
    q, grad = _watch_probability(theta, a, k)
    q = np.clip(q, EPS, 1 - EPS)
    nll = -np.sum(y * np.log(q) + (1 - y) * np.log1p(-q))
    dq = -(y / q - (1 - y) / (1 - q))
    return nll, grad @ dq


def _fisher_stderr(theta, a, k, which: list[int]) -> np.ndarray:
    q, grad = _watch_probability(theta, a, k)
    q = np.clip(q, EPS, 1 - EPS)
    g = grad[which]
    info = (g / (q * (1 - q))) @ g.T
    try:
        return np.sqrt(np.diag(np.linalg.inv(info)))
    except np.linalg.LinAlgError:
        return np.full(len(which), np.nan)


def fit_behaviour(log: pd.DataFrame, *, p_like: np.ndarray | float | None = None, p_like_source: str | None = None,
                  max_pages: int | None = None, defaults: BehaviourSpec | None = None,
                  kept_from: str = "the default") -> BehaviourFit:
    """Fit the browse model to `log` (as read_impressions returns it).

    P(like | shown) per row: `p_like` when given (an array aligned with the log's rows, or one constant),
    else the log's own p_like column. `max_pages`: the page cap of the system that wrote the log
    (default: the deepest page in the log); a visit that reached it did not choose to leave.
    `defaults`: the values kept for parameters the log does not identify (`kept_from` says whose).
    """
    defaults = defaults or BehaviourSpec()
    if p_like is None:
        if "p_like" not in log:
            raise UserError("the log has no p_like column: give a constant P(like | shown) (--p-like) or a "
                            "scenario whose feedback model predicts it (--scenario)")
        p_like, p_like_source = log["p_like"].to_numpy(float), "the log's p_like column"
    like = np.broadcast_to(np.asarray(p_like, dtype=np.float64), (len(log),))
    if not np.all(np.isfinite(like) & (like >= 0) & (like <= 1)):
        raise UserError("P(like | shown) must be a probability in [0, 1]", "--p-like")
    deepest = int(log["page"].max())
    if max_pages is not None and deepest >= max_pages:
        raise UserError(f"the log has visits that reach page {deepest + 1} (counting from 1), more than "
                        f"--max-pages {max_pages}", "--max-pages")
    if not log["watched"].any():
        raise UserError("no impression in the log was watched: watch_scale cannot be fitted")
    a, k, y = like**2, log["position"].to_numpy(float), log["watched"].to_numpy(float)
    values = defaults.model_dump()
    fitted = dict.fromkeys(values, False)
    stderr: dict[str, float] = {}
    notes: list[str] = []

    # --- watches --------------------------------------------------------------------------------
    positions = np.unique(k)
    mean_a = max(a.mean(), EPS)
    s0 = float(np.clip(y.mean() / mean_a, 1e-3, 1.0))

    def best_fit(starts, floor_bounds: tuple[float, float]):
        fits = [minimize(_negative_log_likelihood, x0=x0, args=(a, k, y), jac=True, method="L-BFGS-B",
                         bounds=[(1e-6, 1.0), (0.0, 1.0), floor_bounds]) for x0 in starts]
        return min(fits, key=lambda res: res.fun)

    ramp = best_fit([[s0, d0, 0.0] for d0 in (0.02, 0.1, 0.3)], (0.0, 0.0))
    floored = best_fit([[*ramp.x[:2], 0.05], [s0, 0.3, 0.3], [s0, 0.1, 0.6]], (0.0, 1.0))
    # the floor is kept only when it binds at a shown position and the straight ramp is rejected by a
    # likelihood-ratio test at 1% (one extra parameter): a floor that binds at the last position alone
    # is otherwise the noise of that one position
    binds = np.any(1 - floored.x[1] * positions < floored.x[2] - 1e-6)
    floor_found = len(positions) >= 2 and binds and 2 * (ramp.fun - floored.fun) > chi2.ppf(0.99, 1)
    best = floored if floor_found else ramp
    s, d, m = best.x
    which = [0]
    fitted["watch_scale"] = True
    values["watch_scale"] = s
    if len(positions) >= 2:
        fitted["position_decay"] = True
        values["position_decay"] = d
        which.append(1)
        if floor_found:
            fitted["min_position_factor"] = True
            values["min_position_factor"] = m
            which.append(2)
        else:
            last = float(1 - d * positions.max())
            if defaults.min_position_factor > last:
                values["min_position_factor"] = max(last, 0.0)
                notes.append(f"min_position_factor lowered to the factor of the last position shown ({last:.4f}) "
                             "so that it does not bind where the log says the ramp goes on")
    else:
        notes.append("every item was shown at one position: position_decay and min_position_factor are not identified")
    if s >= 1.0 - 1e-6:
        notes.append("watch_scale is at its upper bound 1: the given P(like | shown) is too low to explain this many "
                     "watches")
    stderr.update(zip([WATCH_PARAMS[i] for i in which], _fisher_stderr(best.x, a, k, which).tolist()))

    # --- leaving --------------------------------------------------------------------------------
    pages = log.groupby(["visit", "page"], sort=True)["watched"].max().reset_index()
    last_page = pages.groupby("visit")["page"].transform("max").to_numpy()
    page = pages["page"].to_numpy()
    cap = int(page.max()) + 1 if max_pages is None else max_pages
    moved = page < last_page
    observed = moved | (page < cap - 1)  # leaving at the page cap is the cap's doing, not the person's
    watched_any = pages["watched"].to_numpy() > 0
    decisions = {}
    for name, group in (("continue_if_nothing", ~watched_any), ("continue_if_watched", watched_any)):
        n = int((observed & group).sum())
        decisions[name.removeprefix("continue_")] = n
        if n:
            c = float(moved[observed & group].mean())
            values[name], fitted[name] = c, True
            stderr[name] = float(np.sqrt(max(c * (1 - c), 1.0 / n) / n))
        else:
            notes.append(f"{name} is not identified: no visit left or moved on after a page "
                         f"{'without' if 'nothing' in name else 'with'} a watch before the page cap ({cap} "
                         f"page{'s' if cap > 1 else ''})")

    return BehaviourFit(
        behaviour=BehaviourSpec(**values), fitted=fitted, stderr=stderr, visits=int(log["visit"].nunique()),
        impressions=len(log), watches=int(y.sum()), decisions=decisions,
        p_like_source=p_like_source or "the given constant", log_likelihood=-float(best.fun), notes=notes,
        kept_from=kept_from)
