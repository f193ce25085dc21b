"""The LLM keyword route: the paper's prompts T_obj (item facts) and T_sub (a user's rating and
comment), strict reply validation with retries, union of both, then the frequency filter.

Calls go through the project's language backend (`recagent.llm.LanguageBackend`: bounded
concurrency, the SQLite prompt cache, retries with backoff, a call budget, accounting), so any
OpenAI-compatible endpoint works (`recagent prepare --route llm --llm-base-url ...`); a bare
LangChain chat model is wrapped in a backend. Replies must hold one JSON object in the format the
prompt shows (a code fence or a sentence around it is tolerated); its content is validated
strictly (exactly 3 pros and 3 cons, each with a reason, evidence and 1-5 keywords of at most 4
words; 1-3 T_sub reasons). A reply that fails is a `ReplyFormatError`; the backend asks again, up
to its `max_retries`, and only replies that validated enter the prompt cache. Items whose replies
stay malformed keep only their genres and are listed in `meta["failed_items"]`; when more than
`max_failed` of the items (or comments) fail, or none of the first wave of requests succeeds
(a dead or misbehaving endpoint), `LLMRouteError` stops the distillation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from pydantic import BaseModel, model_validator

from ..data import Catalog
from ..errors import UserError
from .base import ItemKeywords, assign_categories, frequency_filter

T_OBJ_SYSTEM = (
    "You analyse items of a recommender system (movies, books, products) for a user simulator. "
    "Answer with one JSON object and nothing else."
)
T_OBJ = """Item: {title}
Categories: {genres}
Description: {text}

List exactly 3 pros (reasons a person would like this item) and exactly 3 cons (reasons a person
would dislike it), grounded in the facts above. For each give a one-sentence reason, the evidence
from the description, and 1-5 short keywords (1-4 words each, lower case) that name the aspect.
Reply in exactly this JSON format:
{{"pros": [{{"reason": "...", "evidence": "...", "keywords": ["...", "..."]}}, ... 3 items],
 "cons": [{{"reason": "...", "evidence": "...", "keywords": ["..."]}}, ... 3 items]}}"""

T_SUB_SYSTEM = T_OBJ_SYSTEM
T_SUB = """Item: {title}
Categories: {genres}
A user rated it {rating} out of 5 and wrote: "{comment}"

Explain why this user gave this rating: 1-3 reasons, each a one-sentence reason and 1-5 short
keywords (1-4 words each, lower case) naming the aspect of the item the user reacted to.
Reply in exactly this JSON format:
{{"reasons": [{{"reason": "...", "keywords": ["...", "..."]}}]}}"""

MAX_KEYWORD_WORDS = 4
MAX_KEYWORD_CHARS = 40


class ReplyFormatError(ValueError):
    """The model's reply does not follow the requested format; the message says what is wrong."""


class LLMRouteError(UserError):
    """The endpoint is unreachable or keeps answering out of format; nothing was distilled."""


def _json_object(reply: str) -> dict:
    text = reply.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, flags=re.S)
    if fenced:
        text = fenced.group(1)
    if not text.startswith("{") or not text.endswith("}"):
        raise ReplyFormatError("expected one JSON object and nothing else")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReplyFormatError(f"invalid JSON: {e.msg} at character {e.pos}") from None
    if not isinstance(data, dict):
        raise ReplyFormatError("expected a JSON object")
    return data


def _keywords(entry: dict, where: str) -> list[str]:
    kws = entry.get("keywords")
    if not isinstance(kws, list) or not 1 <= len(kws) <= 5:
        raise ReplyFormatError(f"{where}.keywords must be a list of 1-5 strings")
    out = []
    for k in kws:
        if not isinstance(k, str) or not k.strip():
            raise ReplyFormatError(f"{where}.keywords must hold non-empty strings, found {k!r}")
        k = " ".join(k.lower().split()).strip(" .,;:")
        if len(k.split()) > MAX_KEYWORD_WORDS or len(k) > MAX_KEYWORD_CHARS:
            raise ReplyFormatError(f"{where}.keywords: {k!r} is longer than {MAX_KEYWORD_WORDS} words")
        out.append(k)
    return out


def _text(entry: dict, key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ReplyFormatError(f"{where}.{key} must be a non-empty string")
    return value.strip()


@dataclass
class ObjectiveReply:
    pros: list[dict]  # each {"reason", "evidence", "keywords"}
    cons: list[dict]

    @property
    def pos_keywords(self) -> list[str]:
        return list(dict.fromkeys(k for p in self.pros for k in p["keywords"]))

    @property
    def neg_keywords(self) -> list[str]:
        return list(dict.fromkeys(k for p in self.cons for k in p["keywords"]))


def parse_objective(reply: str) -> ObjectiveReply:
    """Parse a T_obj reply: exactly 3 pros and 3 cons, each with reason, evidence, keywords."""
    return _objective_from(_json_object(reply))


def _objective_from(data) -> ObjectiveReply:
    if not isinstance(data, dict):
        raise ReplyFormatError("expected a JSON object")
    parsed = {}
    for side in ("pros", "cons"):
        entries = data.get(side)
        if not isinstance(entries, list) or len(entries) != 3:
            raise ReplyFormatError(f"'{side}' must be a list of exactly 3 entries")
        rows = []
        for n, e in enumerate(entries):
            where = f"{side}[{n}]"
            if not isinstance(e, dict):
                raise ReplyFormatError(f"{where} must be an object")
            rows.append({"reason": _text(e, "reason", where), "evidence": _text(e, "evidence", where),
                         "keywords": _keywords(e, where)})
        parsed[side] = rows
    return ObjectiveReply(parsed["pros"], parsed["cons"])


def parse_subjective(reply: str) -> list[dict]:
    """Parse a T_sub reply: 1-3 reasons, each with reason text and keywords."""
    return _subjective_from(_json_object(reply))


def _subjective_from(data) -> list[dict]:
    if not isinstance(data, dict):
        raise ReplyFormatError("expected a JSON object")
    entries = data.get("reasons")
    if not isinstance(entries, list) or not 1 <= len(entries) <= 3:
        raise ReplyFormatError("'reasons' must be a list of 1-3 entries")
    rows = []
    for n, e in enumerate(entries):
        where = f"reasons[{n}]"
        if not isinstance(e, dict):
            raise ReplyFormatError(f"{where} must be an object")
        rows.append({"reason": _text(e, "reason", where), "keywords": _keywords(e, where)})
    return rows


# --- the same validation as reply schemas of the language backend ------------------------------------


class ObjectiveSchema(BaseModel):
    """A validated T_obj reply (the backend's schema for kind "t_obj")."""

    pros: list[dict]
    cons: list[dict]

    @model_validator(mode="before")
    @classmethod
    def _strict(cls, data):
        reply = _objective_from(data)
        return {"pros": reply.pros, "cons": reply.cons}

    def reply(self) -> ObjectiveReply:
        return ObjectiveReply(self.pros, self.cons)

    def as_text(self) -> str:
        return json.dumps({"pros": self.pros, "cons": self.cons}, ensure_ascii=False)


class SubjectiveSchema(BaseModel):
    """A validated T_sub reply (the backend's schema for kind "t_sub")."""

    reasons: list[dict]

    @model_validator(mode="before")
    @classmethod
    def _strict(cls, data):
        return {"reasons": _subjective_from(data)}

    def as_text(self) -> str:
        return json.dumps({"reasons": self.reasons}, ensure_ascii=False)


def _one_line(text: str | None, limit: int = 240) -> str:
    text = " ".join(str(text or "unknown error").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def ask_all(backend, kind: str, prompts: Sequence[tuple[str, str]], schema: type[BaseModel],
            progress: Callable[[int], None] | None = None, chunk: int | None = None,
            ) -> tuple[list[BaseModel | None], list[str | None]]:
    """Send (system, user) prompts through the backend in waves of `chunk`; validated replies in order.

    Returns the parsed replies (None where every attempt failed) and the last error per prompt.
    A spent budget raises `LLMRouteError` (the replies so far stay in the prompt cache).
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    from ..llm import Task

    chunk = chunk or max(64, 8 * backend.max_concurrency)
    results: list[BaseModel | None] = []
    errors: list[str | None] = []
    for start in range(0, len(prompts), chunk):
        tasks = [Task(kind, [SystemMessage(system), HumanMessage(user)], (lambda: ("", None)), schema)
                 for system, user in prompts[start:start + chunk]]
        for reply in backend.run_tasks(tasks):
            if reply.source == "budget":
                u = backend.usage
                spent = (f"{u.calls} calls" if backend.max_calls is not None and u.calls >= backend.max_calls
                         else f"{u.prompt_tokens + u.completion_tokens} tokens")
                raise LLMRouteError(f"LLM budget spent ({spent}) before every {kind} prompt was answered; the "
                                    "replies so far are in the prompt cache, so a re-run with a larger budget "
                                    "continues from there")
            ok = reply.data is not None and reply.source in ("llm", "fake", "cache")
            results.append(reply.data if ok else None)
            errors.append(None if ok else _one_line(reply.error or f"no usable reply ({reply.source})"))
        if progress:
            progress(len(results))
    return results, errors


def _as_backend(llm, retries: int, max_concurrency: int):
    """(backend, owned): a LanguageBackend as given, or a bare chat model wrapped in one."""
    from ..llm import LanguageBackend

    if isinstance(llm, LanguageBackend):
        return llm, False
    return LanguageBackend(llm, label=type(llm).__name__, max_concurrency=max_concurrency, max_retries=retries,
                           backoff=0.0), True


def distil_with_llm(catalog: Catalog, llm, comments: Sequence[Sequence[tuple[float, str]]] | None = None,
                    like_threshold: float = 3.0, retries: int = 2, max_concurrency: int = 8, min_items: int = 2,
                    max_fraction: float = 0.25, max_failed: float = 0.1,
                    progress: Callable[[str, float], None] | None = None, source: str | None = None) -> ItemKeywords:
    """D_pos / D_neg from T_obj for every item, plus T_sub for each (rating, comment) of the item.

    `llm` is a `LanguageBackend` (its retries, concurrency, cache and budget apply) or a LangChain
    chat model (wrapped with `retries` and `max_concurrency`, no cache). T_sub reasons of ratings
    >= like_threshold join D_pos, the others D_neg. Genres are added to both sides as in the
    offline route, then the frequency filter runs over the union. Raises `LLMRouteError` when the
    first wave of T_obj prompts gets no usable reply, or more than `max_failed` of the items or of
    the comments fail after the retries; its message starts with `source` (default: the backend's label).
    """
    backend, owned = _as_backend(llm, retries, max_concurrency)
    report = progress or (lambda stage, frac: None)
    try:
        return _distil(catalog, backend, comments, like_threshold, min_items, max_fraction, max_failed, report,
                       source or backend.label)
    finally:
        if owned:
            backend.close()


def _distil(catalog, backend, comments, like_threshold, min_items, max_fraction, max_failed, report,
            who: str) -> ItemKeywords:
    n = len(catalog)
    u0 = backend.usage.as_dict()
    genres_of = [", ".join(catalog.item_genres(i)) or "none" for i in range(n)]
    obj_prompts = [(T_OBJ_SYSTEM, T_OBJ.format(title=catalog.titles[i], genres=genres_of[i],
                                               text=catalog.texts[i] or "(no description)")) for i in range(n)]
    refs, sub_prompts = [], []
    for i, item_comments in enumerate(comments or []):
        for rating, comment in item_comments:
            refs.append((i, rating))
            sub_prompts.append((T_SUB_SYSTEM, T_SUB.format(title=catalog.titles[i], genres=genres_of[i],
                                                           rating=f"{rating:g}", comment=comment)))
    total = max(n + len(sub_prompts), 1)

    # A first wave alone: a dead or misbehaving endpoint is caught before the whole catalog is sent.
    first = min(n, max(1, backend.max_concurrency))
    objective, obj_errors = ask_all(backend, "t_obj", obj_prompts[:first], ObjectiveSchema)
    if first and all(o is None for o in objective):
        raise LLMRouteError(f"{who}: no usable T_obj reply for the first {first} item(s) after "
                            f"{backend.max_retries + 1} attempt(s) each; last error: {obj_errors[-1]}")
    report("T_obj: pros and cons per item", first / total)
    more, more_errors = ask_all(backend, "t_obj", obj_prompts[first:], ObjectiveSchema,
                                progress=lambda done: report("T_obj: pros and cons per item", (first + done) / total))
    objective, obj_errors = objective + more, obj_errors + more_errors
    failed = [i for i, e in enumerate(obj_errors) if e]
    if n and len(failed) > max_failed * n:
        raise LLMRouteError(f"{who}: {len(failed)} of {n} items got no usable T_obj reply after "
                            f"{backend.max_retries + 1} attempt(s) (more than {max_failed:.0%}); last error: "
                            f"{obj_errors[failed[-1]]}")
    pos = [list(o.reply().pos_keywords) if o else [] for o in objective]
    neg = [list(o.reply().neg_keywords) if o else [] for o in objective]

    sub_errors: list[str | None] = []
    if sub_prompts:
        subjective, sub_errors = ask_all(backend, "t_sub", sub_prompts, SubjectiveSchema,
                                         progress=lambda done: report("T_sub: reasons behind ratings",
                                                                      (n + done) / total))
        bad = [e for e in sub_errors if e]
        if len(bad) > max_failed * len(sub_prompts):
            raise LLMRouteError(f"{who}: {len(bad)} of {len(sub_prompts)} comments got no usable T_sub reply "
                                f"(more than {max_failed:.0%}); last error: {bad[-1]}")
        for (i, rating), reasons in zip(refs, subjective):
            if reasons is not None:
                target = pos if rating >= like_threshold else neg
                target[i].extend(k for r in reasons.reasons for k in r["keywords"])
    report("frequency filter", 1.0)
    genre_words = [[g.lower() for g in catalog.item_genres(i)] for i in range(n)]
    pos = [list(dict.fromkeys(g + p)) for g, p in zip(genre_words, pos)]
    neg = [list(dict.fromkeys(g + q)) for g, q in zip(genre_words, neg)]
    pos, neg = frequency_filter(pos, neg, min_items=min_items, max_fraction=max_fraction)
    u1 = backend.usage.as_dict()
    delta = {k: u1[k] - u0[k] for k in ("calls", "cache_hits", "failures", "parse_failures", "retries",
                                         "prompt_tokens", "completion_tokens")}
    return ItemKeywords(assign_categories(catalog), pos, neg, route="llm", meta={
        "min_items": min_items, "max_fraction": max_fraction, "retries": backend.max_retries,
        "failed_items": failed, "failed_comments": sum(1 for e in sub_errors if e),
        "t_obj_prompts": n, "t_sub_prompts": len(sub_prompts),
        "replies": {"calls": delta["calls"], "cache_hits": delta["cache_hits"],
                    "malformed": delta["parse_failures"], "request_failures": delta["failures"] - delta["parse_failures"],
                    "retries": delta["retries"], "prompt_tokens": delta["prompt_tokens"],
                    "completion_tokens": delta["completion_tokens"]},
    })
