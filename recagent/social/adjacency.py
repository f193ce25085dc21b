"""A compressed sparse row (CSR) adjacency of the social graph, for the step's hot reads.

NetworkX stays the graph API (interventions rewire it, the web page and the social recommender
read it), but a million agents' nx.Graph costs gigabytes and a Python call per neighbour. The
step reads contacts through this class instead: three numpy arrays and vectorised helpers.

    adj = Adjacency.from_edges(n, source, target, closeness)   # or Adjacency.from_graph(graph)
    adj.indptr      # (n + 1,) int64: agent a's contacts are indices[indptr[a]:indptr[a + 1]]
    adj.indices     # (2E,) int64: each undirected edge appears once in each endpoint's row,
                    #   rows sorted ascending (so neighbours(a) == sorted(graph.neighbors(a)))
    adj.closeness   # (2E,) float64, aligned with indices
    adj.degree      # (n,) int64
    adj.neighbours(a), adj.closeness_of(a)               # one agent's contacts and their closeness
    adj.contacts(agents) -> (owner, contact, closeness)  # all contacts of many agents, flattened
    adj.pair_closeness(a, b, default)                    # closeness of edges (a[k], b[k]), vectorised
    adj.pick_neighbour(agents, rng, taste)               # one contact each, weighted by closeness and taste
    adj.to_graph()                                       # the nx.Graph, built on demand

It is a snapshot: after an intervention rewires the nx.Graph, rebuild it with `from_graph`.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from ..data.core import spans, take_rows


class Adjacency:
    """Undirected graph over agents 0..n-1 as CSR arrays; see the module docstring."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, closeness: np.ndarray):
        self.indptr, self.indices, self.closeness = indptr, indices, closeness
        self.degree = np.diff(indptr)
        self._pair_keys: np.ndarray | None = None

    @classmethod
    def from_edges(cls, n: int, source, target, closeness=None) -> Adjacency:
        """From undirected edges (source[k], target[k]); each edge once, in either orientation."""
        source, target = np.asarray(source, dtype=np.int64), np.asarray(target, dtype=np.int64)
        closeness = np.ones(len(source)) if closeness is None else np.asarray(closeness, dtype=np.float64)
        owner = np.concatenate([source, target])
        other = np.concatenate([target, source])
        order = np.argsort(owner * max(n, 1) + other)  # by row, then contact (one key: lexsort is ~5x slower)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner, minlength=n), out=indptr[1:])
        return cls(indptr, other[order], np.concatenate([closeness, closeness])[order])

    @classmethod
    def from_graph(cls, graph: nx.Graph) -> Adjacency:
        """From an nx.Graph over nodes 0..n-1 (closeness 1.0 where an edge has none)."""
        n = graph.number_of_nodes()
        m = graph.number_of_edges()
        edges = np.fromiter((x for u, v in graph.edges() for x in (u, v)), dtype=np.int64, count=2 * m).reshape(-1, 2)
        closeness = np.fromiter((c for _, _, c in graph.edges(data="closeness", default=1.0)), dtype=np.float64, count=m)
        return cls.from_edges(n, edges[:, 0], edges[:, 1], closeness)

    @property
    def n(self) -> int:
        return len(self.indptr) - 1

    @property
    def n_edges(self) -> int:
        return len(self.indices) // 2

    def neighbours(self, agent: int) -> np.ndarray:
        return self.indices[self.indptr[agent]:self.indptr[agent + 1]]

    def closeness_of(self, agent: int) -> np.ndarray:
        return self.closeness[self.indptr[agent]:self.indptr[agent + 1]]

    def contacts(self, agents) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every contact of each of `agents`: (owner, contact, closeness), owner[j] indexing `agents`."""
        agents = np.asarray(agents, dtype=np.int64).reshape(-1)
        owner, k = spans(self.degree[agents])
        cell = self.indptr[agents][owner] + k
        return owner, self.indices[cell], self.closeness[cell]

    def pair_closeness(self, a, b, default: float = np.nan) -> np.ndarray:
        """Closeness of the edge (a[k], b[k]) for every k; `default` where there is no such edge."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if self._pair_keys is None:  # rows ascending, contacts ascending within a row: sorted keys
            self._pair_keys = np.repeat(np.arange(self.n, dtype=np.int64), self.degree) * self.n + self.indices
        keys = a * self.n + b
        if not len(self._pair_keys):
            return np.full(keys.shape, default, dtype=np.float64)
        pos = np.minimum(np.searchsorted(self._pair_keys, keys), len(self._pair_keys) - 1)
        return np.where(self._pair_keys[pos] == keys, self.closeness[pos], default)

    def pick_neighbour(self, agents, rng: np.random.Generator, taste: np.ndarray | None = None,
                       chunk: int = 65536) -> np.ndarray:
        """One contact per agent (-1 for an agent without any), drawn with weight closeness, times
        (1 + taste[f] . taste[a] / taste[a] . taste[a]) when `taste` is given (the step's pick_friend).

        One uniform draw per agent with contacts, in the order of `agents`, all drawn first (so
        the stream does not depend on `chunk`, which only bounds the memory of the taste products).
        """
        agents = np.asarray(agents, dtype=np.int64).reshape(-1)
        picked = np.full(len(agents), -1, dtype=np.int64)
        has = np.flatnonzero(self.degree[agents] > 0)
        draws = rng.random(len(has))
        for start in range(0, len(has), chunk):
            rows = has[start:start + chunk]
            picked[rows] = self._pick(agents[rows], draws[start:start + chunk], taste)
        return picked

    def _pick(self, agents: np.ndarray, draws: np.ndarray, taste: np.ndarray | None) -> np.ndarray:
        """pick_neighbour for agents that all have contacts, with their uniform draws."""
        owner, contact, weight = self.contacts(agents)
        if taste is not None:
            mine = taste[agents]
            own = np.maximum(np.einsum("ad,ad->a", mine, mine), 1e-12)
            shared = np.einsum("ed,ed->e", take_rows(taste, contact), take_rows(mine, owner))
            weight = weight * (1.0 + shared / own[owner])
        cumulative = np.cumsum(weight)
        end = np.cumsum(self.degree[agents])
        start = end - self.degree[agents]
        before = np.r_[0.0, cumulative][start]
        target = before + draws * (cumulative[end - 1] - before)
        cell = np.clip(np.searchsorted(cumulative, target, side="right"), start, end - 1)  # rounding at row edges
        return contact[cell]

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each undirected edge once: (source, target, closeness) with source < target, sorted."""
        owner = np.repeat(np.arange(self.n, dtype=np.int64), self.degree)
        once = owner < self.indices
        return owner[once], self.indices[once], self.closeness[once]

    def to_graph(self, relationship: str = "friend") -> nx.Graph:
        """The nx.Graph of these edges (for interventions, the web page, the social recommender)."""
        source, target, closeness = self.edges()
        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        graph.add_edges_from(zip(source.tolist(), target.tolist(),
                                 ({"closeness": c, "relationship": relationship} for c in closeness.tolist())))
        return graph
