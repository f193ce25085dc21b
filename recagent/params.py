"""Component parameters as pydantic models, so a scenario's `params` errors name the field.

Every recommender, re-ranker and feedback model declares the `params` it accepts as a
`ComponentParams` subclass (next to its registration). A third-party factory may expose its own
`Params` model as an attribute; without one, `params_model_for` derives a model from the factory's
signature (keyword parameters after the leading positional ones the registry passes itself), so
plugins get the same checks without writing anything.

`check_params` turns a pydantic error into one line naming the scenario field:
`field 'recommender.rerankers[0].params.lamda': unknown parameter; did you mean 'lambda'?`.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from .errors import UserError


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default. YAML's .nan and
    .inf are never a sensible setting and would pass range checks (inf > 0), so they are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


REPR_LIMIT = 80  # characters of a user's value quoted in an error; inputs can be megabytes


def cut(value: Any, limit: int = REPR_LIMIT) -> str:
    """repr(value), shortened to `limit` characters: an error message never quotes an unbounded input.

    Containers are summarised before repr so a billion-element list is never turned into text.
    """
    if isinstance(value, (list, tuple, set, dict)) and len(value) > 20:
        kind = type(value).__name__
        return f"<a {kind} of {len(value):,} entries>"
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + f"... ({len(value):,} characters)"
    try:
        text = repr(value)
    except RecursionError:
        return f"<a deeply nested {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def clip(text: str, limit: int = 200) -> str:
    """`text` itself (no quotes) when short, else its start and its length."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


class ComponentParams(BaseModel):
    """Base of every component's params: unknown keys are errors, YAML names may be aliases."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def params_model_for(factory: Callable, skip: int) -> type[BaseModel]:
    """The factory's `Params` model, or one derived from its signature.

    `skip`: how many leading positional parameters the registry fills itself (context; context
    and base for re-rankers). A factory taking `**params` accepts any key (only the declared ones
    are type-checked).
    """
    declared = getattr(factory, "Params", None)
    if isinstance(declared, type) and issubclass(declared, BaseModel):
        return declared
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to derive, accept anything
        return create_model("AnyParams", __config__=ConfigDict(extra="allow"))
    try:
        hints = typing.get_type_hints(factory)
    except Exception:  # noqa: BLE001 - unresolvable annotations: check names only, not types
        hints = {}
    fields: dict[str, Any] = {}
    extra = "forbid"
    for position, (name, parameter) in enumerate(signature.parameters.items()):
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            extra = "allow"
            continue
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL or position < skip:
            continue
        annotation = hints.get(name, Any)
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[name] = (annotation, default)
    name = f"{getattr(factory, '__name__', 'Factory')}Params".replace("<", "").replace(">", "")
    return create_model(name, __config__=ConfigDict(extra=extra, arbitrary_types_allowed=True), **fields)


def did_you_mean(word: Any, known: list[str] | tuple[str, ...] | set[str] | dict) -> str:
    """"did you mean 'mf'?" when `word` is close to one of `known` (case first: `MF` is `mf`), else ""."""
    text, names = str(word), [str(k) for k in known]
    by_case = [k for k in names if k.lower() == text.lower()]
    close = by_case or difflib.get_close_matches(text, names, n=1, cutoff=0.6) or \
        difflib.get_close_matches(text.lower(), names, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close and close[0] != text else ""


def _yaml_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def describe_param_error(model: type[BaseModel], field: str, error: dict) -> str:
    loc = [p for p in error["loc"]]
    key = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")
    where = f"{field}.{key}" if key else field
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _yaml_names(model)
        hint = did_you_mean(loc[-1], known) or (
            f"expected one of {', '.join(known)}" if known else "this component takes no parameters")
        return f"field '{where}': unknown parameter; {hint}"
    if kind == "missing":
        return f"field '{where}' is required"
    msg = error["msg"].removeprefix("Value error, ")
    return f"field '{where}': {msg}, found {cut(error.get('input'))}"


def check_params(model: type[BaseModel], params: Any, field: str, file: str | Path | None = None) -> dict[str, Any]:
    """Validate `params` (the scenario's mapping) against `model`; the keyword arguments for the factory.

    Only the keys the user gave are returned (by their Python names, values converted), so the
    registry's own defaults (seed, cache folder) still apply.
    """
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise UserError(f"field '{field}': expected a mapping of parameters, found {cut(params)}", file)
    try:
        validated = model.model_validate(params)
    except ValidationError as e:
        raise UserError(describe_param_error(model, field, e.errors()[0]), file) from None
    out = {name: getattr(validated, name) for name in validated.model_fields_set if name in model.model_fields}
    out.update(validated.model_extra or {})
    return out
