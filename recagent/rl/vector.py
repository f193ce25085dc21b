"""Many simulated users stepped at once: ONE batched feedback call per step for all of them.

`RecSimVectorEnv` is a Gymnasium `VectorEnv` over the same engine as `RecSimEnv`: sub-env i with
seed s behaves exactly like a `RecSimEnv` reset with seed s + i (tested step by step). Episodes
reset automatically in the same step (`AutoresetMode.SAME_STEP`): the returned observation of a
finished sub-env is the new episode's first, and `infos["final_obs"]` holds the last one. No user
is in two sub-envs at once (their histories would mix); when the drawn user is busy, the next free
user of the pool is taken.

`SB3VecEnv` adapts it to stable-baselines3's VecEnv interface (dones, terminal_observation,
TimeLimit.truncated, episode statistics, `action_masks` for MaskablePPO).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .engine import RecBatch
from .env import action_space, observation_space, split_kwargs
from .world import RLWorld


class RecSimVectorEnv(VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 256, world: RLWorld | None = None, **kwargs: Any):
        self.world, self.config, pool = split_kwargs(world, kwargs)
        if self.config.obs != "vector":
            raise ValueError("the vectorised environment supports obs='vector' only")
        self.num_envs = int(num_envs)
        self.batch = RecBatch(self.world, self.config, self.num_envs, pool)
        if len(set(self.batch.pool.tolist())) < self.num_envs:
            from ..errors import UserError

            raise UserError(f"{self.num_envs} sub-envs need at least as many distinct users; the pool has "
                            f"{len(set(self.batch.pool.tolist()))}", "num_envs")
        self.single_observation_space = observation_space(self.batch)
        self.single_action_space = action_space(self.batch)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.rngs = [seeding.np_random(None)[0] for _ in range(self.num_envs)]
        self.rows = np.arange(self.num_envs)
        self.ep_lengths = np.zeros(self.num_envs, dtype=np.int64)

    def _reset_slot(self, slot: int, user: int | None = None) -> None:
        """Reset one sub-env, never to a user another sub-env has now."""
        old = int(self.batch.user[slot])
        self._busy.discard(old)
        self._busy.add(self.batch.reset_slot(slot, self.rngs[slot], user, exclude=self._busy))

    def reset(self, *, seed: int | Sequence[int] | None = None, options: dict | None = None):
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if np.isscalar(seed) else list(seed)
            self.rngs = [seeding.np_random(int(s))[0] for s in seeds]
        users = (options or {}).get("users")
        self._busy: set[int] = set()
        self.batch.release_all()
        for slot in range(self.num_envs):
            self._reset_slot(slot, None if users is None else int(users[slot]))
        if users is not None and len(set(self.batch.user.tolist())) < self.num_envs:
            raise ValueError("options['users'] must name distinct users")
        return self.batch.vector_obs(), {"user": self.batch.user.copy()}

    def step(self, actions):
        out = self.batch.step(self.rows, np.asarray(actions), self.rngs)
        terminated, truncated = out["terminated"], out["truncated"]
        done = terminated | truncated
        obs = self.batch.vector_obs()
        infos: dict[str, Any] = {"liked": out["liked"], "invalid": out["invalid"]}
        if done.any():
            final_obs = np.empty(self.num_envs, dtype=object)
            episode_return = np.zeros(self.num_envs)
            episode_length = np.zeros(self.num_envs, dtype=np.int64)
            for slot in np.flatnonzero(done):
                final_obs[slot] = obs[slot].copy()
                episode_return[slot] = self.batch.ret[slot]
                episode_length[slot] = self.batch.t[slot]
                self._reset_slot(int(slot))
            obs[done] = self.batch.vector_obs(np.flatnonzero(done))
            infos.update({"final_obs": final_obs, "_final_obs": done.copy(),
                          "episode_return": episode_return, "episode_length": episode_length, "_episode": done.copy()})
        infos["user"] = self.batch.user.copy()
        return obs, out["reward"].astype(np.float64), terminated, truncated, infos

    def action_masks(self) -> np.ndarray:
        return ~self.batch.unavailable

    def close_extras(self, **kwargs: Any) -> None:
        pass


def make_sb3_vec_env(num_envs: int, world: RLWorld, seed: int | None = None, **kwargs: Any):
    """A stable-baselines3 VecEnv over `RecSimVectorEnv` (imported lazily: SB3 pulls in torch)."""
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv

    class SB3VecEnv(VecEnv):
        def __init__(self, venv: RecSimVectorEnv, seed: int | None):
            self.venv = venv
            self._seed = seed
            super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

        def reset(self):
            seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else self._seed
            self._seed = None
            obs, _ = self.venv.reset(seed=seed)
            self._reset_seeds()
            return obs

        def step_async(self, actions) -> None:
            self._actions = actions

        def step_wait(self):
            obs, reward, terminated, truncated, infos = self.venv.step(self._actions)
            dones = terminated | truncated
            out = [{} for _ in range(self.num_envs)]
            for i in np.flatnonzero(dones):
                out[i] = {"terminal_observation": infos["final_obs"][i],
                          "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                          "episode": {"r": float(infos["episode_return"][i]), "l": int(infos["episode_length"][i]),
                                      "t": 0.0}}
            return obs, reward.astype(np.float32), dones, out

        def close(self) -> None:
            pass

        def get_attr(self, attr_name, indices=None):
            return [getattr(self.venv, attr_name) for _ in self._get_indices(indices)]

        def set_attr(self, attr_name, value, indices=None) -> None:
            setattr(self.venv, attr_name, value)

        def env_method(self, method_name, *args, indices=None, **kwargs):
            if method_name == "action_masks":
                masks = self.venv.action_masks()
                return [masks[i] for i in self._get_indices(indices)]
            return [getattr(self.venv, method_name)(*args, **kwargs) for _ in self._get_indices(indices)]

        def env_is_wrapped(self, wrapper_class, indices=None):
            return [False for _ in self._get_indices(indices)]

    return SB3VecEnv(RecSimVectorEnv(num_envs, world=world, **kwargs), seed)
