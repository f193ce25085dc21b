"""What a person can do in one turn as the agent they play, applied through the phases' own entry
points (`watching.watch`, `phases.social.post` / `deliver` / `observe`, `model.emit`), so the
person's acts are ordinary events (payload `"source": "human"`) that the recommender learns from and
the metrics count.

A turn is one act, as for every simulated agent: browse (pages of the recommender's list, watch and
rate items on them, leave), search (a title, and optionally watch and rate what was found), chat with
a friend (up to `roleplay.chat_turns` messages, each answered by the friend through the run's
language backend), post to all contacts, or nothing. `find` looks titles up and changes nothing.

Commands are pydantic models: the web page's JSON and a replayed run's log are checked the same way.
Everything here runs on the simulation's thread, inside the hook (`roleplay.py`).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Field, TypeAdapter

from ..feedback import predict_both
from ..llm import SpeechRequest
from ..params import Strict
from ..recommenders.label import strategy_label
from .phases.social import mention, observe, post
from .watching import watch

MAX_TEXT = 500
HUMAN = {"source": "human"}


class ActError(ValueError):
    """A command that does not fit the turn (not recorded; the page shows the message)."""


class PageCmd(Strict):
    do: Literal["page"]
    page: int = Field(ge=0, description="page of the recommender's list, from 0")


class WatchCmd(Strict):
    do: Literal["watch"]
    item: int = Field(description="dataset item id, on a page shown this turn")
    rating: int = Field(ge=1, le=5)


class LeaveCmd(Strict):
    do: Literal["leave"]


class SearchCmd(Strict):
    do: Literal["search"]
    query: str = Field(min_length=1, max_length=200)
    item: int | None = Field(None, description="the dataset item id picked from the results (none: nothing found)")
    rating: int | None = Field(None, ge=1, le=5, description="watch the item and rate it")


class ChatCmd(Strict):
    do: Literal["chat"]
    friend: int = Field(description="agent id of a contact")
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class EndCmd(Strict):
    do: Literal["end"]


class PostCmd(Strict):
    do: Literal["post"]
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    item: int | None = Field(None, description="dataset item id the post is about (default: the latest watch)")


class NothingCmd(Strict):
    do: Literal["nothing"]


class FindCmd(Strict):
    """A title lookup: answers, records nothing."""

    do: Literal["find"]
    query: str = Field(min_length=1, max_length=200)


Command = Annotated[Union[PageCmd, WatchCmd, LeaveCmd, SearchCmd, ChatCmd, EndCmd, PostCmd, NothingCmd, FindCmd],
                    Field(discriminator="do")]
COMMAND = TypeAdapter(Command)
MODES = {"page": "browse", "watch": "browse", "leave": "browse", "search": "search", "chat": "chat", "end": "chat",
         "post": "post", "nothing": "nothing"}


def item_view(model, item: int, why: str = "") -> dict:
    catalog = model.catalog
    view = {"id": int(catalog.raw_ids[item]), "title": catalog.titles[item], "genres": catalog.item_genres(item)}
    if catalog.texts[item]:
        view["overview"] = catalog.texts[item][:400]
    if why:
        view["why"] = why
    return view


def find_titles(model, agent: int, query: str, limit: int = 20) -> list[dict]:
    """Catalog titles containing `query` (case-insensitive), the agent's "heard about" list first."""
    q = query.strip().lower()
    titles = model.catalog.titles
    heard = [i for i in model.agent_list[agent].wanted_items() if q in titles[i].lower()]
    rest = [i for i in range(len(titles)) if q in titles[i].lower() and i not in set(heard)]
    names = model.world.agents
    found = []
    for i in (heard + rest)[:limit]:
        source = model.agent_list[agent].first_source(i)
        found.append(item_view(model, i, f"{names[source].persona.name} told you about it" if source is not None
                                          and i in heard else ""))
    return found


class Turn:
    """One turn of a played agent: the recommender's list for it (computed once, when the turn
    opens, live and in a replay alike), then the person's commands, then `close`."""

    def __init__(self, model, agent: int):
        self.model, self.agent = model, agent
        world, sim = model.world, model.sim
        self.k, self.max_pages = sim.page_size, sim.max_pages
        users = world.users[[agent]]
        self.recs = model.recommender.recommend(users, self.k * self.max_pages,
                                                world.history.seen_matrix(users, len(model.catalog)))[0]
        valid = self.recs[self.recs >= 0]
        p_like = predict_both(model.feedback, np.repeat(users, len(valid)), valid, world.history, exposure="shown")[0] \
            if len(valid) else np.zeros(0)
        self.p_like = dict(zip(valid.tolist(), np.asarray(p_like, dtype=float).tolist()))
        self.strategy = strategy_label(*world.recommender_spec)
        self.mode: str | None = None
        self.pages_shown = 0
        self.watched: list[int] = []  # watched from the pages
        self.rated: list[int] = []  # every item watched and rated this turn (pages and search)
        self.friend: int | None = None
        self.chat_log: list[dict] = []
        self.acts: list[dict] = []  # the recorded commands, as the turn event stores them
        self.done = False

    # --- applying a command ---------------------------------------------------------------------

    def apply(self, command) -> dict:
        """Apply one command; returns what the page shows of it. Raises ActError for a command that
        does not fit the turn (nothing is changed then)."""
        if self.done:
            raise ActError("this turn is over")
        if command.do == "find":
            return {"items": find_titles(self.model, self.agent, command.query)}
        mode = MODES[command.do]
        if self.mode is not None and mode != self.mode:
            raise ActError(f"this turn you chose to {self.mode}; one act per turn, as for every agent")
        if command.do == "end" and self.mode is None:
            raise ActError("'end' closes a chat; to do nothing this turn, send 'nothing'")
        result = getattr(self, f"_{command.do}")(command)
        self.mode = mode
        self.acts.append(command.model_dump(exclude_none=True))
        return result or {}

    def _page(self, cmd: PageCmd) -> dict:
        if cmd.page >= self.max_pages:
            raise ActError(f"the recommender shows {self.max_pages} pages (0 to {self.max_pages - 1})")
        if cmd.page > self.pages_shown:
            raise ActError(f"pages come in order: the next one is {self.pages_shown}")
        if cmd.page == self.pages_shown:
            self.pages_shown += 1
            self.model.emit(self.agent, "page", payload={"page": cmd.page, "items": self.page_ids(cmd.page),
                                                         "recommender": self.strategy, **HUMAN})
        return {"items": self.page_items(cmd.page)}

    def _watch(self, cmd: WatchCmd) -> None:
        catalog = self.model.catalog
        item = catalog.index_of(cmd.item) if catalog.has(cmd.item) else -1
        position = np.flatnonzero(self.recs[:self.pages_shown * self.k] == item)
        if item < 0 or not len(position):
            raise ActError(f"item {cmd.item} is not on a page shown this turn")
        if item in self.watched:
            raise ActError(f"you already watched item {cmd.item} this turn")
        page, pos = divmod(int(position[0]), self.k)
        watch(self.model, self.agent, item, float(cmd.rating), self.p_like.get(item, 0.0), "recommender",
              {"page": page, "position": pos, **HUMAN})
        self.watched.append(item)
        self.rated.append(item)

    def _leave(self, cmd: LeaveCmd | None = None) -> None:
        model = self.model
        model.emit(self.agent, "leave", payload={"pages": self.pages_shown, "watched": len(self.watched), **HUMAN})
        model.world.busy_until[self.agent] = model.now_hours + len(self.watched) * model.sim.busy_hours.watch
        self.done = True

    def _search(self, cmd: SearchCmd) -> None:
        model, agent = self.model, self.agent
        if cmd.item is None:
            if cmd.rating is not None:
                raise ActError("a rating needs the item that was found")
            model.emit(agent, "search", payload={"query": cmd.query, "found": False, **HUMAN})
        else:
            if not model.catalog.has(cmd.item):
                raise ActError(f"item {cmd.item} is not in the catalog")
            item = model.catalog.index_of(cmd.item)
            model.emit(agent, "search", item, payload={"query": cmd.query, "found": True,
                                                        "heard_from": model.agent_list[agent].first_source(item),
                                                        **HUMAN})
            if cmd.rating is not None:
                users = model.world.users[[agent]]
                p_like = float(predict_both(model.feedback, users, np.array([item]), model.world.history,
                                            exposure="chosen")[0][0])
                watch(model, agent, item, float(cmd.rating), p_like, "search", dict(HUMAN))
                self.rated.append(item)
                model.world.busy_until[agent] = model.now_hours + model.sim.busy_hours.watch
        self.done = True

    def _chat(self, cmd: ChatCmd) -> dict:
        model, agent, world = self.model, self.agent, self.model.world
        if self.friend is None:
            if not (0 <= cmd.friend < world.n_agents) or not world.graph.has_edge(agent, cmd.friend):
                raise ActError(f"agent {cmd.friend} is not one of your contacts")
            self.friend = cmd.friend
        elif cmd.friend != self.friend:
            raise ActError(f"this turn you are chatting with agent {self.friend}")
        friend, n = self.friend, len(self.chat_log) // 2
        text = cmd.text.strip()
        model.emit(agent, "chat", target=friend, payload={"text": text, "message": n, **HUMAN})
        reply = model.backend.respond_many([self._reply_request(friend, text, n)])[0]
        model.emit(friend, "chat", target=agent, payload={"text": reply.text, "message": n, "reply_to": "human",
                                                          "backend": model.backend.label, "source": reply.source})
        me, them = world.agents[agent].persona.name, world.agents[friend].persona.name
        observe(model, agent, f"I told {them}: {text}", "chat")
        observe(model, friend, f"{me} told me: {text}", "hear_chat")
        self.chat_log += [{"who": me, "text": text, "source": "human"},
                          {"who": them, "text": reply.text, "source": reply.source}]
        if n + 1 >= model.scenario.roleplay.chat_turns:
            self._end()
        return {"reply": reply.text, "source": reply.source}

    def _reply_request(self, friend: int, text: str, n: int) -> SpeechRequest:
        model, world = self.model, self.model.world
        persona = world.agents[friend].persona
        request = SpeechRequest(kind="reply", speaker=persona.name, persona=world.profiles.get(friend) or persona.summary(),
                                reasons=list(persona.favourite_genres), question=text,
                                listener=world.agents[self.agent].persona.name,
                                key=f"{model.scenario.seed}:{world.step_index}:{self.agent}:{friend}:reply:{n}")
        if model.memory is not None:  # the friend answers from what it remembers (one retrieval)
            found = model.memory.retrieve_many([friend], [text], model.now_hours)[0]
            request.memories = [m[:300] for m in found[:8]]
        return request

    def _end(self, cmd: EndCmd | None = None) -> None:
        if self.friend is not None:
            model = self.model
            lo, hi = model.sim.busy_hours.chat
            until = model.now_hours + (lo + hi) / 2  # the mean chat length: no model.rng draw for a person
            for who in (self.agent, self.friend):
                model.world.busy_until[who] = max(model.world.busy_until[who], until)
        self.done = True

    def _post(self, cmd: PostCmd) -> None:
        model, agent = self.model, self.agent
        if cmd.item is None:
            item, rating = mention(model, agent)
        elif not model.catalog.has(cmd.item):
            raise ActError(f"item {cmd.item} is not in the catalog")
        else:
            item = model.catalog.index_of(cmd.item)
            rated = [r for i, r in self.ratings() if i == item]
            rating = rated[-1] if rated else float(model.scenario.feedback.like_rating)
        if not any(True for _ in model.world.graph.neighbors(agent)):
            raise ActError("you have no contacts to post to")
        post(model, [agent], [int(item)], ratings=[float(rating)], texts=[cmd.text.strip()], sources=["human"])
        self.done = True

    def _nothing(self, cmd: NothingCmd) -> None:
        self.done = True

    # --- closing and views ----------------------------------------------------------------------

    def close(self) -> None:
        """End the turn as the phases would end the act: a browse that was not left is left."""
        if self.done:
            return
        if self.mode == "browse":
            self._leave()
        elif self.mode == "chat":
            self._end()
        self.done = True

    def ratings(self) -> list[tuple[int, float]]:
        world = self.model.world
        user = world.users[self.agent]
        return list(zip(world.history.items[user], world.history.ratings[user]))

    def page_ids(self, page: int) -> list[int]:
        return [int(self.model.catalog.raw_ids[i]) for i in self.recs[page * self.k:(page + 1) * self.k] if i >= 0]

    def page_items(self, page: int) -> list[dict]:
        """The page's items with why each is there: the strategy and place, and who told the agent
        about it when someone did (no recommender says more than that today)."""
        items = self.recs[page * self.k:(page + 1) * self.k]
        me, names = self.model.agent_list[self.agent], self.model.world.agents
        views = []
        for pos, i in enumerate(items):
            if i < 0:
                continue
            source = me.first_source(int(i))
            heard = f"; {names[source].persona.name} told you about it" if source is not None else ""
            views.append(item_view(self.model, int(i), f"{self.strategy}, page {page + 1}, position {pos + 1}{heard}"))
        return views

    def view(self) -> dict:
        names = self.model.world.agents
        return {"mode": self.mode, "pages_shown": self.pages_shown, "max_pages": self.max_pages,
                "pages": [self.page_items(p) for p in range(self.pages_shown)],
                "watched": [int(self.model.catalog.raw_ids[i]) for i in self.watched],
                "friend": None if self.friend is None else {"id": self.friend, "name": names[self.friend].persona.name},
                "chat": list(self.chat_log),
                "messages_left": self.model.scenario.roleplay.chat_turns - len(self.chat_log) // 2}
