// The animated request flow: an anywidget ES module (no build step).
//
// It replays a trace that Python computed (scalekit.flow.FlowTrace.to_json): every request's
// arrival at the balancer, its server, when service began, when it left, how it ended, and
// the cluster's events. Nothing here decides anything about the model: positions are read
// off the trace at the current instant. A request is drawn as a dot travelling from its client
// through the balancer to its server, reaching the server at the instant the model says it
// arrived; waiting requests make the server's queue bar, the one in service sits in the
// server's box, and the answer travels back to the client after the model's departure.
//
// Controls: play/pause, speed, a time scrubber, all native elements (keyboard operable);
// on the picture itself Space toggles play and the arrow keys step. A polite ARIA live
// region says, in one sentence, what has happened by the current instant.

const COLOR = {
  request: "#0072B2", answer: "#56B4E9", cache: "#009E73", failed: "#D55E00",
  lost: "#E69F00", other: "#999999", otherAnswer: "#CCCCCC", ink: "#222222", faint: "#DDDDDD", dead: "#BBBBBB",
};
// The followed users' own colours (Okabe–Ito); everyone else's requests are grey.
const USERS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#000000"];
const OUT = { SERVED: 0, CACHE_HIT: 1, REFUSED: 2, LOST: 3, UNAVAILABLE: 4, DROPPED: 5,
              LOST_SESSION: 6, FAILED: 7 };
const SPEEDS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200];
const TRIP_WALL_S = 0.45;  // a dot's trip, client to server or back, in seconds on screen
const DOT = 3;

function columns(t) {
  const times = (xs) => Float64Array.from(xs, (v) => (v === null ? NaN : v));
  const c = {
    n: t.arrival.length, servers: t.servers, timed: t.timed,
    a: times(t.arrival), first: Int32Array.from(t.first), server: Int32Array.from(t.server),
    r: times(t.dispatch), b: times(t.start), d: times(t.departure), e: times(t.end),
    o: Int8Array.from(t.outcome), u: Int16Array.from(t.user),
    events: t.events.slice().sort((x, y) => x.at - y.at),
  };
  // How long after its arrival a request can still be on screen (without the trip back).
  c.stay = new Float64Array(c.n);
  let span = 0, end = t.horizon;
  for (let i = 0; i < c.n; i++) {
    const last = Math.max(c.a[i], c.r[i], c.e[i], Number.isNaN(c.d[i]) ? 0 : c.d[i]);
    c.stay[i] = last;
    span = Math.max(span, last - c.a[i]);
    end = Math.max(end, last);
  }
  c.span = span;
  c.end = end;
  c.maxQueue = Math.max(1, longestQueue(c));
  c.followed = c.u.some((u) => u >= 0);  // then everyone else's requests are grey
  return c;
}

// The longest queue any server had (for the bars' scale): a sweep over waits.
function longestQueue(c) {
  const marks = [];
  for (let i = 0; i < c.n; i++) {
    const s = c.server[i];
    if (s < 0 || c.o[i] === OUT.CACHE_HIT) continue;
    const until = Number.isNaN(c.b[i]) ? c.e[i] : c.b[i];
    if (until > c.r[i]) marks.push([c.r[i], 1, s], [until, -1, s]);
  }
  marks.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const q = new Int32Array(c.servers);
  let most = 0;
  for (const [, step, s] of marks) { q[s] += step; if (q[s] > most) most = q[s]; }
  return most;
}

// The first index i with xs[i] > x (xs sorted).
function upper(xs, x) {
  let lo = 0, hi = xs.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[mid] <= x) lo = mid + 1; else hi = mid; }
  return lo;
}

function serverStates(c, t) {
  const crashed = new Uint8Array(c.servers), out = new Uint8Array(c.servers);
  for (const ev of c.events) {
    if (ev.at > t) break;
    if (ev.kind === "crash") crashed[ev.server] = 1;
    else if (ev.kind === "recover") crashed[ev.server] = 0;
    else if (ev.kind === "mark_down") out[ev.server] = 1;
    else if (ev.kind === "mark_up") out[ev.server] = 0;
  }
  return { crashed, out };
}

function fmt(x) { return x < 10 ? x.toFixed(1) : x.toFixed(0); }
function plural(n, word) { return `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`; }

// One sentence: what has happened by instant t (replayed from the trace).
function sentence(c, t) {
  const arrived = upper(c.a, t);
  let answered = 0, failed = 0, lost = 0;
  for (let i = 0; i < arrived; i++) {
    const o = c.o[i];
    const at = o === OUT.SERVED ? (c.timed ? c.d[i] : c.a[i]) : c.e[i];
    if (at > t) continue;
    if (o === OUT.SERVED || o === OUT.CACHE_HIT) answered++;
    else if (o === OUT.LOST_SESSION) { answered++; lost++; } else failed++;
  }
  let text = `At ${fmt(t)} s: ${plural(arrived, "request")} of ${c.n.toLocaleString("en")} ` +
    `arrived, ${answered.toLocaleString("en")} answered, ${failed.toLocaleString("en")} failed`;
  if (lost) text += `, ${plural(lost, "user")} lost their session`;
  const { crashed, out } = serverStates(c, t);
  const notes = [];
  for (let s = 0; s < c.servers; s++) {
    if (crashed[s] && out[s]) notes.push(`server ${s} is down and out of the rotation`);
    else if (crashed[s]) notes.push(`server ${s} is down but the balancer still sends to it`);
    else if (out[s]) notes.push(`server ${s} is back but not yet in the rotation`);
  }
  return text + (notes.length ? `; ${notes.join("; ")}` : "") + ".";
}

function niceSpeed(x) {
  return SPEEDS.reduce((best, s) => (Math.abs(Math.log(s / x)) < Math.abs(Math.log(best / x))
    ? s : best), SPEEDS[0]);
}

function build(el) {
  el.classList.add("sk-flow");
  el.innerHTML = `
    <div class="sk-flow-title"></div>
    <canvas class="sk-flow-canvas" role="img" tabindex="0"></canvas>
    <div class="sk-flow-controls" role="group" aria-label="Animation controls">
      <button type="button" class="sk-flow-play" aria-pressed="false">▶ Play</button>
      <label>speed <select class="sk-flow-speed"></select></label>
      <input type="range" class="sk-flow-scrub" min="0" value="0" aria-label="time (s)">
      <span class="sk-flow-clock" aria-hidden="true">0.0 s</span>
    </div>
    <p class="sk-flow-live" role="status" aria-live="polite"></p>
    <p class="sk-flow-summary"></p>
    <div class="sk-flow-legend" aria-hidden="true"></div>`;
  const q = (name) => el.querySelector(name);
  return { title: q(".sk-flow-title"), canvas: q(".sk-flow-canvas"), play: q(".sk-flow-play"),
           speed: q(".sk-flow-speed"), scrub: q(".sk-flow-scrub"), clock: q(".sk-flow-clock"),
           live: q(".sk-flow-live"), summary: q(".sk-flow-summary"),
           legend: q(".sk-flow-legend") };
}

function legend(c) {
  const has = new Set(c.o);
  const items = [["dot", COLOR.request, "request"], ["dot", COLOR.answer, "answer"]];
  if (has.has(OUT.CACHE_HIT)) items.push(["dot", COLOR.cache, "cache hit"]);
  if (has.has(OUT.LOST_SESSION)) items.push(["ring", COLOR.lost, "session lost"]);
  if ([OUT.REFUSED, OUT.LOST, OUT.UNAVAILABLE, OUT.DROPPED, OUT.FAILED].some((o) => has.has(o)))
    items.push(["cross", COLOR.failed, "failed"]);
  if (c.followed) items.push(["dot", USERS[0], "a followed user (own colour)"]);
  return items.map(([shape, color, text]) =>
    `<span><i class="sk-flow-key sk-flow-${shape}" style="--c:${color}"></i>${text}</span>`)
    .join("");
}

function render({ model, el }) {
  const ui = build(el);
  const ctx = ui.canvas.getContext("2d");
  const stats = { frames: 0, drawMs: [] };
  el.skFlowStats = stats;
  let c = null, t = 0, playing = false, last = null, raf = 0, geo = null;

  function load() {
    const trace = model.get("trace");
    c = columns(trace);
    ui.title.textContent = trace.title || "";
    ui.summary.textContent = trace.summary || "";
    ui.canvas.setAttribute("aria-label", `Animation of the requests. ${trace.summary || ""}`);
    ui.scrub.max = String(c.end);
    ui.scrub.step = String(c.end / 1000 || 0.001);
    ui.legend.innerHTML = legend(c);
    const chosen = niceSpeed(model.get("speed") || 1);
    ui.speed.innerHTML = SPEEDS.map((s) => `<option value="${s}"${s === chosen ? " selected" : ""}>${s}× real time</option>`).join("");
    t = Math.min(Math.max(model.get("time_s") || 0, 0), c.end);
    layout();
  }

  function layout() {
    const width = Math.max(320, Math.min(el.clientWidth || 860, 1100));
    const row = Math.max(10, Math.min(26, 300 / c.servers));
    const top = 26, height = Math.round(top + row * c.servers + 16);
    const dpr = window.devicePixelRatio || 1;
    ui.canvas.width = Math.round(width * dpr);
    ui.canvas.height = Math.round(height * dpr);
    ui.canvas.style.width = `${width}px`;
    ui.canvas.style.height = `${height}px`;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const balancer = { x: Math.round(width * 0.3), y: top + (row * c.servers) / 2 };
    const serverX = Math.round(width * 0.58);
    const boxW = 46, barX = serverX + boxW + 8, barMax = width - barX - 40;
    geo = { width, height, top, row, balancer, serverX, boxW, barX, barMax,
            clientX: 18, perRequest: Math.min(8, barMax / c.maxQueue) };
  }

  const serverY = (s) => geo.top + geo.row * (s + 0.5);
  const clientY = (i) => geo.top + 4 + ((i * 0.6180339887) % 1) * (geo.row * c.servers - 8);

  // A point on the path client → balancer → server s, at fraction f of the trip.
  function inbound(i, s, f, out) {
    const cy = clientY(i), b = geo.balancer;
    if (s < 0) { out[0] = geo.clientX + (b.x - geo.clientX) * f; out[1] = cy + (b.y - cy) * f; return; }
    if (f < 0.5) {
      const g = f / 0.5;
      out[0] = geo.clientX + (b.x - geo.clientX) * g; out[1] = cy + (b.y - cy) * g;
    } else {
      const g = (f - 0.5) / 0.5, sy = serverY(s);
      out[0] = b.x + (geo.serverX - b.x) * g; out[1] = b.y + (sy - b.y) * g;
    }
  }

  function draw() {
    const started = performance.now();
    const trip = TRIP_WALL_S * Number(ui.speed.value || 1);
    const { width, height } = geo;
    ctx.clearRect(0, 0, width, height);
    const states = serverStates(c, t);
    background(states);
    const waiting = new Int32Array(c.servers);
    const groups = new Map();
    let dots = 0;
    const add = (shape, color, x, y) => {
      dots++;
      const key = shape + color;
      let g = groups.get(key);
      if (!g) { g = { shape, color, xy: [] }; groups.set(key, g); }
      g.xy.push(x, y);
    };
    const p = [0, 0];
    const lo = Math.max(0, upper(c.a, t - c.span - trip) - 1), hi = upper(c.a, t + trip);
    for (let i = lo; i < hi; i++) {
      const a = c.a[i];
      if (t < a - trip || t > c.stay[i] + trip) continue;
      const o = c.o[i], s = c.server[i], f0 = c.first[i];
      const own = c.u[i] >= 0 ? USERS[c.u[i] % USERS.length] : null;
      const tone = own || (c.followed ? COLOR.other : COLOR.request);
      const reply = own || (c.followed ? COLOR.otherAnswer : COLOR.answer);
      if (t < a) {  // on its way to the balancer and on to its (first) server
        inbound(i, o === OUT.CACHE_HIT || o === OUT.UNAVAILABLE || o === OUT.DROPPED ? -1 : f0,
                1 - (a - t) / trip, p);
        add("dot", o === OUT.CACHE_HIT ? COLOR.cache : tone, p[0], p[1]);
        continue;
      }
      if (s < 0 || o === OUT.REFUSED) {  // answered or refused without a server's queue
        const from = o === OUT.REFUSED ? geo.serverX : geo.balancer.x;
        const fromY = o === OUT.REFUSED ? serverY(s) : geo.balancer.y;
        const g = (t - c.e[i]) / trip;
        if (g < 0 || g > 1) continue;
        const x = from + (geo.clientX - from) * g, y = fromY + (clientY(i) - fromY) * g;
        if (o === OUT.CACHE_HIT) add("dot", COLOR.cache, x, y);
        else add("cross", COLOR.failed, x, y);
        continue;
      }
      const r = c.r[i];
      if (t < r) {  // refused by its first server, about to be sent again
        add("cross", COLOR.failed, geo.serverX - 6, serverY(f0));
        continue;
      }
      if (f0 !== s && t < r + trip / 2) {  // redispatched: from the first server to the next
        const g = (t - r) / (trip / 2);
        const y0 = serverY(f0), y1 = serverY(s);
        add("dot", tone, geo.serverX - 10, y0 + (y1 - y0) * g);
      }
      if (!c.timed) {  // the answer, decided on arrival, goes back at once
        const g = (t - a) / trip;
        if (g > 1) continue;
        const x = geo.serverX + (geo.clientX - geo.serverX) * g;
        const y = serverY(s) + (clientY(i) - serverY(s)) * g;
        if (o === OUT.SERVED) add("dot", reply, x, y);
        else if (o === OUT.LOST_SESSION) add("ring", own || COLOR.lost, x, y);
        else add("cross", COLOR.failed, x, y);
        continue;
      }
      const b = c.b[i], d = c.d[i], e = c.e[i];
      if (Number.isNaN(b)) {  // lost in flight: queued at its server until the crash
        if (t < e) waiting[s]++;
        else if (t < e + trip) add("cross", COLOR.failed, geo.serverX + geo.boxW / 2, serverY(s));
        continue;
      }
      if (t < b) { waiting[s]++; continue; }
      if (t < d) { add("dot", tone, geo.serverX + geo.boxW / 2, serverY(s)); continue; }
      const g = (t - d) / trip;
      if (g <= 1) {
        const sy = serverY(s);
        add("dot", reply, geo.serverX + (geo.clientX - geo.serverX) * g,
            sy + (clientY(i) - sy) * g);
      }
    }
    bars(waiting);
    for (const g of groups.values()) shapes(g);
    clock();
    // What this frame showed, for tests and for measuring: the queue bars and server states.
    stats.time = t;
    stats.trip = trip;
    stats.waiting = waiting;
    stats.inView = dots + waiting.reduce((sum, w) => sum + w, 0);  // dots and queued
    stats.states = states;
    stats.geo = geo;
    stats.frames++;
    const ms = performance.now() - started;
    stats.drawMs.push(ms);
    if (stats.drawMs.length > 240) stats.drawMs.shift();
    el.dataset.frames = String(stats.frames);
    el.dataset.time = t.toFixed(4);
  }

  function background(states) {
    const { balancer: b, serverX, boxW, row, clientX, top } = geo;
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "middle";
    ctx.fillStyle = COLOR.ink;
    ctx.fillText("clients", clientX - 8, top - 14);
    ctx.fillText("balancer", b.x - 22, top - 14);
    ctx.fillText(c.timed ? "servers · queue" : "servers", serverX, top - 14);
    for (let s = 0; s < c.servers; s++) {  // the balancer's links: which servers it sends to
      const y = serverY(s);
      ctx.beginPath();
      ctx.setLineDash(states.out[s] ? [3, 4] : []);
      ctx.strokeStyle = states.out[s] ? COLOR.faint : (states.crashed[s] ? COLOR.failed : COLOR.faint);
      ctx.lineWidth = states.crashed[s] && !states.out[s] ? 1.5 : 1;
      ctx.moveTo(b.x, b.y);
      ctx.lineTo(serverX, y);
      ctx.stroke();
    }
    ctx.setLineDash([]);
    ctx.fillStyle = "#F4F4F4";
    ctx.strokeStyle = COLOR.ink;
    ctx.lineWidth = 1;
    ctx.fillRect(b.x - 10, b.y - 16, 20, 32);
    ctx.strokeRect(b.x - 10, b.y - 16, 20, 32);
    const h = Math.max(6, row - 4);
    for (let s = 0; s < c.servers; s++) {
      const y = serverY(s);
      ctx.fillStyle = states.crashed[s] ? COLOR.dead : "#FFFFFF";
      ctx.fillRect(serverX, y - h / 2, boxW, h);
      ctx.strokeStyle = states.crashed[s] ? COLOR.dead : COLOR.ink;
      ctx.strokeRect(serverX, y - h / 2, boxW, h);
      ctx.fillStyle = states.crashed[s] ? "#666666" : COLOR.ink;
      if (row >= 12) ctx.fillText(states.crashed[s] ? `${s} down` : `${s}`, serverX + 4, y);
      if (states.out[s] && row >= 12) {
        ctx.fillStyle = "#666666";
        ctx.fillText("out of rotation", serverX - 84, y);
      }
    }
  }

  function bars(waiting) {
    if (!c.timed) return;
    const { barX, row, perRequest } = geo;
    const h = Math.max(4, row - 8);
    ctx.fillStyle = COLOR.request;
    ctx.globalAlpha = 0.55;
    for (let s = 0; s < c.servers; s++)
      if (waiting[s]) ctx.fillRect(barX, serverY(s) - h / 2, waiting[s] * perRequest, h);
    ctx.globalAlpha = 1;
    ctx.fillStyle = COLOR.ink;
    if (row >= 12)
      for (let s = 0; s < c.servers; s++)
        if (waiting[s]) ctx.fillText(String(waiting[s]), barX + waiting[s] * perRequest + 4, serverY(s));
  }

  function shapes(g) {
    const xy = g.xy;
    ctx.beginPath();
    if (g.shape === "cross") {
      for (let k = 0; k < xy.length; k += 2) {
        const x = xy[k], y = xy[k + 1];
        ctx.moveTo(x - DOT, y - DOT); ctx.lineTo(x + DOT, y + DOT);
        ctx.moveTo(x + DOT, y - DOT); ctx.lineTo(x - DOT, y + DOT);
      }
      ctx.strokeStyle = g.color; ctx.lineWidth = 1.6; ctx.stroke();
      return;
    }
    for (let k = 0; k < xy.length; k += 2) {
      ctx.moveTo(xy[k] + DOT, xy[k + 1]);
      ctx.arc(xy[k], xy[k + 1], DOT, 0, 2 * Math.PI);
    }
    if (g.shape === "ring") { ctx.strokeStyle = g.color; ctx.lineWidth = 1.4; ctx.stroke(); }
    else { ctx.fillStyle = g.color; ctx.fill(); }
  }

  function clock() {
    ctx.fillStyle = COLOR.ink;
    ctx.font = "12px sans-serif";
    ctx.fillText(`t = ${fmt(t)} s`, geo.width - 70, geo.top - 14);
    ui.clock.textContent = `${fmt(t)} s`;
    ui.scrub.value = String(t);
    ui.scrub.setAttribute("aria-valuetext", `${fmt(t)} seconds`);
  }

  function announce() { ui.live.textContent = sentence(c, t); }

  function tick(now) {
    if (!playing) return;
    if (last !== null) t = Math.min(c.end, t + ((now - last) / 1000) * Number(ui.speed.value));
    last = now;
    draw();
    if (t >= c.end) { setPlaying(false); return; }
    raf = requestAnimationFrame(tick);
  }

  function setPlaying(on, { sync = true } = {}) {
    if (on === playing) return;
    playing = on;
    el.dataset.playing = String(on);
    ui.play.textContent = on ? "❚❚ Pause" : "▶ Play";
    ui.play.setAttribute("aria-pressed", String(on));
    if (on) {
      if (t >= c.end) t = 0;
      last = null;
      ui.live.textContent = `Playing at ${ui.speed.value}× real time.`;
      raf = requestAnimationFrame(tick);
    } else {
      cancelAnimationFrame(raf);
      draw();
      announce();
    }
    if (sync) {
      model.set("playing", on);
      model.set("time_s", t);
      model.save_changes();
    }
  }

  function seek(to, { speak = false } = {}) {
    t = Math.min(Math.max(to, 0), c.end);
    last = null;
    draw();
    if (speak) announce();
  }

  const onKey = (ev) => {
    const step = c.end * (ev.shiftKey ? 0.1 : 0.02);
    if (ev.key === " " || ev.key === "k") setPlaying(!playing);
    else if (ev.key === "ArrowRight") seek(t + step, { speak: true });
    else if (ev.key === "ArrowLeft") seek(t - step, { speak: true });
    else if (ev.key === "Home") seek(0, { speak: true });
    else if (ev.key === "End") seek(c.end, { speak: true });
    else return;
    ev.preventDefault();
    ev.stopPropagation();  // keep JupyterLab's own shortcuts out of it
  };
  ui.canvas.addEventListener("keydown", onKey);
  ui.play.addEventListener("click", () => setPlaying(!playing));
  ui.speed.addEventListener("change", () => {
    model.set("speed", Number(ui.speed.value));
    model.save_changes();
    if (playing) ui.live.textContent = `Playing at ${ui.speed.value}× real time.`;
  });
  ui.scrub.addEventListener("input", () => seek(Number(ui.scrub.value)));
  ui.scrub.addEventListener("change", () => {
    announce();
    model.set("time_s", t);
    model.save_changes();
  });
  for (const node of [ui.play, ui.speed, ui.scrub])  // JupyterLab's shortcuts stay out
    node.addEventListener("keydown", (ev) => ev.stopPropagation());

  const onTrace = () => { setPlaying(false, { sync: false }); load(); draw(); announce(); };
  const onPlaying = () => setPlaying(Boolean(model.get("playing")), { sync: false });
  const onSpeed = () => { ui.speed.value = String(niceSpeed(model.get("speed") || 1)); };
  const onTime = () => {
    const to = model.get("time_s");
    if (Math.abs(to - t) > 1e-9) seek(to, { speak: !playing });
  };
  model.on("change:trace", onTrace);
  model.on("change:playing", onPlaying);
  model.on("change:speed", onSpeed);
  model.on("change:time_s", onTime);
  const resize = new ResizeObserver(() => { if (c) { layout(); draw(); } });
  resize.observe(el);

  load();
  el.dataset.playing = "false";
  draw();
  announce();
  if (model.get("playing")) setPlaying(true, { sync: false });

  return () => {
    cancelAnimationFrame(raf);
    resize.disconnect();
    model.off("change:trace", onTrace);
    model.off("change:playing", onPlaying);
    model.off("change:speed", onSpeed);
    model.off("change:time_s", onTime);
  };
}

export default { render };
