"""The kinds of event a run's log holds: one `EventKind` per value of the `kind` column."""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """What an event row records (the payload keys of each are in payloads.py)."""

    PAGE = "page"
    WATCH = "watch"
    LIKE = "like"
    DISLIKE = "dislike"
    LEAVE = "leave"
    SEARCH = "search"
    CHAT = "chat"
    POST = "post"
    HEAR = "hear"
    INTERVENTION = "intervention"
    FEELING = "feeling"
    LLM = "llm"
    # written only by runs in which people play agents (role-play)
    TURN = "turn"
    RECOMMENDER_UPDATE = "recommender_update"


SIMULATION_KINDS = tuple(k.value for k in EventKind if k not in (EventKind.TURN, EventKind.RECOMMENDER_UPDATE))
ACTS = (EventKind.LEAVE, EventKind.SEARCH, EventKind.CHAT, EventKind.POST)  # one of these per acting agent and step
