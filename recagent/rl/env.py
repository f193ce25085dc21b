"""`RecSimEnv`: one simulated user per episode, recommended one item (or a slate) per step.

Registered as `recagent/RecSim-v0` (one item per step) and `recagent/RecSimSlate-v0` (a slate of
5) when `recagent.rl` is imported:

    import gymnasium as gym, recagent.rl
    env = gym.make("recagent/RecSim-v0", dataset="synthetic", feedback="bias")

Keyword arguments: the world (`world=` an RLWorld, or `dataset=` "synthetic" / a MovieLens-100K
folder, `feedback=` a registry name, default the ensemble when installed else "bias",
`feedback_params=`, `world_seed=`, `users=`/`items=` for the synthetic size), `user_pool=` (user
indices episodes draw from), and any `EnvConfig` field (horizon, slate_size, reward, patience,
satisfaction_decay, leave_below, quit_prob, mask_rated, invalid_reward, memory, like_rating,
dislike_rating, obs). The rules of an episode are documented in `recagent.rl.engine`.

Observation, obs="vector" (default; a Box in [-1, 1] for MLP policies), concatenated:
  user profile (2G + 2: genre affinity, genre share, mean rating, activity; see world.py),
  unavailable items (n_items: 1 = rated before or already recommended),
  genres liked / disliked this episode (2G, counts / (horizon * slate_size)),
  last `memory` responses (+1 liked, -1 not liked, 0 none yet),
  step / horizon, consecutive dislikes / patience, scaled satisfaction.
obs="dict": {"user": id, "profile", "recent_items" (item + 1, 0 = none), "recent_feedback",
"unavailable", "state"}.

Action: Discrete(n_items), or MultiDiscrete([n_items] * slate_size) for a slate. `action_masks()`
gives the items still available (the sb3-contrib MaskablePPO convention); `info["action_mask"]`
holds the same after reset and each step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .engine import EnvConfig, RecBatch
from .world import RLWorld, load_world, world_params


def observation_space(batch: RecBatch) -> spaces.Space:
    world, cfg = batch.world, batch.config
    if cfg.obs == "vector":
        return spaces.Box(-1.0, 1.0, (batch.obs_size,), dtype=np.float32)
    F = world.user_features.shape[1]
    return spaces.Dict({
        "user": spaces.Discrete(world.n_users),
        "profile": spaces.Box(-1.0, 1.0, (F,), dtype=np.float32),
        "recent_items": spaces.MultiDiscrete(np.full(cfg.memory, world.n_items + 1)),
        "recent_feedback": spaces.Box(-1.0, 1.0, (cfg.memory,), dtype=np.float32),
        "unavailable": spaces.MultiBinary(world.n_items),
        "state": spaces.Box(-1.0, 1.0, (3,), dtype=np.float32),
    })


def action_space(batch: RecBatch) -> spaces.Space:
    n, k = batch.world.n_items, batch.config.slate_size
    return spaces.Discrete(n) if k == 1 else spaces.MultiDiscrete(np.full(k, n))


def split_kwargs(world: RLWorld | None, kwargs: dict[str, Any]) -> tuple[RLWorld, EnvConfig, np.ndarray | None]:
    kwargs = dict(kwargs)
    wp = world_params(kwargs)
    pool = kwargs.pop("user_pool", None)
    config = EnvConfig.from_kwargs(kwargs)
    return (world if world is not None else load_world(**wp)), config, pool


class RecSimEnv(gym.Env):
    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, world: RLWorld | None = None, render_mode: str | None = None, **kwargs: Any):
        self.world, self.config, pool = split_kwargs(world, kwargs)
        self.batch = RecBatch(self.world, self.config, 1, pool)
        self.observation_space = observation_space(self.batch)
        self.action_space = action_space(self.batch)
        self.render_mode = render_mode
        self._last: dict = {}

    def _obs(self):
        return self.batch.vector_obs()[0] if self.config.obs == "vector" else self.batch.dict_obs(0)

    def _info(self) -> dict:
        return {"user": int(self.batch.user[0]), "step": int(self.batch.t[0]), "action_mask": self.action_masks(),
                **self._last}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        user = (options or {}).get("user")
        self.batch.reset_slot(0, self.np_random, None if user is None else int(user))
        self._last = {}
        return self._obs(), self._info()

    def step(self, action):
        if self.batch.user[0] < 0:
            raise RuntimeError("call reset() before step()")
        out = self.batch.step(np.zeros(1, dtype=np.int64), np.asarray(action).reshape(1, -1), [self.np_random])
        self._last = {"liked": int(out["liked"][0]), "invalid": int(out["invalid"][0]),
                      "items": np.asarray(action).reshape(-1).tolist()}
        return (self._obs(), float(out["reward"][0]), bool(out["terminated"][0]), bool(out["truncated"][0]),
                self._info())

    def action_masks(self) -> np.ndarray:
        """True for items that may still be recommended to this user."""
        return ~self.batch.unavailable[0]

    def render(self):
        if self.render_mode != "ansi":
            return None
        b, cat = self.batch, self.world.catalog
        recent = [f"{cat.titles[i]} ({'+' if f > 0 else '-'})"
                  for i, f in zip(b.recent_items[0], b.recent_fb[0]) if i >= 0]
        return (f"user {int(b.user[0])} step {int(b.t[0])} satisfaction {b.sat[0]:+.2f} "
                f"dislike streak {int(b.consec[0])}: " + "; ".join(recent))
