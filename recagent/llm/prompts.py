"""Every prompt recagent sends, as LangChain prompt templates in one place.

Acts that need more than free text ask for one JSON object; `FORMATS` holds the exact shape per
kind, and `structured.py` holds the pydantic model each reply is parsed into. The SpeechRequest
rides along in the last message's `additional_kwargs` so the offline backend can answer the same
messages without an LLM.
"""

from __future__ import annotations

from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate

from .requests import SpeechRequest

SYSTEM = (
    "You are {speaker}, a person in a movie-watching community. About you: {persona}. "
    "Stay in character, speak casually, and keep it short."
)

TEMPLATES = {
    "chat": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "You are chatting with your friend {listener}. You recently watched \"{item_title}\" "
                  "({item_genres}) and {sentiment} it; reasons: {reasons}. Things you remember: {memories}. "
                  "Write a short dialogue: your line, then {listener}'s reply. Say whether {listener} now "
                  "wants to watch it."),
    ]),
    "post": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "Write a one or two sentence post to all your friends about \"{item_title}\" ({item_genres}), "
                  "which you {sentiment}; reasons: {reasons}. Things you remember: {memories}."),
    ]),
    "feeling": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "You just watched \"{item_title}\" ({item_genres}) and rated it {rating}/5. "
                  "Things you remember: {memories}. In one sentence, how do you feel about it?"),
    ]),
    "interview": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "Things you remember: {memories}. An interviewer asks: {question} Answer in a few sentences."),
    ]),
    "reply": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "Your friend {listener} writes to you: \"{question}\" Things you remember: {memories}. "
                  "You like {reasons}. Answer {listener} in one to three sentences."),
    ]),
    "importance": ChatPromptTemplate.from_messages([
        ("system", "You rate how memorable everyday observations are for the person who made them."),
        ("human", "Rate each numbered observation from 1 (mundane) to 10 (life-changing) for its owner.\n"
                  "{observations}"),
    ]),
    "reflection": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "Your recent memories:\n{memories}\nWhat one to three high-level insights about your own "
                  "taste and your friends can you draw from them?"),
    ]),
    "profile": ChatPromptTemplate.from_messages([
        ("system", "You are an analyst who writes a short profile of a movie viewer's taste from their ratings "
                   "(1 = hated, 5 = loved)."),
        ("human", "Current profile: {profile}\nNew ratings:\n{ratings}\nWrite the updated profile (what they like "
                  "and dislike, genres, how generously they rate) in at most 80 words, and one line saying what "
                  "changed."),
    ]),
    "rating": ChatPromptTemplate.from_messages([
        ("system", "You are a movie viewer with this taste profile: {profile}. Rate movies in character."),
        ("human", "Your last ratings:\n{ratings}\nHow would you rate \"{item_title}\" ({item_genres}) from 1 to 5?"),
    ]),
}

FORMATS = {
    "chat": '{"turns": [{"speaker": "<name>", "text": "<line>"}, {"speaker": "<friend>", "text": "<reply>"}], '
            '"mentioned_items": ["<title>"], "sentiment": "liked|disliked|neutral", "listener_wants_to_watch": true}',
    "post": '{"text": "<the post>", "sentiment": "liked|disliked|neutral"}',
    "feeling": '{"feeling": "<one sentence>", "emotion": "<one word>"}',
    "interview": '{"answer": "<your answer>"}',
    "reply": '{"answer": "<your answer>"}',
    "importance": '{"scores": [<one integer 1-10 per observation, in order>]}',
    "reflection": '{"insights": ["<insight>"]}',
    "profile": '{"profile": "<the profile>", "update": "<what changed>"}',
    "rating": '{"rating": <integer 1-5>}',
}


def with_format(messages: list[BaseMessage], kind: str) -> list[BaseMessage]:
    """Append the JSON shape the reply must take to the last message."""
    last = messages[-1]
    last.content = f"{last.content}\nReply with only one JSON object, no other text: {FORMATS[kind]}"
    return messages


def render(request: SpeechRequest) -> list[BaseMessage]:
    """The chat messages for a social or emotional act."""
    raw = request.to_dict()  # once: asdict() deep-copies, and a 10,000-call wave renders 10,000 prompts
    values = dict(raw)
    values["item_genres"] = ", ".join(request.item_genres) or "no genre"
    values["reasons"] = ", ".join(request.reasons) or "none given"
    values["memories"] = "; ".join(request.memories) or "nothing in particular"
    values["listener"] = request.listener or "a friend"
    messages = with_format(TEMPLATES[request.kind].format_messages(**values), request.kind)
    messages[-1].additional_kwargs["recagent_request"] = raw
    return messages


def render_importance(observations: list[str]) -> list[BaseMessage]:
    numbered = "\n".join(f"{n + 1}. {o}" for n, o in enumerate(observations))
    return with_format(TEMPLATES["importance"].format_messages(observations=numbered), "importance")


def render_reflection(speaker: str, persona: str, memories: list[str]) -> list[BaseMessage]:
    lines = "\n".join(f"- {m}" for m in memories)
    return with_format(TEMPLATES["reflection"].format_messages(speaker=speaker, persona=persona, memories=lines),
                       "reflection")


def render_profile(profile: str, ratings: list[tuple[str, str, float]]) -> list[BaseMessage]:
    lines = "\n".join(f"- {t} ({g}): {r:g}" for t, g, r in ratings)
    return with_format(TEMPLATES["profile"].format_messages(profile=profile or "(none yet)", ratings=lines), "profile")


def render_rating(profile: str, ratings: list[tuple[str, str, float]], title: str, genres: str) -> list[BaseMessage]:
    lines = "\n".join(f"- {t} ({g}): {r:g}" for t, g, r in ratings) or "(none)"
    return with_format(TEMPLATES["rating"].format_messages(profile=profile or "(unknown)", ratings=lines,
                                                           item_title=title, item_genres=genres or "no genre"),
                       "rating")
