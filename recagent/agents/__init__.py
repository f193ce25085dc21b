"""The simulated people: personas, traits and per-agent state."""

from .persona import ACTS, ROLES, Persona, act_weights, derive_roles, derive_traits
from .user_agent import UserAgent

__all__ = ["ACTS", "ROLES", "Persona", "UserAgent", "act_weights", "derive_roles", "derive_traits"]
