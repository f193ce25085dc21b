"""Social recommender: what a user's friends watched and liked, weighted by closeness.

score(u, i) = sum over friends f of closeness(u, f) * [f rated i at least `like_rating`]
              + `watched_weight` * closeness(u, f) * [f watched i with a lower rating]
plus a tiny popularity term that only breaks ties (and serves users without friends).

It needs the social world, which a recommender does not own: the simulation calls
`bind(world)` with a `RecommenderWorld` (the live graph over agent ids, the agent -> user map and
the live `History`) right after creating it and after every switch. Friends' likes are read
from the live history at each call, so they are current whatever `retrain_every` is, and a
rewired graph takes effect at once. Unbound (outside a simulation) it is a popularity ranking.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
from scipy import sparse

from ..data import Catalog, Interactions
from .base import RecommenderWorld, top_k
from .state import Accumulated


class SocialRecommender:
    name = "social"

    def __init__(self, like_rating: float = 4.0, watched_weight: float = 0.2):
        self.like_rating, self.watched_weight = like_rating, watched_weight
        self.world: RecommenderWorld | None = None

    def bind(self, world: RecommenderWorld) -> None:
        self.world = world
        self.agent_of_user = {int(u): a for a, u in enumerate(world.users)}

    def fit(self, catalog: Catalog, interactions: Interactions) -> None:
        self.data = Accumulated(len(catalog), interactions)

    def friends_matrix(self) -> sparse.csr_matrix:
        """(n_agents, n_agents) closeness of each pair of friends."""
        n = len(self.world.users)
        return nx.to_scipy_sparse_array(self.world.graph, nodelist=range(n), weight="closeness",
                                        format="csr").astype(np.float64)

    def taste_matrix(self) -> sparse.csr_matrix:
        """(n_agents, n_items): 1 for items an agent liked, `watched_weight` for other rated items."""
        history, users = self.world.history, self.world.users
        rows, cols, vals = [], [], []
        for a, u in enumerate(users.tolist()):
            items, ratings = history.items[u], history.ratings[u]
            rows.extend([a] * len(items))
            cols.extend(items)
            vals.extend(1.0 if r >= self.like_rating else self.watched_weight for r in ratings)
        m = sparse.csr_matrix((vals, (rows, cols)), shape=(len(users), self.data.n_items))
        m.sum_duplicates()
        return m

    def scores(self, user_ids: np.ndarray) -> np.ndarray:
        pop = self.data.popularity()
        tie = 1e-6 * pop / max(pop.max(), 1.0)
        if self.world is None:
            return np.broadcast_to(tie, (len(user_ids), len(pop))).copy()
        agents = np.array([self.agent_of_user.get(int(u), -1) for u in user_ids])
        s = np.zeros((len(user_ids), len(pop)))
        has = agents >= 0
        if has.any():
            s[has] = (self.friends_matrix()[agents[has]] @ self.taste_matrix()).toarray()
        return s + tie

    def recommend(self, user_ids, k, exclude: sparse.csr_matrix | None = None) -> np.ndarray:
        return top_k(self.scores(np.asarray(user_ids)), k, exclude)

    def update(self, feedback: Interactions) -> None:
        self.data.add(feedback)
