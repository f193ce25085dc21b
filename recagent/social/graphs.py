"""Social graphs over agents (nodes 0..n-1) with a `closeness` in (0, 1] on every edge.

Generated graphs are seeded from the model's generator, so the same scenario and seed give the
same graph. The homophily graph links users with similar tastes more often: each user draws
`degree / 2` contacts with probability proportional to exp(homophily * cosine(taste_u, taste_v)).
"""

from __future__ import annotations

import networkx as nx
import numpy as np


def _closeness(graph: nx.Graph, rng: np.random.Generator, unit_tastes: np.ndarray | None = None) -> nx.Graph:
    """Closeness uniform in [0.3, 1); with tastes, averaged with the pair's taste cosine."""
    edges = np.array(sorted(graph.edges()), dtype=np.int64).reshape(-1, 2)
    closeness = rng.uniform(0.3, 1.0, len(edges))
    if unit_tastes is not None and len(edges):
        cosine = np.einsum("ed,ed->e", unit_tastes[edges[:, 0]], unit_tastes[edges[:, 1]])
        closeness = 0.5 * closeness + 0.5 * np.clip(cosine, 0, 1)
    closeness = np.round(closeness, 4).tolist()
    nx.set_edge_attributes(graph, {(int(u), int(v)): c for (u, v), c in zip(edges, closeness)}, "closeness")
    nx.set_edge_attributes(graph, "friend", "relationship")
    return graph


def watts_strogatz(n: int, degree: int, rewire: float, rng: np.random.Generator) -> nx.Graph:
    k = max(2, min(degree, n - 1))
    graph = nx.watts_strogatz_graph(n, k, rewire, seed=int(rng.integers(2**31)))
    return _closeness(graph, rng)


def barabasi_albert(n: int, degree: int, rng: np.random.Generator) -> nx.Graph:
    m = max(1, min(degree // 2, n - 1))
    graph = nx.barabasi_albert_graph(n, m, seed=int(rng.integers(2**31)))
    return _closeness(graph, rng)


def homophily(tastes: np.ndarray, degree: int, strength: float, rng: np.random.Generator,
              chunk: int = 1024, pool: int = 512) -> nx.Graph:
    """Each node picks degree/2 distinct contacts with probability proportional to exp(strength * cosine).

    Sampling without replacement uses Gumbel-top-k. For large populations each node draws among a
    uniform pool of `pool` candidates instead of everyone (exact when n <= pool + 1), which keeps
    10,000 agents to seconds.
    """
    n = len(tastes)
    unit = tastes / np.maximum(np.linalg.norm(tastes, axis=1, keepdims=True), 1e-12)
    m = max(1, min(degree // 2, n - 1))
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    for start in range(0, n, chunk):
        rows = np.arange(start, min(start + chunk, n))
        if n - 1 <= pool:
            candidates = np.broadcast_to(np.arange(n), (len(rows), n))
        else:
            candidates = rng.integers(0, n, (len(rows), pool))
        logits = strength * np.einsum("rd,rcd->rc", unit[rows], unit[candidates])
        logits[candidates == rows[:, None]] = -np.inf  # no self-loops
        keys = logits + rng.gumbel(size=logits.shape)
        keys[:, 1:][candidates[:, 1:] == candidates[:, :-1]] = -np.inf  # crude de-duplication
        picks = np.take_along_axis(candidates, np.argpartition(-keys, m - 1, axis=1)[:, :m], 1)
        graph.add_edges_from((int(u), int(v)) for u, row in zip(rows, picks) for v in row if u != v)
    return _closeness(graph, rng, unit)


def from_relations(n: int, relations: list[tuple[int, int, str, float]], agent_of_user: dict[int, int]) -> nx.Graph:
    """A dataset's relationships (RecAgent CSV), kept for the users that became agents."""
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    for a, b, kind, closeness in relations:
        if a in agent_of_user and b in agent_of_user and a != b:
            graph.add_edge(agent_of_user[a], agent_of_user[b], relationship=kind, closeness=float(closeness))
    return graph


def build_graph(kind: str, n: int, *, degree: int, rewire: float, homophily_strength: float,
                tastes: np.ndarray, rng: np.random.Generator, relations=None, agent_of_user=None) -> nx.Graph:
    if kind == "watts-strogatz":
        return watts_strogatz(n, degree, rewire, rng)
    if kind == "barabasi-albert":
        return barabasi_albert(n, degree, rng)
    if kind == "homophily":
        return homophily(tastes, degree, homophily_strength, rng)
    if kind == "dataset":
        return from_relations(n, relations or [], agent_of_user or {})
    if kind == "none":
        graph = nx.Graph()
        graph.add_nodes_from(range(n))
        return graph
    raise ValueError(f"unknown graph kind {kind!r}")
