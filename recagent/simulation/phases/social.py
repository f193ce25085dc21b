"""Phase 5, social, batched: the step's chats, posts and feelings go to the language backend as one
concurrent wave; recipients remember what they heard and from whom.

A chat goes to a friend drawn by closeness and shared taste; a post goes to all contacts; a share
`llm.feeling_share` of the step's watches get a feeling. Agents talk about their latest watch of
the run (else their latest rating). With an LLM backend, a chat listener's answer to "do you want
to watch it?" scales how much the hearing weighs.
"""

from __future__ import annotations

import json
import zlib

import numpy as np

from ...agents.word_of_mouth import SENTIMENTS
from ...llm import SpeechRequest
from .acts import CHAT, POST, doing

HEARD_WANTS, HEARD_DECLINES = 2.0, 0.5  # chat listener said it wants to watch / does not (LLM replies only)


def run(model) -> None:
    socialise(model, doing(model, CHAT), doing(model, POST))


def socialise(model, chatters: np.ndarray, posters: np.ndarray) -> None:
    world, backend = model.world, model.backend
    chatters = np.asarray(chatters, dtype=np.int64)
    posters = np.asarray(posters, dtype=np.int64)
    friends = world.adjacency.pick_neighbour(chatters, model.rng, world.taste)
    chat_items, chat_ratings = mentions(model, chatters)
    post_items, post_ratings = mentions(model, posters)
    feelings = feeling_watches(model)
    chats = list(zip(chatters.tolist(), friends.tolist(), chat_items.tolist(), chat_ratings.tolist()))
    requests = (speech_requests(model, "chat", chatters, chat_items, chat_ratings, friends)
                + speech_requests(model, "post", posters, post_items, post_ratings)
                + speech_requests(model, "feeling", *(np.array(c) for c in zip(*feelings)) if feelings
                                  else (np.zeros(0, dtype=np.int64),) * 3))
    with_memories(model, requests, chatters.tolist() + posters.tolist() + [f[0] for f in feelings])
    replies = backend.respond_many(requests)
    chat_replies = replies[:len(chats)]
    post_replies = replies[len(chats):len(chats) + len(posters)]
    feeling_replies = replies[len(chats) + len(posters):]
    if len(chats):
        talk(model, chatters, friends, chat_items, chat_ratings, chat_replies)
    post(model, posters.tolist(), post_items.tolist(), ratings=post_ratings.tolist(),
         texts=[r.text for r in post_replies], sources=[r.source for r in post_replies])
    for (agent, item, rating), reply in zip(feelings, feeling_replies):
        emotion = getattr(reply.data, "emotion", None)
        payload = {"text": reply.text, "rating": rating, "backend": backend.label, "source": reply.source}
        if emotion:
            payload["emotion"] = emotion
        model.emit(agent, "feeling", item, payload=payload)
        observe(model, agent, f"After watching {model.catalog.titles[item]}: {reply.text}", "feeling")


def talk(model, chatters: np.ndarray, friends: np.ndarray, items: np.ndarray, ratings: np.ndarray, replies) -> None:
    """The step's chats in one batch: each chat event followed by the friend's hearing of it."""
    world, backend = model.world, model.backend
    feelings = sentiment_codes(model, ratings)
    wants = [getattr(r.data, "listener_wants_to_watch", None) for r in replies]
    label = json.dumps(backend.label, ensure_ascii=False)
    texts = []
    for reply, feeling, want in zip(replies, feelings.tolist(), wants):
        extra = "" if want is None else f',"wants_to_watch":{"true" if want else "false"}'
        texts.append(f'{{"backend":{label},"sentiment":"{SENTIMENTS[feeling]}","source":'
                     f'{json.dumps(reply.source, ensure_ascii=False)},"text":{json.dumps(reply.text, ensure_ascii=False)}'
                     f'{extra}}}')
    n = len(chatters)
    model.emit_many(chatters, "chat", texts, items=items, targets=friends)
    weight = np.array([1.0 if w is None else HEARD_WANTS if w else HEARD_DECLINES for w in wants])
    deliver_many(model, friends, chatters, items, feelings, "chat", weight)
    # the chat and its hearing side by side: chat k's hear event goes right after chat k
    _interleave_last(model.world.step_events, n)
    if model.memory is not None:
        people, titles = world.people, model.catalog.titles
        for agent, friend, item, reply in zip(chatters.tolist(), friends.tolist(), items.tolist(), replies):
            observe(model, agent, f"I told {people.name(friend)} about {titles[item]}: {reply.text}", "chat")
            observe(model, friend, f"{people.name(agent)} told me about {titles[item]}: {reply.text}", "hear_chat")
    lo, hi = model.sim.busy_hours.chat
    until = model.now_hours + model.rng.uniform(lo, hi, n)
    for who in (chatters, friends):
        np.maximum.at(world.busy_until, who, until)


def _interleave_last(events, n: int) -> None:
    """The last 2n events of the open chunk are n of one kind then n of another: put them a1 b1 a2 b2..."""
    chunk = events.chunks[-1]
    for name in ("agents", "kinds", "items", "targets", "payloads"):
        column = getattr(chunk, name)
        first, second = column[-2 * n:-n], column[-n:]
        column[-2 * n:] = [x for pair in zip(first, second) for x in pair]


def post(model, agents: list[int], items: list[int], ratings: list[float] | None = None,
         texts: list[str] | None = None, sources: list[str] | None = None) -> None:
    """Each agent posts about its item to all its contacts (texts from the backend unless given)."""
    if not len(agents):
        return
    world, backend = model.world, model.backend
    agents = [int(a) for a in agents]
    items = [int(i) for i in items]
    ratings = list(ratings) if ratings is not None else [float(model.scenario.feedback.like_rating)] * len(agents)
    if texts is None:
        replies = backend.respond_many(speech_requests(model, "post", np.array(agents, dtype=np.int64),
                                                       np.array(items, dtype=np.int64), np.array(ratings)))
        texts, sources = [r.text for r in replies], [r.source for r in replies]
    sources = sources or ["scenario"] * len(agents)
    posters, posted = np.array(agents, dtype=np.int64), np.array(items, dtype=np.int64)
    feelings = sentiment_codes(model, np.array(ratings, dtype=np.float64))
    owner, contacts, _ = world.adjacency.contacts(posters)
    degree = world.adjacency.degree[posters]
    label = json.dumps(backend.label, ensure_ascii=False)
    post_texts = [f'{{"backend":{label},"recipients":{d},"sentiment":"{SENTIMENTS[f]}","source":'
                  f'{json.dumps(source, ensure_ascii=False)},"text":{json.dumps(text, ensure_ascii=False)}}}'
                  for d, f, source, text in zip(degree.tolist(), feelings.tolist(), sources, texts)]
    # each post event, then the hearings of its contacts (ascending), poster by poster
    model.emit_many(posters, "post", post_texts, items=posted)
    deliver_many(model, contacts, posters[owner], posted[owner], feelings[owner], "post")
    chunk = world.step_events.chunks[-1]
    n, m = len(posters), len(owner)
    ends = np.cumsum(degree)
    order = np.concatenate([np.arange(n) + ends - degree, np.arange(m) + np.repeat(np.arange(n), degree) + 1])
    slots = np.empty(n + m, dtype=np.int64)
    slots[order] = np.arange(n + m)
    idx = slots.tolist()
    for name in ("agents", "kinds", "items", "targets", "payloads"):
        column = getattr(chunk, name)
        tail = column[-(n + m):]
        column[-(n + m):] = [tail[i] for i in idx]
    if model.memory is not None:
        people, titles = world.people, model.catalog.titles
        for agent, item, text in zip(agents, items, texts):
            observe(model, agent, f"I posted about {titles[item]}: {text}", "post")
            for contact in world.adjacency.neighbours(agent).tolist():
                observe(model, contact, f"{people.name(agent)} posted about {titles[item]}: {text}", "hear_post")
    np.maximum.at(world.busy_until, posters, model.now_hours + model.sim.busy_hours.post)


def deliver(model, listener: int, speaker: int, item: int, feeling: str, via: str, weight: float = 1.0) -> None:
    """`weight` scales the hearing: a listener who said it wants to watch takes it more to heart."""
    deliver_many(model, np.array([listener]), np.array([speaker]), np.array([item]),
                 np.array([SENTIMENTS.index(feeling)]), via, np.array([weight]))


def deliver_many(model, listeners: np.ndarray, speakers: np.ndarray, items: np.ndarray, feelings: np.ndarray,
                 via: str, weight: np.ndarray | float = 1.0) -> None:
    """Hearings in a batch: closeness of the (listener, speaker) edge (0.5 between strangers) times
    `weight` goes into word of mouth; one hear event each, in order."""
    if len(listeners) == 0:
        return
    world = model.world
    listeners, speakers = np.asarray(listeners, dtype=np.int64), np.asarray(speakers, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    closeness = world.adjacency.pair_closeness(listeners, speakers, default=0.5) * weight
    world.word_of_mouth.add(listeners, items, speakers, world.step_index, feelings, closeness, via)
    v = json.dumps(via, ensure_ascii=False)
    texts = [f'{{"sentiment":"{SENTIMENTS[f]}","via":{v}}}' for f in np.asarray(feelings).tolist()]
    model.emit_many(listeners, "hear", texts, items=items, targets=speakers)
    world.step_events.records.hears.append((listeners, items, speakers))


def mentions(model, agents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The item each agent talks about, and its rating: its latest watch in the run, else its latest rating."""
    world = model.world
    items = world.watches.last_item[agents]
    ratings = world.watches.last_rating[agents]
    none = items < 0
    if none.any():
        last_items, last_ratings = world.history.padded(world.users[agents[none]], 1)
        items[none], ratings[none] = last_items[:, 0], last_ratings[:, 0].astype(np.float64)
    return items, ratings


def mention(model, agent: int) -> tuple[int, float]:
    """The item an agent talks about: its latest watch in the run, else its latest rating."""
    items, ratings = mentions(model, np.array([agent]))
    return int(items[0]), float(ratings[0])


def sentiment_codes(model, ratings: np.ndarray) -> np.ndarray:
    """Index into SENTIMENTS (liked, neutral, disliked) of each rating."""
    fb = model.scenario.feedback
    return np.where(ratings >= fb.like_rating, 0, np.where(ratings <= fb.dislike_rating, 2, 1))


def sentiment(model, rating: float) -> str:
    fb = model.scenario.feedback
    return "liked" if rating >= fb.like_rating else "disliked" if rating <= fb.dislike_rating else "neutral"


def request(model, kind: str, agent: int, item: int, rating: float, listener: int | None = None) -> SpeechRequest:
    world, catalog = model.world, model.catalog
    speaker = world.people.persona(agent)
    genres = catalog.item_genres(item)
    liked = set(speaker.favourite_genres)
    reasons = [g for g in genres if g in liked] or genres
    return SpeechRequest(
        kind=kind, speaker=speaker.name, persona=world.profiles.get(agent) or speaker.summary(),
        item_title=catalog.titles[item], item_genres=genres, reasons=reasons, sentiment=sentiment(model, rating),
        rating=rating, listener=world.people.name(listener) if listener is not None else None,
        key=f"{model.scenario.seed}:{world.step_index}:{agent}:{item}:{kind}")


def speech_requests(model, kind: str, agents: np.ndarray, items: np.ndarray, ratings: np.ndarray,
                    listeners: np.ndarray | None = None) -> list[SpeechRequest]:
    """`request` for many acts of one kind at once (personas read from the columns in bulk)."""
    if len(agents) == 0:
        return []
    world, catalog = model.world, model.catalog
    people = world.people
    agents = np.asarray(agents, dtype=np.int64)
    favourites = people.favourites(agents)
    summaries = people.summaries(agents, favourites)
    names = [people.meta.names[u] for u in world.users[agents].tolist()]
    heard_by = ([None] * len(agents) if listeners is None
                else [people.meta.names[u] for u in world.users[np.asarray(listeners, dtype=np.int64)].tolist()])
    genre_lists = item_genre_lists(model)
    feelings = sentiment_codes(model, np.asarray(ratings, dtype=np.float64)).tolist()
    prefix = f"{model.scenario.seed}:{world.step_index}:"
    out = []
    for agent, item, rating, name, summary, liked, listener, feeling in zip(
            agents.tolist(), np.asarray(items).tolist(), np.asarray(ratings, dtype=np.float64).tolist(), names,
            summaries, favourites, heard_by, feelings):
        genres = genre_lists[item]
        reasons = [g for g in genres if g in liked] or genres
        out.append(SpeechRequest(kind=kind, speaker=name, persona=world.profiles.get(agent) or summary,
                                 item_title=catalog.titles[item], item_genres=list(genres), reasons=list(reasons),
                                 sentiment=SENTIMENTS[feeling], rating=rating, listener=listener,
                                 key=f"{prefix}{agent}:{item}:{kind}"))
    return out


def item_genre_lists(model) -> list[list[str]]:
    """catalog.item_genres(i) of every item, computed once per model."""
    lists = getattr(model, "_item_genre_lists", None)
    if lists is None:
        catalog = model.catalog
        rows, cols = np.nonzero(catalog.genres)
        names = np.array(catalog.genre_names, dtype=object)[cols].tolist()
        ends = np.cumsum(np.bincount(rows, minlength=len(catalog))).tolist()
        lists = model._item_genre_lists = [names[a:b] for a, b in zip([0] + ends[:-1], ends)]
    return lists


def pick_friend(model, agent: int) -> int:
    """A contact drawn by closeness and shared taste (one uniform draw)."""
    world = model.world
    return int(world.adjacency.pick_neighbour(np.array([agent]), model.rng, world.taste)[0])


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
