"""The Mesa agent: one simulated person.

Hot per-step quantities (activity, busy-until, act propensities, word of mouth) live in the
world's arrays so that every phase is vectorised over agents; the agent is the per-person view of
them: its persona and what it has heard from whom. Agents are made on demand (`People`).
"""

from __future__ import annotations

import mesa

from .persona import Persona
from .word_of_mouth import SENTIMENT_WEIGHT, Hearing  # noqa: F401 - names kept here for callers

__all__ = ["Hearing", "SENTIMENT_WEIGHT", "UserAgent"]


class UserAgent(mesa.Agent):
    """A person with a persona, a dataset user behind it, and the word of mouth it received."""

    def __init__(self, model: mesa.Model, agent_id: int, user: int, persona: Persona | None = None):
        super().__init__(model)
        self.agent_id = agent_id  # dense 0..n-1: graph node, array row, events.agent_id
        self.user = user  # dense dataset user index (feedback models and recommenders use it)
        self._persona = persona

    @property
    def persona(self) -> Persona:
        if self._persona is None:
            self._persona = self.model.world.people.persona(self.agent_id)
        return self._persona

    @persona.setter
    def persona(self, persona: Persona) -> None:
        self._persona = persona

    @property
    def _word_of_mouth(self):
        return self.model.world.word_of_mouth

    @property
    def heard(self) -> dict[int, list[Hearing]]:
        """What this agent heard, by item, in the order it happened (a snapshot)."""
        return self._word_of_mouth.hearings(self.agent_id)

    def hear(self, hearing: Hearing) -> None:
        self._word_of_mouth.hear(self.agent_id, hearing)

    def heard_weight(self, item: int) -> float:
        """Signed word-of-mouth pressure for an item: closeness-weighted sentiment of what was heard."""
        return float(self._word_of_mouth.pressure(self.agent_id, item))

    def first_source(self, item: int) -> int | None:
        source = int(self._word_of_mouth.first_source(self.agent_id, item))
        return None if source < 0 else source

    def wanted_items(self) -> list[int]:
        """Items heard about with positive pressure, strongest first (ties: most recently heard)."""
        return self._word_of_mouth.wanted_items(self.agent_id)
