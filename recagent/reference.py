"""The reference pages, generated from the code: scenario fields, output columns, event payloads.

`python -m recagent.reference` rewrites `docs/scenario-reference.md` and `docs/outputs-reference.md`;
`python -m recagent.reference --check` exits 1 (and names the pages) when a committed page differs
from what the code says now. tests/test_reference.py runs the check, and also compares the column
and event tables of recagent/reference_notes.py with what a real run writes, so a new column,
event kind or payload key without a line there fails the tests instead of going undocumented.

The scenario page walks the pydantic models of recagent/scenario.py: every field with its type,
default and description. A field whose model gives no description gets one from `FIELD_NOTES`
in recagent/reference_notes.py (the test insists that every field has one from one place or the other).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import enum
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .events.reference import events_reference
from .reference_notes import (  # noqa: F401 - re-exported: tests/test_reference.py reads them here
    AGENT_METRICS_COLUMNS,
    EVENT_COLUMNS,
    EVENTS,
    FIELD_NOTES,
    METRICS_COLUMNS,
    ROLEPLAY_EVENTS,
    ROLEPLAY_KEYS,
)

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"
SCENARIO_PAGE = "scenario-reference.md"
OUTPUTS_PAGE = "outputs-reference.md"


# --- rendering the scenario models ---------------------------------------------------------------


def _model_sections(root: type[BaseModel]) -> list[type[BaseModel]]:
    """Every model reachable from `root`, in first-seen order (depth first, fields in order)."""
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for info in model.model_fields.values():
            for sub in _models_in(info.annotation):
                visit(sub)

    visit(root)
    return seen


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        out += _models_in(arg)
    return out


def _anchor(model: type[BaseModel]) -> str:
    """GitHub's heading anchor: lower case, punctuation other than - and _ dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", _title(model).lower()).replace(" ", "-")


_SECTION_NAMES: dict[str, str] = {}


def _title(model: type[BaseModel]) -> str:
    return _SECTION_NAMES.get(model.__name__, model.__name__)


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (list, tuple, dict):
        if origin is tuple:
            return "[" + ", ".join(_type_name(a) for a in args) + "]"
        if origin is list:
            return f"list of {_type_name(args[0])}"
        return f"mapping {_type_name(args[0])} → {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{_title(annotation)}](#{_anchor(annotation)})"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in annotation)
    names = {int: "integer", float: "number", str: "text", bool: "true/false", Path: "path",
             _dt.datetime: "date-time", Any: "any"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "required"
    value = info.default_factory() if info.default_factory is not None else info.default
    if isinstance(value, BaseModel):
        return "(its defaults)"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, (_dt.datetime, Path)):
        return f"`{value.isoformat() if isinstance(value, _dt.datetime) else value}`"
    if isinstance(value, tuple):
        value = list(value)
    return f"`{json.dumps(value)}`"


def _constraints(info: FieldInfo) -> str:
    bits = []
    for meta in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("min_length", "length ≥")):
            value = getattr(meta, attr, None)
            if value is not None:
                bits.append(f"{sign} {value}")
    return ", ".join(bits)


def field_description(model: type[BaseModel], name: str) -> str:
    info = model.model_fields[name]
    return (info.description or FIELD_NOTES.get(f"{model.__name__}.{name}") or FIELD_NOTES.get(f"*.{name}") or "")


def undocumented_fields() -> list[str]:
    """`Model.field` for every scenario field with no description anywhere (the test wants none)."""
    from .scenario import Scenario

    return [f"{m.__name__}.{name}" for m in _model_sections(Scenario) for name in m.model_fields
            if not field_description(m, name)]


def _yaml_path_names(root: type[BaseModel]) -> dict[str, str]:
    """A readable section title per model: its YAML path (`llm.budget`), or `dataset (kind: csv)`."""
    titles: dict[str, str] = {}

    def walk(model: type[BaseModel], path: str) -> None:
        for name, info in model.model_fields.items():
            subs = _models_in(info.annotation)
            field_path = f"{path}.{name}" if path else name
            for sub in subs:
                if sub.__name__ in titles:
                    continue
                kind = sub.model_fields.get("kind")
                tags = get_args(kind.annotation) if kind is not None and get_origin(kind.annotation) is Literal else ()
                tag = tags[0] if len(tags) == 1 else None  # a discriminated variant has exactly one
                is_list = get_origin(info.annotation) is list or "list" in str(info.annotation)
                where = f"{field_path}[]" if is_list else field_path
                titles[sub.__name__] = f"{where} (kind: {tag})" if tag else where
                walk(sub, where)

    titles[root.__name__] = "Top level"
    walk(root, "")
    return titles


def scenario_reference() -> str:
    from . import scenario as spec

    _SECTION_NAMES.clear()
    _SECTION_NAMES.update(_yaml_path_names(spec.Scenario))
    out = [
        "# Scenario reference",
        "",
        "<!-- generated by `python -m recagent.reference` from recagent/scenario.py; do not edit by hand -->",
        "",
        "Every field of a scenario file, with its type, default and meaning. Unknown keys are errors.",
        "Relative paths resolve against the scenario file's folder; `~` and `${ENV_VAR}` expand.",
        "`recagent validate FILE` checks a file without running it. How to write one: [scenarios](scenarios.md).",
        "",
    ]
    models = _model_sections(spec.Scenario)
    out.append("Sections: " + ", ".join(f"[{_title(m)}](#{_anchor(m)})" for m in models) + ".")
    out.append("")
    for model in models:
        out.append(f"## {_title(model)}")
        out.append("")
        doc = (model.__doc__ or "").strip()
        if doc and model.__doc__ is not BaseModel.__doc__ and not doc.startswith("Unknown keys"):
            out.append(" ".join(doc.split()))
            out.append("")
        out.append("| field | type | default | allowed | meaning |")
        out.append("|---|---|---|---|---|")
        for name, info in model.model_fields.items():
            desc = field_description(model, name).replace("|", "\\|")
            out.append(f"| `{name}` | {_type_name(info.annotation)} | {_default(info)} | {_constraints(info)} | {desc} |")
        out.append("")
    return "\n".join(out)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def outputs_reference() -> str:
    per = {"step": "this step", "so far": "so far (cumulative)", "window": "last `metrics.window` steps"}
    out = [
        "# Output reference",
        "",
        "<!-- generated by `python -m recagent.reference` from recagent/reference.py; do not edit by hand -->",
        "",
        "What a run folder's files hold, column by column. A test runs a scenario and checks these",
        "tables against the columns, event kinds and payload keys it actually writes.",
        "",
        "## metrics.csv",
        "",
        "One row per step. *Counts* are of this step only; *so far* means cumulative since step 0.",
        "An empty cell means the measure is undefined at that step (see its meaning).",
        "",
    ]
    out += _table(["column", "unit", "over", "meaning"],
                  [[f"`{c}`", unit, per[over], meaning] for c, unit, over, meaning in METRICS_COLUMNS])
    out += ["", "## agent_metrics.csv", "", "One row per agent, written at the end of the run (over the whole run).", ""]
    out += _table(["column", "unit", "meaning"], [[f"`{c}`", unit, meaning] for c, unit, meaning in AGENT_METRICS_COLUMNS])
    out += ["", *events_reference()]  # generated from the payload models
    return "\n".join(out)


def pages() -> dict[str, str]:
    return {SCENARIO_PAGE: scenario_reference(), OUTPUTS_PAGE: outputs_reference()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m recagent.reference", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed page differs from the code")
    parser.add_argument("--docs", type=Path, default=DOCS_DIR, help="folder of the pages (default: docs/)")
    args = parser.parse_args(argv)
    stale = []
    for name, text in pages().items():
        path = args.docs / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run `python -m recagent.reference`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
