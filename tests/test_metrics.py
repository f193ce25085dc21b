"""Cocoon and influence measures on hand-computed examples, and the per-step columns of a real run."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from recagent.metrics import COLUMNS, Cascades, entropy_bits, gini, intra_list_diversity, jaccard_pairs
from recagent.metrics.measures import cosine_distance_rows, rarefied_coverage, rarefied_entropy_bits
from recagent.metrics.tracker import RAREFACTION_DRAWS
from recagent.scenario_loading import load_scenario
from recagent.simulation import build_model, load_dataset, run_scenario


def test_entropy_bits():
    assert entropy_bits(np.array([[1, 1], [3, 0], [0, 0], [1, 1]])).tolist() == [1.0, 0.0, 0.0, 1.0]
    assert entropy_bits(np.array([[2, 2, 2, 2]]))[0] == pytest.approx(2.0)
    assert entropy_bits(np.array([[1, 3]]))[0] == pytest.approx(-(0.25 * np.log2(0.25) + 0.75 * np.log2(0.75)))


def test_rarefied_entropy_is_the_mean_over_every_subset():
    """Against brute force: the mean plug-in entropy over all m-subsets of each agent's watches."""
    from itertools import combinations

    rng = np.random.default_rng(0)
    genres = (rng.random((30, 6)) < 0.3).astype(float)
    genres[genres.sum(1) == 0, 0] = 1
    groups = np.array([2] * 7 + [0] * 5 + [1] * 3)
    items = rng.integers(0, 30, len(groups))
    got = rarefied_entropy_bits(groups, items, genres, 4, 4, np.random.default_rng(1), draws=4000)
    for g in (0, 2):
        subsets = [genres[list(c)].sum(0) for c in combinations(items[groups == g], 4)]
        assert got[g] == pytest.approx(entropy_bits(np.array(subsets)).mean(), abs=0.01)
    assert np.isnan(got[1]) and np.isnan(got[3])  # 3 watches (< m) and none
    exactly_m = rarefied_entropy_bits(groups, items, genres, 4, 5, np.random.default_rng(2), draws=3)
    assert exactly_m[0] == pytest.approx(entropy_bits(genres[items[groups == 0]].sum(0))[0])  # one subset only


def test_plug_in_entropy_changes_with_volume_and_the_rarefied_one_does_not():
    """Watches drawn from one fixed distribution over multi-genre items, 5 or 40 per agent: the plug-in
    genre entropy rises by more than half a bit, the entropy at 5 watches stays within 0.03 bits."""
    rng = np.random.default_rng(7)
    genres = (rng.random((400, 12)) < 0.15).astype(float)
    genres[genres.sum(1) == 0, rng.integers(0, 12)] = 1
    p = rng.dirichlet(np.full(400, 0.3))
    plug_in, rarefied = [], []
    for n in (5, 40):
        agents = 2000
        groups = np.repeat(np.arange(agents), n)
        items = rng.choice(400, size=agents * n, p=p)
        counts = np.zeros((agents, 12))
        np.add.at(counts, groups, genres[items])
        plug_in.append(entropy_bits(counts).mean())
        rarefied.append(np.nanmean(rarefied_entropy_bits(groups, items, genres, agents, 5, rng, draws=16)))
    assert plug_in[1] - plug_in[0] > 0.5
    assert rarefied[1] == pytest.approx(rarefied[0], abs=0.03)


def test_rarefied_coverage():
    # draws a, a, b of items a, b, c; pairs {a,a} {a,b} {a,b} cover 1, 2, 2 of 3 items: 5/9 on average
    assert rarefied_coverage(np.array([2, 1, 0]), 2) == pytest.approx(5 / 9)
    assert rarefied_coverage(np.array([2, 1, 0]), 3) == pytest.approx(2 / 3)  # every draw: the plug-in share
    assert np.isnan(rarefied_coverage(np.array([2, 1, 0]), 4))
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.full(1000, 0.2))
    plug_in, rarefied = [], []
    for n in (500, 5000):  # one distribution, two volumes
        counts = np.bincount(rng.choice(1000, n, p=p), minlength=1000)
        plug_in.append((counts > 0).mean())
        rarefied.append(np.mean([rarefied_coverage(np.bincount(rng.choice(1000, n, p=p), minlength=1000), 500)
                                 for _ in range(20)]))
    assert plug_in[1] - plug_in[0] > 0.1
    assert rarefied[1] == pytest.approx(rarefied[0], abs=0.01)


def test_gini():
    assert gini(np.array([1, 1, 1, 1])) == 0.0
    assert gini(np.array([0, 0, 0, 1])) == pytest.approx(0.75)
    assert gini(np.array([1, 2, 3, 4])) == pytest.approx(0.25)  # 2*(1+4+9+16)/(4*10) - 5/4
    assert gini(np.zeros(3)) == 0.0


def test_intra_list_diversity():
    vectors = np.array([[1, 0], [0, 1], [1, 0], [1, 1]], float)
    ild = intra_list_diversity(np.array([[0, 1, 2], [0, 2, -1], [3, -1, -1]]), vectors)
    assert ild[0] == pytest.approx(2 / 3)  # pairs: (0,1) 1, (0,2) 0, (1,2) 1
    assert ild[1] == pytest.approx(0.0)
    assert np.isnan(ild[2])
    assert intra_list_diversity(np.array([[0, 3]]), vectors)[0] == pytest.approx(1 - 1 / np.sqrt(2))


def test_jaccard_pairs():
    sets = sparse.csr_matrix(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0], [1, 0, 0], [0, 0, 0]]))
    got = jaccard_pairs(sets, np.array([0, 2, 0, 4]), np.array([1, 3, 2, 4]))
    assert got.tolist() == pytest.approx([1 / 3, 1.0, 0.5, 0.0])


def test_taste_drift_is_cosine_distance():
    d = cosine_distance_rows(np.array([[1.0, 0], [1, 1]]), np.array([[1.0, 0], [1, 0]]))
    assert d.tolist() == pytest.approx([0.0, 1 - 1 / np.sqrt(2)])


def test_cascades_size_depth_breadth():
    c = Cascades()
    for speaker, listener in [(0, 1), (0, 2), (1, 3), (3, 4), (2, 1)]:  # (2 -> 1): 1 already heard it
        c.hear(7, speaker, listener)
    c.hear(8, 5, 6)
    assert c.per_item() == [{"item": 7, "size": 5, "depth": 3, "breadth": 2},
                            {"item": 8, "size": 2, "depth": 1, "breadth": 1}]
    s = c.stats()
    assert (s["cascades"], s["cascade_size_max"], s["cascade_depth_max"], s["cascade_breadth_max"]) == (2, 5, 3, 2)
    assert s["cascade_size_mean"] == 3.5


def events(run_dir):
    con = sqlite3.connect(run_dir / "events.sqlite")
    rows = con.execute("SELECT step, agent_id, kind, item_id, target_agent_id, payload FROM events ORDER BY rowid")
    df = pd.DataFrame(rows.fetchall(), columns=["step", "agent", "kind", "item", "target", "payload"])
    df["payload"] = [json.loads(p) if p else {} for p in df["payload"]]
    return df


@pytest.mark.slow
def test_step_columns_agree_with_the_event_log(scenario_file, tmp_path):
    path = scenario_file({"simulation": {"steps": 8, "activation": {"kind": "random", "probability": 0.6}},
                          "agents": {"count": 30},
                          "metrics": {"window": 3, "jaccard_pairs": 10000, "rarefaction": 2,
                                      "coverage_rarefaction": 20}})
    result = run_scenario(path, out=tmp_path / "run", progress=False)
    metrics = pd.read_csv(result.run_dir / "metrics.csv")
    assert set(COLUMNS) <= set(metrics.columns)
    ev = events(result.run_dir)
    model = result.model
    watches = ev[ev.kind == "watch"]
    assert len(watches) > 20
    last = metrics.iloc[-1]

    heard = watches.payload.map(lambda p: p.get("heard_from") is not None)
    assert last.influence_share == pytest.approx(heard.mean())

    item_index = {int(r): i for i, r in enumerate(model.catalog.raw_ids)}
    n_items = len(model.catalog)
    consumed = np.bincount([item_index[i] for i in watches["item"]], minlength=n_items)
    assert last.coverage_consumption == pytest.approx((consumed > 0).mean())
    assert last.gini_consumption == pytest.approx(gini(consumed))
    shown = np.zeros(n_items)
    for p in ev[ev.kind == "page"].payload:
        for r in p["items"]:
            shown[item_index[r]] += 1
    assert last.gini_exposure == pytest.approx(gini(shown))
    assert last.coverage_consumption_rarefied == pytest.approx(rarefied_coverage(consumed, 20))
    assert last.coverage_exposure_rarefied == pytest.approx(rarefied_coverage(shown, 20))
    assert last.coverage_consumption_rarefied < last.coverage_consumption

    # homogenisation: few agents, so every pair is used -> exact mean Jaccard of watched sets
    sets = {}
    for a, i in zip(watches.agent, watches["item"]):
        sets.setdefault(a, set()).add(i)
    who = sorted(sets)
    pairs = [(a, b) for k, a in enumerate(who) for b in who[k + 1:]]
    exact = np.mean([len(sets[a] & sets[b]) / len(sets[a] | sets[b]) for a, b in pairs])
    assert last.homogenisation == pytest.approx(exact)

    # sliding window of 3 steps: entropy of the genres watched in steps 5..7
    g = model.catalog.genres.astype(float)
    recent = watches[watches.step >= 5]
    counts = np.zeros((model.n_agents, g.shape[1]))
    for a, i in zip(recent.agent, recent["item"]):
        counts[a] += g[item_index[i]]
    active = counts.sum(1) > 0
    assert last.genre_entropy_window == pytest.approx(entropy_bits(counts[active]).mean())

    # entropies at 2 watches (shown items) per agent: the tracker's own generator for the last step
    rng = np.random.default_rng([model.scenario.seed, int(metrics.step.iloc[-1]), 11])
    items = np.array([item_index[i] for i in watches["item"]])
    every = rarefied_entropy_bits(watches.agent.to_numpy(), items, g, model.n_agents, 2, rng, RAREFACTION_DRAWS)
    assert last.genre_entropy_rarefied == pytest.approx(np.nanmean(every))
    assert np.isfinite(every).sum() >= 3
    window = rarefied_entropy_bits(recent.agent.to_numpy(), [item_index[i] for i in recent["item"]], g,
                                   model.n_agents, 2, rng, RAREFACTION_DRAWS)
    assert last.genre_entropy_window_rarefied == pytest.approx(np.nanmean(window), nan_ok=True)
    pages = ev[ev.kind == "page"]
    shown_agents = np.concatenate([[a] * len(p["items"]) for a, p in zip(pages.agent, pages.payload)])
    shown_items = [item_index[r] for p in pages.payload for r in p["items"]]
    exposure = rarefied_entropy_bits(shown_agents, shown_items, g, model.n_agents, 2, rng, RAREFACTION_DRAWS)
    assert last.exposure_genre_entropy_rarefied == pytest.approx(np.nanmean(exposure))

    # alignment: cosine of each watcher's dataset-history genre profile with its in-run watches
    start = np.zeros_like(counts)
    consumed = np.zeros_like(counts)
    for a, u in enumerate(model.users):
        for i in model.dataset.interactions.items[model.dataset.interactions.users == u]:
            start[a] += g[i]
    for a, i in zip(watches.agent, watches["item"]):
        consumed[a] += g[item_index[i]]
    w = consumed.sum(1) > 0
    cos = (start[w] * consumed[w]).sum(1) / np.linalg.norm(start[w], axis=1) / np.linalg.norm(consumed[w], axis=1)
    assert last.taste_alignment == pytest.approx(cos.mean())

    # cascades rebuilt from the hear events
    c = Cascades()
    for _, e in ev[ev.kind == "hear"].iterrows():
        c.hear(int(e["item"]), int(e.target), int(e.agent))
    assert last.cascades == c.stats()["cascades"]
    assert last.cascade_depth_max == c.stats()["cascade_depth_max"]

    # per-step ILD of pages by genre, step 0
    pages0 = [p["items"] for p in ev[(ev.kind == "page") & (ev.step == 0)].payload]
    lists = np.full((len(pages0), max(map(len, pages0))), -1)
    for r, p in enumerate(pages0):
        lists[r, :len(p)] = [item_index[x] for x in p]
    assert metrics.ild_genre.iloc[0] == pytest.approx(np.nanmean(intra_list_diversity(lists, g)))

    table = model.step_metrics.agent_table()
    assert table.watches.sum() == len(watches)
    assert table.influenced_watches.sum() == heard.sum()


def test_measuring_does_not_change_the_run(scenario_file):
    """The tracker has its own generator: the model's random stream is the same with or without it."""
    scenario = load_scenario(scenario_file())
    dataset = load_dataset(scenario)
    a, b = build_model(scenario, dataset), build_model(scenario, dataset)
    for _ in range(3):
        a.step()
        b.step()
        b.step_metrics.value("homogenisation")  # extra, out-of-band reads
    assert a.rng.random() == b.rng.random()


def test_reading_between_steps_changes_no_column(scenario_file):
    """Out-of-band reads between steps (a notebook, the web page) return the last step's values and
    fold nothing: every column of every step is the same as in a run nobody read from."""
    scenario = load_scenario(scenario_file({"simulation": {"activation": {"kind": "random", "probability": 0.8}}}))
    dataset = load_dataset(scenario)
    quiet, read = build_model(scenario, dataset), build_model(scenario, dataset)
    seen = []
    for _ in range(5):
        quiet.step()
        read.step()
        seen.append({c: read.step_metrics.value(c) for c in COLUMNS})  # read every column, twice
        assert {c: read.step_metrics.value(c) for c in COLUMNS} == pytest.approx(seen[-1], nan_ok=True)
    a = quiet.datacollector.get_model_vars_dataframe()
    b = read.datacollector.get_model_vars_dataframe()
    pd.testing.assert_frame_equal(a, b)
    # what was read between steps is what the DataCollector recorded for that step
    for step, values in enumerate(seen):
        assert values == pytest.approx(b.iloc[step][list(COLUMNS)].to_dict(), nan_ok=True)
    assert b["watches"].sum() > 10  # steps with watches, so a step counted twice or lost would show
    assert read.step_metrics.watches == quiet.step_metrics.watches == b["watches"].sum()
    pd.testing.assert_frame_equal(quiet.step_metrics.agent_table(), read.step_metrics.agent_table())


def test_conformity_counts_agreement_with_friends_earlier_likes(scenario_file):
    scenario = load_scenario(scenario_file({"agents": {"count": 4}, "social": {"graph": "none"}}))
    model = build_model(scenario, load_dataset(scenario))
    import networkx as nx

    model.graph.add_edges_from([(0, 1), (0, 2)], closeness=1.0)
    tracker = model.step_metrics
    item = 5
    tracker.rated.update([1, 2], [item, item], [5.0, 4.0])  # both friends liked it before
    from recagent.simulation.events import Event

    raw = int(model.catalog.raw_ids[item])
    watch = Event(0, "", 0, "watch", raw, None, {"rating": 2.0, "heard_from": None})
    v = tracker.compute(0, [watch])
    assert (v["conformity"], v["conformity_n"]) == (0.0, 1)  # agent 0 disliked what friends liked
    watch3 = Event(1, "", 3, "watch", raw, None, {"rating": 5.0, "heard_from": 0})
    v = tracker.compute(1, [watch3])  # agent 3 has no friends: not counted
    assert v["conformity_n"] == 1 and v["influence_share"] == 0.5 and isinstance(model.graph, nx.Graph)


def test_rarefied_entropy_of_a_catalog_without_genres_is_zero():
    """A CSV dataset without an items file has no genres: every eligible agent's entropy is 0 (it crashed)."""
    groups, items = np.array([0, 0, 0, 1]), np.array([0, 1, 2, 3])
    got = rarefied_entropy_bits(groups, items, np.zeros((4, 0)), 2, 2, np.random.default_rng(0))
    assert got[0] == 0.0 and np.isnan(got[1])  # agent 1 has fewer than m = 2 watches


# --- consumption measures of the published findings (recagent/metrics/consumption.py) -----------

from recagent.metrics import consumption as cm  # noqa: E402


def test_mean_pairwise_jaccard_by_hand():
    # {0,1}, {1,2}, {3}, {} : pairs (0,1) 1/3, (0,2) 0, (1,2) 0; the empty set is left out
    sets = cm.consumption_sets([0, 0, 1, 1, 2, 0], [0, 1, 1, 2, 3, 1], 4, 5)  # a repeat counts once
    assert sets.toarray().sum() == 5
    assert cm.mean_pairwise_jaccard(sets) == pytest.approx(1 / 9)
    assert np.isnan(cm.mean_pairwise_jaccard(cm.consumption_sets([0], [1], 3, 4)))
    # the sampled path (many users) estimates the same mean
    rng = np.random.default_rng(1)
    many = sparse.csr_matrix(rng.random((300, 40)) < 0.2)
    exact = cm.mean_pairwise_jaccard(many)
    old = cm.EXACT_PAIRS_MAX_USERS
    try:
        cm.EXACT_PAIRS_MAX_USERS = 10
        assert cm.mean_pairwise_jaccard(many, np.random.default_rng(2), pairs=100_000) == pytest.approx(exact, abs=3e-3)
    finally:
        cm.EXACT_PAIRS_MAX_USERS = old


def test_expected_random_jaccard_by_hand_and_by_simulation():
    # two 1-item sets of 4 items: the same item with probability 1/4, Jaccard 1 then, else 0
    assert cm.expected_random_jaccard(np.array([1, 1]), 4) == pytest.approx(0.25)
    # sizes 2 and 2 of 4: I = 0 (1/6), 1 (4/6, J = 1/3), 2 (1/6, J = 1)
    assert cm.expected_random_jaccard(np.array([2, 2, 0]), 4) == pytest.approx(4 / 6 / 3 + 1 / 6)
    sizes = np.array([3, 5, 5, 8])
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(3000):
        rows = np.repeat(np.arange(4), sizes)
        cols = np.concatenate([rng.choice(20, s, replace=False) for s in sizes])
        draws.append(cm.mean_pairwise_jaccard(cm.consumption_sets(rows, cols, 4, 20)))
    assert cm.expected_random_jaccard(sizes, 20) == pytest.approx(np.mean(draws), abs=4e-3)


def test_rarefied_jaccard_is_volume_free_and_matches_hand_values():
    # m = 1 of {0,1}, {1,2}, {3}: only (0,1) can meet, both pick item 1 with probability 1/4 -> mean 1/12
    sets = cm.consumption_sets([0, 0, 1, 1, 2], [0, 1, 1, 2, 3], 3, 5)
    assert cm.rarefied_jaccard(sets, 1, np.random.default_rng(0), draws=3000) == pytest.approx(1 / 12, abs=0.01)
    assert np.isnan(cm.rarefied_jaccard(sets, 3, np.random.default_rng(0)))  # nobody has 3 items
    # uniform random sets: raw Jaccard rises with the set size; a uniform m-subset of a uniform set is a
    # uniform m-set, so the rarefied Jaccard is the same at any size, and equals its chance level
    rng = np.random.default_rng(3)

    def population(n_each):
        cols = np.concatenate([rng.choice(200, n_each, replace=False) for _ in range(60)])
        return cm.consumption_sets(np.repeat(np.arange(60), n_each), cols, 60, 200)

    few, many = population(5), population(30)
    assert cm.mean_pairwise_jaccard(many) > cm.mean_pairwise_jaccard(few) * 4
    chance = cm.expected_random_jaccard(np.full(60, 5), 200)
    assert cm.rarefied_jaccard(few, 5, np.random.default_rng(4), draws=1) == cm.mean_pairwise_jaccard(few)
    assert cm.rarefied_jaccard(many, 5, np.random.default_rng(5), draws=40) == pytest.approx(chance, rel=0.1)
    # and the excess over chance of the raw sets is about 1 at both sizes
    for sets, n in ((few, 5), (many, 30)):
        assert cm.mean_pairwise_jaccard(sets) / cm.expected_random_jaccard(np.full(60, n), 200) == pytest.approx(
            1, abs=0.12)


def test_utility_loss_popularity_and_group_means():
    assert cm.utility_loss(0.6, 0.8) == pytest.approx(0.25)
    assert cm.utility_loss(0.9, 0.8) < 0 and np.isnan(cm.utility_loss(0.5, 0.0))
    # item 0 rated by users 0 and 1 (user 0 twice), item 2 by user 1, of 4 users
    assert cm.item_popularity([0, 0, 0, 2], [0, 0, 1, 1], 3, 4).tolist() == [0.5, 0.0, 0.25]
    assert cm.mean_by([1.0, 3.0, 5.0], [0, 0, 2], 3)[[0, 2]].tolist() == [2.0, 5.0]
    assert np.isnan(cm.mean_by([1.0], [0], 2)[1])


def test_genre_distributions_and_miscalibration_by_hand():
    genres = np.array([[1, 0], [1, 1], [0, 1]])
    d = cm.genre_distributions([0, 0, 1], [0, 1, 2], genres, 3)
    # agent 0: item 0 (1, 0) + item 1 (0.5, 0.5) -> (0.75, 0.25); agent 1: (0, 1); agent 2: nothing
    assert d.tolist() == [[0.75, 0.25], [0.0, 1.0], [0.0, 0.0]]
    p, q = np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]])
    q_mix = 0.99 * q + 0.01 * p
    expected = 0.5 * np.log2(0.5 / q_mix[0, 0]) + 0.5 * np.log2(0.5 / q_mix[0, 1])
    assert cm.miscalibration(p, q)[0] == pytest.approx(expected)
    assert cm.miscalibration(p, p)[0] == pytest.approx(0.0)


def test_entropy_by_round_and_its_rarefied_version():
    genres = np.eye(2)
    # round 0: agent 0 likes genre 0 and genre 1 (1 bit); round 1: agent 0 genre 0 twice (0 bits), agent 1 genre 1
    agents, items, rounds = [0, 0, 0, 0, 1], [0, 1, 0, 0, 1], [0, 0, 1, 1, 1]
    assert cm.entropy_by_round(agents, items, rounds, genres, 2, 3)[:2].tolist() == [1.0, 0.0]
    assert np.isnan(cm.entropy_by_round(agents, items, rounds, genres, 2, 3)[2])
    rare = cm.rarefied_entropy_by_round(agents, items, rounds, genres, 2, 2, 2, np.random.default_rng(0))
    assert rare.tolist() == [1.0, 0.0]  # exactly 2 items each: their plug-in entropy; agent 1 has 1 < m
