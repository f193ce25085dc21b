"""Phase 1, activate: each idle agent acts with its own probability, up to `activation.max_active`.

Agents still watching or chatting (`busy_until` later than now) skip the step. Vectorised: one
uniform draw per agent from the model's generator.
"""

from __future__ import annotations

import numpy as np


def run(model) -> None:
    model.world.active = active_agents(model)


def active_agents(model) -> np.ndarray:
    world = model.world
    idle = world.busy_until <= model.now_hours + 1e-9
    active = np.flatnonzero(idle & (model.rng.random(world.n_agents) < world.activity))
    cap = model.sim.activation.max_active
    if cap is not None and len(active) > cap:
        active = np.sort(model.rng.choice(active, size=cap, replace=False))
    world.counters["active"] = len(active)
    return active
