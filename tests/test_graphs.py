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


def test_homophily_by_rejection_above_the_pool_links_similar_tastes():
    from recagent.social import homophily_edges

    rng = np.random.default_rng(5)
    tastes = rng.dirichlet(np.full(8, 0.3), size=3000)  # above pool + 1: the rejection sampler
    tastes[7] = 0.0  # a user without tastes still gets contacts
    unit = tastes / np.maximum(np.linalg.norm(tastes, axis=1, keepdims=True), 1e-12)
    strong = homophily_edges(tastes, 8, 6.0, np.random.default_rng(1))
    flat = homophily_edges(tastes, 8, 0.0, np.random.default_rng(1))
    assert (strong.source < strong.target).all() and len(np.unique(strong.source * 3000 + strong.target)) == len(strong)
    degree = np.bincount(np.r_[strong.source, strong.target], minlength=3000)
    assert degree.min() >= 4 and 7 <= degree.mean() <= 8  # 4 picks each, a few mutual
    assert degree[7] >= 4
    cos = lambda e: np.einsum("ed,ed->e", unit[e.source], unit[e.target]).mean()  # noqa: E731
    pairs = rng.integers(0, 3000, (20000, 2))
    random_cos = np.einsum("ed,ed->e", unit[pairs[:, 0]], unit[pairs[:, 1]]).mean()
    assert cos(strong) > random_cos + 0.3 and abs(cos(flat) - random_cos) < 0.03
    again = homophily_edges(tastes, 8, 6.0, np.random.default_rng(1))
    assert np.array_equal(again.target, strong.target) and np.array_equal(again.closeness, strong.closeness)


def test_edge_arrays_and_graph_agree():
    from recagent.social import build_edges

    rng = np.random.default_rng(0)
    for kind in ("watts-strogatz", "barabasi-albert", "homophily", "none"):
        edges = build_edges(kind, 120, degree=6, rewire=0.2, homophily_strength=3.0,
                            tastes=rng.dirichlet(np.ones(4), 120), rng=np.random.default_rng(2))
        g = edges.to_graph()
        assert g.number_of_nodes() == 120 and g.number_of_edges() == len(edges)
        assert sorted(g.edges(data="closeness")) == list(zip(edges.source.tolist(), edges.target.tolist(),
                                                               edges.closeness.tolist()))


def test_adjacency_reads_match_networkx():
    from recagent.social import Adjacency, homophily_edges

    rng = np.random.default_rng(1)
    tastes = rng.dirichlet(np.full(5, 0.5), size=400)
    edges = homophily_edges(tastes, 6, 3.0, np.random.default_rng(2))
    g = edges.to_graph()
    g.add_node(400)  # an isolated agent
    adj, from_edges = Adjacency.from_graph(g), edges.adjacency()
    assert np.array_equal(adj.indices, from_edges.indices) and np.array_equal(adj.closeness, from_edges.closeness)
    assert adj.n == 401 and adj.n_edges == g.number_of_edges() and adj.degree[400] == 0
    for a in (0, 17, 399, 400):
        assert adj.neighbours(a).tolist() == sorted(g.neighbors(a))
        assert adj.closeness_of(a).tolist() == [g.edges[a, f]["closeness"] for f in sorted(g.neighbors(a))]
    owner, contact, closeness = adj.contacts([5, 400, 6])
    assert contact.tolist() == sorted(g.neighbors(5)) + sorted(g.neighbors(6))
    assert owner.tolist() == [0] * g.degree[5] + [2] * g.degree[6]
    friend = sorted(g.neighbors(3))[0]
    stranger = next(v for v in range(400) if v != 3 and not g.has_edge(3, v))
    assert adj.pair_closeness([3, 3], [friend, stranger], default=0.5).tolist() == [g.edges[3, friend]["closeness"], 0.5]
    assert sorted(adj.to_graph().edges(data="closeness")) == sorted(g.edges(data="closeness"))


def test_pick_neighbour_follows_closeness_times_taste():
    from recagent.social import Adjacency

    # agent 0 knows 1, 2, 3; the weights of the simulation's pick_friend
    taste = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.1]])
    adj = Adjacency.from_edges(5, [0, 0, 0], [1, 2, 3], [0.9, 0.9, 0.3])
    weights = np.array([0.9, 0.9, 0.3]) * (1 + taste[[1, 2, 3]] @ taste[0] / (taste[0] @ taste[0]))
    picks = adj.pick_neighbour(np.r_[np.zeros(60000, dtype=int), 4], np.random.default_rng(0), taste)
    assert picks[-1] == -1  # no contacts
    share = np.bincount(picks[:-1], minlength=4)[1:] / 60000
    assert np.abs(share - weights / weights.sum()).max() < 0.01
    chunked = adj.pick_neighbour(np.zeros(1000, dtype=int), np.random.default_rng(3), taste, chunk=7)
    assert np.array_equal(chunked, adj.pick_neighbour(np.zeros(1000, dtype=int), np.random.default_rng(3), taste))


def test_vectorised_watts_strogatz_and_barabasi_albert_match_networkx():
    from recagent.social.graphs import barabasi_albert_edges, watts_strogatz_edges

    ring = watts_strogatz_edges(50, 6, 0.0, np.random.default_rng(0)).to_graph()
    assert sorted(ring.edges) == sorted(tuple(sorted(e)) for e in nx.watts_strogatz_graph(50, 6, 0.0).edges)
    ours = [nx.average_clustering(watts_strogatz_edges(400, 8, 0.2, np.random.default_rng(s)).to_graph())
            for s in range(3)]
    theirs = [nx.average_clustering(nx.watts_strogatz_graph(400, 8, 0.2, seed=s)) for s in range(3)]
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.03
    assert watts_strogatz_edges(9, 8, 1.0, np.random.default_rng(0)).to_graph().number_of_edges() == 36  # complete
    top = []
    for s in range(3):
        edges = barabasi_albert_edges(3000, 8, np.random.default_rng(s))
        degree = np.bincount(np.r_[edges.source, edges.target], minlength=3000)
        assert len(edges) == 4 * (3000 - 5) + 4 and degree.min() == 4  # m distinct targets per new node
        theirs = np.array([d for _, d in nx.barabasi_albert_graph(3000, 4, seed=s).degree])
        top.append((np.sort(degree)[-30:].mean(), np.sort(theirs)[-30:].mean()))
    ours_top, nx_top = np.mean(top, 0)
    assert abs(ours_top - nx_top) < 0.2 * nx_top
