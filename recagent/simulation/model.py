"""The Mesa model: people browsing a recommender, watching, rating, chatting and posting.

One step (see DESIGN.md, "Data flow of one step"):

1. interventions scheduled for this step are applied;
2. activation: each idle agent is active with its own probability (Pareto-distributed across
   agents, as in RecAgent), up to a cap; agents still watching or chatting skip the step;
3. each active agent picks one act from its persona's propensities (no LLM);
4. browse phase, batched: one recommender call for all browsers (all their pages at once), one
   feedback-model call for every (browser, item) pair, then vectorised watch / leave decisions;
   search phase: agents look up an item a friend recommended;
5. social phase, batched: chats and posts about what agents watched go to the language backend as
   one wave; recipients remember what they heard and from whom;
6. the recommender gets the new feedback every `retrain_every` steps; metrics are collected and
   the step's events are written in one transaction.

How watching works (documented because results depend on it): for an item on a page,
P(watch) = watch_scale * P(like | shown)^2 * max(1 - position_decay * position, min_position_factor)
* exp(social_influence * conformity * h) (all of them `simulation.behaviour` parameters),
where h is the closeness-weighted sentiment the agent heard about that item (liked +1, neutral
+0.3, disliked -1). A watched item gets the rating round(predicted + conformity * 0.5 * tanh(h) +
noise), clipped to 1-5; at least `like_rating` is a like, at most `dislike_rating` a dislike.
After each page the agent moves on with probability `continue_if_nothing` (0.55) if it watched
nothing there, `continue_if_watched` (0.35) if it did, else it leaves.
"""

from __future__ import annotations

import zlib
from datetime import timedelta

import mesa
import networkx as nx
import numpy as np

from ..agents import ACTS, Persona, UserAgent, act_weights, derive_roles, derive_traits
from ..agents.user_agent import Hearing
from ..data import Dataset, History, Interactions
from ..errors import UserError
from ..feedback import Exposure, FeedbackModel, predict_both
from ..llm import LanguageBackend, SpeechRequest
from ..metrics import metrics_reporters
from ..recommenders import Recommender, RecommenderWorld
from ..scenario import InjectPost, Scenario, SwitchRecommender
from ..social import build_graph
from .events import Event, EventLog
from .interventions import apply_extra_intervention, check_extra_interventions

BROWSE, SEARCH, CHAT, POST, NOTHING = range(len(ACTS))
HEARD_WANTS, HEARD_DECLINES = 2.0, 0.5  # chat listener said it wants to watch / does not (LLM replies only)


def entropy_bits(counts: np.ndarray) -> np.ndarray:
    """Shannon entropy (bits) of each row of a count matrix; 0 for empty rows."""
    total = counts.sum(1, keepdims=True)
    p = np.divide(counts, total, out=np.zeros_like(counts, dtype=np.float64), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(p), 0.0)
    return terms.sum(1)


class RecSimModel(mesa.Model):
    """A simulation of `scenario` over `dataset`, writing its events to `event_log` when given."""

    def __init__(self, scenario: Scenario, dataset: Dataset, *, feedback: FeedbackModel,
                 recommender_factory, backend: LanguageBackend, event_log: EventLog | None = None):
        super().__init__(rng=scenario.seed)
        self.scenario = scenario
        self.sim = scenario.simulation
        self.dataset = dataset
        self.catalog = dataset.catalog
        self.feedback = feedback
        self.backend = backend
        self.make_recommender = recommender_factory
        self.step_index = 0
        self.step_events: list[Event] = []

        n_users = len(dataset.users)
        self.history = History.from_interactions(dataset.interactions, n_users)
        traits = derive_traits(self.catalog, dataset.interactions, n_users)
        self.users = self._select_users(n_users)
        self.n_agents = len(self.users)
        self._create_agents(traits)
        self.agent_list: list[UserAgent] = sorted(self.agents, key=lambda a: a.agent_id)
        self.agent_of_user = {int(u): k for k, u in enumerate(self.users)}

        self.graph: nx.Graph = build_graph(
            scenario.social.graph, self.n_agents, degree=scenario.social.degree, rewire=scenario.social.rewire,
            homophily_strength=scenario.social.homophily, tastes=traits["taste"][self.users], rng=self.rng,
            relations=dataset.relations, agent_of_user=self.agent_of_user)
        self.taste = traits["taste"][self.users]

        self.activity = self._activity_probabilities(traits["n_ratings"][self.users])
        self.busy_until = np.zeros(self.n_agents)  # simulated hours
        self.watched_genres = np.zeros((self.n_agents, self.catalog.genres.shape[1]))
        self.sim_watches: list[list[tuple[int, float]]] = [[] for _ in range(self.n_agents)]
        self.pending_feedback: list[tuple[int, int, float, int]] = []
        self.step_watches: list[tuple[int, int, float]] = []  # (agent, item, rating) watched this step
        self.memory = None  # a recagent.memory.MemorySystem once attach_memory() is called
        self.profiles: dict[int, str] = {}  # Lusifer taste profiles by agent, used as personas when present
        self._usage_seen: dict[str, int] = {}

        spec = scenario.recommender
        self.recommender_spec = (spec.name, dict(spec.params), list(spec.rerankers))
        self.recommender: Recommender = self.new_recommender(*self.recommender_spec)
        self.recommender.fit(self.catalog, dataset.interactions)
        self.counters: dict[str, int] = {}
        self.datacollector = mesa.DataCollector(model_reporters={
            "step": lambda m: m.step_index,
            "sim_time": lambda m: m.sim_time,
            "active_agents": lambda m: m.counters.get("active", 0),
            "watches": lambda m: m.counters.get("watch", 0),
            "likes": lambda m: m.counters.get("like", 0),
            "dislikes": lambda m: m.counters.get("dislike", 0),
            "searches": lambda m: m.counters.get("search", 0),
            "chats": lambda m: m.counters.get("chat", 0),
            "posts": lambda m: m.counters.get("post", 0),
            "hears": lambda m: m.counters.get("hear", 0),
            "mean_genre_entropy": lambda m: m.mean_genre_entropy(),
            **metrics_reporters(self),  # cocoon and influence measures (recagent.metrics)
        })
        self._check_interventions()
        check_extra_interventions(self)
        self.event_log: EventLog | None = None
        if event_log is not None:
            self.attach_log(event_log)

    def attach_log(self, event_log: EventLog) -> None:
        """Write the run's context (agents, items, edges) and send each step's events to `event_log`."""
        event_log.write_context(self._agent_rows(), self._item_rows(), self._edge_rows())
        self.event_log = event_log

    # --- construction ----------------------------------------------------------------------------

    def _select_users(self, n_users: int) -> np.ndarray:
        spec = self.scenario.agents
        count = n_users if spec.count is None else spec.count
        if count > n_users:
            raise UserError(f"field 'agents.count': {count} agents asked for, the dataset has {n_users} users")
        if spec.sample == "first" or count == n_users:
            return np.arange(count)
        return np.sort(self.rng.choice(n_users, size=count, replace=False))

    def _create_agents(self, traits: dict[str, np.ndarray]) -> None:
        users_meta = self.dataset.users
        has_roles = any(users_meta.roles[u] for u in self.users)
        roles = ([users_meta.roles[u] for u in self.users] if has_roles
                 else derive_roles(traits, self.users, self.rng, self.scenario.agents.roles))
        genre_names = self.catalog.genre_names
        self.act_p = np.zeros((len(self.users), len(ACTS)))
        self.conformity = traits["conformity"][self.users]
        for k, u in enumerate(self.users):
            favourite = [genre_names[g] for g in np.argsort(-traits["taste"][u])[:2] if traits["taste"][u][g] > 0]
            persona = Persona(
                name=users_meta.names[u], age=int(users_meta.ages[u]), gender=users_meta.genders[u],
                occupation=users_meta.occupations[u], description=users_meta.descriptions[u], roles=roles[k],
                activity=float(traits["activity"][u]), diversity=float(traits["diversity"][u]),
                conformity=float(traits["conformity"][u]), favourite_genres=favourite)
            UserAgent(self, agent_id=k, user=int(u), persona=persona)
            self.act_p[k] = act_weights(roles[k])

    def _activity_probabilities(self, n_ratings: np.ndarray) -> np.ndarray:
        """Per-agent probability of acting in a step.

        pareto: RecAgent's draw (numpy pareto(alpha), divided by the maximum), rescaled so the mean
        is `activation.probability`, and handed out by rank so users with more ratings are more
        active; random: the same probability for all; all: everyone acts.
        """
        spec = self.sim.activation
        if spec.kind == "all":
            return np.ones(self.n_agents)
        if spec.kind == "random":
            return np.full(self.n_agents, spec.probability)
        draws = self.rng.pareto(spec.alpha, self.n_agents)
        draws = draws / draws.max() if draws.max() > 0 else np.ones(self.n_agents)
        probs = np.clip(draws * spec.probability / max(draws.mean(), 1e-12), 0, 1)
        # a few heavy-tail draws clip at 1; give their lost mass back to the rest
        for _ in range(20):
            deficit = spec.probability * self.n_agents - probs.sum()
            free = probs < 1
            if deficit <= 1e-9 or not free.any():
                break
            probs[free] = np.clip(probs[free] * (1 + deficit / probs[free].sum()), 0, 1)
        order = np.argsort(np.argsort(n_ratings + self.rng.random(self.n_agents) * 1e-3, kind="stable"), kind="stable")
        return np.sort(probs)[order]

    def _check_interventions(self) -> None:
        for i, iv in enumerate(self.scenario.interventions):
            if isinstance(iv, InjectPost):
                if not self.dataset.users.has(iv.agent) or self.dataset.users.index_of(iv.agent) not in self.agent_of_user:
                    raise UserError(f"field 'interventions[{i}].agent': user {iv.agent} is not an agent of this run")
                if not self.catalog.has(iv.item):
                    raise UserError(f"field 'interventions[{i}].item': item {iv.item} is not in the catalog")

    def _agent_rows(self):
        import json

        for a in self.agent_list:
            p = a.persona
            yield (a.agent_id, int(self.dataset.users.raw_ids[a.user]), p.name, json.dumps({
                "age": p.age, "gender": p.gender, "occupation": p.occupation, "description": p.description,
                "roles": p.roles, "activity": round(p.activity, 3), "diversity": round(p.diversity, 3),
                "conformity": round(p.conformity, 3), "favourite_genres": p.favourite_genres}, sort_keys=True))

    def _item_rows(self):
        for i in range(len(self.catalog)):
            yield int(self.catalog.raw_ids[i]), self.catalog.titles[i], "|".join(self.catalog.item_genres(i))

    def _edge_rows(self):
        for u, v, d in sorted(self.graph.edges(data=True)):
            yield int(u), int(v), d.get("relationship", "friend"), float(d.get("closeness", 1.0))

    # --- time and bookkeeping --------------------------------------------------------------------

    @property
    def now_hours(self) -> float:
        return self.step_index * self.sim.step_hours

    @property
    def sim_time(self) -> str:
        return (self.sim.start_time + timedelta(hours=self.now_hours)).isoformat(timespec="minutes")

    def emit(self, agent_id, kind, item=None, target=None, payload=None) -> None:
        raw_item = int(self.catalog.raw_ids[item]) if item is not None else None
        self.step_events.append(Event(self.step_index, self.sim_time, None if agent_id is None else int(agent_id),
                                      kind, raw_item, None if target is None else int(target), payload))
        self.counters[kind] = self.counters.get(kind, 0) + 1

    def mean_genre_entropy(self) -> float:
        watched = self.watched_genres.sum(1) > 0
        return float(entropy_bits(self.watched_genres[watched]).mean()) if watched.any() else 0.0

    # --- the step --------------------------------------------------------------------------------

    def step(self) -> None:
        self.counters = {}
        self.step_events = []
        self.step_watches = []
        self.apply_interventions()
        active = self.activate()
        acts = self.choose_acts(active)
        self.browse(active[acts == BROWSE])
        self.search(active[acts == SEARCH])
        self.socialise(active[acts == CHAT], active[acts == POST])
        self.remember()
        self.update_recommender()
        self.datacollector.collect(self)
        if self.event_log is not None:
            for event in self.step_events:
                self.event_log.append(event)
            self.event_log.flush()
        self.step_index += 1

    def apply_interventions(self) -> None:
        for iv in self.scenario.interventions:
            if iv.at_step != self.step_index:
                continue
            if isinstance(iv, SwitchRecommender):
                name, params, rerankers = self.recommender_spec
                if iv.name is not None:
                    name, params, rerankers = iv.name, dict(iv.params), []
                if iv.rerankers is not None:
                    rerankers = list(iv.rerankers)
                self.recommender_spec = (name, params, rerankers)
                self.recommender = self.new_recommender(name, params, rerankers)
                self.recommender.fit(self.catalog, self.history.to_interactions())
                self.emit(None, "intervention", payload={"kind": iv.kind, "recommender": self.recommender.name})
            elif isinstance(iv, InjectPost):
                agent = self.agent_of_user[self.dataset.users.index_of(iv.agent)]
                self.emit(None, "intervention", payload={"kind": iv.kind, "agent": agent})
                self.post([agent], [self.catalog.index_of(iv.item)], texts=[iv.text] if iv.text else None)
            else:
                apply_extra_intervention(self, iv)  # rewire, set_traits (simulation/interventions.py)

    def new_recommender(self, name: str, params: dict, rerankers: list) -> Recommender:
        """A recommender (with its re-rankers) bound to this run's graph and history when it asks."""
        recommender = self.make_recommender(name, params, self.rng, rerankers)
        bind = getattr(recommender, "bind", None)
        if bind is not None:
            bind(RecommenderWorld(graph=self.graph, users=self.users, history=self.history))
        return recommender

    def activate(self) -> np.ndarray:
        idle = self.busy_until <= self.now_hours + 1e-9
        active = np.flatnonzero(idle & (self.rng.random(self.n_agents) < self.activity))
        cap = self.sim.activation.max_active
        if cap is not None and len(active) > cap:
            active = np.sort(self.rng.choice(active, size=cap, replace=False))
        self.counters["active"] = len(active)
        return active

    def choose_acts(self, active: np.ndarray) -> np.ndarray:
        """One act per active agent, sampled from its propensities; impossible acts become browse."""
        p = self.act_p[active]
        acts = (self.rng.random((len(active), 1)) > np.cumsum(p, 1)).sum(1)
        acts = np.minimum(acts, NOTHING)
        for n, a in enumerate(active):
            if acts[n] in (CHAT, POST) and self.graph.degree[int(a)] == 0:
                acts[n] = BROWSE
            elif acts[n] == SEARCH and not self.agent_list[a].wanted_items():
                acts[n] = BROWSE
        return acts

    def _heard_matrix(self, agents: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Word-of-mouth pressure h for each (agent row, item) cell of `items`."""
        h = np.zeros(items.shape)
        for row, a in enumerate(agents):
            heard = self.agent_list[a].heard
            if heard:
                for col, item in enumerate(items[row]):
                    if item in heard:
                        h[row, col] = self.agent_list[a].heard_weight(int(item))
        return h

    def _decide(self, agents: np.ndarray, items: np.ndarray, exposure: Exposure,
                boost: float = 1.0) -> tuple[np.ndarray, ...]:
        """Batched feedback for an (n_agents, n_items) grid: P(like), sampled rating, heard pressure."""
        valid = items >= 0
        flat_agents = np.repeat(agents, items.shape[1])[valid.ravel()]
        flat_items = items[valid]
        users = self.users[flat_agents]
        p_like = np.zeros(items.shape)
        predicted = np.zeros(items.shape)
        if len(flat_items):
            p_like[valid], predicted[valid] = predict_both(self.feedback, users, flat_items, self.history,
                                                         exposure=exposure)
        h = self._heard_matrix(agents, items)
        conformity = self.conformity[agents][:, None]
        noise = self.rng.normal(0, self.scenario.feedback.rating_noise, items.shape)
        ratings = np.clip(np.rint(predicted + conformity * 0.5 * np.tanh(h) + noise), 1, 5)
        behaviour = self.sim.behaviour
        p_watch = boost * behaviour.watch_scale * p_like**2 * np.exp(behaviour.social_influence * conformity * h)
        return np.where(valid, np.clip(p_watch, 0, 1), 0.0), p_like, ratings, h

    def _watch(self, agent: int, item: int, rating: float, p_like: float, via: str, extra: dict) -> None:
        source = self.agent_list[agent].first_source(item)
        self.emit(agent, "watch", item, payload={"rating": rating, "p_like": p_like, "via": via,
                                                 "heard_from": source, **extra})
        fb = self.scenario.feedback
        if rating >= fb.like_rating:
            self.emit(agent, "like", item, payload={"rating": rating})
        elif rating <= fb.dislike_rating:
            self.emit(agent, "dislike", item, payload={"rating": rating})
        user = int(self.users[agent])
        self.history.add([user], [item], [rating])
        self.sim_watches[agent].append((item, rating))
        self.watched_genres[agent] += self.catalog.genres[item]
        self.pending_feedback.append((user, item, rating, self.step_index))
        self.step_watches.append((agent, item, rating))
        if self.memory is not None:
            from ..memory import heuristic_importance

            self.memory.observe(agent, f"I watched {self.catalog.titles[item]} and rated it {rating:g}/5.", "watch",
                                heuristic_importance("watch", rating))

    def browse(self, agents: np.ndarray) -> None:
        if len(agents) == 0:
            return
        k, pages = self.sim.page_size, self.sim.max_pages
        users = self.users[agents]
        recs = self.recommender.recommend(users, k * pages, self.history.seen_matrix(users, len(self.catalog)))
        behaviour = self.sim.behaviour
        p_watch, p_like, ratings, _ = self._decide(agents, recs, "shown")
        p_watch *= np.tile(np.clip(1 - behaviour.position_decay * np.arange(k), behaviour.min_position_factor, 1), pages)
        watch = (self.rng.random(recs.shape) < p_watch).reshape(len(agents), pages, k)
        watched_any = watch.any(2)
        go_on = self.rng.random((len(agents), pages)) < np.where(watched_any, behaviour.continue_if_watched,
                                                                  behaviour.continue_if_nothing)
        # page p is seen when the agent moved on after every earlier page
        seen = np.concatenate([np.ones((len(agents), 1), bool), np.cumprod(go_on[:, :-1], 1).astype(bool)], 1)
        watch &= seen[:, :, None]
        recs3 = recs.reshape(len(agents), pages, k)
        for row, agent in enumerate(agents):
            n_watched = 0
            for page in range(pages):
                if not seen[row, page]:
                    break
                shown = [int(self.catalog.raw_ids[i]) for i in recs3[row, page] if i >= 0]
                self.emit(agent, "page", payload={"page": page, "items": shown, "recommender": self.recommender.name})
                for pos in np.flatnonzero(watch[row, page]):
                    col = page * k + pos
                    self._watch(agent, int(recs[row, col]), float(ratings[row, col]), float(p_like[row, col]),
                                "recommender", {"page": page, "position": int(pos)})
                    n_watched += 1
            self.emit(agent, "leave", payload={"pages": int(seen[row].sum()), "watched": n_watched})
            self.busy_until[agent] = self.now_hours + n_watched * self.sim.busy_hours.watch

    def search(self, agents: np.ndarray) -> None:
        """Agents look up the item they heard most about; they watch it more readily than a page item."""
        if len(agents) == 0:
            return
        wanted = []
        for a in agents:
            seen = set(self.history.items[self.users[a]])
            wanted.append(next((i for i in self.agent_list[a].wanted_items() if i not in seen), -1))
        items = np.array(wanted)[:, None]
        p_watch, p_like, ratings, _ = self._decide(agents, items, "chosen", boost=self.sim.behaviour.search_boost)
        watch = self.rng.random(items.shape) < p_watch
        for row, agent in enumerate(agents):
            item = int(items[row, 0])
            if item < 0:
                self.emit(agent, "search", payload={"found": False})
                continue
            self.emit(agent, "search", item, payload={"query": self.catalog.titles[item], "found": True,
                                                       "heard_from": self.agent_list[agent].first_source(item)})
            if watch[row, 0]:
                self._watch(agent, item, float(ratings[row, 0]), float(p_like[row, 0]), "search", {})
                self.busy_until[agent] = self.now_hours + self.sim.busy_hours.watch

    # --- social ----------------------------------------------------------------------------------

    def _mention(self, agent: int) -> tuple[int, float]:
        """The item an agent talks about: its latest watch in the run, else its latest rating."""
        if self.sim_watches[agent]:
            return self.sim_watches[agent][-1]
        user = self.users[agent]
        return self.history.items[user][-1], self.history.ratings[user][-1]

    def _sentiment(self, rating: float) -> str:
        fb = self.scenario.feedback
        return "liked" if rating >= fb.like_rating else "disliked" if rating <= fb.dislike_rating else "neutral"

    def _request(self, kind: str, agent: int, item: int, rating: float, listener: int | None = None) -> SpeechRequest:
        speaker = self.agent_list[agent].persona
        genres = self.catalog.item_genres(item)
        liked = set(speaker.favourite_genres)
        reasons = [g for g in genres if g in liked] or genres
        return SpeechRequest(
            kind=kind, speaker=speaker.name, persona=self.profiles.get(agent) or speaker.summary(),
            item_title=self.catalog.titles[item],
            item_genres=genres, reasons=reasons, sentiment=self._sentiment(rating), rating=rating,
            listener=self.agent_list[listener].persona.name if listener is not None else None,
            key=f"{self.scenario.seed}:{self.step_index}:{agent}:{item}:{kind}")

    def _pick_friend(self, agent: int) -> int:
        friends = sorted(self.graph.neighbors(agent))
        closeness = np.array([self.graph.edges[agent, f].get("closeness", 1.0) for f in friends])
        shared = self.taste[friends] @ self.taste[agent]
        weights = closeness * (1.0 + shared / max(float(self.taste[agent] @ self.taste[agent]), 1e-12))
        return friends[self.rng.choice(len(friends), p=weights / weights.sum())]

    def _feeling_watches(self) -> list[tuple[int, int, float]]:
        """The share `llm.feeling_share` of this step's watches that get a feeling, picked by a stable hash
        (not model.rng, so the share never shifts the simulation's random stream)."""
        share = self.scenario.llm.feeling_share
        return [(a, i, r) for a, i, r in self.step_watches
                if zlib.crc32(f"{self.scenario.seed}:{self.step_index}:{a}:{i}".encode()) < share * 2**32]

    def _with_memories(self, requests: list[SpeechRequest], speakers: list[int]) -> None:
        """Fill each request's memories from its speaker's memory (one batched retrieval), for LLM backends."""
        if self.memory is None or self.backend.is_offline or not requests:
            return
        queries = [f"{r.item_title} ({', '.join(r.item_genres)})" for r in requests]
        for request, found in zip(requests, self.memory.retrieve_many(speakers, queries, self.now_hours)):
            request.memories = [m[:300] for m in found[:8]]

    def _observe(self, agent: int, text: str, kind: str) -> None:
        if self.memory is not None:
            self.memory.observe(agent, text[:400], kind)

    def socialise(self, chatters: np.ndarray, posters: np.ndarray) -> None:
        """Chats, posts and feelings of the step go to the language backend as one concurrent wave."""
        chats = []
        for agent in chatters:
            friend = self._pick_friend(int(agent))
            item, rating = self._mention(int(agent))
            chats.append((int(agent), friend, item, rating))
        post_items = [self._mention(int(a)) for a in posters]
        feelings = self._feeling_watches()
        requests = ([self._request("chat", a, i, r, listener=f) for a, f, i, r in chats]
                    + [self._request("post", int(a), i, r) for a, (i, r) in zip(posters, post_items)]
                    + [self._request("feeling", a, i, r) for a, i, r in feelings])
        self._with_memories(requests, [c[0] for c in chats] + [int(a) for a in posters] + [f[0] for f in feelings])
        replies = self.backend.respond_many(requests)
        chat_replies = replies[:len(chats)]
        post_replies = replies[len(chats):len(chats) + len(post_items)]
        feeling_replies = replies[len(chats) + len(post_items):]
        lo, hi = self.sim.busy_hours.chat
        for (agent, friend, item, rating), reply in zip(chats, chat_replies):
            sentiment = self._sentiment(rating)
            wants = getattr(reply.data, "listener_wants_to_watch", None)
            payload = {"text": reply.text, "sentiment": sentiment, "backend": self.backend.label, "source": reply.source}
            if wants is not None:
                payload["wants_to_watch"] = wants
            self.emit(agent, "chat", item, target=friend, payload=payload)
            weight = 1.0 if wants is None else HEARD_WANTS if wants else HEARD_DECLINES
            self._deliver(friend, agent, item, sentiment, "chat", weight)
            title = self.catalog.titles[item]
            self._observe(agent, f"I told {self.agent_list[friend].persona.name} about {title}: {reply.text}", "chat")
            self._observe(friend, f"{self.agent_list[agent].persona.name} told me about {title}: {reply.text}",
                          "hear_chat")
            duration = self.rng.uniform(lo, hi)
            for who in (agent, friend):
                self.busy_until[who] = max(self.busy_until[who], self.now_hours + duration)
        self.post([int(a) for a in posters], [i for i, _ in post_items], ratings=[r for _, r in post_items],
                  texts=[r.text for r in post_replies], sources=[r.source for r in post_replies])
        for (agent, item, rating), reply in zip(feelings, feeling_replies):
            emotion = getattr(reply.data, "emotion", None)
            payload = {"text": reply.text, "rating": rating, "backend": self.backend.label, "source": reply.source}
            if emotion:
                payload["emotion"] = emotion
            self.emit(agent, "feeling", item, payload=payload)
            self._observe(agent, f"After watching {self.catalog.titles[item]}: {reply.text}", "feeling")

    def post(self, agents: list[int], items: list[int], ratings: list[float] | None = None,
             texts: list[str] | None = None, sources: list[str] | None = None) -> None:
        """Each agent posts about its item to all its contacts."""
        if not agents:
            return
        ratings = ratings or [float(self.scenario.feedback.like_rating)] * len(agents)
        if texts is None:
            replies = self.backend.respond_many([self._request("post", a, i, r) for a, i, r in zip(agents, items, ratings)])
            texts, sources = [r.text for r in replies], [r.source for r in replies]
        sources = sources or ["scenario"] * len(agents)
        for agent, item, rating, text, source in zip(agents, items, ratings, texts, sources):
            sentiment = self._sentiment(rating)
            contacts = sorted(self.graph.neighbors(agent))
            self.emit(agent, "post", item, payload={"text": text, "sentiment": sentiment, "backend": self.backend.label,
                                                    "source": source, "recipients": len(contacts)})
            name, title = self.agent_list[agent].persona.name, self.catalog.titles[item]
            self._observe(agent, f"I posted about {title}: {text}", "post")
            for contact in contacts:
                self._deliver(contact, agent, item, sentiment, "post")
                self._observe(contact, f"{name} posted about {title}: {text}", "hear_post")
            self.busy_until[agent] = max(self.busy_until[agent], self.now_hours + self.sim.busy_hours.post)

    def _deliver(self, listener: int, speaker: int, item: int, sentiment: str, via: str, weight: float = 1.0) -> None:
        """`weight` scales the hearing: a listener who said it wants to watch takes it more to heart."""
        closeness = float(self.graph.edges[listener, speaker].get("closeness", 1.0)) \
            if self.graph.has_edge(listener, speaker) else 0.5
        closeness *= weight
        self.agent_list[listener].hear(Hearing(item, speaker, self.step_index, sentiment, closeness, via))
        self.emit(listener, "hear", item, target=speaker, payload={"via": via, "sentiment": sentiment})

    # --- memory and language-backend accounting -------------------------------------------------

    def attach_memory(self, path) -> None:
        """Give every agent RecAgent memory, its long-term part on chromadb in `path`."""
        from ..memory import LongTermStore, MemorySystem

        self.memory = MemorySystem(self.scenario.llm.memory, LongTermStore(path), backend=self.backend,
                                   seed=self.scenario.seed,
                                   who=lambda a: (self.agent_list[a].persona.name,
                                                  self.profiles.get(a) or self.agent_list[a].persona.summary()))

    def build_profiles(self, batch: int = 20, last_n: int = 40) -> None:
        """Lusifer taste profiles from each agent's starting ratings (batched waves, cached); used as personas."""
        from ..llm.profiles import build_profiles

        histories = {}
        for agent in self.agent_list:
            u = agent.user
            histories[agent.agent_id] = [(self.catalog.titles[i], ", ".join(self.catalog.item_genres(i)), float(r))
                                         for i, r in zip(self.history.items[u], self.history.ratings[u])]
        self.profiles = build_profiles(self.backend, histories, batch=batch, last_n=last_n)

    def remember(self) -> None:
        """End of step: batched memory work; for LLM backends, one `llm` event with the step's usage."""
        if self.memory is not None:
            stats = self.memory.end_step(self.now_hours, self.step_index)
            self.counters["memories_stored"] = stats.stored
        if self.backend.is_offline:
            return
        usage = self.backend.usage.as_dict()
        keys = ("calls", "prompt_tokens", "completion_tokens", "cache_hits", "failures", "retries", "fallbacks",
                "budget_skipped")
        delta = {k: usage[k] - self._usage_seen.get(k, 0) for k in keys}
        self._usage_seen = {k: usage[k] for k in keys}
        self.emit(None, "llm", payload={"backend": self.backend.label, **delta})

    # --- learning ---------------------------------------------------------------------------------

    def update_recommender(self) -> None:
        every = self.scenario.recommender.retrain_every
        if not every or (self.step_index + 1) % every or not self.pending_feedback:
            return
        u, i, r, t = map(np.array, zip(*self.pending_feedback))
        self.recommender.update(Interactions(u, i, r, t))
        self.pending_feedback = []

