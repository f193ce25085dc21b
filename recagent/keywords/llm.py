"""The LLM keyword route: the paper's prompts T_obj (item facts) and T_sub (a user's rating and
comment), strict reply parsing with retries, union of both, then the frequency filter.

Any LangChain `BaseChatModel` can answer (ChatOpenAI against an OpenAI-compatible server, or a
scripted fake in tests). Replies must be one JSON object in the format the prompt shows; anything
else (prose, wrong counts, empty keywords, over-long keywords) is a `ReplyFormatError`, and the
request is asked again with the error appended, up to `retries` times. Items whose replies stay
malformed keep only their genres and are listed in `meta["failed_items"]`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from ..data import Catalog
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
    data = _json_object(reply)
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
    data = _json_object(reply)
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


def _reply_text(message) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):  # content blocks
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def ask_all(chat_model, prompts: Sequence[tuple[str, str]], parse: Callable[[str], object], retries: int = 2,
            max_concurrency: int = 8) -> tuple[list[object | None], list[str | None]]:
    """Send (system, user) prompts in concurrent batches; re-ask malformed ones with the error.

    Returns the parsed replies (None where every attempt failed) and the last error per prompt.
    """
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    conversations = [[SystemMessage(s), HumanMessage(u)] for s, u in prompts]
    results: list[object | None] = [None] * len(prompts)
    errors: list[str | None] = [None] * len(prompts)
    pending = list(range(len(prompts)))
    for _ in range(retries + 1):
        if not pending:
            break
        replies = chat_model.batch([conversations[k] for k in pending], config={"max_concurrency": max_concurrency},
                                   return_exceptions=True)
        still = []
        for k, reply in zip(pending, replies):
            if isinstance(reply, Exception):
                errors[k] = f"request failed: {reply}"
                still.append(k)
                continue
            text = _reply_text(reply)
            try:
                results[k], errors[k] = parse(text), None
            except ReplyFormatError as e:
                errors[k] = str(e)
                conversations[k] += [AIMessage(text), HumanMessage(
                    f"Your reply was not in the required format ({e}). Answer again with only the JSON object.")]
                still.append(k)
        pending = still
    return results, errors


def distil_with_llm(catalog: Catalog, chat_model, comments: Sequence[Sequence[tuple[float, str]]] | None = None,
                    like_threshold: float = 3.0, retries: int = 2, max_concurrency: int = 8, min_items: int = 2,
                    max_fraction: float = 0.25) -> ItemKeywords:
    """D_pos / D_neg from T_obj for every item, plus T_sub for each (rating, comment) of the item.

    T_sub reasons of ratings >= like_threshold join D_pos, the others D_neg. Genres are added to
    both sides as in the offline route, then the frequency filter runs over the union.
    """
    n = len(catalog)
    obj_prompts = [(T_OBJ_SYSTEM, T_OBJ.format(title=catalog.titles[i], genres=", ".join(catalog.item_genres(i)) or "none",
                                               text=catalog.texts[i] or "(no description)")) for i in range(n)]
    objective, obj_errors = ask_all(chat_model, obj_prompts, parse_objective, retries, max_concurrency)
    pos = [list(o.pos_keywords) if o else [] for o in objective]
    neg = [list(o.neg_keywords) if o else [] for o in objective]
    sub_errors: list[str | None] = []
    if comments:
        refs, sub_prompts = [], []
        for i, item_comments in enumerate(comments):
            for rating, comment in item_comments:
                refs.append((i, rating))
                sub_prompts.append((T_SUB_SYSTEM, T_SUB.format(title=catalog.titles[i],
                                                               genres=", ".join(catalog.item_genres(i)) or "none",
                                                               rating=rating, comment=comment)))
        subjective, sub_errors = ask_all(chat_model, sub_prompts, parse_subjective, retries, max_concurrency)
        for (i, rating), reasons in zip(refs, subjective):
            if reasons:
                target = pos if rating >= like_threshold else neg
                target[i].extend(k for r in reasons for k in r["keywords"])
    genre_words = [[g.lower() for g in catalog.item_genres(i)] for i in range(n)]
    pos = [list(dict.fromkeys(g + p)) for g, p in zip(genre_words, pos)]
    neg = [list(dict.fromkeys(g + q)) for g, q in zip(genre_words, neg)]
    pos, neg = frequency_filter(pos, neg, min_items=min_items, max_fraction=max_fraction)
    failed = [i for i, e in enumerate(obj_errors) if e]
    return ItemKeywords(assign_categories(catalog), pos, neg, route="llm", meta={
        "min_items": min_items, "max_fraction": max_fraction, "retries": retries,
        "failed_items": failed, "failed_comments": sum(1 for e in sub_errors if e),
    })
