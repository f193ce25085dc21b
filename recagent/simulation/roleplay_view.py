"""What the role-play page shows a person about the agent they play: persona, ratings, what friends
told them, their feed of posts and chats, their contacts, and the open turn. Built on the simulation's
thread (from the world and the event log written so far) and handed to the web side whole."""

from __future__ import annotations

import json

FEED_LIMIT = 30
HISTORY_LIMIT = 20


def panel(roleplay, seat) -> dict:
    model, agent = roleplay.model, seat.agent
    world, catalog = model.world, model.catalog
    me = world.agents[agent]
    names = world.agents
    user = int(world.users[agent])
    history = [{"item": int(catalog.raw_ids[i]), "title": catalog.titles[i], "rating": float(r)}
               for i, r in zip(world.history.items[user][-HISTORY_LIMIT:], world.history.ratings[user][-HISTORY_LIMIT:])]
    heard = []
    for item in me.wanted_items()[:FEED_LIMIT]:
        last = me.heard[item][-1]
        heard.append({"item": int(catalog.raw_ids[item]), "title": catalog.titles[item], "from": int(last.source),
                      "name": names[last.source].persona.name, "via": last.via, "sentiment": last.sentiment})
    friends = [{"id": int(f), "name": names[f].persona.name,
                "closeness": round(float(world.graph.edges[agent, f].get("closeness", 1.0)), 2)}
               for f in sorted(world.graph.neighbors(agent))]
    turn = seat.turn
    return {
        "agent": agent, "name": me.persona.name, "persona": world.profiles.get(agent) or me.persona.summary(),
        "roles": list(me.persona.roles), "user_id": int(model.dataset.users.raw_ids[user]), "run": roleplay.run_name,
        "step": int(world.step_index), "steps": int(model.sim.steps), "sim_time": model.sim_time,
        "turn_timeout_s": roleplay.spec.turn_timeout_s, "chat_turns": roleplay.spec.chat_turns,
        "status": "finished" if roleplay.finished else "your turn" if turn is not None else "waiting",
        "turn": None if turn is None else turn.view(), "turns": seat.turns, "timeouts": seat.timeouts,
        "friends": friends, "history": history[::-1], "heard": heard, "feed": feed(model, agent),
        "last_turn": seat.state.get("last_turn"),
    }


def feed(model, agent: int) -> list[dict]:
    """Posts that reached the agent and chats addressed to it, newest first: from the event log
    written so far and the step in progress."""
    rows = []
    log = model.event_log
    if log is not None:
        rows = log.conn.execute(
            "SELECT id, step, agent_id, kind, item_id, payload FROM events WHERE (kind = 'chat' AND target_agent_id = ?) "
            "OR (kind = 'post' AND id IN (SELECT p.id FROM events h JOIN events p ON p.kind = 'post' AND "
            "p.agent_id = h.target_agent_id AND p.step = h.step AND p.item_id IS h.item_id "
            "WHERE h.kind = 'hear' AND h.agent_id = ? AND h.payload LIKE '%\"via\":\"post\"%')) "
            "ORDER BY id DESC LIMIT ?", (agent, agent, FEED_LIMIT)).fetchall()
        rows = [(step, who, kind, item, json.loads(payload)) for _, step, who, kind, item, payload in rows]
    current = [(e.step, e.agent_id, e.kind, e.item_id, e.payload or {}) for e in model.world.step_events
               if e.kind == "chat" and e.target_agent_id == agent]
    heard_posts = {(e.target_agent_id, e.item_id) for e in model.world.step_events
                   if e.kind == "hear" and e.agent_id == agent and (e.payload or {}).get("via") == "post"}
    current += [(e.step, e.agent_id, e.kind, e.item_id, e.payload or {}) for e in model.world.step_events
                if e.kind == "post" and (e.agent_id, e.item_id) in heard_posts]
    names, catalog = model.world.agents, model.catalog
    out = []
    for step, who, kind, item, payload in current[::-1] + rows:
        title = catalog.titles[catalog.index_of(item)] if item is not None and catalog.has(item) else None
        out.append({"step": int(step), "from": int(who), "name": names[who].persona.name, "kind": kind,
                    "title": title, "text": str(payload.get("text", ""))})
    return out[:FEED_LIMIT]
