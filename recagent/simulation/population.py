"""Who is in the run: agents drawn from the dataset's users, their personas, the social graph,
and how active each one is. Builds the starting `World`.

The draws happen in a fixed order on the model's generator (users, roles, graph, activity), so a
seed gives the same population every time.
"""

from __future__ import annotations

import json

import numpy as np

from ..agents import ACTS, act_weights, derive_traits
from ..agents.people import People
from ..agents.persona import derive_role_sets, describe, role_sets_of
from ..agents.word_of_mouth import WordOfMouth
from ..data import History
from ..errors import UserError
from ..social.graphs import build_edges
from .state import RunWatches, World


def build_world(model) -> World:
    """The starting world of `model` (its scenario, dataset and generator); Mesa agents come on demand."""
    scenario, dataset, rng = model.scenario, model.dataset, model.rng
    n_users = len(dataset.users)
    history = History.from_interactions(dataset.interactions, n_users)
    traits = derive_traits(dataset.catalog, dataset.interactions, n_users)
    users = select_users(scenario.agents, n_users, rng)
    taste = traits["taste"][users]
    people, act_p = create_people(model, users, traits, taste)
    social = scenario.social
    edges = build_edges(social.graph, len(users), degree=social.degree, rewire=social.rewire,
                        homophily_strength=social.homophily, tastes=taste, rng=rng, relations=dataset.relations,
                        agent_of_user={int(u): k for k, u in enumerate(users)})
    activity = activity_probabilities(scenario.simulation.activation, traits["n_ratings"][users], rng)
    spec = scenario.recommender
    return World(users=users, people=people, history=history, csr=edges.adjacency(), edges=edges, taste=taste,
                 activity=activity, conformity=traits["conformity"][users], act_p=act_p,
                 busy_until=np.zeros(len(users)), watched_genres=np.zeros((len(users), dataset.catalog.genres.shape[1])),
                 recommender_spec=(spec.name, dict(spec.params), list(spec.rerankers)),
                 word_of_mouth=WordOfMouth(len(dataset.catalog)), watches=RunWatches(len(users)))


def select_users(spec, n_users: int, rng: np.random.Generator) -> np.ndarray:
    count = n_users if spec.count is None else spec.count
    if count > n_users:
        raise UserError(f"field 'agents.count': {count} agents asked for, the dataset has {n_users} users")
    if spec.sample == "first" or count == n_users:
        return np.arange(count)
    return np.sort(rng.choice(n_users, size=count, replace=False))


def create_people(model, users: np.ndarray, traits: dict[str, np.ndarray],
                  taste: np.ndarray) -> tuple[People, np.ndarray]:
    """The persona columns of the selected users (agents are made on demand); and the (agents, acts)
    propensities, one row per distinct role set."""
    meta, catalog = model.dataset.users, model.dataset.catalog
    has_roles = any(meta.roles[u] for u in users.tolist())
    role_sets, index = (role_sets_of([meta.roles[u] for u in users.tolist()]) if has_roles
                        else derive_role_sets(traits, users, model.rng, model.scenario.agents.roles))
    weights = np.array([act_weights(list(r)) for r in role_sets]).reshape(len(role_sets), len(ACTS))
    people = People(users, meta, catalog.genre_names, taste, {name: traits[name][users] for name in
                                                               ("activity", "diversity", "conformity")},
                    role_sets, index)
    people.bind(model)
    return people, weights[index]


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
    """Rows of the event log's `agents` table (built from the persona columns, no agent made)."""
    people, meta, raw = model.world.people, model.dataset.users, model.dataset.users.raw_ids
    activity, diversity, conformity = ([round(x, 3) for x in people.traits[t].tolist()]
                                       for t in ("activity", "diversity", "conformity"))
    role_lists = [list(r) for r in people.role_sets]
    names = people.genre_names
    # persona.favourite_genres for every agent at once (the same sort, row by row)
    top = np.argsort(-people.taste, axis=1)[:, :2] if people.taste.shape[1] else np.zeros((len(people), 0), int)
    liked = np.take_along_axis(people.taste, top, 1) > 0
    for k, u in enumerate(people.users.tolist()):
        favourite = [names[g] for g, ok in zip(top[k].tolist(), liked[k].tolist()) if ok]
        yield (k, int(raw[u]), meta.names[u], json.dumps({
            "age": int(meta.ages[u]), "gender": meta.genders[u], "occupation": meta.occupations[u],
            "description": describe(meta.descriptions[u], favourite), "roles": role_lists[people.role_index[k]],
            "activity": activity[k], "diversity": diversity[k], "conformity": conformity[k],
            "favourite_genres": favourite}, sort_keys=True))


def item_rows(catalog):
    for i in range(len(catalog)):
        yield int(catalog.raw_ids[i]), catalog.titles[i], "|".join(catalog.item_genres(i))


def edge_rows(world):
    """Rows of the event log's `edges` table, each undirected edge once (source < target), sorted."""
    if world.graph_cache is not None:  # the NetworkX graph is in use (and may have been changed)
        for u, v, d in sorted(world.graph.edges(data=True)):
            yield int(u), int(v), d.get("relationship", "friend"), float(d.get("closeness", 1.0))
        return
    e = world.edges
    order = np.lexsort((e.target, e.source))
    yield from zip(e.source[order].tolist(), e.target[order].tolist(), np.asarray(e.relationship)[order].tolist(),
                   np.asarray(e.closeness, dtype=np.float64)[order].tolist())
