"""Interventions: scheduled changes to a running world, applied by hooks before a step's first phase.

- `switch_recommender`: a new base recommender and/or re-rankers, fitted on the history so far
  (the scenario's dataset plus every watch of the run). The re-ranker rule: a new `name` starts a
  new strategy without the old re-rankers unless the switch lists `rerankers`; without a `name`
  the base stays and the listed re-rankers replace the old ones. The event names the strategy
  before and after (`mf+mmr(lambda=0.5)`) and whether the re-rankers were kept, replaced or dropped;
  `World.recommender_switches` keeps every switch for run.json;
- `inject_post`: an agent posts about an item (the scenario's text, else the backend's);

Agents are named as everywhere else a person types one (`--play`, the page, the events table):
the agent id, 0 to agents - 1; `"user:ID"` names the agent drawn from dataset user ID instead.
- `rewire` (RecAgent's social mitigation of cocoons): a random `share` of the edges is picked;
  each picked edge (u, v) is removed and u is linked instead to a contact drawn uniformly from the
  `dissimilar` share of non-contacts least similar to u in taste (cosine of genre tastes). The new
  edge keeps the old closeness. The intervention event lists every (u, old v, new w).
- `set_traits`: sets conformity (how much word of mouth moves watching and rating), activity (the
  probability of acting in a step) and/or diversity (persona only) of a group of agents: all of
  them, given agent ids, those with a role, and/or a random share of these.

Both draw from the model's seeded generator, so they are reproducible.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from ..recommenders.label import strategy_label
from ..scenario import InjectPost, Rewire, SetTraits, SwitchRecommender
from .phases.social import post


def agent_index(model, ref, field: str) -> int:
    """The agent id that `ref` names (an agent id, or "user:ID" for a dataset user id); a UserError
    naming the field and the valid ids if there is no such agent in this run."""
    n = model.n_agents
    if isinstance(ref, str):  # "user:ID": the scenario model only lets this form through
        user = int(ref.split(":", 1)[1])
        users = model.dataset.users
        agent = model.agent_of_user.get(users.index_of(user)) if users.has(user) else None
        if agent is None:
            raise UserError(f"field '{field}': dataset user {user} is not an agent of this run ({n} of "
                            f"{len(users)} users are agents; name agents by agent id, 0 to {n - 1}, or by "
                            f"\"user:ID\" with the user_id column of the events table's agents)")
        return agent
    if not 0 <= ref < n:
        raise UserError(f"field '{field}': agent {ref} is not an agent of this run: it has {n} agents, ids 0 to "
                        f"{n - 1} (\"user:ID\" names the agent of a dataset user id)")
    return int(ref)


def check_interventions(model) -> None:
    """Every agent and item an intervention names is in the run (a UserError naming the field if not)."""
    for i, iv in enumerate(model.scenario.interventions):
        if isinstance(iv, InjectPost):
            agent_index(model, iv.agent, f"interventions[{i}].agent")
            if not model.catalog.has(iv.item):
                raise UserError(f"field 'interventions[{i}].item': item {iv.item} is not in the catalog")
        if isinstance(iv, SetTraits) and iv.agents != "all":
            for ref in iv.agents:
                agent_index(model, ref, f"interventions[{i}].agents")


def apply_intervention(model, iv) -> None:
    if isinstance(iv, SwitchRecommender):
        name, params, rerankers = model.world.recommender_spec
        if iv.name is not None:
            name, params, rerankers = iv.name, dict(iv.params), []
        if iv.rerankers is not None:
            rerankers = list(iv.rerankers)
        switch_recommender(model, name, params, rerankers, kind=iv.kind)
    elif isinstance(iv, InjectPost):
        agent = agent_index(model, iv.agent, "agent")
        model.emit(None, "intervention", payload={"kind": iv.kind, "agent": agent})
        post(model, [agent], [model.catalog.index_of(iv.item)], texts=[iv.text] if iv.text else None)
    elif isinstance(iv, Rewire):
        rewire(model, iv)
    elif isinstance(iv, SetTraits):
        set_traits(model, iv)


def _pairs(rerankers: list) -> list[tuple[str, dict]]:
    return [(r.name, dict(r.params)) if hasattr(r, "name") else (r[0], dict(r[1])) for r in rerankers]


def reranker_change(before: list, after: list) -> str:
    """What a switch did to the re-rankers: `kept`, `replaced`, `dropped`, or `none` (none before or after)."""
    old, new = _pairs(before), _pairs(after)
    if not old and not new:
        return "none"
    if old == new:
        return "kept"
    return "dropped" if not new else "replaced"


def switch_recommender(model, name: str, params: dict, rerankers: list, kind: str = "switch_recommender") -> None:
    """Swap in a new recommender pipeline, fitted on the history so far; the event and
    `World.recommender_switches` say what was replaced by what."""
    world = model.world
    previous = strategy_label(*world.recommender_spec)
    change = reranker_change(world.recommender_spec[2], rerankers)
    world.recommender_spec = (name, dict(params), list(rerankers))
    model.recommender = model.new_recommender(name, dict(params), list(rerankers))
    model.recommender.fit(model.catalog, world.history.to_interactions())
    current = strategy_label(*world.recommender_spec)
    world.recommender_switches.append({"step": world.step_index, "from": previous, "to": current, "rerankers": change})
    model.emit(None, "intervention", payload={"kind": kind, "recommender": current, "previous": previous,
                                              "rerankers": change})


def rewire(model, iv: Rewire) -> list[tuple[int, int, int]]:
    graph, rng = model.graph, model.rng
    edges = sorted(graph.edges())
    n = int(round(iv.share * len(edges)))
    unit = model.world.taste / np.maximum(np.linalg.norm(model.world.taste, axis=1, keepdims=True), 1e-12)
    changes = []
    for e in np.sort(rng.choice(len(edges), size=n, replace=False)) if n else []:
        u, v = edges[e]
        if not graph.has_edge(u, v):
            continue
        others = np.array([w for w in range(model.n_agents) if w != u and not graph.has_edge(u, w)])
        if len(others) == 0:
            continue
        sims = unit[others] @ unit[u]
        keep = max(1, int(np.ceil(iv.dissimilar * len(others))))
        pool = others[np.argsort(sims, kind="stable")[:keep]]
        w = int(pool[rng.integers(len(pool))])
        data = dict(graph.edges[u, v])
        graph.remove_edge(u, v)
        graph.add_edge(u, w, **data)
        changes.append((int(u), int(v), w))
    model.emit(None, "intervention", payload={"kind": iv.kind, "rewired": len(changes),
                                              "edges": [list(c) for c in changes]})
    return changes


def set_traits(model, iv: SetTraits) -> np.ndarray:
    if iv.agents == "all":
        agents = np.arange(model.n_agents)
    else:
        agents = np.array(sorted({agent_index(model, ref, "agents") for ref in iv.agents}), dtype=int)
    if iv.role is not None:
        agents = model.world.people.with_role(agents, iv.role)
    if iv.share < 1 and len(agents):
        agents = np.sort(model.rng.choice(agents, size=int(round(iv.share * len(agents))), replace=False))
    changed = {}
    for trait in ("conformity", "activity", "diversity"):
        value = getattr(iv, trait)
        if value is None:
            continue
        changed[trait] = value
        if trait == "conformity":
            model.world.conformity[agents] = value
        elif trait == "activity":
            model.world.activity[agents] = value
        model.world.people.set_trait(agents, trait, value)
    model.emit(None, "intervention", payload={"kind": iv.kind, "agents": len(agents), "traits": changed})
    return agents
