"""Every prompt recagent sends, as LangChain prompt templates in one place.

Acts that need more than free text ask for one JSON object; `FORMATS` says its keys in words per
kind, and `structured.py` holds the pydantic model each reply is parsed into. The SpeechRequest
rides along in the last message's `additional_kwargs` so the offline backend can answer the same
messages without an LLM.
"""

from __future__ import annotations

from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate

from .requests import SpeechRequest

# Written for small models too (SmolLM2-135M, Gemma 3 270M; issue 23): they copy what a prompt shows
# them, so no prompt carries an example value or a placeholder (`<your post>` came back verbatim), the
# JSON shape is said in words (a grammar or the server's structured output enforces it), the persona
# is one short line, and a clause with nothing to say ("Things you remember: nothing") is left out.
SYSTEM = "You are {speaker}, {persona}. You talk about movies with friends, casually and briefly."

TEMPLATES = {
    "chat": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "You watched \"{item_title}\" ({item_genres}) and {sentiment} it, for its {reasons}. {memory_line}"
                  "Tell your friend {listener} in a sentence what you thought of it, and write what {listener} "
                  "answers in a sentence."),
    ]),
    "post": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "You watched \"{item_title}\" ({item_genres}) and {sentiment} it, for its {reasons}. {memory_line}"
                  "Write a post of one or two sentences telling all your friends what you thought of it."),
    ]),
    "feeling": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "You just watched \"{item_title}\" ({item_genres}) and gave it {rating} out of 5. {memory_line}"
                  "Say in one sentence how it left you feeling."),
    ]),
    "interview": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "{memory_line}An interviewer asks you: {question}\nAnswer as yourself in two or three sentences."),
    ]),
    "reply": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "{memory_line}You like {reasons}. Your friend {listener} writes to you: \"{question}\"\n"
                  "Answer {listener} in one to three sentences."),
    ]),
    "importance": ChatPromptTemplate.from_messages([
        ("system", "You rate how memorable everyday observations are for the person who made them."),
        ("human", "Rate each numbered observation from 1 (mundane) to 10 (life-changing) for its owner.\n"
                  "{observations}"),
    ]),
    "reflection": ChatPromptTemplate.from_messages([
        ("system", SYSTEM),
        ("human", "Your recent memories:\n{memories}\nWhat do they tell you about your own taste and your friends? "
                  "Give one to three short insights."),
    ]),
    "profile": ChatPromptTemplate.from_messages([
        ("system", "You are an analyst who describes a movie viewer's taste from their ratings "
                   "(1 = hated, 5 = loved)."),
        ("human", "Current profile: {profile}\nNew ratings:\n{ratings}\nDescribe this viewer's taste now (what they "
                  "like and dislike, genres, how generously they rate) in at most 80 words, and say in one line "
                  "how that differs from the current profile."),
    ]),
    "rating": ChatPromptTemplate.from_messages([
        ("system", "You are a movie viewer whose taste is: {profile}. You rate movies as this viewer would."),
        ("human", "Your last ratings:\n{ratings}\nHow many stars, from 1 to 5, do you give \"{item_title}\" "
                  "({item_genres})?"),
    ]),
}

# The reply's JSON keys, in words and without example values (see above). Filled with the act's own
# names, so the speakers of a chat are the two people talking, not a placeholder.
FORMATS = {
    "chat": 'the key "turns" holds two lines, yours (speaker "{speaker}") then {listener}\'s (speaker "{listener}"), '
            'each with "speaker" and "text"; "mentioned_items" lists the films named; "sentiment" is liked, '
            'disliked or neutral; "listener_wants_to_watch" is true or false',
    "post": 'the key "text" holds the post; "sentiment" is liked, disliked or neutral',
    "feeling": 'the key "feeling" holds your whole sentence, in the first person; "emotion" is a single word',
    "interview": 'the key "answer" holds what you say',
    "reply": 'the key "answer" holds what you say to {listener}',
    "importance": 'the key "scores" lists one whole number from 1 to 10 per observation, in their order',
    "reflection": 'the key "insights" lists the insights, each a short sentence',
    "profile": 'the key "profile" holds the description; "update" holds how it differs',
    "rating": 'the key "rating" is a whole number from 1 to 5',
}


def with_format(messages: list[BaseMessage], kind: str, **names: str) -> list[BaseMessage]:
    """Append, to the last message, how the reply's JSON object is laid out."""
    last = messages[-1]
    last.content = f"{last.content}\nReply with only a JSON object: {FORMATS[kind].format(**names)}."
    return messages


def render(request: SpeechRequest) -> list[BaseMessage]:
    """The chat messages for a social or emotional act."""
    raw = request.to_dict()  # once: asdict() deep-copies, and a 10,000-call wave renders 10,000 prompts
    values = dict(raw)
    values["item_genres"] = ", ".join(request.item_genres) or "no genre"
    values["reasons"] = ", ".join(request.reasons).lower() or "story"
    values["memory_line"] = f"You remember: {'; '.join(request.memories)}. " if request.memories else ""
    values["listener"] = request.listener or "a friend"
    values["rating"] = f"{request.rating:g}" if request.rating is not None else "a rating"
    messages = with_format(TEMPLATES[request.kind].format_messages(**values), request.kind,
                           speaker=request.speaker, listener=values["listener"])
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
