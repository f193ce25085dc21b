"""The step as a pipeline of phases over the model's world state (`recagent.simulation.state`).

Each phase is a module with `run(model)`; the model calls them in `PIPELINE` order and runs the
hooks scheduled before a phase (interventions are such hooks, `recagent.simulation.hooks`).
A phase reads and writes `model.world`, draws from `model.rng` and reports what happened with
`model.emit`; the active agents and their acts are handed on through `world.active` / `world.acts`.
"""

from __future__ import annotations

from . import activate, acts, browse, learn, measure, record, remember, search, social

PIPELINE = (
    ("activate", activate.run),
    ("acts", acts.run),
    ("browse", browse.run),
    ("search", search.run),
    ("social", social.run),
    ("remember", remember.run),
    ("learn", learn.run),
    ("measure", measure.run),
    ("record", record.run),
)
PHASES = tuple(name for name, _ in PIPELINE)

__all__ = ["PHASES", "PIPELINE"]
