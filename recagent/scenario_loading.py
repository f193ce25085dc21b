"""Loading a scenario: the YAML read within bounds, validated against the models of
recagent/scenario.py, paths expanded and resolved, and every problem a UserError that names the
file and the field.

Relative paths resolve against the scenario file's folder; `~` and `${ENV_VAR}` expand.
"""

from __future__ import annotations

import os
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .data.fetch import fetched_path
from .errors import UserError
from .params import clip, cut, did_you_mean
from .scenario import Scenario, SwitchRecommender

MAX_SCENARIO_BYTES = 1_000_000  # a scenario is a few KB; anything this big is not one
MAX_YAML_DEPTH = 64  # the schema nests 4 levels; deeper is an accident or an attack (RecursionError)
MAX_YAML_NODES = 100_000  # after alias expansion: "billion laughs" stays a few KB of YAML


class _YAMLLimit(Exception):
    def __init__(self, message: str, mark):
        self.message, self.mark = message, mark


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader (no `!!python/...` tags) that bounds nesting depth while composing the node graph.

    Aliases are not expanded by PyYAML (they share one node), but everything after it (pydantic,
    error messages, dumping the resolved scenario) walks the expanded document, so
    `expanded_size` bounds that before any Python object is built.
    """

    depth = 0

    def compose_node(self, parent, index):
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise _YAMLLimit(f"YAML nested more than {MAX_YAML_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes in the document with every alias expanded, counted without expanding (memoised per
    node); stops counting past `limit`."""
    sizes: dict[int, int] = {}
    order, stack = [], [root]
    while stack:  # post-order without recursion: children are sized before their parents
        node = stack.pop()
        if id(node) in sizes:
            continue
        sizes[id(node)] = -1
        order.append(node)
        stack.extend(_children(node))
    for node in reversed(order):
        sizes[id(node)] = min(limit + 1, 1 + sum(sizes.get(id(c), 1) for c in _children(node)))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _read_yaml(text: str, file: Path) -> Any:
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None and expanded_size(root, MAX_YAML_NODES) > MAX_YAML_NODES:
            raise UserError(f"the YAML expands to more than {MAX_YAML_NODES:,} values through aliases (&anchor / *alias); "
                            "a scenario needs a few hundred", file)
        return None if root is None else loader.construct_document(root)
    finally:
        loader.dispose()


_ENV = re.compile(r"\$\{([^}]+)\}")


def expand_path(value: str | Path, base: Path, field: str, file: Path) -> Path:
    text = str(value)
    for var in _ENV.findall(text):
        if var not in os.environ:
            raise UserError(f"field '{field}': environment variable ${{{clip(var, 80)}}} is not set", file)
    text = os.path.expanduser(_ENV.sub(lambda m: os.environ[m.group(1)], text))
    path = Path(text)
    return path if path.is_absolute() else (base / path).resolve()


def _is_type_tag(part) -> bool:
    """A loc entry pydantic adds for a union member (`list[...]`, `constrained-int`), not a key:
    scenario keys are Python names."""
    return isinstance(part, str) and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part) and part not in (
        "movielens-100k",)


def _models_in(annotation) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def keys_at(loc: tuple) -> list[str]:
    """The keys the scenario model accepts beside the last entry of `loc` (for "did you mean")."""
    models: list[type[BaseModel]] = [Scenario]
    for part in loc[:-1]:
        if isinstance(part, int) or _is_type_tag(part):
            continue
        tagged = [m for m in models if "kind" in m.model_fields and part in typing.get_args(
            m.model_fields["kind"].annotation)]
        if tagged:  # a discriminated union's tag: keep the variant it names
            models = tagged
            continue
        models = [sub for m in models if part in m.model_fields for sub in _models_in(m.model_fields[part].annotation)]
    return sorted({f.alias or name for m in models for name, f in m.model_fields.items()})


def _field_path(loc: tuple) -> str:
    parts = []
    for k, p in enumerate(loc):
        if _is_type_tag(p):
            continue
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif k and (loc[k - 1] == "dataset" or isinstance(loc[k - 1], int)) and p in (
                "synthetic", "movielens-100k", "recagent", "csv", "switch_recommender", "inject_post", "rewire",
                "set_traits"):
            continue  # a discriminator tag pydantic adds after the union's field (not a field named 'rewire')
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "(top level)"


def _describe(err: dict) -> str:
    kind, found = err["type"], err.get("input")
    field = _field_path(err["loc"])
    if len(field) > 120:  # a key can be as long as the file: name its start only
        field = field[:120] + f"... ({len(field):,} characters)"
    if kind == "extra_forbidden":
        hint = did_you_mean(err["loc"][-1], keys_at(err["loc"]))
        return f"unknown key '{field}'" + (f"; {hint}" if hint else "")
    if kind == "missing":
        return f"field '{field}' is required"
    if kind == "union_tag_invalid":
        expected = err.get("ctx", {}).get("expected_tags", "")
        hint = did_you_mean(err["ctx"].get("tag"), re.findall(r"'([^']*)'", expected))
        return f"field '{field}.kind': unknown kind {cut(err['ctx'].get('tag'))}; " + (
            f"{hint} (expected one of {expected})" if hint else f"expected one of {expected}")
    if kind == "union_tag_not_found":
        return f"field '{field}' needs a 'kind'"
    msg = err["msg"].removeprefix("Value error, ")
    hint = ""
    if kind == "literal_error" and isinstance(found, str):
        hint = did_you_mean(found, re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", "")))
    return f"field '{field}': {msg}, found {cut(found)}" + (f"; {hint}" if hint else "")


def parse_scenario(data: Any, file: Path) -> Scenario:
    if not isinstance(data, dict):
        raise UserError(f"expected a mapping of scenario fields at the top level, found {type(data).__name__}", file)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        raise UserError(_describe(e.errors()[0]), file) from None
    return resolve(scenario, file)


def _movielens_folder(path: Path) -> Path:
    """`dataset.path` as written if it holds u.data, else the copy `recagent data fetch ml-100k` made."""
    fetched = fetched_path("ml-100k")
    try:
        if not (path / "u.data").exists() and (fetched / "u.data").is_file():
            return fetched
    except OSError:  # a path the file system cannot hold: said below
        pass
    return path


def resolve(scenario: Scenario, file: Path) -> Scenario:
    """Expand and resolve paths against the scenario's folder; check the names and files it uses."""
    from .feedback import FEEDBACK_MODELS
    from .recommenders import available_recommenders, available_rerankers

    base = file.parent.resolve()
    ds = scenario.dataset
    for attr in ("path", "tmdb", "ratings", "items"):
        value = getattr(ds, attr, None)
        if isinstance(value, (str, Path)):
            path = expand_path(value, base, f"dataset.{attr}", file)
            if attr == "path" and ds.kind == "movielens-100k":
                path = _movielens_folder(path)
            setattr(ds, attr, path)
            try:
                exists = path.exists()
            except OSError as e:  # a name longer than the file system allows, say
                raise UserError(f"field 'dataset.{attr}': {clip(str(path))} cannot be a path "
                                f"({e.strerror or 'invalid'})", file) from None
            if not exists:
                hint = ""
                if ds.kind == "movielens-100k":
                    hint = (f", nor is MovieLens-100K in the data folder ({fetched_path('ml-100k')}): "
                            "`recagent data fetch ml-100k` downloads it there from GroupLens")
                raise UserError(f"field 'dataset.{attr}': {clip(str(path))} does not exist{hint}", file)
    if scenario.outputs.dir is not None:
        scenario.outputs.dir = expand_path(scenario.outputs.dir, base, "outputs.dir", file)
    if scenario.feedback.calibration is not None:
        calibration = expand_path(scenario.feedback.calibration, base, "feedback.calibration", file)
        if not calibration.is_file():
            raise UserError(f"field 'feedback.calibration': {calibration} does not exist (expected ratings of "
                            "randomly shown items)", file)
        scenario.feedback.calibration = calibration
    llm = scenario.llm
    if isinstance(llm.cache, Path):
        llm.cache = expand_path(llm.cache, base, "llm.cache", file)
    if llm.provider == "openai" and llm.api_key_env and llm.api_key_env not in os.environ:
        raise UserError(f"field 'llm.api_key_env': environment variable {clip(llm.api_key_env, 80)} is not set", file)

    recommenders = available_recommenders()
    names = [("recommender.name", scenario.recommender.name)]
    names += [(f"interventions[{i}].name", iv.name) for i, iv in enumerate(scenario.interventions)
              if isinstance(iv, SwitchRecommender) and iv.name is not None]
    for field, name in names:
        if name not in recommenders:
            hint = did_you_mean(name, recommenders)
            raise UserError(f"field '{field}': unknown recommender {cut(name)}; " + (f"{hint} " if hint else "") +
                            f"available: {', '.join(sorted(recommenders))}", file)
    rerankers = available_rerankers()
    reranker_lists = [("recommender.rerankers", scenario.recommender.rerankers)]
    reranker_lists += [(f"interventions[{i}].rerankers", iv.rerankers) for i, iv in enumerate(scenario.interventions)
                       if isinstance(iv, SwitchRecommender) and iv.rerankers]
    for field, specs in reranker_lists:
        for j, spec in enumerate(specs):
            if spec.name not in rerankers:
                hint = did_you_mean(spec.name, rerankers)
                raise UserError(f"field '{field}[{j}].name': unknown re-ranker {cut(spec.name)}; " +
                                (f"{hint} " if hint else "") + f"available: {', '.join(sorted(rerankers))}", file)
    if scenario.feedback.model not in FEEDBACK_MODELS:
        hint = did_you_mean(scenario.feedback.model, FEEDBACK_MODELS)
        raise UserError(f"field 'feedback.model': unknown feedback model {cut(scenario.feedback.model)}; " +
                        (f"{hint} " if hint else "") + f"available: {', '.join(sorted(FEEDBACK_MODELS))}", file)
    lo, hi = scenario.simulation.busy_hours.chat
    if lo > hi or lo < 0:
        raise UserError("field 'simulation.busy_hours.chat': expected [min, max] hours with 0 <= min <= max", file)
    for i, iv in enumerate(scenario.interventions):
        if iv.at_step >= scenario.simulation.steps:
            raise UserError(f"field 'interventions[{i}].at_step': {iv.at_step} is not before the last step "
                            f"({scenario.simulation.steps} steps)", file)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; every problem is a UserError naming file and field."""
    file = Path(path)
    if not file.is_file():
        raise UserError("scenario file not found", file)
    try:
        if file.stat().st_size > MAX_SCENARIO_BYTES:
            raise UserError(f"{file.stat().st_size:,} bytes is not a scenario (at most {MAX_SCENARIO_BYTES:,})", file)
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError("not a UTF-8 text file", file) from None
    except OSError as e:
        raise UserError(f"cannot read the file ({e.strerror or 'unreadable'})", file) from None
    try:
        data = _read_yaml(text, file)
    except _YAMLLimit as e:
        raise UserError(e.message, f"{file}:{e.mark.line + 1}:{e.mark.column + 1}") from None
    except yaml.constructor.ConstructorError as e:
        mark = e.problem_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problem = (e.problem or "unreadable YAML")[:120]
        if "tag" in (e.problem or ""):
            raise UserError(f"YAML tag not allowed ({problem}); scenarios are plain YAML", where) from None
        raise UserError(f"YAML error: {problem}", where) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problem = getattr(e, "problem", None) or "unreadable YAML"
        raise UserError(f"YAML syntax error: {problem[:120]}", where) from None
    except RecursionError:  # flow collections nest in the parser too; the depth limit may not be reached first
        raise UserError(f"YAML nested too deeply (at most {MAX_YAML_DEPTH} levels)", file) from None
    return parse_scenario(data, file)


def dump_scenario(scenario: Scenario) -> str:
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
