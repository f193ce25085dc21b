"""Anything that picks items for a batch of episode slots: a recagent recommender or a trained agent.

`select(batch, rows, k)` returns (len(rows), k) item indices, best first, never an unavailable
item (rated before or already recommended) while enough are left. Every policy is evaluated
through this one method, so RL agents and classical recommenders meet the same users under the
same rules.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import sparse

from ..cache import cache_dir
from ..recommenders import RecommenderContext, make_recommender
from .engine import RecBatch
from .world import RLWorld


def top_available(scores: np.ndarray, unavailable: np.ndarray, k: int) -> np.ndarray:
    """Row-wise top-k of `scores` over available items (unavailable ones only when nothing else is left)."""
    scores = np.where(unavailable, -np.inf, np.asarray(scores, dtype=np.float64))
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, 1), axis=1, kind="stable")
    return np.take_along_axis(part, order, 1)


class RecommenderPolicy:
    """A recagent recommender (registry name) as a policy: `recommend(users, k, exclude=unavailable)`."""

    def __init__(self, name: str, world: RLWorld, seed: int = 0, **params):
        from ..errors import UserError

        self.name = name
        context = RecommenderContext(rng=np.random.default_rng(seed), seed=seed, cache_dir=cache_dir())
        try:
            self.recommender = make_recommender(name, context, **params)
        except KeyError:
            from ..recommenders import available_recommenders

            raise UserError(f"unknown recommender {name!r}; known: {', '.join(sorted(available_recommenders()))}",
                            "policy") from None
        self.recommender.fit(world.catalog, world.interactions)

    def select(self, batch: RecBatch, rows: np.ndarray, k: int) -> np.ndarray:
        exclude = sparse.csr_matrix(batch.unavailable[rows])
        items = np.asarray(self.recommender.recommend(batch.user[rows], k, exclude), dtype=np.int64)
        if (items < 0).any():  # fewer than k available: fill with anything (judged invalid by the env)
            items = np.where(items < 0, top_available(np.zeros_like(exclude.toarray(), dtype=float),
                                                      batch.unavailable[rows], k), items)
        return items


class AgentPolicy:
    """A trained stable-baselines3 agent: action scores are the policy's logits (PPO, A2C, TRPO) or
    the Q-values (DQN), and the top `k` available items are taken (the deployed, masked policy)."""

    def __init__(self, model, name: str):
        self.model, self.name = model, name

    @classmethod
    def load(cls, path: str | Path) -> AgentPolicy:
        from .train import load_agent

        model, meta = load_agent(path)
        return cls(model, meta["algo"])

    def check(self, world: RLWorld, config, where) -> None:
        """A UserError when the agent was trained on observations or actions of another shape."""
        from ..errors import UserError

        obs_size = RecBatch(world, config, 1).obs_size
        got_obs, got_actions = self.model.observation_space.shape, getattr(self.model.action_space, "n", None)
        if got_obs != (obs_size,) or got_actions != world.n_items:
            raise UserError(f"agent was trained for observations {got_obs} and {got_actions} items; this world and "
                            f"environment give ({obs_size},) and {world.n_items}: evaluate it on the dataset and "
                            "--env options it was trained with", where)

    def scores(self, obs: np.ndarray) -> np.ndarray:
        import torch

        policy = self.model.policy
        with torch.no_grad():
            tensor = policy.obs_to_tensor(obs)[0]
            if hasattr(policy, "q_net"):
                out = policy.q_net(tensor)
            else:
                out = policy.get_distribution(tensor).distribution.logits
        return out.cpu().numpy()

    def select(self, batch: RecBatch, rows: np.ndarray, k: int) -> np.ndarray:
        return top_available(self.scores(batch.vector_obs(rows)), batch.unavailable[rows], k)
