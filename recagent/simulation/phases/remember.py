"""Phase 6, remember: the memory system's batched end-of-step work (score, embed, file, reflect,
forget); for LLM backends, one `llm` event with the step's language-backend usage."""

from __future__ import annotations

USAGE_KEYS = ("calls", "prompt_tokens", "completion_tokens", "cache_hits", "failures", "retries", "fallbacks",
              "budget_skipped")


def run(model) -> None:
    world = model.world
    if model.memory is not None:
        stats = model.memory.end_step(model.now_hours, world.step_index)
        world.counters["memories_stored"] = stats.stored
    if model.backend.is_offline:
        return
    usage = model.backend.usage.as_dict()
    delta = {k: usage[k] - world.usage_seen.get(k, 0) for k in USAGE_KEYS}
    world.usage_seen = {k: usage[k] for k in USAGE_KEYS}
    model.emit(None, "llm", payload={"backend": model.backend.label, **delta})
