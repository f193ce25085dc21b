// recagent's page: run list, metric charts, social graph with a step slider, agent and item panels,
// interviews, live updates by server-sent events. All text from runs (names, titles, LLM or offline
// text) goes into the page through textContent, never as HTML.
import { GraphView } from "./graph.js";
import { BAND_COLOURS, LineChart, RUN_COLOURS } from "./charts.js";

const METRICS = [
  ["genre_entropy", "genre entropy (bits)"], ["coverage", "catalog coverage", { percent: true }],
  ["gini", "Gini of item watches"], ["friend_share", "watches via friends", { percent: true }],
  ["watches", "watches"], ["likes", "likes"], ["chats", "chats"], ["posts", "posts"],
];
const GENRE_COLOURS = ["#4f46e5", "#e11d48", "#059669", "#d97706", "#0891b2", "#7c3aed", "#65a30d", "#db2777",
  "#0d9488", "#ea580c", "#2563eb", "#9333ea", "#ca8a04", "#dc2626", "#16a34a", "#c026d3", "#0284c7", "#a16207",
  "#4338ca", "#be123c"];

const $ = (id) => document.getElementById(id);
const state = {
  runs: [], studies: [], run: null, overlay: new Set(), bands: new Map(), metrics: new Map(), graph: null, step: 0, steps: 0,
  colourBy: "genre", panel: null, live: null, playing: null, status: "", loading: false,
};
window.recagent = { state, ready: null, timings: {}, measuresAt: (s) => measuresAt(s) }; // measuresAt: for tests

// --- helpers -------------------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "onclick") node.addEventListener("click", v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "title") node.title = v;
    else if (k === "style") node.style.cssText = v; // CSSOM, allowed by the page's CSP
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

async function api(path, options) {
  const r = await fetch(path, options);
  let body = null;
  try { body = await r.json(); } catch { body = null; }
  if (!r.ok) {
    const error = new Error((body && body.error) || `${r.status} ${r.statusText}`);
    error.status = r.status;
    error.retryAfter = Number(r.headers.get("Retry-After")) || 0;
    throw error;
  }
  return body;
}

let errorTimer = null;
function showError(e) {
  const box = $("error"); box.textContent = String(e.message || e); box.hidden = false;
  clearTimeout(errorTimer); errorTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

function debounce(fn, ms) { let t = null; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }
const enc = encodeURIComponent;
const agentName = (id) => (state.graph && state.graph.agents[id] ? state.graph.agents[id].name : `#${id}`);

// --- run list ------------------------------------------------------------------------------------

async function loadRuns() {
  const data = await api("/api/runs");
  state.runs = data.runs;
  state.studies = data.studies || [];
  renderRuns();
  renderStudies();
  return data.runs;
}

// Runs outside any study first, then each study's runs under a header row naming the study folder;
// a row names the run by its folder (relative to the served folder) and the strategy it ended on.
function renderRuns() {
  const body = $("runs-table").querySelector("tbody");
  body.replaceChildren();
  $("runs-empty").hidden = state.runs.length > 0;
  let study;
  for (const r of state.runs) {
    if (r.study && r.study !== study) {
      const s = state.studies.find((x) => x.id === r.study) || { folder: r.study, kind: "study" };
      body.append(el("tr", { class: "study-row", dataset: { study: r.study } },
        el("td", { colspan: "3" }, `${s.kind} `, el("b", {}, s.folder), s.scenario ? ` · ${s.scenario}` : "")));
    }
    study = r.study;
    const folder = r.study ? r.folder.slice(studyFolder(r.study).length) : r.folder;
    if (r.status === "unreadable") { // a broken run folder: listed with the server's reason, not opened
      body.append(el("tr", { dataset: { run: r.id }, class: "unreadable", title: r.reason },
        el("td", {}, ""), el("td", { class: "folder" }, ...breakable(folder), el("div", { class: "muted" }, r.reason)),
        el("td", {}, el("span", { class: "badge unreadable" }, "unreadable"))));
      continue;
    }
    const box = el("input", { type: "checkbox", title: "overlay this run's metrics" });
    box.checked = state.overlay.has(r.id) || r.id === state.run;
    box.disabled = r.id === state.run;
    box.addEventListener("click", (ev) => { ev.stopPropagation(); toggleOverlay(r.id, box.checked); });
    const switched = r.switches ? `started on ${r.recommender}, switched ${r.switches}x` : "";
    const tr = el("tr", { dataset: { run: r.id }, class: r.id === state.run ? "current" : "" },
      el("td", {}, box),
      el("td", { class: "folder", title: `${r.folder}\nscenario ${r.scenario}, started ${r.started_at}\ndataset ${r.dataset}, feedback ${r.feedback}, language ${r.language_backend}` },
        ...breakable(folder), el("div", { class: "muted" }, el("span", { class: `badge ${r.status}` }, r.status),
          ` ${r.scenario} · ${r.agents ?? "?"} agents · ${r.steps_completed ?? "?"}/${r.steps_planned ?? "?"} steps`)),
      el("td", { class: "strategy", title: switched || `strategy ${r.strategy}` }, r.strategy,
        switched ? el("div", { class: "muted" }, `from ${r.recommender}`) : null));
    tr.addEventListener("click", () => openRun(r.id));
    body.append(tr);
  }
}

// a folder path that may wrap after each "/" (and anywhere, as a last resort: see style.css)
function breakable(path) {
  return path.split("/").flatMap((part, i) => (i ? ["/", el("wbr"), part] : [part]));
}

function studyFolder(id) {
  const s = state.studies.find((x) => x.id === id);
  return !s || s.folder === "." ? "" : `${s.folder}/`;
}

// Each study's strategies (and sweep points): tick one to overlay its mean over seeds with the
// 95% band, computed by the server from each run's own metrics.csv.
function renderStudies() {
  const box = $("studies"); box.replaceChildren();
  $("studies-head").hidden = state.studies.length === 0;
  for (const s of state.studies) {
    const list = el("div", { class: "study", dataset: { study: s.id } },
      el("div", {}, el("b", {}, s.folder === "." ? "this folder" : s.folder), ` ${s.kind}, baseline ${s.baseline || "?"}`));
    s.groups.forEach((g) => {
      const key = `${s.id}|${g.key}`;
      const tick = el("input", { type: "checkbox", dataset: { band: key } });
      tick.checked = state.bands.has(key);
      tick.addEventListener("change", () => toggleBand(s.id, g.key, tick.checked));
      list.append(el("label", { class: "group" }, tick, ` ${g.key} `, el("span", { class: "muted" }, `(${g.seeds.length} seeds)`)));
    });
    box.append(list);
  }
}

async function toggleBand(study, group, on) {
  const key = `${study}|${group}`;
  if (!on) { state.bands.delete(key); drawCharts(); return; }
  try {
    const data = await api(`/api/studies/${enc(study)}/metrics?group=${enc(group)}`);
    const g = data.groups.find((x) => x.key === group);
    if (g) state.bands.set(key, { study, ...g });
    window.recagent.bandsDrawn = (window.recagent.bandsDrawn || 0) + 1;
  } catch (e) { showError(e); }
  drawCharts();
}

async function toggleOverlay(id, on) {
  if (on) { state.overlay.add(id); await fetchMetrics(id).catch(showError); } else state.overlay.delete(id);
  drawCharts();
}

// --- opening a run -------------------------------------------------------------------------------

async function fetchMetrics(id) {
  const data = await api(`/api/runs/${enc(id)}/metrics`);
  state.metrics.set(id, data.metrics);
  return data;
}

async function openRun(id, { first = false } = {}) {
  if (state.live) { state.live.close(); state.live = null; }
  stopPlay();
  state.run = id; state.panel = null;
  location.hash = `run=${enc(id)}`;
  renderRuns();
  const t0 = performance.now();
  const pre = state.prefetch && state.prefetch.id === id ? state.prefetch : null;
  state.prefetch = null;
  const [, graph] = await Promise.all([pre ? pre.metrics : fetchMetrics(id), pre ? pre.graph : api(`/api/runs/${enc(id)}/graph`)]);
  window.recagent.timings.fetch = performance.now() - t0;
  const summary = state.runs.find((r) => r.id === id) || {};
  $("run-title").textContent = `${summary.folder || id} · ${summary.strategy || summary.recommender || ""}`;
  state.graph = graph;
  state.steps = graph.steps_completed;
  state.step = Math.max(0, state.steps - 1);
  setStatus(graph);
  const t1 = performance.now();
  view.setGraph(graph.agents.length, graph.edges, { firstSliceMs: 80 });
  window.recagent.timings.layout = view.layoutMs;
  setupSlider();
  applyStep();
  window.recagent.timings.draw = performance.now() - t1;
  const info = () => { $("graph-info").textContent = `${graph.agents.length} agents · ${graph.edges.length / 2} ties${view.layoutDone ? "" : " · laying out…"}`; };
  info(); view.onLayout = (ms) => { window.recagent.timings.layoutTotal = ms; info(); };
  $("panel").replaceChildren(el("p", { class: "hint" }, "Click an agent in the graph (or find one above) to see its profile, what it watched and why, what it heard, its chats, posts and memories, and to interview it. Click a title to see how an item spread."));
  if (first) {
    await new Promise((r) => requestAnimationFrame(() => r()));
    window.recagent.ready = performance.now();
    performance.mark("recagent-ready");
  }
  loadFeed();
  if (graph.status === "running") watchLive(id);
}

function setStatus(s) {
  state.status = s.status;
  const badge = $("run-status");
  badge.textContent = s.status; badge.className = `badge ${s.status}`;
  $("steps-done").textContent = `${s.steps_completed} / ${s.steps_planned ?? "?"} steps`;
  $("steps-done").dataset.steps = String(s.steps_completed);
}

// --- live updates --------------------------------------------------------------------------------

function watchLive(id) {
  const source = new EventSource(`/api/runs/${enc(id)}/live`);
  state.live = source;
  let busy = false, again = false;
  const refresh = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const follow = state.step >= state.steps - 1;
      const [, graph] = await Promise.all([fetchMetrics(id), api(`/api/runs/${enc(id)}/graph`)]);
      if (state.run !== id) return;
      const grew = graph.agents.length !== state.graph.agents.length;
      state.graph = graph; state.steps = graph.steps_completed;
      if (grew) view.setGraph(graph.agents.length, graph.edges);
      setStatus(graph);
      setupSlider();
      if (follow) state.step = Math.max(0, state.steps - 1);
      applyStep();
      loadFeed();
      if (state.panel) refreshPanel();
    } catch (e) { showError(e); } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  };
  source.addEventListener("status", (ev) => {
    const s = JSON.parse(ev.data);
    setStatus(s);
    if (s.steps_completed !== state.steps || s.status !== "running") refresh();
  });
  source.addEventListener("done", () => {
    source.close();
    if (state.live === source) state.live = null;
    loadRuns().catch(showError);
  });
  source.onerror = () => { if (source.readyState === EventSource.CLOSED) state.live = null; };
}

// --- slider, colours, charts ---------------------------------------------------------------------

function setupSlider() {
  const s = $("step-slider");
  s.max = String(Math.max(0, state.steps - 1));
  s.value = String(state.step);
  s.disabled = state.steps <= 1;
}

function applyStep() {
  $("step-slider").value = String(state.step);
  const time = (state.metrics.get(state.run) || {}).sim_time || [];
  $("step-label").textContent = `step ${state.step}${time[state.step] ? " · " + time[state.step].replace("T", " ") : ""}`;
  $("step-label").dataset.step = String(state.step);
  const t0 = performance.now();
  colourNodes();
  const t1 = performance.now();
  drawSocial();
  view.request();
  drawCharts();
  const t2 = performance.now();
  window.recagent.timings.step = { colour: t1 - t0, charts: t2 - t1, draw: view.lastDrawMs || 0 };
}

function viridis(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t)), f = t - i, a = stops[i], b = stops[i + 1];
  return `rgb(${Math.round(a[0] + (b[0] - a[0]) * f)},${Math.round(a[1] + (b[1] - a[1]) * f)},${Math.round(a[2] + (b[2] - a[2]) * f)})`;
}

// Node measures at step s, accumulated from the run's watches and acts (under a millisecond for
// thousands of agents): most-watched genre, genre entropy of watches (bits), acts so far.
let measureCache = { graph: null, step: -1, value: null };
function measuresAt(s) {
  const g = state.graph;
  if (measureCache.graph === g && measureCache.step === s) return measureCache.value;
  const tl = g.timeline, n = g.agents.length, G = g.genres.length;
  const counts = new Float32Array(n * G), acts = new Int32Array(n);
  for (let k = 0; k < tl.watch_step.length && tl.watch_step[k] <= s; k++) {
    const base = tl.watch_agent[k] * G;
    for (const gi of g.item_genres[tl.watch_item[k]] || []) counts[base + gi] += 1;
  }
  for (let k = 0; k < tl.act_step.length && tl.act_step[k] <= s; k++) acts[tl.act_agent[k]] += 1;
  const dominant = new Int16Array(n).fill(-1), entropy = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let total = 0, best = -1, bestCount = 0;
    for (let gi = 0; gi < G; gi++) { const c = counts[i * G + gi]; total += c; if (c > bestCount) { bestCount = c; best = gi; } }
    dominant[i] = best;
    if (total > 0) { let h = 0; for (let gi = 0; gi < G; gi++) { const p = counts[i * G + gi] / total; if (p > 0) h -= p * Math.log2(p); } entropy[i] = h; }
  }
  const value = { dominant, entropy, activity: acts };
  measureCache = { graph: g, step: s, value };
  return value;
}

function colourNodes() {
  const g = state.graph, tl = g && g.timeline;
  if (!g) return;
  const n = g.agents.length, colours = new Array(n).fill("#b8bcc8");
  const legend = $("legend"); legend.replaceChildren();
  if (!tl || !tl.steps) { view.colours = colours; legend.append("no steps yet"); return; }
  const s = Math.min(state.step, tl.steps - 1);
  const m = measuresAt(s);
  if (state.colourBy === "genre") {
    const used = new Map();
    for (let i = 0; i < n; i++) {
      const d = m.dominant[i];
      if (d >= 0) { colours[i] = GENRE_COLOURS[d % GENRE_COLOURS.length]; used.set(d, (used.get(d) || 0) + 1); }
    }
    legend.append(el("div", { class: "muted" }, "most-watched genre in the run"));
    for (const [gi, count] of [...used].sort((a, b) => b[1] - a[1]).slice(0, 14)) {
      legend.append(el("div", {}, el("span", { class: "sw", style: `background:${GENRE_COLOURS[gi % GENRE_COLOURS.length]}` }), `${g.genres[gi]} (${count})`));
    }
    legend.append(el("div", {}, el("span", { class: "sw", style: "background:#b8bcc8" }), "nothing watched yet"));
  } else {
    const values = state.colourBy === "entropy" ? m.entropy : m.activity;
    let max = 0; for (const v of values) if (v > max) max = v;
    // 32 shades, so nodes batch into few fill calls
    for (let i = 0; i < n; i++) colours[i] = viridis(max ? Math.round((values[i] / max) * 31) / 31 : 0);
    const grad = el("canvas", { class: "grad", width: "120", height: "8" });
    const gctx = grad.getContext("2d");
    for (let x = 0; x < 120; x++) { gctx.fillStyle = viridis(x / 119); gctx.fillRect(x, 0, 1, 8); }
    legend.append(el("div", { class: "muted" }, state.colourBy === "entropy" ? "genre entropy of watches (bits)" : "acts so far"),
      grad, el("div", {}, `0 … ${state.colourBy === "entropy" ? max.toFixed(2) : max}`));
  }
  view.colours = colours;
}

function drawSocial() {
  const g = state.graph, tl = g && g.timeline, links = [];
  if (tl && tl.steps) {
    const s = Math.min(state.step, tl.steps - 1);
    const posts = [];
    const adj = adjacency();
    for (const a of tl.posts[s]) for (const b of adj[a] || []) posts.push(a, b);
    links.push({ colour: "rgba(124,58,237,.55)", width: 1.2, pairs: posts });
    links.push({ colour: "rgba(234,88,12,.9)", width: 2.2, pairs: tl.chats[s] });
    $("graph-info").dataset.chats = String(tl.chats[s].length / 2);
  }
  if (state.cascade) links.push(state.cascade);
  view.links = links;
}

let adjCache = null;
function adjacency() {
  if (adjCache && adjCache.graph === state.graph.edges) return adjCache.adj;
  const adj = []; const e = state.graph.edges;
  for (let k = 0; k < e.length; k += 2) { (adj[e[k]] ||= []).push(e[k + 1]); (adj[e[k + 1]] ||= []).push(e[k]); }
  adjCache = { graph: state.graph.edges, adj };
  return adj;
}

const charts = [];
function buildCharts() {
  const box = $("charts");
  for (const [key, title, opts] of METRICS) charts.push(new LineChart(box, key, title, opts || {}));
  box.append(el("div", { class: "chart-legend", id: "chart-legend" }));
}

function drawCharts() {
  const ids = [state.run, ...[...state.overlay].filter((r) => r !== state.run)];
  const legend = $("chart-legend"); legend.replaceChildren();
  ids.forEach((id, n) => {
    const r = state.runs.find((x) => x.id === id) || { folder: id, strategy: "" };
    legend.append(el("span", { style: `color:${RUN_COLOURS[n % RUN_COLOURS.length]}` }, `■ ${r.folder} (${r.strategy})`));
  });
  const bands = [...state.bands.values()];
  bands.forEach((b, n) => {
    legend.append(el("span", { class: "band-legend", style: `color:${BAND_COLOURS[n % BAND_COLOURS.length]}` },
      `▬ ${b.key} (${b.strategy}): mean of ${b.seeds} seeds, 95% band`));
  });
  for (const chart of charts) {
    const series = [];
    bands.forEach((b, n) => {
      const m = b.measures[chart.key];
      if (m) series.push({ values: m.mean, low: m.low, high: m.high, colour: BAND_COLOURS[n % BAND_COLOURS.length], band: true });
    });
    ids.forEach((id, n) => {
      const m = state.metrics.get(id);
      if (m && m[chart.key]) series.push({ values: m[chart.key], colour: RUN_COLOURS[n % RUN_COLOURS.length], main: id === state.run });
    });
    chart.set(series, state.step);
  }
}

// --- the step feed -------------------------------------------------------------------------------

const loadFeed = debounce(async () => {
  if (!state.run || !state.steps) { $("step-feed").replaceChildren(); return; }
  const run = state.run, step = state.step;
  try {
    const data = await api(`/api/runs/${enc(run)}/steps/${step}?limit=60`);
    if (run !== state.run || step !== state.step) return;
    const c = data.counts, feed = $("step-feed");
    feed.replaceChildren(el("div", { class: "muted" },
      `${c.watch} watches, ${c.like} likes, ${c.chat} chats, ${c.post} posts, ${c.hear} hears`));
    for (const e of data.events) {
      const row = el("div", { class: "ev" }, el("span", { class: `kind ${e.kind}` }, e.kind));
      if (e.agent_name !== null) row.append(agentLink(e.agent_id, e.agent_name, "who"));
      if (e.target_name !== null) row.append(" → ", agentLink(e.target_id, e.target_name, "who"));
      if (e.title) row.append(" about ", itemLink(e.item_id, e.title));
      if (e.payload && e.payload.text) row.append(el("div", {}, e.payload.text));
      if (e.kind === "intervention") row.append(" ", JSON.stringify(e.payload));
      feed.append(row);
    }
    if (data.truncated) feed.append(el("div", { class: "muted" }, "… more this step"));
  } catch (e) { showError(e); }
}, 120);

function agentLink(id, name, cls = "") {
  return el("span", { class: `link ${cls}`, dataset: { agent: String(id) }, onclick: () => openAgent(id) }, name ?? `#${id}`);
}
function itemLink(id, title) {
  return el("span", { class: "link", dataset: { item: String(id) }, onclick: () => openItem(id) }, title);
}

// --- agent panel ---------------------------------------------------------------------------------

async function openAgent(id) {
  state.panel = { kind: "agent", id };
  state.cascade = null; view.highlight = null; view.selected = id;
  drawSocial(); view.request();
  await renderAgent();
}

function refreshPanel() {
  if (!state.panel) return;
  if (state.panel.kind === "agent") renderAgent(); else renderItem();
}
const refreshPanelSoon = debounce(refreshPanel, 150);

async function renderAgent() {
  const { id } = state.panel, run = state.run, step = state.step;
  let a;
  try { a = await api(`/api/runs/${enc(run)}/agents/${id}?step=${step}`); } catch (e) { showError(e); return; }
  if (!state.panel || state.panel.id !== id || state.run !== run) return;
  const p = a.persona || {};
  const panel = $("panel");
  const keep = panel.querySelector(".interview");
  const out = el("div", { id: "agent-panel", dataset: { agent: String(id) } },
    el("button", { class: "close", type: "button", onclick: closePanel }, "×"),
    el("h2", {}, "Agent"),
    el("h3", { class: "agent-name" }, a.name),
    el("div", { class: "muted" }, `agent #${a.agent_id} · user ${a.user_id} · ${a.degree} friends · up to step ${a.step}`),
    el("div", {}, [p.age ? `${p.age} years` : "", p.gender, p.occupation].filter(Boolean).join(", ")),
    p.description ? el("div", { class: "muted" }, p.description) : null,
    el("div", {}, `roles: ${(p.roles || []).join(", ") || "–"} · likes ${(p.favourite_genres || []).join(", ") || "–"}`));
  const traits = el("div", { class: "traits" });
  for (const t of ["activity", "diversity", "conformity"]) {
    const v = typeof p[t] === "number" ? p[t] : 0;
    traits.append(el("span", {}, t), el("div", { class: "bar" }, el("div", { style: `width:${Math.round(v * 100)}%` })), el("span", {}, v.toFixed(2)));
  }
  out.append(traits);

  out.append(el("h3", {}, `Watched (${a.watched.length})`));
  const wt = el("table", { class: "watched" }, el("tr", {}, el("th", {}, "step"), el("th", {}, "item"), el("th", {}, "rating"), el("th", {}, "via"), el("th", {}, "why")));
  for (const w of a.watched.slice().reverse()) {
    wt.append(el("tr", {},
      el("td", {}, w.step), el("td", {}, itemLink(w.item_id, w.title)), el("td", {}, w.payload.rating ?? "?"),
      el("td", {}, w.payload.via || "", w.heard_from_name ? el("div", {}, "heard from ", agentLink(w.payload.heard_from, w.heard_from_name)) : null),
      el("td", { class: "why", dataset: { event: String(w.id) } }, el("span", { class: "muted" }, `p(like) ${w.payload.p_like ?? "?"}`))));
  }
  out.append(a.watched.length ? wt : el("div", { class: "muted" }, "nothing yet"));

  out.append(el("h3", {}, `Heard (${a.heard.length})`));
  const ht = el("div", { class: "feed" });
  for (const h of a.heard.slice().reverse().slice(0, 40)) {
    ht.append(el("div", { class: "ev" }, `step ${h.step}: `, agentLink(h.target_id, h.target_name), ` (${h.payload.via || ""}) ${h.payload.sentiment || ""} `, itemLink(h.item_id, h.title)));
  }
  out.append(a.heard.length ? ht : el("div", { class: "muted" }, "nothing yet"));

  out.append(el("h3", {}, `Chats and posts (${a.chats.length + a.posts.length})`));
  const ct = el("div", { class: "feed" });
  for (const c of [...a.chats, ...a.posts].sort((x, y) => y.step - x.step).slice(0, 40)) {
    const row = el("div", { class: "ev" }, el("span", { class: `kind ${c.kind}` }, c.kind), `step ${c.step} `);
    if (c.kind === "chat") row.append(agentLink(c.agent_id, c.agent_name), " → ", agentLink(c.target_id, c.target_name));
    row.append(" · ", itemLink(c.item_id, c.title), el("div", {}, c.payload.text || ""));
    if (c.payload.backend) row.append(el("div", { class: "muted" }, `text by the ${c.payload.backend} backend`));
    ct.append(row);
  }
  out.append(a.chats.length + a.posts.length ? ct : el("div", { class: "muted" }, "none yet"));

  out.append(el("h3", {}, "Memories"));
  const mt = el("div", { class: "feed memories" });
  const store = a.memory_store;
  if (store && store.entries.length) {
    mt.append(el("div", { class: "muted" }, "from the run's memory store (whole run, newest first)"));
    for (const m of store.entries) mt.append(el("div", { class: "ev" }, `${m.text} (importance ${m.importance})`));
  } else {
    if (store && store.error) mt.append(el("div", { class: "muted" }, store.error));
    mt.append(el("div", { class: "muted" }, "recent events as remembered (this run kept no memory store)"));
    for (const m of a.memories) mt.append(el("div", { class: "ev" }, `step ${m.step}: ${m.text}`));
  }
  out.append(mt);
  out.append(keep || interviewBox());
  panel.replaceChildren(out);
  loadExplanations(run, id, step);
}

async function loadExplanations(run, id, step) {
  let data;
  const current = () => state.panel && state.panel.id === id && state.run === run;
  try { data = await api(`/api/runs/${enc(run)}/agents/${id}/explanations?step=${step}`); } catch (e) {
    if (e.status === 503 && e.retryAfter) { // the server is still rebuilding the run's feedback model
      if (!current()) return;
      for (const cell of document.querySelectorAll("#agent-panel td.why")) {
        if (!cell.querySelector(".preparing")) cell.append(el("div", { class: "muted preparing" }, "preparing the explanation…"));
      }
      setTimeout(() => { if (current()) loadExplanations(run, id, step); }, e.retryAfter * 1000);
      return;
    }
    showError(e); return;
  }
  if (!current()) return;
  for (const note of document.querySelectorAll("#agent-panel td.why .preparing")) note.remove();
  for (const cell of document.querySelectorAll("#agent-panel td.why")) {
    const ex = data.explanations[cell.dataset.event];
    if (!data.available) { cell.replaceChildren(el("span", { class: "muted" }, data.reason)); continue; }
    if (!ex) continue;
    cell.replaceChildren(explanationNode(ex));
  }
}

function explanationNode(ex) {
  const box = el("div", { class: "explanation" });
  const flat = (v) => (Array.isArray(v) ? v.map(flat).join(", ") : v && typeof v === "object" ? Object.entries(v).map(([k, x]) => `${k}: ${flat(x)}`).join("; ") : String(v));
  for (const [k, v] of Object.entries(ex)) {
    if (k === "model") continue;
    box.append(el("div", {}, el("b", {}, k.replaceAll("_", " ") + ": "), flat(v)));
  }
  return box;
}

function interviewBox() {
  const q = el("textarea", { id: "interview-question", placeholder: "Ask this agent something, e.g. what have you enjoyed lately?", maxlength: "500" });
  const answer = el("div", { id: "interview-answers" });
  const ask = el("button", { type: "button", id: "interview-ask" }, "Ask");
  const send = async () => {
    const question = q.value.trim();
    if (!question || !state.panel) return;
    ask.disabled = true;
    try {
      const r = await api(`/api/runs/${enc(state.run)}/agents/${state.panel.id}/interview`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ question, step: state.step }),
      });
      answer.prepend(el("div", { class: "answer" },
        el("div", {}, el("span", { class: r.offline ? "label-offline" : "label-llm" }, r.offline ? "offline backend — not an LLM" : `answered by ${r.backend}`)),
        el("div", { class: "muted" }, `Q: ${r.question}`), el("div", { class: "answer-text" }, r.answer)));
    } catch (e) { showError(e); } finally { ask.disabled = false; }
  };
  ask.addEventListener("click", send);
  q.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) send(); });
  return el("div", { class: "interview" }, el("h3", {}, "Interview"), q, ask, answer);
}

function closePanel() {
  state.panel = null; state.cascade = null; view.highlight = null; view.selected = -1;
  drawSocial(); view.request();
  $("panel").replaceChildren(el("p", { class: "hint" }, "Click an agent or an item."));
}

// --- item panel ----------------------------------------------------------------------------------

async function openItem(id) {
  state.panel = { kind: "item", id };
  view.selected = -1;
  await renderItem();
}

async function renderItem() {
  const { id } = state.panel, run = state.run;
  let it;
  try { it = await api(`/api/runs/${enc(run)}/items/${id}?step=${state.step}`); } catch (e) { showError(e); return; }
  if (!state.panel || state.panel.id !== id || state.run !== run) return;
  const cs = it.cascade;
  const hl = new Set([...cs.talkers, ...cs.links.map((l) => l[1]), ...it.watchers.map((w) => w.agent_id)]);
  view.highlight = hl.size ? hl : new Set([-1]);
  state.cascade = { colour: "rgba(5,150,105,.85)", width: 1.8, pairs: cs.links.flatMap((l) => [l[0], l[1]]) };
  drawSocial(); view.request();
  const out = el("div", { id: "item-panel", dataset: { item: String(id) } },
    el("button", { class: "close", type: "button", onclick: closePanel }, "×"),
    el("h2", {}, "Item"), el("h3", { class: "item-title" }, it.title),
    el("div", { class: "muted" }, `item ${it.item_id} · ${it.genres.join(", ")} · up to step ${it.step}`),
    el("div", {}, `${it.watch_count} watches in the run · word reached ${cs.reached} agents · ${cs.watched_after_hearing} watched after hearing · cascade depth ${cs.depth}`),
    el("div", { class: "muted" }, "On the graph: everyone who watched, talked or heard about it is outlined; green lines show how word travelled."));
  out.append(el("h3", {}, "Who watched it"));
  const t = el("table", {}, el("tr", {}, el("th", {}, "step"), el("th", {}, "agent"), el("th", {}, "rating"), el("th", {}, "via"), el("th", {}, "gen.")));
  for (const w of it.watchers) {
    t.append(el("tr", {}, el("td", {}, w.step), el("td", {}, agentLink(w.agent_id, w.name)), el("td", {}, w.rating ?? "?"),
      el("td", {}, w.via || "", w.heard_from_name ? el("div", {}, "from ", agentLink(w.heard_from, w.heard_from_name)) : null), el("td", {}, w.generation)));
  }
  out.append(it.watchers.length ? t : el("div", { class: "muted" }, "nobody yet"));
  out.append(el("h3", {}, `How word spread (${cs.links.length} messages)`));
  const f = el("div", { class: "feed" });
  for (const [a, b, s] of cs.links.slice(0, 80)) f.append(el("div", { class: "ev" }, `step ${s}: `, agentLink(a, agentName(a)), " → ", agentLink(b, agentName(b))));
  out.append(f);
  $("panel").replaceChildren(out);
}

// --- wiring --------------------------------------------------------------------------------------

function stopPlay() { if (state.playing) { clearInterval(state.playing); state.playing = null; $("play").textContent = "▶"; } }

let view;
function wire() {
  view = new GraphView($("graph"), {
    onClick: (i) => openAgent(i),
    onHover: (i, x, y) => {
      const tip = $("tooltip");
      if (i < 0) { tip.hidden = true; return; }
      tip.textContent = `${agentName(i)} (#${i})`; tip.style.left = `${x + 10}px`; tip.style.top = `${y + 10}px`; tip.hidden = false;
    },
  });
  window.recagent.view = view;
  buildCharts();
  $("step-slider").addEventListener("input", (ev) => {
    state.step = Number(ev.target.value);
    applyStep(); loadFeed(); refreshPanelSoon();
  });
  $("colour-by").addEventListener("change", (ev) => { state.colourBy = ev.target.value; colourNodes(); view.request(); });
  $("fit").addEventListener("click", () => view.fit());
  $("play").addEventListener("click", () => {
    if (state.playing) { stopPlay(); return; }
    if (state.step >= state.steps - 1) state.step = 0;
    $("play").textContent = "❚❚";
    state.playing = setInterval(() => {
      if (state.step >= state.steps - 1) { stopPlay(); return; }
      state.step += 1; applyStep(); loadFeed(); refreshPanelSoon();
    }, 350);
  });
  $("agent-search").addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" || !state.graph) return;
    const q = ev.target.value.trim().toLowerCase();
    if (!q) return;
    const agents = state.graph.agents;
    const hit = /^#?\d+$/.test(q) ? agents.find((a) => a.id === Number(q.replace("#", ""))) : agents.find((a) => a.name.toLowerCase().includes(q));
    if (hit) openAgent(hit.id); else showError(new Error(`no agent matches ${ev.target.value}`));
  });
  $("item-search").addEventListener("keydown", async (ev) => {
    if (ev.key !== "Enter" || !state.run) return;
    const q = ev.target.value.trim();
    if (!q) return;
    if (/^\d+$/.test(q)) { openItem(Number(q)); return; }
    try {
      const r = await api(`/api/runs/${enc(state.run)}/items?q=${enc(q)}`);
      if (r.items.length) openItem(r.items[0].item_id); else showError(new Error(`no item title contains ${q}`));
    } catch (e) { showError(e); }
  });
  window.addEventListener("keydown", (ev) => {
    if (ev.target.tagName === "INPUT" || ev.target.tagName === "TEXTAREA") return;
    if (ev.key === "ArrowRight" && state.step < state.steps - 1) { state.step++; applyStep(); loadFeed(); refreshPanelSoon(); }
    if (ev.key === "ArrowLeft" && state.step > 0) { state.step--; applyStep(); loadFeed(); refreshPanelSoon(); }
  });
}

async function main() {
  wire();
  try {
    const wanted = new URLSearchParams(location.hash.slice(1)).get("run");
    if (wanted) { // a run named in the URL: fetch its views while the run list loads
      const metrics = fetchMetrics(wanted), graph = api(`/api/runs/${enc(wanted)}/graph`);
      metrics.catch(() => {}); graph.catch(() => {});
      state.prefetch = { id: wanted, metrics, graph };
    }
    const runs = await loadRuns();
    const readable = runs.filter((r) => r.status !== "unreadable");
    const pick = readable.find((r) => r.id === wanted) || readable.find((r) => r.status === "running") || readable[0];
    if (pick) await openRun(pick.id, { first: true });
    else window.recagent.ready = performance.now();
  } catch (e) { showError(e); window.recagent.error = String(e); }
}

main();
