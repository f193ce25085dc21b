"""One typed payload model per event kind: the keys an event's JSON `payload` may hold.

Every key is optional (a watch from a search has no `page`; older logs lack newer keys) and extra
keys are kept, not refused (role-play adds `source: human` and more to ordinary kinds), so reading
a log never fails on its payloads; what the models give is names and types. The meaning of each
key is in docs/outputs-reference.md; `tests/test_events_schema.py` holds the two to the same keys.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from .kinds import EventKind


class Payload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class PagePayload(Payload):
    items: list[int] | None = None
    page: int | None = None
    recommender: str | None = None


class WatchPayload(Payload):
    rating: float | None = None
    p_like: float | None = None
    via: str | None = None
    page: int | None = None
    position: int | None = None
    heard_from: int | None = None


class RatingPayload(Payload):
    """`like` and `dislike`: the rating of the watch they follow."""

    rating: float | None = None


class LeavePayload(Payload):
    pages: int | None = None
    watched: int | None = None


class SearchPayload(Payload):
    query: str | None = None
    found: bool | None = None
    reason: str | None = None
    heard_from: int | None = None


class SpeechPayload(Payload):
    """Fields every spoken act (chat, post, feeling) shares: its text and who wrote it."""

    text: str | None = None
    backend: str | None = None
    source: str | None = None


class ChatPayload(SpeechPayload):
    sentiment: str | None = None
    wants_to_watch: bool | None = None


class PostPayload(SpeechPayload):
    sentiment: str | None = None
    recipients: int | list[int] | None = None


class HearPayload(Payload):
    via: str | None = None
    sentiment: str | None = None


class FeelingPayload(SpeechPayload):
    rating: float | None = None
    emotion: str | None = None


class InterventionPayload(Payload):
    kind: str | None = None
    recommender: str | None = None
    previous: str | None = None
    rerankers: Any = None
    agent: int | None = None
    rewired: int | None = None
    edges: Any = None
    agents: Any = None
    traits: Any = None


class LLMPayload(Payload):
    backend: str | None = None
    calls: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cache_hits: int | None = None
    failures: int | None = None
    parse_failures: int | None = None
    retries: int | None = None
    fallbacks: int | None = None
    budget_skipped: int | None = None
    offline_replies: int | None = None


class TurnPayload(Payload):
    source: str | None = None
    acts: Any = None
    timed_out: bool | None = None
    policy: str | None = None


class RecommenderUpdatePayload(Payload):
    ratings: int | None = None
    human_ratings: int | None = None
    human_items: Any = None


PAYLOADS: dict[EventKind, type[Payload]] = {
    EventKind.PAGE: PagePayload, EventKind.WATCH: WatchPayload, EventKind.LIKE: RatingPayload,
    EventKind.DISLIKE: RatingPayload, EventKind.LEAVE: LeavePayload, EventKind.SEARCH: SearchPayload,
    EventKind.CHAT: ChatPayload, EventKind.POST: PostPayload, EventKind.HEAR: HearPayload,
    EventKind.INTERVENTION: InterventionPayload, EventKind.FEELING: FeelingPayload, EventKind.LLM: LLMPayload,
    EventKind.TURN: TurnPayload, EventKind.RECOMMENDER_UPDATE: RecommenderUpdatePayload,
}
# keys role-play adds to ordinary kinds (documented apart in the output reference)
ROLEPLAY_KEYS = ("source", "message", "reply_to")


def payload_keys(kind: EventKind | str) -> tuple[str, ...]:
    return tuple(PAYLOADS[EventKind(kind)].model_fields)
