"""Scheduled phase hooks: code run before a given phase of a given step (or of every step).

The scenario's interventions are hooks before the `activate` phase of their `at_step`; the Python
API schedules more (`Simulation.schedule`). Hooks run in the order they were scheduled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import UserError
from .phases import PHASES


@dataclass(frozen=True)
class Hook:
    fn: Callable  # called with the model
    before: str  # a phase name (recagent.simulation.phases.PHASES)
    at_step: int | None = None  # None: every step
    label: str = ""


class Schedule:
    """The hooks of a run, looked up by phase and step."""

    def __init__(self):
        self.hooks: dict[str, list[Hook]] = {phase: [] for phase in PHASES}

    def add(self, fn: Callable, *, before: str = "activate", at_step: int | None = None, label: str = "") -> Hook:
        if before not in self.hooks:
            raise UserError(f"hook before {before!r}: expected one of the phases {', '.join(PHASES)}")
        if at_step is not None and at_step < 0:
            raise UserError(f"hook at_step: expected a step number of at least 0, found {at_step}")
        hook = Hook(fn, before, at_step, label or getattr(fn, "__name__", "hook"))
        self.hooks[before].append(hook)
        return hook

    def due(self, phase: str, step: int) -> list[Hook]:
        return [h for h in self.hooks[phase] if h.at_step is None or h.at_step == step]
