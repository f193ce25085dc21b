"""Social graphs over agents (nodes 0..n-1) with a `closeness` in (0, 1] on every edge.

Generated graphs are seeded from the model's generator, so the same scenario and seed give the
same graph. Every builder first makes the edges as arrays (`SocialEdges`: source < target,
closeness, relationship), from which the nx.Graph (`to_graph`, the API the rest of recagent
uses) or the CSR adjacency for the step's hot reads (`adjacency`, see adjacency.py) are built;
at a million agents the nx.Graph costs gigabytes, so a caller may keep the arrays and build the
graph only when something asks for it. `build_edges` gives the arrays, `build_graph` the graph.

The homophily graph links users with similar tastes more often: each user draws `degree / 2`
contacts with probability proportional to exp(homophily * cosine(taste_u, taste_v)). The
Watts-Strogatz and Barabasi-Albert graphs follow NetworkX's generators, vectorised (same models,
other draws: a seed gives another graph than NetworkX's for the same seed would).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from ..data.core import take_rows
from .adjacency import Adjacency


@dataclass
class SocialEdges:
    """Undirected edges as arrays: source[k] < target[k], sorted, no duplicates, no self-loops."""

    n: int
    source: np.ndarray  # int64
    target: np.ndarray  # int64
    closeness: np.ndarray  # float64 in (0, 1]
    relationship: np.ndarray  # str per edge ("friend" for generated graphs)

    def __len__(self) -> int:
        return len(self.source)

    def to_graph(self) -> nx.Graph:
        """The nx.Graph with `closeness` and `relationship` on every edge (one Python dict per edge)."""
        graph = nx.Graph()
        graph.add_nodes_from(range(self.n))
        graph.add_edges_from(zip(self.source.tolist(), self.target.tolist(),
                                 ({"closeness": c, "relationship": r}
                                  for c, r in zip(self.closeness.tolist(), self.relationship.tolist()))))
        return graph

    def adjacency(self) -> Adjacency:
        return Adjacency.from_edges(self.n, self.source, self.target, self.closeness)


def _undirected(n: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct undirected pairs (min, max) of the links a[k] - b[k], self-loops dropped, sorted."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    keep = a != b
    key = np.sort(np.minimum(a, b)[keep] * n + np.maximum(a, b)[keep])
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key  # np.unique is slower here
    return key // n, key % n


def _friends(n: int, source: np.ndarray, target: np.ndarray, rng: np.random.Generator,
             unit_tastes: np.ndarray | None = None) -> SocialEdges:
    """Closeness uniform in [0.3, 1); with tastes, averaged with the pair's taste cosine."""
    closeness = rng.uniform(0.3, 1.0, len(source))
    if unit_tastes is not None and len(source):
        cosine = np.einsum("ed,ed->e", unit_tastes[source], unit_tastes[target])
        closeness = 0.5 * closeness + 0.5 * np.clip(cosine, 0, 1)
    return SocialEdges(n, source, target, np.round(closeness, 4), np.full(len(source), "friend"))


def watts_strogatz_edges(n: int, degree: int, rewire: float, rng: np.random.Generator,
                         max_rounds: int = 100) -> SocialEdges:
    """A ring where each node links to its k/2 next neighbours, each link's far end rewired with
    probability `rewire` to a uniformly drawn node (NetworkX's watts_strogatz_graph, vectorised).

    A rewired end that lands on its own node, its old neighbour or a pair already linked is drawn again, all such
    ends at once per round; NetworkX redraws them one link at a time in ring order, so the two
    differ only in which of two colliding links keeps its draw. An end still colliding after
    `max_rounds` rounds (a nearly complete graph) keeps its ring neighbour, as NetworkX does, or
    if another link took that pair meanwhile, is lost (only ever seen with k close to n).
    """
    k = max(2, min(degree, n - 1))
    if n < 2:
        return _friends(n, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), rng)
    u = np.tile(np.arange(n), k // 2)  # ring order: every node's next neighbour, then the one after...
    v = (u + np.repeat(np.arange(1, k // 2 + 1), n)) % n
    ring_key = np.minimum(u, v) * n + np.maximum(u, v)
    first = np.sort(np.unique(ring_key, return_index=True)[1])
    u, v = u[first], v[first]  # when k >= n - 1 the ring meets itself: each pair once
    target = v.copy()
    pending = np.flatnonzero(rng.random(len(u)) < rewire)
    if len(u) == n * (n - 1) // 2:
        pending = pending[:0]  # the complete graph: nowhere to rewire to (NetworkX gives up too)
    for _ in range(max_rounds):
        if not len(pending):
            break
        draw = rng.integers(0, n, len(pending))
        target[pending] = draw
        key = np.minimum(u, target) * n + np.maximum(u, target)
        # as in NetworkX, neither the node itself nor the ring neighbour being left will do
        own = (draw == u[pending]) | (draw == v[pending])
        key[pending[own]] = -1 - pending[own]
        order = np.argsort(key, kind="stable")
        same = key[order[1:]] == key[order[:-1]]
        shared = np.zeros(len(key), dtype=bool)
        shared[order[1:][same]] = shared[order[:-1][same]] = True  # a pair more than one link wants
        clash = shared[pending] | own
        pending = pending[clash]
    target[pending] = v[pending]  # still clashing after max_rounds (a nearly complete graph): stay on the ring
    source, target = _undirected(n, u, target)
    return _friends(n, source, target, rng)


def barabasi_albert_edges(n: int, degree: int, rng: np.random.Generator, max_rounds: int = 50) -> SocialEdges:
    """Preferential attachment as in NetworkX's barabasi_albert_graph, vectorised.

    NetworkX starts from a star of m + 1 nodes and keeps a list with every node repeated once per
    link it has; each new node links to m distinct nodes drawn uniformly from that list, then
    appends them and itself (m times). Every draw is a position in that list: a position holding
    a new node's own copies is known at once, one holding an earlier draw points to the position
    that draw took, so all draws resolve together by pointer jumping (Batagelj and Brandes).
    Draws that repeat a node within its row are drawn again and everything is resolved again,
    until rows are distinct (or `max_rounds`, after which a repeat is dropped).
    """
    m = max(1, min(degree // 2, n - 1))
    if n < 2:
        return _friends(n, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), rng)
    new = np.arange(m + 1, n)
    rows = len(new)
    # the list: the star (centre 0 m times, each leaf once), then per new node m draws and m copies of itself
    known = np.full(2 * m * (rows + 1), -1, dtype=np.int64)
    known[:2 * m] = np.r_[np.zeros(m, dtype=np.int64), np.arange(1, m + 1)]
    draw_slots = (2 * m * (np.arange(rows) + 1))[:, None] + np.arange(m)
    known[draw_slots + m] = new[:, None]
    span = 2 * m * (np.arange(rows) + 1)  # row j draws among the first span[j] positions
    position = (rng.random((rows, m)) * span[:, None]).astype(np.int64)
    targets = np.zeros((rows, m), dtype=np.int64)
    for _ in range(max_rounds):
        link = np.arange(len(known))
        link[draw_slots] = position
        while True:  # pointer jumping: every position ends at one that holds a known node
            jumped = link[link]
            if np.array_equal(jumped, link):
                break
            link = jumped
        targets = known[link[draw_slots]]
        key = np.arange(rows)[:, None] * n + targets
        repeat = np.ones(rows * m, dtype=bool)
        repeat[np.unique(key.reshape(-1), return_index=True)[1]] = False
        repeat = repeat.reshape(rows, m)
        if not repeat.any():
            break
        redraw_rows = np.nonzero(repeat)[0]
        position[repeat] = (rng.random(len(redraw_rows)) * span[redraw_rows]).astype(np.int64)
    source = np.r_[np.zeros(m, dtype=np.int64), np.repeat(new, m)]
    target = np.r_[np.arange(1, m + 1), targets.reshape(-1)]
    return _friends(n, *_undirected(n, source, target), rng)


def homophily_edges(tastes: np.ndarray, degree: int, strength: float, rng: np.random.Generator,
                    chunk: int = 1024, pool: int = 512) -> SocialEdges:
    """Each node picks degree/2 distinct contacts with probability proportional to exp(strength * cosine).

    Up to pool + 1 nodes, by Gumbel-top-k over everyone, `chunk` rows at a time. Above, by
    rejection: a node proposes uniformly drawn others and keeps each with probability
    exp(strength * (cosine - 1)) (cosine <= 1), which samples the same distribution over all
    nodes without scoring every pair; the first degree/2 distinct kept ones are its picks.
    """
    n = len(tastes)
    unit = tastes / np.maximum(np.linalg.norm(tastes, axis=1, keepdims=True), 1e-12)
    m = max(1, min(degree // 2, n - 1))
    if n - 1 <= pool:
        picks = [_gumbel_picks(unit, np.arange(s, min(s + chunk, n)), m, strength, rng) for s in range(0, n, chunk)]
        rows = np.repeat(np.arange(n), m)
        picks = np.concatenate(picks).reshape(-1) if picks else np.zeros(0, dtype=np.int64)
    else:
        rows, picks = _rejection_picks(unit.astype(np.float32), m, strength, rng, chunk=64 * chunk)
    return _friends(n, *_undirected(n, rows, picks), rng, unit)


def _gumbel_picks(unit: np.ndarray, rows: np.ndarray, m: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    """(len(rows), m) distinct picks among all nodes, Gumbel-top-m of strength * cosine (self excluded)."""
    logits = strength * (unit[rows] @ unit.T)
    logits[np.arange(len(rows)), rows] = -np.inf  # no self-loops
    keys = logits + rng.gumbel(size=logits.shape)
    return np.argpartition(-keys, m - 1, axis=1)[:, :m]


def _rejection_picks(unit: np.ndarray, m: int, strength: float, rng: np.random.Generator, chunk: int,
                     max_rounds: int = 200, max_proposals: int = 4_000_000) -> tuple[np.ndarray, np.ndarray]:
    """(rows, picks): m distinct accepted proposals per node, by rounds of vectorised proposals.

    A node's bound on its cosine is 1, or 0 for a node without tastes (its cosine is 0 with
    everyone, so it picks uniformly and accepts every proposal). Only at an extreme strength
    can a node end `max_rounds` rounds short of m contacts; it keeps the ones it found.
    """
    n = len(unit)
    bound = (np.abs(unit).sum(1) > 0).astype(np.float32)
    all_rows, all_picks = [], []
    for start in range(0, n, chunk):
        rows_here = np.arange(start, min(start + chunk, n))
        got_rows, got = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        missing = np.full(len(rows_here), m, dtype=np.int64)
        accept_rate = 0.25
        for _ in range(max_rounds):
            active = np.flatnonzero(missing > 0)
            if not len(active):
                break
            # enough proposals that most rows finish this round, at the acceptance seen so far
            cap = max(max_proposals // len(active), 2)
            per_row = np.minimum(np.ceil(1.2 * missing[active] / accept_rate).astype(np.int64) + 2, cap)
            r = np.repeat(active, per_row)
            v = rng.integers(0, n - 1, len(r))
            v += v >= rows_here[r]  # uniform over the others: no self-loops
            cosine = np.einsum("ed,ed->e", take_rows(unit, rows_here[r]), take_rows(unit, v))
            bound_r = bound[rows_here[r]]
            kept = rng.random(len(r), dtype=np.float32) < np.exp(strength * (np.minimum(cosine, bound_r) - bound_r))
            accept_rate = max(kept.mean(), 1e-4)
            # distinct picks per row, in proposal order, at most `missing` new ones per row
            cand_r = np.concatenate([got_rows, r[kept]])
            cand_v = np.concatenate([got, v[kept]])
            _, first = np.unique(cand_r * n + cand_v, return_index=True)
            first.sort()
            cand_r, cand_v = cand_r[first], cand_v[first]
            order = np.argsort(cand_r, kind="stable")
            cand_r, cand_v = cand_r[order], cand_v[order]
            counts = np.bincount(cand_r, minlength=len(rows_here))
            rank = np.arange(len(cand_r)) - np.repeat(np.cumsum(counts) - counts, counts)
            keep = rank < m
            got_rows, got = cand_r[keep], cand_v[keep]
            missing = m - np.bincount(got_rows, minlength=len(rows_here))
        all_rows.append(rows_here[got_rows])
        all_picks.append(got)
    return np.concatenate(all_rows), np.concatenate(all_picks)


def relation_edges(n: int, relations: list[tuple[int, int, str, float]], agent_of_user: dict[int, int]) -> SocialEdges:
    """A dataset's relationships (RecAgent CSV), kept for the users that became agents (last one wins)."""
    kept = [(agent_of_user[a], agent_of_user[b], kind, float(c)) for a, b, kind, c in relations
            if a in agent_of_user and b in agent_of_user and a != b]
    if not kept:
        return SocialEdges(n, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0),
                           np.zeros(0, dtype=str))
    a, b, kinds, closeness = (np.array(column) for column in zip(*kept))
    key = np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)
    # the last listing of a pair wins, as repeated nx add_edge calls did
    last = len(key) - 1 - np.unique(key[::-1], return_index=True)[1]
    return SocialEdges(n, key[last] // n, key[last] % n, closeness[last].astype(np.float64), kinds[last])


def build_edges(kind: str, n: int, *, degree: int, rewire: float, homophily_strength: float,
                tastes: np.ndarray, rng: np.random.Generator, relations=None, agent_of_user=None) -> SocialEdges:
    if kind == "watts-strogatz":
        return watts_strogatz_edges(n, degree, rewire, rng)
    if kind == "barabasi-albert":
        return barabasi_albert_edges(n, degree, rng)
    if kind == "homophily":
        return homophily_edges(tastes, degree, homophily_strength, rng)
    if kind == "dataset":
        return relation_edges(n, relations or [], agent_of_user or {})
    if kind == "none":
        return relation_edges(n, [], {})
    raise ValueError(f"unknown graph kind {kind!r}")


def build_graph(kind: str, n: int, **options) -> nx.Graph:
    """The nx.Graph of `build_edges(kind, n, **options)`."""
    return build_edges(kind, n, **options).to_graph()


def watts_strogatz(n: int, degree: int, rewire: float, rng: np.random.Generator) -> nx.Graph:
    return watts_strogatz_edges(n, degree, rewire, rng).to_graph()


def barabasi_albert(n: int, degree: int, rng: np.random.Generator) -> nx.Graph:
    return barabasi_albert_edges(n, degree, rng).to_graph()


def homophily(tastes: np.ndarray, degree: int, strength: float, rng: np.random.Generator,
              chunk: int = 1024, pool: int = 512) -> nx.Graph:
    return homophily_edges(tastes, degree, strength, rng, chunk, pool).to_graph()


def from_relations(n: int, relations: list[tuple[int, int, str, float]], agent_of_user: dict[int, int]) -> nx.Graph:
    return relation_edges(n, relations, agent_of_user).to_graph()
