"""Structured replies: what each LLM act must answer, as pydantic models, and a tolerant parser.

Real models wrap JSON in code fences, add a sentence before it, or stop mid-object when they run
out of tokens. `parse_reply` takes the outermost JSON object from the text and validates it; a
reply that does not parse raises `ReplyFormatError`, which the backend retries and finally
degrades to the offline reply for that act.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

Sentiment = Literal["liked", "disliked", "neutral"]


class ReplyFormatError(ValueError):
    """The model answered, but not in the format asked for."""


class ChatTurn(BaseModel):
    speaker: str
    text: str = Field(min_length=1)


class ChatReply(BaseModel):
    turns: list[ChatTurn] = Field(min_length=1)
    mentioned_items: list[str] = Field(default_factory=list)
    sentiment: Sentiment = "neutral"
    listener_wants_to_watch: bool = False

    def as_text(self) -> str:
        return "\n".join(f"{t.speaker}: {t.text}" for t in self.turns)


class PostReply(BaseModel):
    text: str = Field(min_length=1)
    sentiment: Sentiment = "neutral"

    def as_text(self) -> str:
        return self.text


class FeelingReply(BaseModel):
    feeling: str = Field(min_length=1)
    emotion: str = ""

    def as_text(self) -> str:
        return self.feeling


class InterviewReply(BaseModel):
    answer: str = Field(min_length=1)

    def as_text(self) -> str:
        return self.answer


class ImportanceReply(BaseModel):
    scores: list[int]

    @field_validator("scores")
    @classmethod
    def _range(cls, v):
        if any(not 1 <= s <= 10 for s in v):
            raise ValueError("scores must be 1-10")
        return v

    def as_text(self) -> str:
        return json.dumps(self.scores)


class ReflectionReply(BaseModel):
    insights: list[str] = Field(min_length=1)

    def as_text(self) -> str:
        return " ".join(self.insights)


class ProfileReply(BaseModel):
    profile: str = Field(min_length=1)
    update: str = ""

    def as_text(self) -> str:
        return self.profile


class RatingReply(BaseModel):
    rating: int = Field(ge=1, le=5)

    def as_text(self) -> str:
        return str(self.rating)


SCHEMAS: dict[str, type[BaseModel]] = {
    "chat": ChatReply, "post": PostReply, "feeling": FeelingReply, "interview": InterviewReply, "reply": InterviewReply,
    "importance": ImportanceReply, "reflection": ReflectionReply, "profile": ProfileReply, "rating": RatingReply,
}

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(text: str) -> dict:
    """The JSON object in a reply (inside code fences or between the outermost braces)."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise ReplyFormatError("no JSON object in the reply")
    try:
        data = json.loads(body[start:end + 1])
    except json.JSONDecodeError as e:
        raise ReplyFormatError(f"malformed JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise ReplyFormatError("expected a JSON object")
    return data


def parse_reply(text: str, schema: type[BaseModel]) -> BaseModel:
    """Validate a reply against `schema`; raises ReplyFormatError when it does not fit."""
    data = extract_json(text)
    try:
        return schema.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise ReplyFormatError(f"wrong format: {where + ': ' if where else ''}{first['msg']}") from None
