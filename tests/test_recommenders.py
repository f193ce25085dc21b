"""Recommenders and re-rankers on small cases whose right answer is known."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy import sparse

from recagent.data import Catalog, History, Interactions
from recagent.recommenders import RecommenderContext, RecommenderWorld, available_recommenders, make_pipeline


def catalog(n_items: int, genres: np.ndarray | None = None) -> Catalog:
    g = np.zeros((n_items, 2), bool) if genres is None else np.asarray(genres, bool)
    return Catalog(np.arange(100, 100 + n_items), [f"item {i}" for i in range(n_items)], ["A", "B"][:g.shape[1]] or ["A"],
                   g, [""] * n_items)


def inter(pairs, ratings=None) -> Interactions:
    u, i = np.array(pairs).T
    r = np.full(len(u), 4.0) if ratings is None else np.asarray(ratings, float)
    return Interactions(u, i, r, np.arange(len(u)))


def make(name, rerankers=(), seed=0, **params):
    ctx = RecommenderContext(np.random.default_rng(seed), seed, Path("/nonexistent-cache"))
    return make_pipeline(name, params, list(rerankers), ctx)


def excl(n_users, n_items, pairs):
    m = sparse.lil_matrix((n_users, n_items), dtype=bool)
    for u, i in pairs:
        m[u, i] = True
    return m.tocsr()


def test_popular_returns_most_consumed_unseen_items_and_honours_exclude():
    # item consumption counts: 3 -> 4 times, 1 -> 3, 0 -> 2, 2 -> 1, 4 -> 0
    data = inter([(0, 3), (1, 3), (2, 3), (3, 3), (0, 1), (1, 1), (2, 1), (0, 0), (1, 0), (2, 2)])
    rec = make("popular")
    rec.fit(catalog(5), data)
    out = rec.recommend(np.array([3, 4]), 3, excl(2, 5, [(0, 3)]))  # row 0 (user 3) has seen item 3
    assert out[0].tolist() == [1, 0, 2]
    assert out[1].tolist() == [3, 1, 0]
    rec.update(inter([(4, 4)] * 5))  # the simulation's own watches count
    assert rec.recommend(np.array([0]), 1)[0, 0] == 4


def test_recommend_pads_with_minus_one_when_catalog_runs_out():
    rec = make("itemcf")
    rec.fit(catalog(3), inter([(0, 0), (0, 1), (1, 1)]))
    out = rec.recommend(np.array([0]), 4, excl(1, 3, [(0, 0), (0, 1)]))
    assert out[0].tolist() == [2, -1, -1, -1]


def test_itemcf_recommends_the_co_consumed_item():
    # items 0 and 1 always go together; item 2 is more popular but never with 0
    pairs = [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1), (3, 2), (4, 2), (5, 2), (6, 2), (7, 0)]
    rec = make("itemcf")
    rec.fit(catalog(3), inter(pairs))
    assert rec.recommend(np.array([7]), 1, excl(1, 3, [(0, 0)]))[0, 0] == 1
    # online update: user 8 watches item 2 with item 1 many times -> 1 and 2 become similar too
    rec.update(inter([(8 + k, 2) for k in range(20)] + [(8 + k, 1) for k in range(20)]))
    assert rec.sim[2, 1] > 0


def block_data(n_users=40, n_items=20, seed=0):
    """Users < n/2 consume only items < n_items/2, the others only the upper half."""
    rng = np.random.default_rng(seed)
    pairs = []
    for u in range(n_users):
        lo = 0 if u < n_users // 2 else n_items // 2
        for i in rng.choice(np.arange(lo, lo + n_items // 2), size=6, replace=False):
            pairs.append((u, int(i)))
    return inter(pairs)


def test_bpr_mf_learns_the_blocks_and_retrains_online():
    data = block_data()
    rec = make("mf", dim=8, epochs=60, lr=0.05)
    rec.fit(catalog(20), data)
    seen = sparse.csr_matrix((np.ones(len(data)), (data.users, data.items)), shape=(40, 20)).astype(bool)
    users = np.arange(40)
    out = rec.recommend(users, 3, seen)
    in_block = np.where(users[:, None] < 20, out < 10, out >= 10)
    assert in_block.mean() > 0.9
    # a new user (id 40) who watches upper-block items is served from the upper block after update
    before = rec.train(0)
    rec.update(inter([(40, 12), (40, 13), (40, 15)]))
    assert rec.user_emb.shape[0] == 41 and np.isnan(before)
    rec.train(40)
    assert (rec.recommend(np.array([40]), 3, excl(1, 20, [(0, 12), (0, 13), (0, 15)])) >= 10).mean() >= 2 / 3


def test_bpr_mf_is_reproducible_for_a_seed():
    a, b = make("mf", seed=5, epochs=3), make("mf", seed=5, epochs=3)
    a.fit(catalog(20), block_data())
    b.fit(catalog(20), block_data())
    assert np.allclose(a.scores(np.arange(5)), b.scores(np.arange(5)))


def test_sasrec_learns_next_item_of_a_cycle():
    # every user walks the cycle 0 -> 1 -> ... -> 7 -> 0 from a random start
    rng = np.random.default_rng(1)
    pairs = []
    for u in range(60):
        start = int(rng.integers(8))
        pairs += [(u, (start + t) % 8) for t in range(12)]
    rec = make("sasrec", epochs=60, max_len=10, lr=0.01)
    rec.fit(catalog(8), inter(pairs))
    users = np.arange(60)
    last = np.array([pairs[u * 12 + 11][1] for u in users])
    top = rec.recommend(users, 1)[:, 0]
    assert (top == (last + 1) % 8).mean() > 0.8


def test_content_recommender_follows_liked_genres():
    genres = np.array([[1, 0]] * 5 + [[0, 1]] * 5)
    rec = make("content", features="genres")
    # user 0 likes genre A items and dislikes a genre B item
    rec.fit(catalog(10, genres), inter([(0, 0), (0, 1), (0, 5), (1, 6)], [5, 5, 1, 5]))
    out = rec.recommend(np.array([0, 1]), 3, excl(2, 10, [(0, 0), (0, 1), (0, 5), (1, 6)]))
    assert set(out[0]) <= {2, 3, 4}
    assert set(out[1]) <= {5, 7, 8, 9}


def test_social_recommender_weights_friends_likes_by_closeness():
    graph = nx.Graph()
    graph.add_nodes_from(range(4))
    graph.add_edge(0, 1, closeness=0.9)
    graph.add_edge(0, 2, closeness=0.2)
    history = History(20)
    history.add([11, 12, 12, 13], [7, 8, 3, 9], [5, 5, 1, 5])  # agent 1 likes 7, agent 2 likes 8 (dislikes 3)
    rec = make("social")
    rec.fit(catalog(10), inter([(14, 4)] * 3))  # item 4 is popular, but no friend watched it
    rec.bind(RecommenderWorld(graph=graph, users=np.array([10, 11, 12, 13]), history=history))
    out = rec.recommend(np.array([10]), 4)
    assert out[0, :3].tolist() == [7, 8, 3]  # liked by the closer friend first; the disliked one last
    graph.add_edge(0, 3, closeness=1.0)  # the live graph changes: agent 3 (likes 9) is now the closest
    assert rec.recommend(np.array([10]), 1)[0, 0] == 9


def test_mmr_with_lambda_zero_picks_a_different_genre_second():
    genres = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1]])
    rec = make("popular", [("mmr", {"lambda": 0.0})])
    rec.fit(catalog(5, genres), inter([(0, 0)] * 5 + [(0, 1)] * 4 + [(0, 2)] * 3 + [(0, 3)] * 2 + [(0, 4)]))
    out = rec.recommend(np.array([1]), 2)
    assert out[0].tolist() == [0, 3]
    assert rec.name == "popular+mmr"
    plain = make("popular", [("mmr", {"lambda": 1.0})])
    plain.fit(catalog(5, genres), inter([(0, 0)] * 5 + [(0, 1)] * 4 + [(0, 2)] * 3 + [(0, 3)] * 2 + [(0, 4)]))
    assert plain.recommend(np.array([1]), 2)[0].tolist() == [0, 1]


def test_random_k_replaces_the_last_slot_of_each_block_with_unseen_items():
    counts = [(0, i) for i in range(20) for _ in range(20 - i)]  # popularity falls with the index
    rec = make("popular", [("random_k", {"every": 2})], seed=4)
    rec.fit(catalog(20), inter(counts))
    seen = excl(30, 20, [(r, 19) for r in range(30)])
    out = rec.recommend(np.arange(30), 4, seen)
    assert (out[:, [0, 2]] == [0, 1]).all()  # the base's first two keep their order
    randoms = out[:, [1, 3]]
    assert (randoms != 19).all() and (randoms >= 0).all()
    assert not np.isin(randoms, [0, 1]).any()
    assert len(np.unique(randoms)) > 5  # actually random across users


def test_popularity_penalty_demotes_blockbusters():
    counts = [(0, 0)] * 100 + [(0, 1)] * 3 + [(0, 2)] * 2
    rec = make("popular", [("popularity_penalty", {"beta": 5.0})])
    rec.fit(catalog(3), inter(counts))
    assert rec.recommend(np.array([1]), 3)[0, 0] != 0


def test_every_builtin_is_registered():
    assert {"random", "popular", "itemcf", "mf", "sasrec", "content", "social"} <= set(available_recommenders())


def test_entry_point_registration(tmp_path, monkeypatch, scenario_file):
    """A third-party package registers a recommender through the `recagent.recommenders` group."""
    pkg = tmp_path / "site"
    (pkg / "thirdparty_rec").mkdir(parents=True)
    (pkg / "thirdparty_rec" / "__init__.py").write_text(
        "import numpy as np\n"
        "from recagent.recommenders import top_k\n"
        "class LowestId:\n"
        "    name = 'lowest_id'\n"
        "    def fit(self, catalog, interactions): self.n = len(catalog)\n"
        "    def recommend(self, user_ids, k, exclude=None):\n"
        "        return top_k(np.tile(-np.arange(self.n, dtype=float), (len(user_ids), 1)), k, exclude)\n"
        "    def update(self, feedback): pass\n"
        "def make(context, **params): return LowestId()\n")
    dist = pkg / "thirdparty_rec-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-rec\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[recagent.recommenders]\nlowest_id = thirdparty_rec:make\n")
    monkeypatch.syspath_prepend(str(pkg))
    assert "lowest_id" in available_recommenders()
    from recagent.simulation import run_scenario

    path = scenario_file({"recommender": {"name": "lowest_id"}, "simulation": {"steps": 2}})
    result = run_scenario(path, out=tmp_path / "run", progress=False)
    import json
    import sqlite3

    con = sqlite3.connect(result.run_dir / "events.sqlite")
    pages = [json.loads(p) for (p,) in con.execute("SELECT payload FROM events WHERE kind = 'page'")]
    assert pages and all(p["recommender"] == "lowest_id" for p in pages)
    first = [p["items"][0] for p in pages if p["page"] == 0]
    assert min(first) == result.model.catalog.raw_ids[0] or all(f <= result.model.catalog.raw_ids[10] for f in first)


@pytest.mark.parametrize("name", ["itemcf", "mf", "sasrec", "social"])
def test_learning_recommenders_run_in_a_simulation(name, scenario_file, tmp_path):
    from recagent.simulation import run_scenario

    params = {"epochs": 2} if name in ("mf", "sasrec") else {}
    path = scenario_file({"recommender": {"name": name, "params": params, "retrain_every": 2,
                                          "rerankers": [{"name": "mmr", "params": {"lambda": 0.7}}]},
                          "simulation": {"steps": 4}})
    result = run_scenario(path, out=tmp_path / "run", progress=False)
    assert result.info["counts"].get("watch", 0) > 0
    assert result.model.recommender.name == f"{name}+mmr"
