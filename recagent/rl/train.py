"""The paper's RL baselines: PPO, A2C, DQN (stable-baselines3) and TRPO (sb3-contrib).

Agents train on the vectorised environment (`n_envs` users at once, one feedback call per step)
with an MLP over the flat observation and one thread (`torch.set_num_threads(1)`): the machines
this runs on are shared. The defaults below are modest and the same for every dataset; the
discount is 0.9 because episodes are short (horizon 20, users leave after 3 dislikes).

A saved agent is `<name>.zip` (the SB3 model) plus `<name>.json` (algorithm, world, environment
options, budget, wall time), which `load_agent` reads back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError
from .engine import EnvConfig
from .world import RLWorld

ALGOS = ("ppo", "trpo", "a2c", "dqn")

DEFAULTS: dict[str, dict[str, Any]] = {
    "ppo": {"n_steps": 64, "batch_size": 256, "n_epochs": 4, "learning_rate": 3e-4, "gamma": 0.9,
            "ent_coef": 0.01},
    "trpo": {"n_steps": 64, "batch_size": 256, "learning_rate": 1e-3, "gamma": 0.9},
    "a2c": {"n_steps": 8, "learning_rate": 7e-4, "gamma": 0.9, "ent_coef": 0.01},
    "dqn": {"buffer_size": 20_000, "learning_starts": 1_000, "batch_size": 64, "learning_rate": 5e-4,
            "gamma": 0.9, "train_freq": 1, "gradient_steps": 2, "target_update_interval": 500,
            "exploration_fraction": 0.3, "exploration_final_eps": 0.05},
}
NET_ARCH = [256]


def algo_class(algo: str):
    if algo not in ALGOS:
        raise UserError(f"unknown algorithm {algo!r}; expected one of {', '.join(ALGOS)}", "algo")
    if algo == "trpo":
        from sb3_contrib import TRPO

        return TRPO
    import stable_baselines3 as sb3

    return {"ppo": sb3.PPO, "a2c": sb3.A2C, "dqn": sb3.DQN}[algo]


def progress_callback(update: Callable[[int], None]):
    from stable_baselines3.common.callbacks import BaseCallback

    class Progress(BaseCallback):
        def _on_step(self) -> bool:
            update(self.num_timesteps)
            return True

    return Progress()


def train_agent(world: RLWorld, algo: str, timesteps: int, seed: int = 0, env: dict | None = None,
                n_envs: int = 16, params: dict | None = None, out: Path | None = None,
                on_progress: Callable[[int], None] | None = None, world_spec: dict | None = None):
    """Train one agent; returns (model, meta). Saves `out`.zip / `out`.json when `out` is given."""
    import torch

    torch.set_num_threads(1)
    cls = algo_class(algo)
    env_options = dict(env or {})
    config = EnvConfig.from_kwargs(env_options)
    if config.slate_size != 1 or config.obs != "vector":
        raise UserError("the baselines train on the single-item environment with obs='vector'", "env")
    from .vector import make_sb3_vec_env

    vec = make_sb3_vec_env(n_envs, world, seed=seed, **env_options)
    kwargs = {**DEFAULTS[algo], **(params or {})}
    kwargs.setdefault("policy_kwargs", {"net_arch": list(NET_ARCH)})
    model = cls("MlpPolicy", vec, seed=seed, verbose=0, device="cpu", **kwargs)
    start = time.perf_counter()
    callback = progress_callback(on_progress) if on_progress else None
    model.learn(total_timesteps=int(timesteps), callback=callback)
    wall = time.perf_counter() - start
    meta = {"algo": algo, "seed": seed, "timesteps": int(timesteps), "n_envs": n_envs, "wall_s": round(wall, 2),
            "params": {k: v for k, v in kwargs.items() if k != "policy_kwargs"},
            "net_arch": kwargs["policy_kwargs"].get("net_arch"), "env": config.to_dict(),
            "world": world_spec or {"name": world.name, "feedback": world.feedback_name}}
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        model.save(out.with_suffix(".zip"))
        out.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return model, meta


def load_agent(path: str | Path):
    """(model, meta) from `<name>.zip` + `<name>.json`."""
    path = Path(path)
    meta_path, zip_path = path.with_suffix(".json"), path.with_suffix(".zip")
    if not zip_path.is_file() or not meta_path.is_file():
        raise UserError(f"expected a trained agent ({zip_path.name} and {meta_path.name} next to each other)", path)
    meta = json.loads(meta_path.read_text())
    model = algo_class(meta["algo"]).load(zip_path, device="cpu")
    return model, meta
