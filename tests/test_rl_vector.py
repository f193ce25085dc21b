"""The vectorised environment: one batched feedback call per step, equal to single envs step by step."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import recagent.rl as rl
from recagent.data import make_synthetic
from recagent.rl import RecSimEnv, RecSimVectorEnv, world_from_dataset


@pytest.fixture(scope="module")
def world():
    return world_from_dataset(make_synthetic(80, 150, 15, seed=5), "bias")


class CountingFeedback:
    def __init__(self, inner):
        self.inner, self.calls, self.name = inner, 0, "counting"

    def predict_proba(self, users, items, history):
        self.calls += 1
        return self.inner.predict_proba(users, items, history)

    def predict_rating(self, users, items, history):
        self.calls += 1
        return self.inner.predict_rating(users, items, history)

    def predict_shown(self, users, items, history):
        self.calls += 1
        return self.inner.predict_shown(users, items, history)


@pytest.mark.parametrize("kwargs", [{"reward": "vote"}, {"reward": "sample", "quit_prob": 0.05},
                                    {"reward": "proba", "slate_size": 3}])
def test_vector_env_equals_single_envs_step_by_step(world, kwargs):
    n, seed = 6, 11
    venv = RecSimVectorEnv(n, world=world, **kwargs)
    singles = [RecSimEnv(world=world, **kwargs) for _ in range(n)]
    vobs, vinfo = venv.reset(seed=seed)
    for i, env in enumerate(singles):
        obs, info = env.reset(seed=seed + i, options={"user": int(vinfo["user"][i])})
        assert np.array_equal(obs, vobs[i])
    rng = np.random.default_rng(0)
    resets = 0
    for _ in range(80):
        actions = venv.action_space.sample() if False else rng.integers(world.n_items, size=(n, venv.config.slate_size))
        actions = actions[:, 0] if venv.config.slate_size == 1 else actions
        vobs, vr, vterm, vtrunc, vinfo = venv.step(actions)
        for i, env in enumerate(singles):
            obs, r, term, trunc, info = env.step(actions[i])
            # soft probabilities may differ in the last bit between a batch of 1 and of n (SIMD sums)
            assert r == pytest.approx(vr[i], rel=1e-12) and term == vterm[i] and trunc == vtrunc[i]
            if term or trunc:
                assert np.array_equal(obs, vinfo["final_obs"][i])
                obs, info = env.reset(options={"user": int(vinfo["user"][i])})
                resets += 1
            assert np.array_equal(obs, vobs[i])
            assert env.batch.history.items[int(vinfo["user"][i])] == venv.batch.history.items[int(vinfo["user"][i])]
    assert resets >= n  # episodes ended and restarted along the way


def test_one_feedback_call_per_step_and_distinct_users(world):
    counting = CountingFeedback(world.feedback)
    w = rl.RLWorld(world.name, world.catalog, world.interactions, counting, "counting")
    venv = RecSimVectorEnv(64, world=w)
    venv.reset(seed=0)
    rng = np.random.default_rng(1)
    for step in range(1, 31):
        venv.step(rng.integers(w.n_items, size=64))
        assert counting.calls == step
        assert len(set(venv.batch.user.tolist())) == 64
    assert world.history.items == rl.world_from_dataset(make_synthetic(80, 150, 15, seed=5), "bias").history.items


def test_make_vec_uses_the_batched_env(world):
    venv = gym.make_vec(rl.ENV_ID, num_envs=4, vectorization_mode="vector_entry_point", world=world)
    assert isinstance(venv, RecSimVectorEnv)
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (4, venv.batch.obs_size) and venv.observation_space.contains(obs)


def test_too_many_envs_for_the_user_pool_is_a_user_error(world):
    from recagent.errors import UserError

    with pytest.raises(UserError, match="distinct users"):
        RecSimVectorEnv(10, world=world, user_pool=[1, 2, 3])


def test_episode_history_reads_equal_the_plain_history(world):
    """The engine's vectorised `padded` / `lengths` / `since` give what History's own do on the same rows."""
    from recagent.data import History
    from recagent.rl.engine import EpisodeHistory

    hist = EpisodeHistory(world, 4, capacity=2)  # capacity 2: forces the arrays to grow
    rng = np.random.default_rng(0)
    users = [3, 17, 42, 60]
    for slot, u in enumerate(users):
        hist.start(slot, u)
    for _ in range(5):  # some users answer twice in one call (a slate)
        who = rng.choice(users, size=4, replace=True)
        hist.add(who, rng.integers(world.n_items, size=4), rng.choice([2.0, 4.0, 3.5], size=4))
    hist.end(60)  # back to its starting row
    plain = History(len(hist.items))
    plain.items, plain.ratings = [list(x) for x in hist.items], [list(x) for x in hist.ratings]
    ask = np.array([17, 3, 60, 5, 42, 17])
    for max_len in (None, 1, 4, 30, 500):
        a_items, a_ratings = hist.padded(ask, max_len)
        b_items, b_ratings = plain.padded(ask, max_len)
        assert np.array_equal(a_items, b_items)
        assert np.array_equal(a_ratings, b_ratings, equal_nan=True)
    assert np.array_equal(hist.lengths(ask), plain.lengths(ask))
    assert hist.items[60] == world.history.items[60] and len(hist.items[3]) > len(world.history.items[3])
    base = hist.base_len[ask]
    for starts in (np.zeros(len(ask), dtype=np.int64), base - 2, base, hist.lengths(ask)):
        got, want = hist.since(ask, starts), plain.since(ask, starts)
        for a, b in zip(got, want):
            assert np.array_equal(a, b)


def test_episode_history_signatures_tell_growth_from_a_new_episode(world):
    """Same signature at a length = same row up to there; a restarted episode regrown differs."""
    from recagent.rl.engine import EpisodeHistory

    hist = EpisodeHistory(world, 1, capacity=4)
    u = np.array([7])
    base = hist.lengths(u)
    hist.start(0, 7)
    start_sig = hist.signatures(u, base)
    hist.add(u, [5], [4.0])
    grown_sig = hist.signatures(u, base + 1)
    hist.add(u, [6], [2.0])
    assert hist.signatures(u, base) == start_sig  # the prefix is unchanged: the row only grew
    assert hist.signatures(u, base + 1) == grown_sig
    hist.end(7)
    hist.start(0, 7)  # a new episode from the same starting row, regrown to the same length
    assert hist.signatures(u, base) == start_sig
    hist.add(u, [9], [2.0])
    assert hist.signatures(u, base + 1) != grown_sig
