"""The world's per-person state in columns (issue 17): each vectorised structure gives what the
per-agent Python it replaced gave, checked against that code written out here as the reference."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from recagent.agents.persona import derive_role_sets
from recagent.agents.word_of_mouth import SENTIMENT_WEIGHT, SENTIMENTS, Hearing, WordOfMouth
from recagent.metrics.conformity import LatestRatings, friend_agreement
from recagent.metrics.tracker import top_influencers
from recagent.scenario_loading import load_scenario
from recagent.simulation.build import build_model, load_dataset
from recagent.social.adjacency import Adjacency


def random_hearings(rng, n_agents=30, n_items=12, n=400):
    return [(int(rng.integers(n_agents)), Hearing(int(rng.integers(n_items)), int(rng.integers(n_agents)), step,
                                                  SENTIMENTS[int(rng.integers(3))], float(rng.random()),
                                                  ("chat", "post")[int(rng.integers(2))]))
            for step in range(8) for _ in range(n // 8)]


def test_word_of_mouth_answers_as_the_per_agent_dicts_did():
    rng = np.random.default_rng(5)
    wom, heard = WordOfMouth(12), {}
    for listener, h in random_hearings(rng):
        wom.hear(listener, h)
        heard.setdefault(listener, {}).setdefault(h.item, []).append(h)
    agents = np.arange(30)
    grid = rng.integers(-1, 12, (30, 7))
    got = wom.pressure(agents[:, None], grid)
    for a in range(30):
        mine = heard.get(a, {})
        for c, item in enumerate(grid[a]):
            want = sum(SENTIMENT_WEIGHT[h.sentiment] * h.closeness for h in mine.get(int(item), ())) if item >= 0 else 0
            assert got[a, c] == pytest.approx(want, abs=1e-12)
            first = mine.get(int(item))
            assert wom.first_source(a, item) == (first[0].source if first and item >= 0 else -1)
        scored = [(sum(SENTIMENT_WEIGHT[h.sentiment] * h.closeness for h in hs), hs[-1].step, i) for i, hs in mine.items()]
        assert wom.wanted_items(a) == [i for w, _, i in sorted(scored, key=lambda t: (-t[0], -t[1], t[2])) if w > 0]
        assert wom.has_wanted([a])[0] == any(w > 0 for w, _, _ in scored)
        assert {i: [(h.source, h.step, h.sentiment, h.via) for h in hs] for i, hs in wom.hearings(a).items()} == \
               {i: [(h.source, h.step, h.sentiment, h.via) for h in hs] for i, hs in mine.items()}
    rows, items = wom.wanted(np.array([7, 3, 11]))
    assert [items[rows == r].tolist() for r in range(3)] == [wom.wanted_items(a) for a in (7, 3, 11)]


def test_friend_agreement_counts_as_the_sequential_loop_did():
    rng = np.random.default_rng(2)
    n, n_items, like = 40, 15, 4.0
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, n, (120, 2)) if a != b}
    source, target = np.array(sorted({(min(p), max(p)) for p in pairs})).T
    adjacency = Adjacency.from_edges(n, source, target)
    start = (rng.integers(0, n, 200), rng.integers(0, n_items, 200), rng.integers(1, 6, 200).astype(float))
    rated = [dict() for _ in range(n)]
    for a, i, r in zip(*start):
        rated[a][i] = r
    store = LatestRatings(*start, n_items)
    for _ in range(3):  # three steps, with repeated watchers and items inside a step
        agents, items = rng.integers(0, n, 150), rng.integers(0, n_items, 150)
        ratings = rng.integers(1, 6, 150).astype(float)
        conform_n = agree = 0
        for a, i, r in zip(agents.tolist(), items.tolist(), ratings.tolist()):
            likes = [rated[f][i] >= like for f in adjacency.neighbours(a).tolist() if i in rated[f]]
            if likes and sum(likes) / len(likes) != 0.5:
                conform_n += 1
                agree += int((r >= like) == (sum(likes) / len(likes) > 0.5))
            rated[a][i] = r
        assert friend_agreement(store, adjacency, agents, items, ratings, like) == (conform_n, agree)
        assert conform_n > 10


def test_top_influencer_is_counters_most_common():
    rng = np.random.default_rng(1)
    agents, sources = rng.integers(0, 20, 300), rng.integers(0, 6, 300)
    counters = [Counter() for _ in range(25)]
    for a, s in zip(agents.tolist(), sources.tolist()):
        counters[a][s] += 1
    top, count, total = top_influencers(agents, sources, 25)
    for a in range(25):
        want = counters[a].most_common(1)[0] if counters[a] else (-1, 0)
        assert (top[a], count[a], total[a]) == (want[0], want[1], sum(counters[a].values()))


@pytest.mark.parametrize("shares", [None, {"Watcher": 0.5, "Chatter": 0.3, "Poster": 0.2}])
def test_roles_drawn_in_bulk_are_those_drawn_user_by_user(shares):
    rng = np.random.default_rng(0)
    n = 500
    traits = {"activity": rng.random(n), "diversity": rng.random(n), "conformity": rng.random(n)}
    users = np.arange(n)
    one, bulk = np.random.default_rng(9), np.random.default_rng(9)
    reference = []
    for u in users:
        if shares:
            names = list(shares)
            p = np.array([shares[x] for x in names]) / sum(shares.values())
            reference.append([names[one.choice(len(names), p=p)]])
            continue
        r = [name for name, on in (("Watcher", traits["activity"][u] >= 0.6), ("Explorer", traits["diversity"][u] >= 0.66),
                                   ("Critic", traits["conformity"][u] <= 0.25)) if on]
        draw = one.random()
        r += ["Chatter"] if draw < 0.25 else ["Poster"] if draw < 0.35 else []
        reference.append(r)
    sets, index = derive_role_sets(traits, users, bulk, shares)
    assert [list(sets[i]) for i in index] == reference


def test_agents_are_made_on_demand_and_graph_changes_reach_the_step(scenario_file):
    scenario = load_scenario(scenario_file({"agents": {"count": 30}}))
    model = build_model(scenario, load_dataset(scenario))
    assert len(model.agents) == 0  # no Mesa agent before someone asks
    agent = model.agent_list[4]
    assert len(model.agents) == 1 and model.agent_list[4] is agent and agent.agent_id == 4
    assert agent.persona.name == model.dataset.users.names[model.world.users[4]]
    model.world.people.set_trait(np.array([4, 5]), "conformity", 0.9)
    assert agent.persona.conformity == 0.9 and model.agent_list[5].persona.conformity == 0.9
    graph = model.graph
    stranger = next(v for v in range(30) if v != 4 and not graph.has_edge(4, v))
    assert stranger not in model.world.adjacency.neighbours(4)
    graph.add_edge(4, stranger, closeness=0.7)
    assert stranger in model.world.adjacency.neighbours(4).tolist()
    assert model.world.adjacency.pair_closeness([4], [stranger])[0] == 0.7
