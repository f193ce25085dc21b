"""The paper's evaluation, for any policy: average reward per episode, total reward, top-10 liking ratio.

For one seed, every evaluation user plays one episode, all of them stepped together (one
feedback call per step). Metrics of a seed:

- return_per_episode: mean over users of the episode's summed reward ("average reward")
- total_reward: summed reward over all evaluation episodes
- reward_per_step, episode_length, like_rate (liked items / shown items), invalid_rate
- liking_ratio@10: the policy's top-10 items for each user at the start of the episode (before any
  response), the fraction the feedback model likes (P(like) >= like_threshold, or rating >= 3 with
  reward="rating"), averaged over users

Seeds drive the environment's generators (per user: reward="sample", quit_prob) and the
policy's own randomness; the evaluation users are the same for every policy.
"""

from __future__ import annotations

import numpy as np

from ..feedback import LIKE_THRESHOLD, predict_both
from .engine import EnvConfig, RecBatch
from .world import RLWorld

METRICS = ["return_per_episode", "total_reward", "reward_per_step", "episode_length", "like_rate",
           "invalid_rate", "liking_ratio@10"]


def evaluation_users(world: RLWorld, n: int | None, seed: int = 0) -> np.ndarray:
    """A fixed sample of `n` users (all users when n is None or too large), sorted."""
    users = np.arange(world.n_users)
    if n is None or n >= len(users):
        return users
    return np.sort(np.random.default_rng(seed).choice(users, size=n, replace=False))


def liked_verdict(batch: RecBatch, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Would the user like these recommended (shown, not chosen) items?"""
    proba, rating = predict_both(batch.world.feedback, users, items, batch.history, exposure="shown")
    if batch.config.reward == "rating":
        return np.asarray(rating) >= LIKE_THRESHOLD
    return np.asarray(proba) >= batch.config.like_threshold


def evaluate_seed(world: RLWorld, policy, config: EnvConfig, users: np.ndarray, seed: int) -> dict:
    users = np.asarray(users, dtype=np.int64)
    n = len(users)
    batch = RecBatch(world, config, n, users)
    rngs = [np.random.default_rng([seed, int(u)]) for u in users]
    for slot, u in enumerate(users):
        batch.reset_slot(slot, rngs[slot], int(u))
    rows = np.arange(n)
    top = policy.select(batch, rows, 10)
    liking = liked_verdict(batch, np.repeat(users, top.shape[1]), top.reshape(-1)).reshape(top.shape).mean(1)

    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    liked = np.zeros(n, dtype=np.int64)
    invalid = np.zeros(n, dtype=np.int64)
    active = np.ones(n, dtype=bool)
    while active.any():
        rows = np.flatnonzero(active)
        actions = policy.select(batch, rows, config.slate_size)
        out = batch.step(rows, actions, [rngs[r] for r in rows])
        returns[rows] += out["reward"]
        lengths[rows] += 1
        liked[rows] += out["liked"]
        invalid[rows] += out["invalid"]
        active[rows[out["terminated"] | out["truncated"]]] = False
    batch.release_all()
    shown = lengths.sum() * config.slate_size
    return {
        "return_per_episode": float(returns.mean()),
        "total_reward": float(returns.sum()),
        "reward_per_step": float(returns.sum() / max(lengths.sum(), 1)),
        "episode_length": float(lengths.mean()),
        "like_rate": float(liked.sum() / max(shown, 1)),
        "invalid_rate": float(invalid.sum() / max(shown, 1)),
        "liking_ratio@10": float(liking.mean()),
    }


def summarise(per_seed: list[dict]) -> dict:
    """Mean and standard deviation over seeds of each metric."""
    out = {}
    for m in METRICS:
        values = np.array([r[m] for r in per_seed])
        out[m] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
    return out


def markdown_table(rows: list[dict], title: str = "") -> str:
    """rows: {"policy", "summary"} -> a markdown table of mean ± std per metric."""
    cols = ["return_per_episode", "total_reward", "liking_ratio@10", "like_rate", "episode_length"]
    heads = ["avg reward / episode", "total reward", "liking ratio @10", "like rate", "episode length"]
    lines = [f"### {title}", ""] if title else []
    lines += ["| policy | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(cols)]
    for row in rows:
        s = row["summary"]
        cells = []
        for c in cols:
            mean, std = s[c]["mean"], s[c]["std"]
            cells.append(f"{mean:,.1f} ± {std:,.1f}" if c == "total_reward" else f"{mean:.3f} ± {std:.3f}")
        lines.append(f"| {row['policy']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
