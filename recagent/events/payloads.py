"""One typed payload model per event kind: the keys an event's JSON `payload` may hold.

Every key is optional (a watch from a search has no `page`; older logs lack newer keys) and extra
keys are kept, not refused (role-play adds `source: human` and more to ordinary kinds), so reading
a log never fails on its payloads; what the models give is names, types and meanings. The events
part of docs/outputs-reference.md is generated from them (recagent/events/reference.py), and
`tests/test_events_schema.py` checks the committed page against them and a real run against both.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from .kinds import EventKind


class Payload(BaseModel):
    """A payload; subclasses say what the row means (`meaning`) and what its id columns hold (`ids`),
    and describe each key: docs/outputs-reference.md is generated from them (events/reference.py)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    meaning: ClassVar[str] = ""
    ids: ClassVar[str] = ""


def key(description: str) -> Any:
    """An optional payload key and what it holds."""
    return Field(default=None, description=description)


class PagePayload(Payload):
    meaning: ClassVar[str] = "a recommender page shown to an agent"
    ids: ClassVar[str] = "agent_id: the viewer"
    items: list[int] | None = key("dataset item ids shown, in order")
    page: int | None = key("page number within the visit, from 0")
    recommender: str | None = key("the strategy that served it, e.g. `mf+mmr(lambda=0.5)`")


class WatchPayload(Payload):
    meaning: ClassVar[str] = "an item watched and rated"
    ids: ClassVar[str] = "agent_id: the viewer; item_id: the item"
    rating: float | None = key("the simulated rating, 1-5")
    p_like: float | None = key("the feedback model's P(like), like = a rating of 3 or more (see the glossary)")
    via: str | None = key("`recommender` or `search`")
    page: int | None = key("page number (recommender watches only)")
    position: int | None = key("position on the page, from 0 (recommender watches only)")
    heard_from: int | None = key("agent id of the friend who first told the viewer about the item, or null")


class LikePayload(Payload):
    meaning: ClassVar[str] = "a watch rated at least `feedback.like_rating` (default 4)"
    ids: ClassVar[str] = "agent_id, item_id as the watch"
    rating: float | None = key("the rating")


class DislikePayload(Payload):
    meaning: ClassVar[str] = "a watch rated at most `feedback.dislike_rating` (default 2)"
    ids: ClassVar[str] = "agent_id, item_id as the watch"
    rating: float | None = key("the rating")


class LeavePayload(Payload):
    meaning: ClassVar[str] = "an agent ends a recommender visit"
    ids: ClassVar[str] = "agent_id: the viewer"
    pages: int | None = key("pages it looked at")
    watched: int | None = key("items it watched in the visit")


class SearchPayload(Payload):
    meaning: ClassVar[str] = "an agent looks up an item a friend told it about"
    ids: ClassVar[str] = "agent_id: the searcher; item_id: the item (empty when nothing was found)"
    query: str | None = key("what was searched for: the title of the item heard about most favourably, "
                            "or null when the agent had heard of nothing")
    found: bool | None = key("whether an unwatched item matched")
    reason: str | None = key("when nothing was found: `already watched` or `heard of nothing`")
    heard_from: int | None = key("agent id of the friend it heard about the item from")


SOURCES = ("`llm`, `fake` (the scripted test backend), `cache`, `offline`, `fallback` (offline text after a "
           "failed call) or `budget`")


class ChatPayload(Payload):
    meaning: ClassVar[str] = "a conversation between two friends"
    ids: ClassVar[str] = "agent_id: the speaker; target_agent_id: the listener; item_id: the item talked about"
    text: str | None = key("the conversation")
    sentiment: str | None = key("`liked`, `neutral` or `disliked`")
    backend: str | None = key("the language backend's label (`offline` for templates)")
    source: str | None = key(SOURCES)
    wants_to_watch: bool | None = key("LLM backends: whether the listener said it wants to watch the item (yes "
                                      "doubles the weight of what it heard, no halves it)")


class PostPayload(Payload):
    meaning: ClassVar[str] = "a post to all contacts"
    ids: ClassVar[str] = "agent_id: the poster; item_id: the item"
    text: str | None = key("the post")
    sentiment: str | None = key("`liked`, `neutral` or `disliked`")
    recipients: int | list[int] | None = key("number of contacts reached")
    backend: str | None = key("the language backend's label")
    source: str | None = key("as for chat, or `scenario` for the text of an `inject_post` intervention")


class HearPayload(Payload):
    meaning: ClassVar[str] = "an agent hears about an item"
    ids: ClassVar[str] = "agent_id: the listener; target_agent_id: the speaker; item_id"
    via: str | None = key("`chat` or `post`")
    sentiment: str | None = key("what the speaker said: `liked`, `neutral` or `disliked`")


class FeelingPayload(Payload):
    meaning: ClassVar[str] = "a sentence after a watch, for `llm.feeling_share` of watches"
    ids: ClassVar[str] = "agent_id, item_id as the watch"
    text: str | None = key("the sentence")
    rating: float | None = key("the watch's rating")
    backend: str | None = key("the language backend's label")
    source: str | None = key("as for chat")
    emotion: str | None = key("LLM backends: the emotion the reply names")


class InterventionPayload(Payload):
    meaning: ClassVar[str] = "a scheduled change applied"
    ids: ClassVar[str] = "agent_id: empty, or the poster of an inject_post"
    kind: str | None = key("the intervention kind")
    recommender: str | None = key("switch_recommender: the strategy now serving, e.g. `mf+mmr(lambda=0.5)`")
    previous: str | None = key("switch_recommender: the strategy before the switch")
    rerankers: Any = key("switch_recommender: `kept`, `replaced`, `dropped`, or `none` (none before or after); "
                         "the rule is in docs/scenarios.md")
    agent: int | None = key("inject_post: agent id of the poster")
    rewired: int | None = key("rewire: number of edges moved")
    edges: Any = key("rewire: every moved edge as [agent, old contact, new contact]")
    agents: Any = key("set_traits: number of agents changed")
    traits: Any = key("set_traits: the new trait values")


class LLMPayload(Payload):
    meaning: ClassVar[str] = "language-backend usage of one step (LLM providers only)"
    ids: ClassVar[str] = "no agent"
    backend: str | None = key("the backend's label")
    calls: int | None = key("calls made")
    prompt_tokens: int | None = key("prompt tokens")
    completion_tokens: int | None = key("completion tokens")
    cache_hits: int | None = key("replies served from the prompt cache")
    failures: int | None = key("calls that failed after retries")
    parse_failures: int | None = key("replies that did not parse")
    retries: int | None = key("retried attempts")
    fallbacks: int | None = key("acts that got the offline text instead")
    budget_skipped: int | None = key("acts skipped by the budget")
    offline_replies: int | None = key("texts written by the offline templates")


class TurnPayload(Payload):
    meaning: ClassVar[str] = "a played agent's turn closed (role-play runs only)"
    ids: ClassVar[str] = "agent_id: the played agent"
    source: str | None = key("`human`")
    acts: Any = key("the person's commands in order (what `run --replay` applies)")
    timed_out: bool | None = key("whether the turn ran out of time")
    policy: str | None = key("after a timeout with nothing done: the simulated act done instead, else null")


class RecommenderUpdatePayload(Payload):
    meaning: ClassVar[str] = "the learn phase handed the recommender new ratings (role-play runs only)"
    ids: ClassVar[str] = "no agent"
    ratings: int | None = key("how many ratings the recommender learned from")
    human_ratings: int | None = key("how many of them a person gave")
    human_items: Any = key("dataset item ids a person rated among them")


PAYLOADS: dict[EventKind, type[Payload]] = {
    EventKind.PAGE: PagePayload, EventKind.WATCH: WatchPayload, EventKind.LIKE: LikePayload,
    EventKind.DISLIKE: DislikePayload, EventKind.LEAVE: LeavePayload, EventKind.SEARCH: SearchPayload,
    EventKind.CHAT: ChatPayload, EventKind.POST: PostPayload, EventKind.HEAR: HearPayload,
    EventKind.INTERVENTION: InterventionPayload, EventKind.FEELING: FeelingPayload, EventKind.LLM: LLMPayload,
    EventKind.TURN: TurnPayload, EventKind.RECOMMENDER_UPDATE: RecommenderUpdatePayload,
}
# keys role-play adds to ordinary kinds (documented apart in the output reference), and what they hold
ROLEPLAY_KEYS: dict[str, str] = {
    "source": "`human` on every page, watch, leave, search, chat and post a person made (the like or "
              "dislike of a person's watch follows its watch event)",
    "message": "chat in a role-play turn: the message's number within the chat, from 0",
    "reply_to": "chat: `human` on a friend's answer to a person",
}


def payload_keys(kind: EventKind | str) -> tuple[str, ...]:
    return tuple(PAYLOADS[EventKind(kind)].model_fields)
