"""What the simulation asks of a language backend: one request per social or emotional act."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

ActKind = Literal["chat", "post", "feeling", "interview", "reply"]  # reply: a friend answers a person (role-play)


@dataclass
class SpeechRequest:
    """Everything a backend needs to voice one act, grounded in the speaker's persona and item."""

    kind: ActKind
    speaker: str  # display name
    persona: str  # one line: age, occupation, roles, interests
    item_title: str = ""
    item_genres: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # why the speaker (dis)liked it: genres, keywords
    sentiment: Literal["liked", "disliked", "neutral"] = "neutral"
    rating: float | None = None
    listener: str | None = None
    memories: list[str] = field(default_factory=list)
    question: str | None = None
    key: str = ""  # a stable identity (run seed, step, agent, item) that makes replies reproducible

    def to_dict(self) -> dict:
        return asdict(self)
