"""The Mesa agent: one simulated person.

Hot per-step quantities (activity, busy-until, act propensities) live in the model's numpy arrays
so that activation and act choice are vectorised; the agent keeps what is naturally per person:
its persona and what it has heard from whom.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa

from .persona import Persona

SENTIMENT_WEIGHT = {"liked": 1.0, "neutral": 0.3, "disliked": -1.0}


@dataclass
class Hearing:
    item: int
    source: int  # agent id of the speaker
    step: int
    sentiment: str
    closeness: float
    via: str  # "chat" or "post"


class UserAgent(mesa.Agent):
    """A person with a persona, a dataset user behind it, and the word of mouth it received."""

    def __init__(self, model: mesa.Model, agent_id: int, user: int, persona: Persona):
        super().__init__(model)
        self.agent_id = agent_id  # dense 0..n-1: graph node, array row, events.agent_id
        self.user = user  # dense dataset user index (feedback models and recommenders use it)
        self.persona = persona
        self.heard: dict[int, list[Hearing]] = {}

    def hear(self, hearing: Hearing) -> None:
        self.heard.setdefault(hearing.item, []).append(hearing)

    def heard_weight(self, item: int) -> float:
        """Signed word-of-mouth pressure for an item: closeness-weighted sentiment of what was heard."""
        return sum(SENTIMENT_WEIGHT[h.sentiment] * h.closeness for h in self.heard.get(item, ()))

    def first_source(self, item: int) -> int | None:
        hearings = self.heard.get(item)
        return hearings[0].source if hearings else None

    def wanted_items(self) -> list[int]:
        """Items heard about with positive pressure, strongest first (ties: most recently heard)."""
        scored = [(self.heard_weight(i), hs[-1].step, i) for i, hs in self.heard.items()]
        return [i for w, _, i in sorted(scored, key=lambda t: (-t[0], -t[1], t[2])) if w > 0]
