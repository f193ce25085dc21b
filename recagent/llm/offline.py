"""The offline language backend: deterministic, persona-grounded text from templates.

It is not a language model and never claims to be one: every reply it writes is labelled
"offline" in the events. It exists because no instruction-tuned LLM can be installed on an
offline machine, and because large runs need social acts that cost nothing. Replies are picked
by a stable hash of the request, so the same run gives the same words.
"""

from __future__ import annotations

import zlib
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from .requests import SpeechRequest

OPENERS = {
    "liked": ["Have you seen {title}? I really enjoyed it", "You should watch {title}, I loved it",
              "I just finished {title} and it was great", "{title} is my new favourite"],
    "disliked": ["I watched {title} and it was a letdown", "Skip {title}, honestly",
                 "{title} was not for me at all", "I regret spending an evening on {title}"],
    "neutral": ["I watched {title} the other day", "Has anyone seen {title}?", "{title} was okay, I guess"],
}
BECAUSE = {
    "liked": ["the {reason} got me", "I'm a sucker for {reason}", "the {reason} really worked"],
    "disliked": ["the {reason} fell flat", "I couldn't stand the {reason}", "too much {reason} for me"],
    "neutral": ["it has some {reason}", "the {reason} was fine"],
}
REPLIES = {
    "liked": ["Sounds good, I'll put it on my list.", "Oh nice, I've been meaning to see it.",
              "Not really my thing, but maybe.", "You always pick good ones, I'll try it."],
    "disliked": ["Thanks for the warning.", "Huh, I heard it was good.", "Good to know, I'll skip it."],
    "neutral": ["Maybe I'll check it out.", "I haven't seen it yet."],
}
FEELINGS = {
    "liked": ["I'm still smiling about {title}.", "{title} left me in a great mood.",
              "That was time well spent: {title} was wonderful."],
    "disliked": ["{title} left me bored and a bit annoyed.", "I feel let down by {title}.",
                 "Meh. {title} was a waste of an evening."],
    "neutral": ["{title} was fine, nothing special.", "I have mixed feelings about {title}."],
}


def _pick(options: list[str], key: str, salt: str) -> str:
    return options[zlib.crc32(f"{key}|{salt}".encode()) % len(options)]


ANSWERS = {"question": ["Good question!", "Hm, let me think.", "Oh, where do I start?"],
           "statement": ["Ha, fair enough.", "Oh, interesting!", "I hear you.", "Nice, tell me more."]}
LEANINGS = ["You know me, I'm always up for {likes}.", "Lately I've been into {likes}.",
            "If it's {likes}, count me in."]


def reply(request: SpeechRequest) -> str:
    """A friend's offline answer to what a person wrote: a reaction to a question or a statement,
    the friend's own taste, and a memory when the friend has one (templates, not an LLM)."""
    asked = "question" if (request.question or "").rstrip().endswith("?") else "statement"
    likes = " and ".join(request.reasons[:2]).lower() or "a good movie"
    text = f"{_pick(ANSWERS[asked], request.key, 'answer')} {_pick(LEANINGS, request.key, 'lean').format(likes=likes)}"
    return text + (f" (I remember: {request.memories[0]})" if request.memories else "")


def speak(request: SpeechRequest) -> str:
    """The offline text for one request."""
    s, key = request.sentiment, request.key
    title = request.item_title or "that movie"
    reason = (request.reasons or request.item_genres or ["story"])[zlib.crc32(key.encode()) % max(
        1, len(request.reasons or request.item_genres or ["story"]))].lower()
    line = f"{_pick(OPENERS[s], key, 'open').format(title=title)}: {_pick(BECAUSE[s], key, 'why').format(reason=reason)}."
    if request.kind == "chat":
        return f"{request.speaker}: {line}\n{request.listener or 'Friend'}: {_pick(REPLIES[s], key, 'reply')}"
    if request.kind == "post":
        return line
    if request.kind == "feeling":
        return _pick(FEELINGS[s], key, "feel").format(title=title)
    if request.kind == "reply":
        return reply(request)
    memories = "; ".join(request.memories[:3]) or "nothing much yet"
    return (f"As {request.persona}, here is what I can tell you: {memories}. "
            f"(offline backend: answers are assembled from my memories, not written by an LLM)")


class OfflineChatModel(BaseChatModel):
    """A LangChain chat model that answers from templates, reading the request the prompt carries."""

    @property
    def _llm_type(self) -> str:
        return "recagent-offline"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        raw = messages[-1].additional_kwargs.get("recagent_request") if messages else None
        text = speak(SpeechRequest(**raw)) if raw else "(offline backend: no structured request to answer)"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
