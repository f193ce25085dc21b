"""The Gymnasium environment: checker, seeding, rewards from the feedback model, leaving, masking."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import recagent.rl as rl
from recagent.data import Catalog, History, Interactions, make_synthetic
from recagent.errors import UserError
from recagent.feedback import BiasFeedback
from recagent.rl import RecSimEnv, RLWorld, world_from_dataset


@pytest.fixture(scope="module")
def world() -> RLWorld:
    return world_from_dataset(make_synthetic(60, 120, 15, seed=3), "bias")


class ParityFeedback:
    """Likes even items, dislikes odd ones; the rating is 4 or 2. Records every call."""

    name = "parity"

    def __init__(self):
        self.calls = []

    def fit(self, catalog, interactions):
        return self

    def predict_proba(self, user_ids, item_ids, history):
        self.calls.append((np.array(user_ids), np.array(item_ids)))
        return (np.asarray(item_ids) % 2 == 0).astype(float)

    def predict_rating(self, user_ids, item_ids, history):
        return np.where(np.asarray(item_ids) % 2 == 0, 4.0, 2.0)

    def predict_shown(self, user_ids, item_ids, history):  # no self-selection here: shown = chosen
        return self.predict_proba(user_ids, item_ids, history), self.predict_rating(user_ids, item_ids, history)

    def explain(self, user_id, item_id, history):
        return {}


def tiny_world(feedback=None) -> RLWorld:
    """4 users, 12 items, every user rated items 10 and 11 (and user 0 also item 0)."""
    n_items = 12
    genres = np.zeros((n_items, 2), dtype=bool)
    genres[::2, 0] = True
    genres[1::2, 1] = True
    catalog = Catalog(np.arange(100, 100 + n_items), [f"item {i}" for i in range(n_items)], ["even", "odd"],
                      genres, [""] * n_items)
    users = np.array([0, 0, 0, 1, 1, 2, 2, 3, 3])
    items = np.array([0, 10, 11, 10, 11, 10, 11, 10, 11])
    ratings = np.array([5, 4, 1, 3, 3, 2, 5, 4, 4], dtype=float)
    inter = Interactions(users, items, ratings, np.arange(len(users)))
    fb = feedback or ParityFeedback()
    fb.fit(catalog, inter)
    return RLWorld("tiny", catalog, inter, fb, getattr(fb, "name", "test"))


def test_registered_ids_pass_the_gymnasium_checker(world):
    for env_id, kwargs in [(rl.ENV_ID, {}), (rl.ENV_ID, {"obs": "dict"}), (rl.SLATE_ENV_ID, {}),
                           (rl.ENV_ID, {"reward": "sample", "quit_prob": 0.2}), (rl.ENV_ID, {"reward": "rating"}),
                           (rl.ENV_ID, {"reward": "proba", "leave_below": -1.5})]:
        env = gym.make(env_id, world=world, **kwargs)
        check_env(env.unwrapped, skip_render_check=True)
        assert env.spec.id == env_id
    assert isinstance(gym.make(rl.ENV_ID, world=world).action_space, gym.spaces.Discrete)
    assert gym.make(rl.SLATE_ENV_ID, world=world).action_space.shape == (5,)


def test_gym_make_builds_a_synthetic_world_and_defaults_to_the_ensemble():
    env = gym.make(rl.ENV_ID, feedback="bias", users=30, items=50)
    obs, info = env.reset(seed=1)
    assert env.unwrapped.world.name == "synthetic" and env.unwrapped.world.n_items == 50
    assert env.observation_space.contains(obs)
    from recagent.feedback import FEEDBACK_MODELS

    assert rl.default_feedback() == ("ensemble" if "ensemble" in FEEDBACK_MODELS else "bias")


def test_frozen_users_are_judged_against_their_starting_history():
    world = tiny_world(BiasFeedback())
    env = RecSimEnv(world=world, patience=0, update_history=False, reward="proba")
    env.reset(seed=0, options={"user": 2})
    start = History(4)
    start.add([2, 2], [10, 11], [2.0, 5.0])
    for item in (3, 1, 4):
        _, r, *_ = env.step(item)
        assert r == pytest.approx(float(world.feedback.predict_shown(np.array([2]), np.array([item]), start)[0][0]))
    assert env.batch.history.items[2] == [10, 11] and not env.action_masks()[[1, 3, 4]].any()


def rollout(env, seed, n=60):
    rng = np.random.default_rng(123)
    obs, info = env.reset(seed=seed)
    trace = [("reset", info["user"], obs.tobytes())]
    for _ in range(n):
        a = int(rng.integers(env.action_space.n))
        obs, r, term, trunc, info = env.step(a)
        trace.append((a, r, term, trunc, obs.tobytes()))
        if term or trunc:
            obs, info = env.reset()
            trace.append(("reset", info["user"], obs.tobytes()))
    return trace


def test_same_seed_same_episodes_and_different_seed_differs(world):
    for reward in ("vote", "sample"):
        a = rollout(RecSimEnv(world=world, reward=reward, quit_prob=0.05), seed=7)
        b = rollout(RecSimEnv(world=world, reward=reward, quit_prob=0.05), seed=7)
        c = rollout(RecSimEnv(world=world, reward=reward, quit_prob=0.05), seed=8)
        assert a == b
        assert a != c
        assert sum(1 for t in a if t[0] == "reset") >= 3  # several episodes were compared


def test_vote_reward_matches_the_feedback_model_on_a_hand_built_history():
    world = tiny_world(BiasFeedback())
    env = RecSimEnv(world=world, patience=0, horizon=6)
    fb = world.feedback
    for reward_mode in ("vote", "proba", "rating"):
        env = RecSimEnv(world=world, patience=0, horizon=6, reward=reward_mode)
        for episode in range(2):  # the second episode must start again from the starting history
            env.reset(seed=episode, options={"user": 0})
            hand = History(4)
            hand.add([0, 0, 0], [0, 10, 11], [5.0, 4.0, 1.0])
            for item in ([1, 2, 3, 4] if episode == 0 else [5, 3, 2]):
                u, i = np.array([0]), np.array([item])
                p, rating = (float(x[0]) for x in fb.predict_shown(u, i, hand))  # the policy showed the item
                _, r, _, _, info = env.step(item)
                if reward_mode == "vote":
                    assert r == float(p >= 0.5)
                    hand.add([0], [item], [4.0 if p >= 0.5 else 2.0])
                elif reward_mode == "proba":
                    assert r == pytest.approx(p)
                    hand.add([0], [item], [4.0 if p >= 0.5 else 2.0])
                else:
                    assert r == pytest.approx(rating)
                    hand.add([0], [item], [rating])
                assert env.batch.history.items[0] == hand.items[0]
                assert env.batch.history.ratings[0] == pytest.approx(hand.ratings[0])
    # the history moved the user bias, so later verdicts differ from a fresh user's
    assert world.history.items[0] == [0, 10, 11]  # the world itself is never mutated


def test_user_leaves_after_patience_consecutive_dislikes():
    env = RecSimEnv(world=tiny_world(), patience=3, horizon=20)
    env.reset(seed=0, options={"user": 1})
    outcomes = [env.step(a)[1:4] for a in (1, 3, 2, 5, 7)]  # odd items are disliked; 2 resets the streak
    assert [o[0] for o in outcomes] == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert [o[1] for o in outcomes] == [False] * 5
    _, r, term, trunc, _ = env.step(9)
    assert (r, term, trunc) == (0.0, True, False)


def test_horizon_truncates_satisfaction_and_quit_rules_terminate():
    env = RecSimEnv(world=tiny_world(), patience=0, horizon=3)
    env.reset(seed=0, options={"user": 1})
    assert [env.step(a)[2:4] for a in (0, 2, 4)] == [(False, False), (False, False), (False, True)]
    # satisfaction: like (+1), then dislikes: 0.5*1-1 = -0.5, 0.5*-0.5-1 = -1.25 < -1 -> leaves
    env = RecSimEnv(world=tiny_world(), patience=0, horizon=10, satisfaction_decay=0.5, leave_below=-1.0)
    env.reset(seed=0, options={"user": 1})
    assert [env.step(a)[2] for a in (0, 1, 3)] == [False, False, True]
    env = RecSimEnv(world=tiny_world(), quit_prob=1.0)
    env.reset(seed=0)
    assert env.step(0)[2] is True
    # running out of items truncates: user 1 has 10 available items, slate of 4 -> 2 slates leave 2 < 4
    env = RecSimEnv(world=tiny_world(), slate_size=4, patience=0, horizon=50)
    env.reset(seed=0, options={"user": 1})
    assert env.step([0, 1, 2, 3])[3] is False
    assert env.step([4, 5, 6, 7])[3] is True


def test_masking_rated_and_recommended_items():
    world = tiny_world()
    env = RecSimEnv(world=world, patience=0)
    _, info = env.reset(seed=0, options={"user": 0})
    mask = env.action_masks()
    assert not mask[[0, 10, 11]].any() and mask[1:10].all()
    assert (info["action_mask"] == mask).all()
    calls = len(world.feedback.calls)
    obs, r, *_ , info = env.step(0)  # rated before: invalid, not shown to the feedback model
    assert (r, info["invalid"]) == (0.0, 1) and len(world.feedback.calls) == calls
    assert env.batch.history.items[0] == [0, 10, 11]
    _, r, *_ = env.step(2)
    assert r == 1.0 and not env.action_masks()[2]
    obs, r, *_, info = env.step(2)  # recommended already
    assert (r, info["invalid"]) == (0.0, 1)
    assert env.batch.history.items[0] == [0, 10, 11, 2]
    # the observation carries the mask, so an unmasked policy can learn it
    n_profile = world.user_features.shape[1]
    assert (obs[n_profile:n_profile + world.n_items] == 1.0).sum() == 4  # 0, 10, 11 rated + 2 recommended
    # without mask_rated, rated items are judged normally
    env = RecSimEnv(world=world, mask_rated=False, invalid_reward=-1.0)
    env.reset(seed=0, options={"user": 0})
    assert env.step(0)[1] == 1.0
    assert env.step(0)[1] == -1.0


def test_slate_duplicates_are_invalid_and_reward_is_the_slate_mean():
    env = RecSimEnv(world=tiny_world(), slate_size=3, patience=0)
    env.reset(seed=0, options={"user": 1})
    _, r, _, _, info = env.step([2, 2, 3])  # 2 liked, duplicate 2 invalid, 3 disliked
    assert r == pytest.approx(1 / 3) and info["invalid"] == 1 and info["liked"] == 1
    assert env.batch.history.items[1] == [10, 11, 2, 3]


def test_bad_options_are_user_errors(world):
    with pytest.raises(UserError, match="env.reward"):
        RecSimEnv(world=world, reward="stars")
    with pytest.raises(UserError, match="unknown environment option"):
        RecSimEnv(world=world, horizn=3)
    with pytest.raises(UserError, match="unknown feedback model"):
        RecSimEnv(dataset="synthetic", feedback="no-such-model")
