"""Prompts for social and emotional acts, as LangChain prompt templates in one place."""

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
                  "Write a two-line dialogue: your line, then {listener}'s reply."),
    ]),
    "post": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "Write a one or two sentence post to all your friends about \"{item_title}\" ({item_genres}), "
                  "which you {sentiment}; reasons: {reasons}."),
    ]),
    "feeling": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "You just watched \"{item_title}\" ({item_genres}) and rated it {rating}/5. "
                  "In one sentence, how do you feel about it?"),
    ]),
    "interview": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "Things you remember: {memories}. An interviewer asks: {question} Answer in a few sentences."),
    ]),
}


def render(request: SpeechRequest) -> list[BaseMessage]:
    """The chat messages for a request; the request itself rides along for the offline backend."""
    values = request.to_dict()
    values["item_genres"] = ", ".join(request.item_genres) or "no genre"
    values["reasons"] = ", ".join(request.reasons) or "none given"
    values["memories"] = "; ".join(request.memories) or "nothing in particular"
    values["listener"] = request.listener or "a friend"
    messages = TEMPLATES[request.kind].format_messages(**values)
    messages[-1].additional_kwargs["recagent_request"] = request.to_dict()
    return messages
