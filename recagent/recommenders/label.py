"""A strategy written the way `recagent compare -r` takes it: `mf(dim=16)+mmr(lambda=0.5)`.

run.json, `page` events and `intervention` events name the strategy that served with this label,
so a reader sees the re-rankers and their parameters, not just the base recommender's name.
"""

from __future__ import annotations

from typing import Any, Iterable


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _part(name: str, params: dict | None) -> str:
    inner = ",".join(f"{key}={_value(value)}" for key, value in (params or {}).items())
    return f"{name}({inner})" if inner else name


def strategy_label(name: str, params: dict | None = None, rerankers: Iterable = ()) -> str:
    """`rerankers`: (name, params) pairs or objects with `.name` and `.params` (RerankerSpec)."""
    parts = [_part(name, params)]
    for r in rerankers:
        rname, rparams = (r.name, r.params) if hasattr(r, "name") else (r[0], r[1])
        parts.append(_part(rname, rparams))
    return "+".join(parts)
