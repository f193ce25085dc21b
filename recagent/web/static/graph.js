// The social graph on a canvas: a fast force layout (grid-approximated repulsion, O(n) per
// iteration) and a renderer that batches nodes by colour, so a few thousand nodes redraw in a
// few milliseconds when the step slider moves.

export function layout(n, edges, iterations = 200) {
  // Run a whole layout at once (used by tests and small graphs).
  const l = new Layout(n, edges, iterations);
  while (!l.step(1e9));
  return { x: l.x, y: l.y };
}

// Force layout in resumable slices: repulsion k^2/d only from nodes in neighbouring grid cells
// (O(n) per iteration), linear springs along ties, weak gravity, cooling temperature.
export class Layout {
  constructor(n, edges, iterations = 200) {
    this.n = n; this.edges = edges; this.iterations = iterations; this.it = 0;
    let seed = 12345;
    this.rand = () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 4294967296; };
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) { const j = Math.floor(this.rand() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
    this.x = new Float32Array(n); this.y = new Float32Array(n);
    for (let r = 0; r < n; r++) { // a phyllotaxis spiral in a seeded random order
      const i = order[r], rad = Math.sqrt(r + 0.5), a = r * 2.39996;
      this.x[i] = rad * Math.cos(a); this.y[i] = rad * Math.sin(a);
    }
    this.dx = new Float32Array(n); this.dy = new Float32Array(n); this.next = new Int32Array(n);
    this.cx = new Int32Array(n); this.cy = new Int32Array(n);
    this.temp = Math.sqrt(n) * 0.5;
    this.cool = Math.pow(0.02 / this.temp, 1 / iterations);
  }

  get done() { return this.it >= this.iterations || this.n < 2; }

  // iterate until `budgetMs` is spent; true when the layout has finished
  step(budgetMs) {
    const t0 = performance.now();
    while (!this.done && performance.now() - t0 < budgetMs) this.iterate();
    return this.done;
  }

  iterate() {
    const { n, x, y, dx, dy, next, cx, cy, edges } = this;
    const k = 1.0, cell = 2 * k, rep = 2, spring = 0.05, grav = 0.01;
    dx.fill(0); dy.fill(0);
    let minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
    for (let i = 0; i < n; i++) { if (x[i] < minx) minx = x[i]; if (y[i] < miny) miny = y[i]; if (x[i] > maxx) maxx = x[i]; if (y[i] > maxy) maxy = y[i]; }
    const gw = Math.max(1, Math.ceil((maxx - minx) / cell) + 1), gh = Math.max(1, Math.ceil((maxy - miny) / cell) + 1);
    const heads = new Int32Array(gw * gh).fill(-1);
    for (let i = 0; i < n; i++) {
      cx[i] = Math.floor((x[i] - minx) / cell); cy[i] = Math.floor((y[i] - miny) / cell);
      const c = cy[i] * gw + cx[i]; next[i] = heads[c]; heads[c] = i;
    }
    for (let i = 0; i < n; i++) {
      for (let oy = -1; oy <= 1; oy++) {
        const yy = cy[i] + oy; if (yy < 0 || yy >= gh) continue;
        for (let ox = -1; ox <= 1; ox++) {
          const xx = cx[i] + ox; if (xx < 0 || xx >= gw) continue;
          for (let j = heads[yy * gw + xx]; j >= 0; j = next[j]) {
            if (j <= i) continue;
            let ddx = x[i] - x[j], ddy = y[i] - y[j];
            let d2 = ddx * ddx + ddy * ddy;
            if (d2 > cell * cell) continue;
            if (d2 < 1e-6) { ddx = (this.rand() - 0.5) * 0.01; ddy = (this.rand() - 0.5) * 0.01; d2 = 1e-4; }
            const f = (rep * k * k) / d2;
            dx[i] += ddx * f; dy[i] += ddy * f; dx[j] -= ddx * f; dy[j] -= ddy * f;
          }
        }
      }
    }
    for (let e = 0; e < edges.length; e += 2) {
      const a = edges[e], b = edges[e + 1];
      const ddx = (x[a] - x[b]) * spring, ddy = (y[a] - y[b]) * spring;
      dx[a] -= ddx; dy[a] -= ddy; dx[b] += ddx; dy[b] += ddy;
    }
    const temp = this.temp;
    for (let i = 0; i < n; i++) {
      dx[i] -= x[i] * grav; dy[i] -= y[i] * grav; // gravity keeps components together
      const d = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]) + 1e-9;
      const s = Math.min(d, temp) / d;
      x[i] += dx[i] * s; y[i] += dy[i] * s;
    }
    this.temp *= this.cool;
    this.it++;
  }
}

export class GraphView {
  constructor(canvas, { onClick, onHover } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.n = 0; this.edges = new Int32Array(0); this.x = null; this.y = null;
    this.colours = []; this.highlight = null; this.links = []; this.selected = -1;
    this.scale = 1; this.tx = 0; this.ty = 0; this.pending = false;
    this.onClick = onClick; this.onHover = onHover; this.onLayout = null;
    this._bind();
    new ResizeObserver(() => { this.resize(); }).observe(canvas);
  }

  // Lay the graph out: a first slice now (so the first paint already shows structure), the rest
  // in slices of a frame each; `layoutDone` turns true at the end.
  setGraph(n, edges, { firstSliceMs = 120 } = {}) {
    this.n = n;
    this.edges = Int32Array.from(edges);
    const l = new Layout(n, this.edges, n > 5000 ? 120 : 200);
    this.layout = l; this.x = l.x; this.y = l.y; this.touched = false;
    this.layoutDone = false; this.layoutMs = 0;
    const t0 = performance.now();
    this.layoutDone = l.step(firstSliceMs);
    this.layoutMs = performance.now() - t0;
    this.resize(); this.fit();
    const slice = () => {
      if (this.layout !== l) return; // a newer graph replaced this one
      const t = performance.now();
      this.layoutDone = l.step(12);
      this.layoutMs += performance.now() - t;
      if (!this.touched) this.fit(); else this.request();
      if (!this.layoutDone) requestAnimationFrame(slice); else if (this.onLayout) this.onLayout(this.layoutMs);
    };
    if (!this.layoutDone) requestAnimationFrame(slice); else if (this.onLayout) this.onLayout(this.layoutMs);
  }

  resize() {
    const r = this.canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    this.w = r.width; this.h = r.height;
    this.canvas.width = Math.max(1, Math.round(r.width * dpr)); this.canvas.height = Math.max(1, Math.round(r.height * dpr));
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.draw();
  }

  fit() {
    if (!this.n) return;
    let minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
    for (let i = 0; i < this.n; i++) { minx = Math.min(minx, this.x[i]); maxx = Math.max(maxx, this.x[i]); miny = Math.min(miny, this.y[i]); maxy = Math.max(maxy, this.y[i]); }
    const pad = 20, sw = Math.max(maxx - minx, 1e-3), sh = Math.max(maxy - miny, 1e-3);
    this.scale = Math.min((this.w - 2 * pad) / sw, (this.h - 2 * pad) / sh);
    this.tx = this.w / 2 - ((minx + maxx) / 2) * this.scale; this.ty = this.h / 2 - ((miny + maxy) / 2) * this.scale;
    this.draw();
  }

  screen(i) { return [this.x[i] * this.scale + this.tx, this.y[i] * this.scale + this.ty]; }

  nodeAt(px, py, radius = 9) {
    let best = -1, bd = radius * radius;
    for (let i = 0; i < this.n; i++) {
      const sx = this.x[i] * this.scale + this.tx - px, sy = this.y[i] * this.scale + this.ty - py;
      const d = sx * sx + sy * sy;
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }

  request() { if (!this.pending) { this.pending = true; requestAnimationFrame(() => { this.pending = false; this.draw(); }); } }

  draw() {
    const t0 = performance.now();
    this._draw();
    this.lastDrawMs = performance.now() - t0;
  }

  _draw() {
    const ctx = this.ctx, n = this.n;
    ctx.clearRect(0, 0, this.w, this.h);
    if (!n) return;
    const X = (i) => this.x[i] * this.scale + this.tx, Y = (i) => this.y[i] * this.scale + this.ty;
    const dim = this.highlight !== null;
    this._drawTies(dim, X, Y);
    for (const group of this.links) {
      ctx.lineWidth = group.width || 1.6; ctx.strokeStyle = group.colour;
      ctx.beginPath();
      const p = group.pairs;
      for (let k = 0; k < p.length; k += 2) { if (p[k] < n && p[k + 1] < n && p[k] >= 0 && p[k + 1] >= 0) { ctx.moveTo(X(p[k]), Y(p[k])); ctx.lineTo(X(p[k + 1]), Y(p[k + 1])); } }
      ctx.stroke();
    }
    const r = Math.max(1.6, Math.min(6, 2.2 * Math.sqrt(this.scale / 6)));
    const buckets = new Map();
    for (let i = 0; i < n; i++) {
      let c = this.colours[i] || "#999";
      if (dim && !this.highlight.has(i)) c = "#d9dbe3";
      let b = buckets.get(c); if (!b) { b = []; buckets.set(c, b); } b.push(i);
    }
    for (const [c, idx] of buckets) {
      ctx.fillStyle = c; ctx.beginPath();
      for (const i of idx) { const sx = X(i), sy = Y(i); ctx.moveTo(sx + r, sy); ctx.arc(sx, sy, r, 0, 6.2832); }
      ctx.fill();
    }
    if (dim) {
      ctx.lineWidth = 1; ctx.strokeStyle = "#1d2330"; ctx.beginPath();
      for (const i of this.highlight) { const sx = X(i), sy = Y(i); ctx.moveTo(sx + r + 1, sy); ctx.arc(sx, sy, r + 1, 0, 6.2832); }
      ctx.stroke();
    }
    if (this.selected >= 0 && this.selected < n) {
      const sx = X(this.selected), sy = Y(this.selected);
      ctx.lineWidth = 2.5; ctx.strokeStyle = "#e11d48"; ctx.beginPath(); ctx.arc(sx, sy, r + 4, 0, 6.2832); ctx.stroke();
    }
  }

  // The ties change only with the view, not with the step: keep them in an offscreen layer.
  _drawTies(dim, X, Y) {
    const key = [this.scale, this.tx, this.ty, this.w, this.h, dim, this.layoutDone, this.edges.length].join();
    const dpr = window.devicePixelRatio || 1;
    if (!this.layoutDone || this._tiesKey !== key) {
      if (!this._ties) this._ties = document.createElement("canvas");
      const t = this._ties;
      t.width = this.canvas.width; t.height = this.canvas.height;
      const c = t.getContext("2d"); c.setTransform(dpr, 0, 0, dpr, 0, 0);
      const e = this.edges;
      c.lineWidth = 0.6; c.strokeStyle = dim ? "rgba(120,125,150,0.07)" : "rgba(120,125,150,0.18)";
      c.beginPath();
      for (let k = 0; k < e.length; k += 2) { c.moveTo(X(e[k]), Y(e[k])); c.lineTo(X(e[k + 1]), Y(e[k + 1])); }
      c.stroke();
      this._tiesKey = key;
    }
    this.ctx.save(); this.ctx.setTransform(1, 0, 0, 1, 0, 0); this.ctx.drawImage(this._ties, 0, 0); this.ctx.restore();
  }

  _bind() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const rect = c.getBoundingClientRect(), px = ev.clientX - rect.left, py = ev.clientY - rect.top;
      const f = Math.exp(-ev.deltaY * 0.0015);
      this.tx = px - (px - this.tx) * f; this.ty = py - (py - this.ty) * f; this.scale *= f; this.touched = true;
      this.request();
    }, { passive: false });
    c.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX, y: ev.clientY, tx: this.tx, ty: this.ty, moved: false }; c.style.cursor = "grabbing"; });
    window.addEventListener("mousemove", (ev) => {
      if (drag) {
        const ddx = ev.clientX - drag.x, ddy = ev.clientY - drag.y;
        if (Math.abs(ddx) + Math.abs(ddy) > 3) drag.moved = true;
        this.tx = drag.tx + ddx; this.ty = drag.ty + ddy; this.touched = true; this.request();
      } else if (ev.target === c && this.onHover) {
        const rect = c.getBoundingClientRect();
        this.onHover(this.nodeAt(ev.clientX - rect.left, ev.clientY - rect.top), ev.clientX - rect.left, ev.clientY - rect.top);
      }
    });
    window.addEventListener("mouseup", (ev) => {
      if (!drag) return;
      const moved = drag.moved; drag = null; c.style.cursor = "grab";
      if (!moved && ev.target === c && this.onClick) {
        const rect = c.getBoundingClientRect();
        const i = this.nodeAt(ev.clientX - rect.left, ev.clientY - rect.top);
        if (i >= 0) this.onClick(i);
      }
    });
  }
}
