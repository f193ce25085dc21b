"""Reinforcement learning against the simulated users: Gymnasium environments, baselines, evaluation.

Importing this package registers `recagent/RecSim-v0` (one item per step) and
`recagent/RecSimSlate-v0` (a slate of 5) with Gymnasium; `gym.make_vec(..., vectorization_mode=
"vector_entry_point")` gives the batched `RecSimVectorEnv`.
"""

from ..extras import missing
from ..lazy import lazy_exports

ENV_ID = "recagent/RecSim-v0"
SLATE_ENV_ID = "recagent/RecSimSlate-v0"

# Without the rl extra the package still imports (the CLI mounts `recagent rl` from it), so the
# commands can name the missing extra in one line; the environments need it.
if not missing("rl"):
    import gymnasium as gym

    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point="recagent.rl.env:RecSimEnv",
                     vector_entry_point="recagent.rl.vector:RecSimVectorEnv")
    if SLATE_ENV_ID not in gym.registry:
        gym.register(SLATE_ENV_ID, entry_point="recagent.rl.env:RecSimEnv",
                     vector_entry_point="recagent.rl.vector:RecSimVectorEnv", kwargs={"slate_size": 5})

__getattr__ = lazy_exports(__name__, {
    "EnvConfig": ".engine", "RecBatch": ".engine", "RecSimEnv": ".env", "RecSimVectorEnv": ".vector",
    "make_sb3_vec_env": ".vector", "RLWorld": ".world", "default_feedback": ".world", "load_world": ".world",
    "world_from_dataset": ".world"})

__all__ = [
    "ENV_ID", "SLATE_ENV_ID", "EnvConfig", "RLWorld", "RecBatch", "RecSimEnv", "RecSimVectorEnv",
    "default_feedback", "load_world", "make_sb3_vec_env", "world_from_dataset",
]
