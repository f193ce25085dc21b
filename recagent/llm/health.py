"""Whether an LLM run's text can be trusted: the share of its acts that fell back to offline text.

A call that fails after its retries does not stop a run: the act gets the offline reply and the
failure is counted. Past `llm.max_fallback_share` of the acts, the run's text is no longer the
LLM's, so the run ends `degraded` (exit code 3 from `recagent run` unless `--allow-degraded`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backend import Usage


def fallback_share(usage: Usage) -> float:
    return usage.fallbacks / usage.acts if usage.acts else 0.0


def degraded_warning(usage: Usage, max_share: float) -> str | None:
    """The warning for a run whose fallbacks exceed `max_share` of its LLM acts, else None."""
    if not usage.fallbacks or fallback_share(usage) <= max_share:
        return None
    return (f"{usage.fallbacks} of {usage.acts} LLM acts fell back to offline text "
            f"({fallback_share(usage):.0%}, over llm.max_fallback_share = {max_share:g}): "
            f"{usage.last_error or 'no error recorded'}")


def mark_degraded(info: dict, usage: Usage, max_share: float) -> None:
    """Turn a finished run's status (in its run.json dict) to `degraded` when its fallbacks exceed the
    share; the warning goes beside it. A failed or interrupted run keeps its own status."""
    if info.get("status") in ("completed", "budget_exhausted") and (warning := degraded_warning(usage, max_share)):
        info["status"], info["warning"] = "degraded", warning
