"""Folding users into a fitted exposure model: each user's (a_u, p_u) against fixed item parameters.

The exposure model (recagent/feedback/exposure.py) is fitted on a sample of users (see
recagent/feedback/sample.py); every user of the population then gets the parameters that
minimise the same objective with the item side (b, c_i, q_i) held fixed:

    sum over all items i of softplus(z_ui) - sum over the items u rated of z_ui + reg * n_items * |p_u|^2,
    z_ui = b + c_i + a_u + p_u . q_i

(the fit's per-row L2 on the mean cross-entropy, written per user). The first sum runs over the
whole catalog, which would make every user cost O(catalog); instead it is expanded to second
order in p_u around p_u = 0 while staying exact in a_u:

    sum_i softplus(z_ui) ~ F(a) + G(a) . p + p' H(a) p / 2,
    F, G, H = sums over the catalog of softplus, sigmoid * q_i, sigmoid' * q_i q_i' at p = 0,

which depend on the user only through the scalar a, so they are tabulated once on a grid of a.
For each a the best p is a ridge solve, p(a) = (H(a) + 2 reg n_items I)^-1 (sum of the rated
q_i - G(a)); the user's a is the grid value with the lowest objective, refined by a parabola
through its neighbours. A user thus costs one pass over its own ratings plus O(grid k^2) work,
with no Python loop per user. The expansion is exact for p = 0 and accurate while |p . q_i| is
small, which the L2 penalty keeps it (the fitted rows have |p . q_i| well below 1).
Users with no rating get the average user, as users who join after fitting do (ExposureModel._logits).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..data import Interactions

GRID_POINTS = 64  # values of a_u tabulated (a parabola refines the best)
BLOCK_USERS = 65536  # users solved at once (bounded memory: a few (block, k) arrays)


def restrict(interactions: Interactions, sample: np.ndarray, n_users: int) -> Interactions:
    """The ratings of the sampled users (sorted ids), renumbered 0..len(sample)-1 in that order."""
    dense_id = np.full(n_users, -1, dtype=np.int64)
    dense_id[sample] = np.arange(len(sample))
    rows = interactions.subset(dense_id[interactions.users] >= 0)
    return Interactions(dense_id[rows.users], rows.items, rows.ratings, rows.times)


def _tables(b: float, c: np.ndarray, Q: np.ndarray, grid: np.ndarray):
    """F (G,), G (G, k), H (G, k, k): the catalog sums at p = 0 for each a of the grid."""
    z = b + c[None, :] + grid[:, None]  # (G, n_items)
    s = 0.5 * (1.0 + np.tanh(0.5 * z))
    F = np.logaddexp(0.0, z).sum(1)
    G = s @ Q
    H = np.einsum("gi,ik,il->gkl", s * (1 - s), Q, Q, optimize=True)
    return F, G, H


def fold_in(b: float, c: np.ndarray, Q: np.ndarray, reg: float, users: np.ndarray, items: np.ndarray,
            n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, P): (n_users,) and (n_users, k) exposure parameters of every user from its rated cells (users, items)."""
    n_items, k = Q.shape
    rated = sparse.csr_matrix((np.ones(len(users)), (users, items)), shape=(n_users, n_items))
    rated.data[:] = 1.0  # a cell rated twice is one observed cell
    n_rated = np.asarray(rated.sum(1)).ravel()
    rated_q = np.asarray(rated @ Q)  # sum of q_i over the rated items
    has = n_rated > 0
    a, P = np.zeros(n_users), np.zeros((n_users, k))
    if not has.any():
        return a, P
    # the zero-factor optimum, log(n_u / sum_i e^(b + c_i)) for small propensities, bounds the grid
    a0 = np.log(n_rated[has]) - np.log(np.exp(b + c).sum())
    grid = np.linspace(a0.min() - 2.0, min(a0.max() + 2.0, 0.0) + 2.0, GRID_POINTS)
    F, G, H = _tables(b, c, Q, grid)
    solve = np.linalg.inv(H + 2.0 * reg * n_items * np.eye(k))  # (G, k, k)
    for lo in range(0, n_users, BLOCK_USERS):
        rows = np.arange(lo, min(lo + BLOCK_USERS, n_users))
        rows = rows[has[rows]]
        if len(rows) == 0:
            continue
        value = np.empty((len(rows), GRID_POINTS))
        for g in range(GRID_POINTS):  # objective at the best p for this a, up to a per-user constant
            v = rated_q[rows] - G[g]
            value[:, g] = F[g] - n_rated[rows] * grid[g] - 0.5 * ((v @ solve[g]) * v).sum(1)
        best = np.clip(value.argmin(1), 1, GRID_POINTS - 2)
        at = np.arange(len(rows))
        left, mid, right = value[at, best - 1], value[at, best], value[at, best + 1]
        curve = left - 2 * mid + right
        shift = np.where(curve > 0, 0.5 * (left - right) / np.where(curve > 0, curve, 1), 0.0)
        step = grid[1] - grid[0]
        a[rows] = grid[best] + np.clip(shift, -1, 1) * step
        # p at the refined a, with the tables interpolated linearly between the two grid points
        pos = (a[rows] - grid[0]) / step
        g0 = np.clip(np.floor(pos).astype(np.int64), 0, GRID_POINTS - 2)
        w = (pos - g0)[:, None]
        v = rated_q[rows] - ((1 - w) * G[g0] + w * G[g0 + 1])
        M = (1 - w)[..., None] * solve[g0] + w[..., None] * solve[g0 + 1]
        P[rows] = np.einsum("nkl,nl->nk", M, v)
    a[~has] = a[has].mean()
    return a, P
