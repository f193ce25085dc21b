"""Phase 5, social, batched: the step's chats, posts and feelings go to the language backend as one
concurrent wave; recipients remember what they heard and from whom.

A chat goes to a friend drawn by closeness and shared taste; a post goes to all contacts; a share
`llm.feeling_share` of the step's watches get a feeling. Agents talk about their latest watch of
the run (else their latest rating). With an LLM backend, a chat listener's answer to "do you want
to watch it?" scales how much the hearing weighs.
"""

from __future__ import annotations

import zlib

import numpy as np

from ...agents.user_agent import Hearing
from ...llm import SpeechRequest
from .acts import CHAT, POST, doing

HEARD_WANTS, HEARD_DECLINES = 2.0, 0.5  # chat listener said it wants to watch / does not (LLM replies only)


def run(model) -> None:
    socialise(model, doing(model, CHAT), doing(model, POST))


def socialise(model, chatters: np.ndarray, posters: np.ndarray) -> None:
    world, backend = model.world, model.backend
    chats = []
    for agent in chatters:
        friend = pick_friend(model, int(agent))
        item, rating = mention(model, int(agent))
        chats.append((int(agent), friend, item, rating))
    post_items = [mention(model, int(a)) for a in posters]
    feelings = feeling_watches(model)
    requests = ([request(model, "chat", a, i, r, listener=f) for a, f, i, r in chats]
                + [request(model, "post", int(a), i, r) for a, (i, r) in zip(posters, post_items)]
                + [request(model, "feeling", a, i, r) for a, i, r in feelings])
    with_memories(model, requests, [c[0] for c in chats] + [int(a) for a in posters] + [f[0] for f in feelings])
    replies = backend.respond_many(requests)
    chat_replies = replies[:len(chats)]
    post_replies = replies[len(chats):len(chats) + len(post_items)]
    feeling_replies = replies[len(chats) + len(post_items):]
    lo, hi = model.sim.busy_hours.chat
    for (agent, friend, item, rating), reply in zip(chats, chat_replies):
        feeling = sentiment(model, rating)
        wants = getattr(reply.data, "listener_wants_to_watch", None)
        payload = {"text": reply.text, "sentiment": feeling, "backend": backend.label, "source": reply.source}
        if wants is not None:
            payload["wants_to_watch"] = wants
        model.emit(agent, "chat", item, target=friend, payload=payload)
        weight = 1.0 if wants is None else HEARD_WANTS if wants else HEARD_DECLINES
        deliver(model, friend, agent, item, feeling, "chat", weight)
        title = model.catalog.titles[item]
        observe(model, agent, f"I told {world.agents[friend].persona.name} about {title}: {reply.text}", "chat")
        observe(model, friend, f"{world.agents[agent].persona.name} told me about {title}: {reply.text}",
                "hear_chat")
        duration = model.rng.uniform(lo, hi)
        for who in (agent, friend):
            world.busy_until[who] = max(world.busy_until[who], model.now_hours + duration)
    post(model, [int(a) for a in posters], [i for i, _ in post_items], ratings=[r for _, r in post_items],
         texts=[r.text for r in post_replies], sources=[r.source for r in post_replies])
    for (agent, item, rating), reply in zip(feelings, feeling_replies):
        emotion = getattr(reply.data, "emotion", None)
        payload = {"text": reply.text, "rating": rating, "backend": backend.label, "source": reply.source}
        if emotion:
            payload["emotion"] = emotion
        model.emit(agent, "feeling", item, payload=payload)
        observe(model, agent, f"After watching {model.catalog.titles[item]}: {reply.text}", "feeling")


def post(model, agents: list[int], items: list[int], ratings: list[float] | None = None,
         texts: list[str] | None = None, sources: list[str] | None = None) -> None:
    """Each agent posts about its item to all its contacts (texts from the backend unless given)."""
    if not agents:
        return
    world, backend = model.world, model.backend
    ratings = ratings or [float(model.scenario.feedback.like_rating)] * len(agents)
    if texts is None:
        replies = backend.respond_many([request(model, "post", a, i, r) for a, i, r in zip(agents, items, ratings)])
        texts, sources = [r.text for r in replies], [r.source for r in replies]
    sources = sources or ["scenario"] * len(agents)
    for agent, item, rating, text, source in zip(agents, items, ratings, texts, sources):
        feeling = sentiment(model, rating)
        contacts = sorted(world.graph.neighbors(agent))
        model.emit(agent, "post", item, payload={"text": text, "sentiment": feeling, "backend": backend.label,
                                                 "source": source, "recipients": len(contacts)})
        name, title = world.agents[agent].persona.name, model.catalog.titles[item]
        observe(model, agent, f"I posted about {title}: {text}", "post")
        for contact in contacts:
            deliver(model, contact, agent, item, feeling, "post")
            observe(model, contact, f"{name} posted about {title}: {text}", "hear_post")
        world.busy_until[agent] = max(world.busy_until[agent], model.now_hours + model.sim.busy_hours.post)


def deliver(model, listener: int, speaker: int, item: int, feeling: str, via: str, weight: float = 1.0) -> None:
    """`weight` scales the hearing: a listener who said it wants to watch takes it more to heart."""
    graph = model.world.graph
    closeness = float(graph.edges[listener, speaker].get("closeness", 1.0)) if graph.has_edge(listener, speaker) else 0.5
    closeness *= weight
    model.world.agents[listener].hear(Hearing(item, speaker, model.world.step_index, feeling, closeness, via))
    model.emit(listener, "hear", item, target=speaker, payload={"via": via, "sentiment": feeling})


def mention(model, agent: int) -> tuple[int, float]:
    """The item an agent talks about: its latest watch in the run, else its latest rating."""
    world = model.world
    if world.sim_watches[agent]:
        return world.sim_watches[agent][-1]
    user = world.users[agent]
    return world.history.items[user][-1], world.history.ratings[user][-1]


def sentiment(model, rating: float) -> str:
    fb = model.scenario.feedback
    return "liked" if rating >= fb.like_rating else "disliked" if rating <= fb.dislike_rating else "neutral"


def request(model, kind: str, agent: int, item: int, rating: float, listener: int | None = None) -> SpeechRequest:
    world, catalog = model.world, model.catalog
    speaker = world.agents[agent].persona
    genres = catalog.item_genres(item)
    liked = set(speaker.favourite_genres)
    reasons = [g for g in genres if g in liked] or genres
    return SpeechRequest(
        kind=kind, speaker=speaker.name, persona=world.profiles.get(agent) or speaker.summary(),
        item_title=catalog.titles[item], item_genres=genres, reasons=reasons, sentiment=sentiment(model, rating),
        rating=rating, listener=world.agents[listener].persona.name if listener is not None else None,
        key=f"{model.scenario.seed}:{world.step_index}:{agent}:{item}:{kind}")


def pick_friend(model, agent: int) -> int:
    world = model.world
    friends = sorted(world.graph.neighbors(agent))
    closeness = np.array([world.graph.edges[agent, f].get("closeness", 1.0) for f in friends])
    shared = world.taste[friends] @ world.taste[agent]
    weights = closeness * (1.0 + shared / max(float(world.taste[agent] @ world.taste[agent]), 1e-12))
    return friends[model.rng.choice(len(friends), p=weights / weights.sum())]


def feeling_watches(model) -> list[tuple[int, int, float]]:
    """The share `llm.feeling_share` of this step's watches that get a feeling, picked by a stable hash
    (not model.rng, so the share never shifts the simulation's random stream)."""
    share, seed, step = model.scenario.llm.feeling_share, model.scenario.seed, model.world.step_index
    return [(a, i, r) for a, i, r in model.world.step_watches
            if zlib.crc32(f"{seed}:{step}:{a}:{i}".encode()) < share * 2**32]


def with_memories(model, requests: list[SpeechRequest], speakers: list[int]) -> None:
    """Fill each request's memories from its speaker's memory (one batched retrieval), for LLM backends."""
    if model.memory is None or model.backend.is_offline or not requests:
        return
    queries = [f"{r.item_title} ({', '.join(r.item_genres)})" for r in requests]
    for req, found in zip(requests, model.memory.retrieve_many(speakers, queries, model.now_hours)):
        req.memories = [m[:300] for m in found[:8]]


def observe(model, agent: int, text: str, kind: str) -> None:
    if model.memory is not None:
        model.memory.observe(agent, text[:400], kind)
