"""Words a reader trips on mean one thing: strategy labels, switches, searches."""

from __future__ import annotations

from recagent.recommenders.label import strategy_label
from recagent.scenario import RerankerSpec


def test_strategy_label_is_what_compare_takes():
    from recagent.sweep.strategy import parse_strategy

    label = strategy_label("mf", {"dim": 16}, [("mmr", {"lambda": 0.5}), RerankerSpec(name="random_k", params={"every": 4})])
    assert label == "mf(dim=16)+mmr(lambda=0.5)+random_k(every=4)"
    parsed = parse_strategy(label)
    assert (parsed.name, parsed.params, parsed.rerankers) == ("mf", {"dim": 16}, [("mmr", {"lambda": 0.5}),
                                                                                 ("random_k", {"every": 4})])
    assert strategy_label("popular") == "popular"
    assert strategy_label("content", {"features": "genres", "normalise": True}) == "content(features=genres,normalise=true)"
