// Small line charts on canvas: one per metric, several runs overlaid, a cursor at the current step.

export const RUN_COLOURS = ["#4f46e5", "#e11d48", "#059669", "#d97706", "#0891b2", "#7c3aed", "#65a30d", "#db2777"];
// a study's strategies: a mean line over a shaded 95% band (null where no seed reached the step)
export const BAND_COLOURS = ["#0f766e", "#b45309", "#7e22ce", "#be123c", "#1d4ed8", "#4d7c0f"];

export class LineChart {
  constructor(parent, key, title, { percent = false } = {}) {
    this.key = key; this.title = title; this.percent = percent;
    this.box = document.createElement("div"); this.box.className = "chart"; this.box.dataset.metric = key;
    const head = document.createElement("div"); head.className = "ct";
    this.label = document.createElement("span"); this.label.textContent = title;
    this.value = document.createElement("span");
    head.append(this.label, this.value);
    this.canvas = document.createElement("canvas");
    this.box.append(head, this.canvas);
    parent.append(this.box);
    this.series = []; this.step = 0;
    new ResizeObserver(() => this.draw()).observe(this.canvas);
  }

  band(ctx, s, X, Y) {
    // the 95% band as one filled polygon per stretch of steps that have a value
    const steps = s.low.map((v, i) => (v === null || s.high[i] === null ? -1 : i)).filter((i) => i >= 0);
    if (!steps.length) return;
    ctx.fillStyle = s.colour; ctx.globalAlpha = 0.18; ctx.beginPath();
    steps.forEach((i, k) => (k ? ctx.lineTo(X(i), Y(s.high[i])) : ctx.moveTo(X(i), Y(s.high[i]))));
    for (const i of [...steps].reverse()) ctx.lineTo(X(i), Y(s.low[i]));
    ctx.closePath(); ctx.fill(); ctx.globalAlpha = 1;
  }

  set(series, step) { this.series = series; this.step = step; this.draw(); }

  fmt(v) {
    if (v === undefined || v === null || Number.isNaN(v)) return "–";
    if (this.percent) return (v * 100).toFixed(1) + "%";
    return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(3);
  }

  draw() {
    const c = this.canvas, rect = c.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    if (!rect.width) return;
    const cw = Math.round(rect.width * dpr), ch = Math.round(rect.height * dpr);
    if (c.width !== cw || c.height !== ch) { c.width = cw; c.height = ch; } // resizing reallocates: only when needed
    const ctx = c.getContext("2d"); ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const w = rect.width, h = rect.height, right = 6, top = 6, bottom = 16;
    ctx.clearRect(0, 0, w, h);
    let maxLen = 1, lo = Infinity, hi = -Infinity;
    for (const s of this.series) {
      maxLen = Math.max(maxLen, s.values.length);
      for (const arr of [s.values, s.low || [], s.high || []]) {
        for (const v of arr) { if (v === null) continue; if (v < lo) lo = v; if (v > hi) hi = v; }
      }
    }
    if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
    if (lo > 0 && lo < hi * 0.5) lo = 0;
    if (hi - lo < 1e-9) { hi = lo + 1; }
    ctx.font = "10px system-ui, sans-serif";
    const left = Math.max(34, Math.ceil(Math.max(ctx.measureText(this.fmt(hi)).width, ctx.measureText(this.fmt(lo)).width)) + 6);
    const X = (i) => left + (maxLen <= 1 ? 0 : (i / (maxLen - 1)) * (w - left - right));
    const Y = (v) => top + (1 - (v - lo) / (hi - lo)) * (h - top - bottom);
    ctx.strokeStyle = "#e5e7ef"; ctx.lineWidth = 1; ctx.beginPath();
    ctx.moveTo(left, top); ctx.lineTo(left, h - bottom); ctx.lineTo(w - right, h - bottom); ctx.stroke();
    ctx.fillStyle = "#778"; ctx.font = "10px system-ui, sans-serif"; ctx.textAlign = "right";
    ctx.fillText(this.fmt(hi), left - 3, top + 8); ctx.fillText(this.fmt(lo), left - 3, h - bottom);
    ctx.textAlign = "left"; ctx.fillText("0", left, h - 4); ctx.textAlign = "right"; ctx.fillText(String(maxLen - 1), w - right, h - 4);
    for (const s of this.series) {
      if (s.band) this.band(ctx, s, X, Y);
      ctx.strokeStyle = s.colour; ctx.lineWidth = s.main ? 1.8 : 1.2; ctx.beginPath();
      ctx.setLineDash(s.band ? [4, 2] : []);
      let open = false;
      s.values.forEach((v, i) => {
        if (v === null) { open = false; return; }
        if (open) ctx.lineTo(X(i), Y(v)); else { ctx.moveTo(X(i), Y(v)); open = true; }
      });
      ctx.stroke(); ctx.setLineDash([]);
    }
    ctx.strokeStyle = "rgba(225,29,72,.7)"; ctx.lineWidth = 1; ctx.beginPath();
    ctx.moveTo(X(this.step), top); ctx.lineTo(X(this.step), h - bottom); ctx.stroke();
    const main = this.series.find((s) => s.main) || this.series.find((s) => !s.band) || this.series[0];
    const v = main ? main.values[this.step] : undefined;
    this.value.textContent = main ? this.fmt(v) : "";
    // "–": the measure is undefined at this step (an empty metrics.csv cell, or no seed of a study reached it)
    this.value.title = main && (v === null || v === undefined || Number.isNaN(v)) ? "not defined at this step" : "";
  }
}
