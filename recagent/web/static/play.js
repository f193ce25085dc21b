// The role-play page: a person plays one agent of a running simulation (docs/roleplay.md).
// It polls GET /api/play/{agent} and sends each act as JSON to POST /api/play/{agent}. Everything
// that came from a person or an agent is put on the page as text (textContent), never as HTML.
import { GraphView } from "./graph.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 400;
const play = { ready: false, state: null, agent: null, run: null, chosen: null, turnKey: null, shown: "" };
window.recagent_play = play;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function showError(message) {
  const box = $("error");
  box.textContent = message; box.hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `${url}: ${r.status}`);
  return body;
}

async function act(command) {
  const r = await fetch(`/api/play/${play.agent}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(command) });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { showError(body.error || `error ${r.status}`); return null; }
  if (body.state) render(body.state);
  return body.result;
}

// --- the live graph -------------------------------------------------------------------------------

let view = null;
async function loadGraph() {
  try {
    const graph = await getJSON(`/api/runs/${encodeURIComponent(play.run)}/graph`);
    view = new GraphView($("graph"));
    play.view = view;
    view.setGraph(graph.agents.length, graph.edges);
    colourGraph();
  } catch (e) { setTimeout(loadGraph, 1000); }
}

function colourGraph() {
  if (!view || !play.state) return;
  const friends = new Set(play.state.friends.map((f) => f.id));
  view.colours = Array.from({ length: view.n }, (_, i) => i === play.agent ? "#e11d48" : friends.has(i) ? "#2563eb" : "#9aa0b4");
  view.highlight = new Set([play.agent, ...friends]);
  view.links = [{ colour: "rgba(37, 99, 235, 0.55)", width: 1.4, pairs: [...friends].flatMap((f) => [play.agent, f]) }];
  view.selected = play.agent;
  view.request();
}

// --- the person's own panel -----------------------------------------------------------------------

function renderMe(s) {
  $("me-name").textContent = `${s.name} (agent ${s.agent})`;
  const persona = $("persona"); persona.replaceChildren();
  persona.append(el("div", "agent-name", s.name), el("div", null, s.persona));
  if (s.roles.length) persona.append(el("div", "hint", `roles: ${s.roles.join(", ")}`));
  persona.append(el("div", "hint", `dataset user ${s.user_id}; ${s.friends.length} contacts`));
  const heard = $("heard"); heard.replaceChildren();
  if (!s.heard.length) heard.append(el("div", "hint", "nothing yet"));
  for (const h of s.heard) {
    const line = el("div", "ev");
    line.append(el("span", `kind ${h.via}`, h.via), el("span", "who", h.name), document.createTextNode(` (${h.sentiment}): `),
      el("span", null, h.title));
    heard.append(line);
  }
  const feed = $("feed"); feed.replaceChildren();
  if (!s.feed.length) feed.append(el("div", "hint", "no posts or chats to you yet"));
  for (const f of s.feed) {
    const line = el("div", "ev");
    line.append(el("span", `kind ${f.kind}`, f.kind), el("span", "who", f.name), document.createTextNode(
      ` (step ${f.step})${f.title ? " about " + f.title : ""}: `), el("span", null, f.text));
    feed.append(line);
  }
  const body = $("history").querySelector("tbody"); body.replaceChildren();
  for (const h of s.history) {
    const row = el("tr"); row.append(el("td", null, h.title), el("td", null, h.rating)); body.append(row);
  }
  const last = s.last_turn;
  $("last-turn").textContent = last ? `last turn (step ${last.step}): ` + (last.timed_out
    ? `timed out; ${last.policy ? "the simulated policy chose to " + last.policy : "the agent stayed idle"}` : `${last.acts} act(s) by you`) : "";
}

// --- the turn --------------------------------------------------------------------------------------

function itemCard(item, { rate, watched }) {
  const card = el("div", watched ? "item watched" : "item");
  card.dataset.item = item.id;
  card.append(el("div", "title", item.title), el("div", "genres", item.genres.join(", ")));
  if (item.overview) card.append(el("div", "overview", item.overview));
  if (item.why) card.append(el("div", "why", `why: ${item.why}`));
  if (watched) card.append(el("div", "hint", "watched"));
  else if (rate) {
    const stars = el("div", "stars");
    stars.append(el("span", "hint", "watch and rate: "));
    for (let r = 1; r <= 5; r++) {
      const b = el("button", null, r); b.type = "button"; b.dataset.rating = r;
      b.addEventListener("click", () => rate(item, r));
      stars.append(b);
    }
    card.append(stars);
  }
  return card;
}

function renderTurn(s) {
  const turn = s.turn;
  document.body.classList.toggle("your-turn", !!turn);
  $("status").textContent = s.status; $("status").className = `badge ${s.status.replace(" ", "-")}`;
  $("step").textContent = `step ${s.step} of ${s.steps} (${s.sim_time})`;
  const key = turn ? `${s.step}` : null;
  if (key !== play.turnKey) { // a new turn (or none): forget the last one's choices and lists
    play.turnKey = key; play.chosen = null;
    for (const id of ["results", "post-item", "chat-friend"]) $(id).replaceChildren();
    $("chat-text").value = ""; $("post-text").value = "";
  }
  const mode = turn ? (turn.mode || play.chosen) : null;
  $("waiting").hidden = !!turn;
  $("waiting").textContent = s.status === "finished" ? "The run has finished." : "Waiting for your turn: the simulation is running.";
  $("choose").hidden = !turn || !!mode;
  for (const m of ["browse", "search", "chat", "post"]) $(m).hidden = mode !== m;
  if (!turn) return;
  if (mode === "browse") {
    const pages = $("pages"); pages.replaceChildren();
    turn.pages.forEach((items, p) => {
      pages.append(el("div", "page-label", `page ${p + 1} of ${turn.max_pages}`));
      for (const item of items) pages.append(itemCard(item, { watched: turn.watched.includes(item.id),
        rate: (it, r) => act({ do: "watch", item: it.id, rating: r }) }));
    });
    $("next-page").disabled = turn.pages_shown >= turn.max_pages;
  }
  if (mode === "chat") {
    const select = $("chat-friend");
    if (!select.options.length) {
      select.replaceChildren(...s.friends.map((f) => { const o = el("option", null, `${f.name} (agent ${f.id})`); o.value = f.id; return o; }));
    }
    select.disabled = !!turn.friend;
    if (turn.friend) select.value = String(turn.friend.id);
    const log = $("chat-log"); log.replaceChildren();
    for (const line of turn.chat) {
      const div = el("div", "line"); div.append(el("span", "who", line.who + ": "), el("span", "text", line.text));
      if (line.source !== "human") div.append(el("span", "label-offline", line.source));
      log.append(div);
    }
    $("messages-left").textContent = `${turn.messages_left} message(s) left`;
  }
  if (mode === "post") {
    const select = $("post-item");
    if (!select.options.length) {
      select.replaceChildren(...s.history.map((h) => { const o = el("option", null, `${h.title} (${h.rating})`); o.value = h.item; return o; }));
    }
  }
}

function render(s) {
  play.state = s;
  const { seconds_left: left, ...stable } = s;
  const text = JSON.stringify(stable);
  if (text !== play.shown) {
    play.shown = text;
    renderMe(s); renderTurn(s); colourGraph();
  }
  const cd = $("countdown");
  cd.textContent = s.turn && left !== undefined ? `your turn: ${Math.ceil(left)} s left` : "";
  cd.classList.toggle("urgent", !!s.turn && left < 15);
}

function wire() {
  $("do-browse").addEventListener("click", () => act({ do: "page", page: 0 }));
  $("do-nothing").addEventListener("click", () => act({ do: "nothing" }));
  for (const m of ["search", "chat", "post"]) $(`do-${m}`).addEventListener("click", () => { play.chosen = m; play.shown = ""; render(play.state); });
  $("next-page").addEventListener("click", () => act({ do: "page", page: play.state.turn.pages_shown }));
  $("leave").addEventListener("click", () => act({ do: "leave" }));
  $("search-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const query = $("search-q").value.trim();
    if (!query) return;
    const result = await act({ do: "find", query });
    if (!result) return;
    const box = $("results"); box.replaceChildren();
    if (!result.items.length) box.append(el("div", "hint", "no title matches"));
    for (const item of result.items) box.append(itemCard(item, { rate: (it, r) => act({ do: "search", query, item: it.id, rating: r }) }));
  });
  $("search-none").addEventListener("click", () => act({ do: "search", query: $("search-q").value.trim() || "(nothing)" }));
  $("chat-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("chat-text").value.trim();
    if (!text) return;
    $("chat-send").disabled = true;
    const result = await act({ do: "chat", friend: Number($("chat-friend").value), text });
    $("chat-send").disabled = false;
    if (result) $("chat-text").value = "";
  });
  $("chat-end").addEventListener("click", () => act({ do: "end" }));
  $("post-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("post-text").value.trim();
    if (text) act({ do: "post", text, item: Number($("post-item").value) });
  });
  $("seat").addEventListener("change", () => { location.hash = `agent=${$("seat").value}`; location.reload(); });
}

async function poll() {
  try { render(await getJSON(`/api/play/${play.agent}`)); } catch (e) { /* the next poll retries */ }
  setTimeout(poll, POLL_MS);
}

async function start() {
  wire();
  const info = await getJSON("/api/play");
  play.run = info.run;
  const wanted = Number((location.hash.match(/agent=(\d+)/) || [])[1]);
  play.agent = info.agents.some((a) => a.id === wanted) ? wanted : info.agents[0].id;
  if (info.agents.length > 1) {
    const seat = $("seat"); seat.hidden = false;
    seat.replaceChildren(...info.agents.map((a) => { const o = el("option", null, `${a.name} (agent ${a.id})`); o.value = a.id; return o; }));
    seat.value = String(play.agent);
  }
  $("full-page").href = `/#run=${encodeURIComponent(play.run)}`;
  render(await getJSON(`/api/play/${play.agent}`));
  loadGraph();
  play.ready = true;
  setTimeout(poll, POLL_MS);
}

start().catch((e) => showError(String(e.message || e)));
