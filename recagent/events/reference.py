"""The events part of docs/outputs-reference.md, generated from the payload models (payloads.py):
each kind's meaning and id columns, and each payload key with its JSON type and meaning.

`python -m recagent.reference` writes the page (the metrics.csv and agent_metrics.csv tables come
from recagent/reference_notes.py); `tests/test_events_schema.py` checks that the committed page's
events part is what these models generate, so a key added to a model without a description, or a
page edited by hand, fails.
"""

from __future__ import annotations

import types
import typing
from typing import Any, get_args, get_origin

from .kinds import SIMULATION_KINDS, EventKind
from .payloads import PAYLOADS, ROLEPLAY_KEYS, Payload

# the columns of the `events` table, in the writer's order (recagent/simulation/events.py)
TABLE_COLUMNS = ("id", "step", "sim_time", "agent_id", "kind", "item_id", "target_agent_id", "payload")
ROLEPLAY_KINDS = tuple(k for k in EventKind if k.value not in SIMULATION_KINDS)
JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def json_type(annotation: Any) -> str:
    """A payload key's annotation in JSON's words: `float | None` -> number, `list[int]` -> list of integers."""
    if annotation is Any:
        return "any JSON"
    if get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(json_type(a) for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is list:
        (inner,) = get_args(annotation) or (Any,)
        return f"list of {json_type(inner)}s" if inner is not Any else "list"
    return JSON_TYPES.get(annotation, getattr(annotation, "__name__", str(annotation)))


def documented(kind: EventKind) -> tuple[str, str, dict[str, str]]:
    """(what the row means, what its id columns hold, {payload key: meaning}) of `kind`, from its model."""
    model: type[Payload] = PAYLOADS[kind]
    return model.meaning, model.ids, {name: info.description or "" for name, info in model.model_fields.items()}


def undocumented() -> list[str]:
    """Kinds without a meaning or ids, and payload keys without a description (the page would have holes)."""
    missing = []
    for kind, model in PAYLOADS.items():
        if not model.meaning or not model.ids:
            missing.append(f"{kind.value}: meaning or ids")
        missing += [f"{kind.value}.{name}" for name, info in model.model_fields.items() if not info.description]
    return missing


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def kind_section(kind: EventKind) -> list[str]:
    meaning, ids, _ = documented(kind)
    fields = PAYLOADS[kind].model_fields
    out = [f"### `{kind.value}`", "", f"{meaning}. Ids: {ids}.", ""]
    out += table(["payload key", "type", "meaning"],
                 [[f"`{name}`", json_type(info.annotation), info.description or ""] for name, info in fields.items()])
    return out + [""]


def events_reference() -> list[str]:
    """The page's `events.sqlite` and `Role-play runs` sections, as lines."""
    out = ["## events.sqlite", "",
           "Table `events`: one row per act, columns " + ", ".join(f"`{c}`" for c in TABLE_COLUMNS) + ".",
           "`item_id` is the dataset's item id, `agent_id` and `target_agent_id` are agent ids (the `agents`",
           "table maps them to dataset user ids, names and personas). `payload` is JSON; its keys by kind",
           "(generated from the payload models in recagent/events/payloads.py; every key is optional: a key",
           "that does not apply is left out):", ""]
    for kind in EventKind:
        if kind not in ROLEPLAY_KINDS:
            out += kind_section(kind)
    out += ["## Role-play runs", "",
            "A run in which people play agents ([role-play](roleplay.md)) also writes these kinds and keys.", ""]
    for kind in ROLEPLAY_KINDS:
        out += kind_section(kind)
    out += ["Keys added to ordinary kinds:", ""]
    out += table(["payload key", "meaning"], [[f"`{k}`", v] for k, v in ROLEPLAY_KEYS.items()])
    return out + [""]
