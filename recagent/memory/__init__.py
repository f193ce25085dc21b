"""RecAgent-style agent memory: sensory, short-term and long-term (chromadb) with reflection and forgetting."""

from .memory import Entry, MemorySystem, Observation, StepStats, heuristic_importance, load_agent_memories
from .store import LongTermStore, MiniLMEmbedding

__all__ = ["Entry", "LongTermStore", "MemorySystem", "MiniLMEmbedding", "Observation", "StepStats",
           "heuristic_importance", "load_agent_memories"]
