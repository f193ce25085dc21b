"""Phase 9, record: the step's events go to the run's event log in one transaction (nothing is
written for a step that did not finish)."""

from __future__ import annotations


def run(model) -> None:
    log = model.event_log
    if log is None:
        return
    log.extend(model.world.step_events.rows())
    log.flush()
