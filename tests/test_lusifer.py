"""Lusifer: profiles built batch by batch and the llm_rating feedback model, against the stand-in server."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recagent.data import History, make_synthetic
from recagent.feedback import make_feedback
from recagent.feedback.llm_rating import lusifer_scores
from recagent.feedback.registry import FeedbackContext
from recagent.llm import make_backend
from recagent.llm.profiles import build_profiles, offline_profile
from recagent.scenario import LLMSpec

from .llm_server import LLMServer


def backend_for(server, tmp_path, **kw):
    options = dict(provider="openai", base_url=server.url, timeout=0.5, max_retries=2, backoff=0.01,
                   cache=tmp_path / "cache.sqlite")
    return make_backend(LLMSpec(**{**options, **kw}))


def test_lusifer_scores_match_the_paper_definitions():
    s = lusifer_scores(np.array([5, 3, 1, 4]), np.array([4.6, 1.0, 1.2, 2.0]))
    assert s["rmse"] == pytest.approx(np.sqrt((0.16 + 4 + 0.04 + 4) / 4))
    assert s["exact"] == 0.5 and s["off_by_one"] == 0.5


def test_profiles_are_built_batch_by_batch_and_cached(tmp_path):
    ratings = [(f"Movie {n}", "Drama" if n % 2 else "Horror", 5.0 if n % 2 else 1.0) for n in range(45)]
    histories = {"u1": ratings, "u2": ratings[:15]}
    seen = []

    def responder(prompt):
        seen.append(prompt)
        return json.dumps({"profile": f"profile after {prompt.count('- Movie')} ratings", "update": "x"})

    with LLMServer(responder=responder) as server:
        backend = backend_for(server, tmp_path)
        profiles = build_profiles(backend, histories, batch=20, last_n=40)
        backend.close()
        # u1: last 40 ratings in 2 batches of 20; u2: one batch of 15 -> 3 calls in 2 waves
        assert server.count == 3
        assert "Current profile: (none yet)" in seen[0]
        second = [p for p in seen if "Current profile: profile after 20" in p]
        assert len(second) == 1  # the second batch updates the first profile
        assert profiles == {"u1": "profile after 20 ratings", "u2": "profile after 15 ratings"}
        again = backend_for(server, tmp_path)
        assert build_profiles(again, histories, batch=20, last_n=40) == profiles
        again.close()
        assert server.count == 3 and again.usage.cache_hits == 3


def test_offline_profile_names_liked_and_disliked_genres():
    text = offline_profile([("A", "Drama", 5.0), ("B", "Drama, Romance", 4.0), ("C", "Horror", 1.0)])
    assert text.startswith("(offline profile)") and "enjoys Drama" in text and "dislikes Horror" in text


def test_llm_rating_feedback_rates_in_one_wave_and_memoises(tmp_path):
    data = make_synthetic(12, 60, 25, seed=1)
    history = History.from_interactions(data.interactions, len(data.users))
    prompts = []

    def responder(prompt):
        prompts.append(prompt)
        if '"profile"' in prompt[prompt.rfind("Reply with"):]:
            return json.dumps({"profile": "Loves everything", "update": ""})
        return json.dumps({"rating": 4})

    with LLMServer(responder=responder) as server:
        model = make_feedback("llm_rating", FeedbackContext(0, tmp_path, "synthetic"), batch=10)
        backend = backend_for(server, tmp_path, max_concurrency=8)
        model.attach_backend(backend)
        model.fit(data.catalog, data.interactions)
        users, items = np.array([0, 0, 1, 2]), np.array([5, 6, 5, 7])
        ratings = model.predict_rating(users, items, history)
        n_after_rating = server.count
        p = model.predict_proba(users, items, history)  # same pairs: memoised, no calls
        assert server.count == n_after_rating
        # profiles: 3 users, their last 40 ratings in batches of 10; then 4 rating calls
        n_profile = sum(min(40, len(history.items[u])) // 10 + (min(40, len(history.items[u])) % 10 > 0)
                        for u in (0, 1, 2))
        assert n_after_rating == n_profile + 4
        assert list(ratings) == [4, 4, 4, 4] and np.all(p > 0.5)
        rating_prompts = [q for q in prompts if '"rating"' in q[q.rfind("Reply with"):]]
        assert all("Loves everything" in q and q.count("\n- ") == 10 for q in rating_prompts)  # profile + last 10
        # after 10 new ratings the profile is updated once
        history.add([0] * 10, list(range(40, 50)), [5.0] * 10)
        model.predict_rating(np.array([0]), np.array([55]), history)
        assert server.count == n_after_rating + 2
        assert model.explain(0, 55, history)["source"] == "llm"
        backend.close()


def test_llm_rating_falls_back_to_bias_predictions_when_calls_fail(tmp_path):
    data = make_synthetic(5, 40, 10, seed=2)
    history = History.from_interactions(data.interactions, len(data.users))
    with LLMServer(fault_every=1, faults=["500"]) as server:
        model = make_feedback("llm_rating", FeedbackContext(0, tmp_path, "synthetic"))
        backend = backend_for(server, tmp_path, max_retries=1)
        model.attach_backend(backend)
        model.fit(data.catalog, data.interactions)
        got = model.predict_rating(np.array([0, 1]), np.array([3, 4]), history)
        backend.close()
    expected = model.fallback.predict_rating(np.array([0, 1]), np.array([3, 4]), history)
    assert np.allclose(got, np.round(expected, 2)) and backend.usage.fallbacks > 0


def test_llm_rating_in_a_simulation_with_the_offline_backend(scenario_file, tmp_path):
    from recagent.simulation import run_scenario

    result = run_scenario(scenario_file({"feedback": {"model": "llm_rating"}}), out=tmp_path / "run",
                          progress=False, steps=2)
    assert result.info["status"] == "completed" and result.info["counts"].get("watch", 0) > 0
    assert result.model.feedback.profiles and all(p.startswith("(offline profile)")
                                                   for p in result.model.feedback.profiles.values())
