"""Phase 7, learn: every `recommender.retrain_every` steps the recommender gets the feedback
gathered since its last update (one batched `update` call)."""

from __future__ import annotations

import numpy as np

from ...data import Interactions


def run(model) -> None:
    world = model.world
    every = model.scenario.recommender.retrain_every
    if not every or (world.step_index + 1) % every or not world.pending_feedback:
        return
    u, i, r, t = map(np.array, zip(*world.pending_feedback))
    model.recommender.update(Interactions(u, i, r, t))
    world.pending_feedback = []
