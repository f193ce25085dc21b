"""The Mesa model, its event log and the scenario runner."""

from .build import build_model, load_dataset
from .events import EVENT_KINDS, Event, EventLog
from .model import RecSimModel
from .runner import RunResult, run_scenario

__all__ = ["EVENT_KINDS", "Event", "EventLog", "RecSimModel", "RunResult", "build_model", "load_dataset",
           "run_scenario"]
