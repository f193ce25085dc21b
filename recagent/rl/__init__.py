"""Reinforcement learning against the simulated users: Gymnasium environments, baselines, evaluation.

Importing this package registers `recagent/RecSim-v0` (one item per step) and
`recagent/RecSimSlate-v0` (a slate of 5) with Gymnasium; `gym.make_vec(..., vectorization_mode=
"vector_entry_point")` gives the batched `RecSimVectorEnv`.
"""

import gymnasium as gym

from .engine import EnvConfig, RecBatch
from .env import RecSimEnv
from .vector import RecSimVectorEnv, make_sb3_vec_env
from .world import RLWorld, default_feedback, load_world, world_from_dataset

ENV_ID = "recagent/RecSim-v0"
SLATE_ENV_ID = "recagent/RecSimSlate-v0"

if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point="recagent.rl.env:RecSimEnv",
                 vector_entry_point="recagent.rl.vector:RecSimVectorEnv")
if SLATE_ENV_ID not in gym.registry:
    gym.register(SLATE_ENV_ID, entry_point="recagent.rl.env:RecSimEnv",
                 vector_entry_point="recagent.rl.vector:RecSimVectorEnv", kwargs={"slate_size": 5})

__all__ = [
    "ENV_ID", "SLATE_ENV_ID", "EnvConfig", "RLWorld", "RecBatch", "RecSimEnv", "RecSimVectorEnv",
    "default_feedback", "load_world", "make_sb3_vec_env", "world_from_dataset",
]
