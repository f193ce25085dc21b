"""Graph builders: sizes, degrees, seeding, homophily, dataset relations."""

from __future__ import annotations

import networkx as nx
import numpy as np

from recagent.social import barabasi_albert, build_graph, from_relations, homophily, watts_strogatz


def test_watts_strogatz_seeded():
    a = watts_strogatz(200, 8, 0.1, np.random.default_rng(1))
    b = watts_strogatz(200, 8, 0.1, np.random.default_rng(1))
    assert sorted(a.edges) == sorted(b.edges)
    assert a.number_of_nodes() == 200 and a.number_of_edges() == 200 * 8 // 2
    assert all(0.3 <= d["closeness"] <= 1 for _, _, d in a.edges(data=True))


def test_barabasi_albert_heavy_tail():
    g = barabasi_albert(500, 6, np.random.default_rng(2))
    degrees = np.array([d for _, d in g.degree])
    assert degrees.min() >= 3 and degrees.max() > 4 * np.median(degrees)


def test_homophily_links_similar_tastes():
    rng = np.random.default_rng(3)
    tastes = rng.dirichlet(np.full(8, 0.2), size=300)
    g = homophily(tastes, 10, 6.0, np.random.default_rng(4))
    unit = tastes / np.linalg.norm(tastes, axis=1, keepdims=True)
    edge_sim = np.mean([unit[u] @ unit[v] for u, v in g.edges])
    random_pairs = rng.integers(0, 300, (3000, 2))
    random_sim = np.mean([unit[u] @ unit[v] for u, v in random_pairs if u != v])
    assert edge_sim > random_sim + 0.2
    assert nx.number_of_selfloops(g) == 0
    assert 8 <= 2 * g.number_of_edges() / 300 <= 10  # degree/2 picks per node, some mutual
    flat = homophily(tastes, 10, 0.0, np.random.default_rng(4))
    assert np.mean([unit[u] @ unit[v] for u, v in flat.edges]) < edge_sim - 0.15


def test_relations_keep_only_agents():
    rel = [(0, 1, "friend", 0.9), (1, 2, "colleague", 0.4), (2, 5, "friend", 0.7)]
    g = from_relations(3, rel, {0: 0, 1: 1, 2: 2})
    assert sorted(g.edges) == [(0, 1), (1, 2)]
    assert g.edges[1, 2]["relationship"] == "colleague" and g.edges[1, 2]["closeness"] == 0.4


def test_build_graph_none():
    g = build_graph("none", 5, degree=4, rewire=0, homophily_strength=0, tastes=np.ones((5, 2)),
                    rng=np.random.default_rng(0))
    assert g.number_of_nodes() == 5 and g.number_of_edges() == 0
