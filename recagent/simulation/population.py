"""Who is in the run: agents drawn from the dataset's users, their personas, the social graph,
and how active each one is. Builds the starting `World`.

The draws happen in a fixed order on the model's generator (users, roles, graph, activity), so a
seed gives the same population every time.
"""

from __future__ import annotations

import json

import numpy as np

from ..agents import ACTS, Persona, UserAgent, act_weights, derive_roles, derive_traits
from ..agents.persona import describe, favourite_genres
from ..data import History
from ..errors import UserError
from ..social import build_graph
from .state import World


def build_world(model) -> World:
    """The starting world of `model` (its scenario, dataset and generator); creates the Mesa agents."""
    scenario, dataset, rng = model.scenario, model.dataset, model.rng
    n_users = len(dataset.users)
    history = History.from_interactions(dataset.interactions, n_users)
    traits = derive_traits(dataset.catalog, dataset.interactions, n_users)
    users = select_users(scenario.agents, n_users, rng)
    agents, act_p = create_agents(model, users, traits)
    social = scenario.social
    taste = traits["taste"][users]
    graph = build_graph(social.graph, len(users), degree=social.degree, rewire=social.rewire,
                        homophily_strength=social.homophily, tastes=taste, rng=rng, relations=dataset.relations,
                        agent_of_user={int(u): k for k, u in enumerate(users)})
    activity = activity_probabilities(scenario.simulation.activation, traits["n_ratings"][users], rng)
    spec = scenario.recommender
    return World(users=users, agents=agents, history=history, graph=graph, taste=taste, activity=activity,
                 conformity=traits["conformity"][users], act_p=act_p, busy_until=np.zeros(len(users)),
                 watched_genres=np.zeros((len(users), dataset.catalog.genres.shape[1])),
                 recommender_spec=(spec.name, dict(spec.params), list(spec.rerankers)),
                 sim_watches=[[] for _ in range(len(users))])


def select_users(spec, n_users: int, rng: np.random.Generator) -> np.ndarray:
    count = n_users if spec.count is None else spec.count
    if count > n_users:
        raise UserError(f"field 'agents.count': {count} agents asked for, the dataset has {n_users} users")
    if spec.sample == "first" or count == n_users:
        return np.arange(count)
    return np.sort(rng.choice(n_users, size=count, replace=False))


def create_agents(model, users: np.ndarray, traits: dict[str, np.ndarray]) -> tuple[list, np.ndarray]:
    """One Mesa agent per selected user, with its persona; and the (agents, acts) propensities."""
    meta, catalog = model.dataset.users, model.dataset.catalog
    has_roles = any(meta.roles[u] for u in users)
    roles = ([meta.roles[u] for u in users] if has_roles
             else derive_roles(traits, users, model.rng, model.scenario.agents.roles))
    act_p = np.zeros((len(users), len(ACTS)))
    agents = []
    for k, u in enumerate(users):
        taste = traits["taste"][u]
        favourite = favourite_genres(taste, catalog.genre_names)
        persona = Persona(  # the description is written from the same favourite genres (persona.describe)
            name=meta.names[u], age=int(meta.ages[u]), gender=meta.genders[u], occupation=meta.occupations[u],
            description=describe(meta.descriptions[u], favourite), roles=roles[k], activity=float(traits["activity"][u]),
            diversity=float(traits["diversity"][u]), conformity=float(traits["conformity"][u]),
            favourite_genres=favourite)
        agents.append(UserAgent(model, agent_id=k, user=int(u), persona=persona))
        act_p[k] = act_weights(roles[k])
    return agents, act_p


def activity_probabilities(spec, n_ratings: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-agent probability of acting in a step.

    pareto: RecAgent's draw (numpy pareto(alpha), divided by the maximum), rescaled so the mean
    is `activation.probability`, and handed out by rank so users with more ratings are more
    active; random: the same probability for all; all: everyone acts.
    """
    n = len(n_ratings)
    if spec.kind == "all":
        return np.ones(n)
    if spec.kind == "random":
        return np.full(n, spec.probability)
    draws = rng.pareto(spec.alpha, n)
    draws = draws / draws.max() if draws.max() > 0 else np.ones(n)
    probs = np.clip(draws * spec.probability / max(draws.mean(), 1e-12), 0, 1)
    # a few heavy-tail draws clip at 1; give their lost mass back to the rest
    for _ in range(20):
        deficit = spec.probability * n - probs.sum()
        free = probs < 1
        if deficit <= 1e-9 or not free.any():
            break
        probs[free] = np.clip(probs[free] * (1 + deficit / probs[free].sum()), 0, 1)
    order = np.argsort(np.argsort(n_ratings + rng.random(n) * 1e-3, kind="stable"), kind="stable")
    return np.sort(probs)[order]


def agent_rows(model):
    """Rows of the event log's `agents` table."""
    for a in model.agent_list:
        p = a.persona
        yield (a.agent_id, int(model.dataset.users.raw_ids[a.user]), p.name, json.dumps({
            "age": p.age, "gender": p.gender, "occupation": p.occupation, "description": p.description,
            "roles": p.roles, "activity": round(p.activity, 3), "diversity": round(p.diversity, 3),
            "conformity": round(p.conformity, 3), "favourite_genres": p.favourite_genres}, sort_keys=True))


def item_rows(catalog):
    for i in range(len(catalog)):
        yield int(catalog.raw_ids[i]), catalog.titles[i], "|".join(catalog.item_genres(i))


def edge_rows(graph):
    for u, v, d in sorted(graph.edges(data=True)):
        yield int(u), int(v), d.get("relationship", "friend"), float(d.get("closeness", 1.0))
