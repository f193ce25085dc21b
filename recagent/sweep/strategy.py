"""Recommendation strategies as the command line writes them.

A strategy is a base recommender, then re-rankers joined with '+', each with optional parameters
in parentheses:

    random    mf    mf+mmr(lambda=0.7)    mf(dim=16,epochs=30)+random_k(every=4)

Parameter values are read as YAML scalars (numbers, true/false, strings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

from ..errors import UserError

_PART = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_\-]*)\s*(?:\((.*)\))?\s*$")


@dataclass
class Strategy:
    label: str
    name: str
    params: dict = field(default_factory=dict)
    rerankers: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.+-]+", "_", self.label).strip("_") or "strategy"


def _split_plus(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "+" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _params(text: str | None, where: str) -> dict:
    if not text or not text.strip():
        return {}
    out = {}
    for item in text.split(","):
        if "=" not in item:
            raise UserError(f"{where}: expected key=value inside parentheses, found {item.strip()!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(value.strip())
        except yaml.YAMLError:
            out[key.strip()] = value.strip()
    return out


def parse_strategy(text: str) -> Strategy:
    """'mf(dim=16)+mmr(lambda=0.7)' -> Strategy; UserError naming --recommender when malformed."""
    where = f"--recommender {text!r}"
    parts = []
    for part in _split_plus(text):
        m = _PART.match(part)
        if not m:
            raise UserError(f"{where}: expected NAME or NAME(key=value,...) joined by '+', found {part.strip()!r}")
        parts.append((m.group(1), _params(m.group(2), where)))
    (name, params), rerankers = parts[0], parts[1:]
    return Strategy(label=text.strip(), name=name, params=params, rerankers=rerankers)


def check_strategies(strategies: list[Strategy]) -> None:
    from ..params import did_you_mean
    from ..recommenders import available_recommenders, available_rerankers

    recs, rrs = available_recommenders(), available_rerankers()
    labels = set()
    for s in strategies:
        if s.name not in recs:
            raise UserError(f"--recommender {s.label!r}: unknown recommender {s.name!r}; "
                            f"{(did_you_mean(s.name, recs) + ' ') if did_you_mean(s.name, recs) else ''}"
                            f"available: {', '.join(sorted(recs))}")
        for r, _ in s.rerankers:
            if r not in rrs:
                raise UserError(f"--recommender {s.label!r}: unknown re-ranker {r!r}; "
                                f"{(did_you_mean(r, rrs) + ' ') if did_you_mean(r, rrs) else ''}"
                                f"available: {', '.join(sorted(rrs))}")
        if s.slug in labels:
            raise UserError(f"--recommender {s.label!r} is given twice")
        labels.add(s.slug)
