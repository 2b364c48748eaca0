// callpulse wallboard page. No build step: plain JavaScript, loaded by index.html.
//
// Protocol (callpulse/board.py): a "hello" with our role, a "snapshot" of every item, then one
// "delta" per server tick with seq + 1; on a gap we send {"type":"resync"} and wait for the
// next snapshot. Items are {kind, key, seq, data} for kinds queue, agent, source, ack, audit.
// Times shown are measured against the server's clock (now_ms in every message), never the
// browser's own.
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const opts = {
    queues: (params.get("queues") || "").split(",").map((s) => s.trim()).filter(Boolean),
    teams: (params.get("team") || params.get("teams") || "").split(",").map((s) => s.trim()).filter(Boolean),
    rotateS: Number(params.get("rotate") || 0),
    perPage: Number(params.get("per_page") || 6),
    tv: params.get("tv") === "1",
    view: params.get("view") || "",
    sound: params.get("sound") === "1",
  };
  const token = params.get("token");

  const state = {
    items: new Map(), // "kind\u0000key" -> item
    seq: null,
    resyncing: false,
    role: null,
    name: null,
    staleAfterS: 10,
    heartbeatS: 1,
    offsetMs: 0, // server clock - browser clock
    lastMessageAt: 0, // browser time of the last server message
    connected: false,
    reconnectAt: 0,
    attempt: 0,
    sort: { key: "name", dir: 1 },
    seenCrit: new Set(),
    sound: false,
    redisUp: true,
    live: false, // the board's staleness() found nothing wrong at the last draw
    resyncAskedAt: 0,
    page: 0,
  };
  const pending = new Map(); // request id -> resolve
  let ws = null;
  let nextId = 1;
  let dirty = true;

  // -- helpers --------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const serverNow = () => Date.now() + state.offsetMs;
  const byKind = (kind) => [...state.items.values()].filter((i) => i.kind === kind);
  const item = (kind, key) => state.items.get(kind + "\u0000" + key);

  function dur(s) {
    if (s === null || s === undefined) return "—";
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + " s";
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }
  const pct = (r, digits = 0) => (r === null || r === undefined ? "—" : (r * 100).toFixed(digits) + "%");
  const secs = (s) => (s === null || s === undefined ? "—" : s.toFixed(s < 10 ? 1 : 0) + " s");
  const clockText = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  // A value's level against the queue's own warn/crit levels ("above" or "below" rules).
  function level(levels, rule, value) {
    const lv = levels && levels[rule];
    if (!lv || value === null || value === undefined) return "ok";
    const hit = (x) => x !== null && x !== undefined && (lv.direction === "below" ? value <= x : value >= x);
    if (hit(lv.crit)) return "crit";
    if (hit(lv.warn)) return "warn";
    return "ok";
  }
  const RANK = { ok: 0, warn: 1, crit: 2 };
  const worst = (a, b) => (RANK[a] >= RANK[b] ? a : b);
  const SYMBOL = { ok: "", warn: "\u25B2", crit: "\u2716" }; // never colour alone
  const WORD = { ok: "\u2713 OK", warn: "\u25B2 WARN", crit: "\u2716 CRIT" };

  // -- connection -----------------------------------------------------------------------------

  function connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" +
      (token ? "?token=" + encodeURIComponent(token) : "");
    ws = new WebSocket(url);
    ws.onopen = () => { state.connected = true; state.attempt = 0; dirty = true; };
    ws.onmessage = (ev) => receive(JSON.parse(ev.data));
    ws.onclose = () => {
      state.connected = false;
      state.seq = null;
      // Backoff with jitter: 1, 2, 4 … 30 s, so a restarted server is not stampeded.
      const delay = Math.min(30000, 1000 * 2 ** state.attempt) * (0.75 + Math.random() / 2);
      state.attempt += 1;
      state.reconnectAt = Date.now() + delay;
      setTimeout(connect, delay);
      for (const resolve of pending.values()) resolve({ ok: false, code: "disconnected" });
      pending.clear();
      dirty = true;
    };
  }

  function receive(msg) {
    if (msg.now_ms !== undefined) state.offsetMs = msg.now_ms - Date.now();
    state.lastMessageAt = Date.now();
    if (msg.type === "hello") {
      state.role = msg.role;
      state.name = msg.name;
      state.staleAfterS = msg.stale_after_s;
      state.heartbeatS = msg.heartbeat_s;
      state.redisUp = msg.redis_up;
      document.body.classList.toggle("supervisor", msg.role === "supervisor");
    } else if (msg.type === "snapshot") {
      state.items = new Map(msg.items.map((i) => [i.kind + "\u0000" + i.key, i]));
      state.seq = msg.seq;
      state.resyncing = false;
      noteAlerts(true);
    } else if (msg.type === "delta") {
      if (state.resyncing) return;
      if (state.seq === null || msg.seq !== state.seq + 1) {
        state.resyncing = true;
        state.resyncAskedAt = Date.now();
        ws.send(JSON.stringify({ type: "resync" }));
        return;
      }
      for (const i of msg.items) state.items.set(i.kind + "\u0000" + i.key, i);
      state.seq = msg.seq;
      if (msg.items.length) noteAlerts(false);
    } else if (msg.type === "status") {
      state.redisUp = msg.redis_up;
    } else if (msg.type === "reply") {
      const resolve = pending.get(msg.id);
      pending.delete(msg.id);
      if (resolve) resolve(msg);
      return;
    }
    dirty = true;
  }

  // Send a command; resolves with the server's reply.
  function request(cmd) {
    return new Promise((resolve) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        resolve({ ok: false, code: "disconnected" });
        return;
      }
      const id = nextId++;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ ...cmd, id }));
    });
  }

  // -- what is shown --------------------------------------------------------------------------

  function teamQueues() {
    if (!opts.teams.length) return null;
    const qs = new Set();
    for (const a of byKind("agent")) {
      if (opts.teams.includes(a.data.team)) for (const q of a.data.queues || []) qs.add(q);
    }
    return qs;
  }

  function shownQueues() {
    const team = teamQueues();
    return byKind("queue")
      .filter((q) => !opts.queues.length || opts.queues.includes(q.data.queue) || opts.queues.includes(q.key))
      .filter((q) => !team || team.has(q.data.queue))
      .sort((a, b) => a.key.localeCompare(b.key));
  }

  // Newest data any worker wrote (queues and sources refresh every second while live).
  function newestAsOf() {
    let newest = 0;
    for (const i of state.items.values()) {
      if ((i.kind === "queue" || i.kind === "source") && i.data.as_of_ms > newest) newest = i.data.as_of_ms;
    }
    return newest;
  }

  // Why the board is not live, or null when it is.
  function staleness() {
    if (!state.connected) {
      const inS = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
      return "connection to the wallboard server lost; reconnecting" + (inS ? " in " + inS + " s" : "…");
    }
    if (state.seq === null) return "waiting for data…";
    if (silent()) return "the wallboard server stopped sending; reconnecting";
    if (!state.redisUp) return "the wallboard server lost its connection to Redis";
    const newest = newestAsOf();
    const now = serverNow();
    if (!newest) return "no data from the workers yet";
    if (now - newest > state.staleAfterS * 1000) return "no update from the workers for " + dur((now - newest) / 1000);
    const sources = byKind("source");
    if (sources.length && sources.every((s) => s.data.stale)) return staleSources(sources);
    return null;
  }

  // Some sources silent while others send: said in the banner, the board stays live.
  function staleSources(sources) {
    const stale = sources.filter((s) => s.data.stale);
    if (!stale.length) return null;
    const age = Math.min(...stale.map((s) => serverNow() - s.data.last_event_ms)) / 1000;
    return "no events from " + stale.map((s) => s.key).join(", ") + " for " + dur(age);
  }

  const silent = () => state.connected && Date.now() - state.lastMessageAt > (3 * state.heartbeatS + 2) * 1000;
  // A tile whose own data is old (its worker stopped) is stale even when the board is not.
  const tileStale = (d) => serverNow() - d.as_of_ms > state.staleAfterS * 1000;

  // A figure that keeps moving between updates: the value at as_of plus the time since.
  function aged(value, data) {
    if (value === null || value === undefined) return null;
    if (tileStale(data) || !state.live) return value; // never count up what is not live
    return value + Math.max(0, serverNow() - data.as_of_ms) / 1000;
  }

  function fig(label, text, lvl, rule) {
    return el("div", { class: "fig lvl-" + lvl, "data-rule": rule },
      el("span", { class: "v" }, lvl !== "ok" ? el("span", { class: "sym", "aria-label": lvl }, SYMBOL[lvl]) : null, text),
      el("span", { class: "l" }, label));
  }

  function small(label, text, lvl, rule) {
    return el("div", { "data-rule": rule || null },
      el("dt", {}, label),
      el("dd", { class: lvl && lvl !== "ok" ? "lvl-" + lvl + " v" : null }, lvl && lvl !== "ok" ? SYMBOL[lvl] + " " : "", text));
  }

  function trendSvg(trend, goal) {
    const W = 300, H = 60;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("class", "trend");
    svg.setAttribute("role", "img");
    const n = trend && trend.start_ms ? trend.start_ms.length : 0;
    svg.setAttribute("aria-label", "today's average wait and service level per interval (" + n + " intervals)");
    const g = document.createElementNS("http://www.w3.org/2000/svg", "line");
    const gy = (H - 4) - goal * (H - 8);
    for (const [k, v] of [["x1", 0], ["x2", W], ["y1", gy], ["y2", gy], ["class", "goal"]]) g.setAttribute(k, v);
    svg.append(g);
    if (!n) return svg;
    const x = (i) => (n === 1 ? W / 2 : (i * W) / (n - 1));
    const waits = trend.asa_s;
    const maxWait = Math.max(1, ...waits.filter((w) => w !== null));
    const line = (values, y, cls) => {
      const pts = [];
      values.forEach((v, i) => { if (v !== null) pts.push(x(i).toFixed(1) + "," + y(v).toFixed(1)); });
      const p = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      p.setAttribute("points", pts.join(" "));
      p.setAttribute("class", cls);
      p.setAttribute("vector-effect", "non-scaling-stroke");
      svg.append(p);
      if (pts.length < 3) { // too few intervals for a line yet: mark the points
        for (const pt of pts) {
          const [cx, cy] = pt.split(",");
          const c = document.createElementNS("http://www.w3.org/2000/svg", "rect");
          for (const [k, v] of [["x", cx - 3], ["y", cy - 3], ["width", 6], ["height", 6], ["class", cls + " dot"]]) c.setAttribute(k, v);
          svg.append(c);
        }
      }
    };
    line(waits, (v) => (H - 4) - (v / maxWait) * (H - 8), "wait");
    line(trend.service_level_ratio, (v) => (H - 4) - v * (H - 8), "sl");
    return svg;
  }

  // One malformed item (a worker of another version, say) spoils its own tile, not the board.
  function safeTile(q) {
    try {
      return queueTile(q);
    } catch (err) {
      return el("article", { class: "tile tile-stale", "data-key": q.key },
        el("header", {}, el("h2", {}, q.key), el("span", { class: "badge stale" }, "NO DATA")),
        el("p", { class: "muted" }, "This queue's snapshot cannot be shown (" + err.message + ")."));
    }
  }

  function queueTile(q) {
    const d = q.data, live = d.live, f15 = d.frames["15m"] || {}, today = d.frames.today || {};
    const lv = d.levels || {};
    const sev = (d.alerts || []).reduce((s, a) => (a.severity === "crit" ? "crit" : s === "crit" ? s : a.severity), "ok");
    const oldest = aged(live.oldest_wait_s, d);
    const oldestCb = aged(live.oldest_callback_s, d);
    const title = d.tenant && d.tenant !== "default" ? [d.queue, " ", el("small", {}, d.tenant)] : [d.queue];
    const supervisor = state.role === "supervisor";
    const audit = item("audit", q.key);
    const stale = tileStale(d);
    return el("article", { class: "tile sev-" + sev + (stale ? " tile-stale" : ""), "data-key": q.key, "data-seq": q.seq },
      el("header", {},
        el("h2", { title: q.key }, title),
        stale ? el("span", { class: "badge stale" }, "STALE " + dur((serverNow() - d.as_of_ms) / 1000))
          : el("span", { class: "badge " + sev, "data-severity": sev }, WORD[sev]),
        supervisor ? el("button", { class: "edit", type: "button", title: "Change thresholds", onclick: () => openEditor(q) }, "\u2699") : null),
      el("div", { class: "big" },
        fig("waiting", live.waiting, level(lv, "no_agent_available", live.agents_available === 0 ? live.waiting : 0), "waiting"),
        fig("longest wait", dur(oldest), level(lv, "oldest_wait_s", oldest), "oldest_wait_s"),
        fig("SL 15m", pct(f15.service_level_ratio), level(lv, "service_level_ratio", f15.service_level_ratio), "service_level_ratio")),
      el("dl", { class: "small" },
        small("SL today", pct(today.service_level_ratio), level(lv, "service_level_ratio", today.service_level_ratio), "sl_today"),
        small("abandon 15m", pct(f15.abandon_ratio, 1), level(lv, "abandon_ratio", f15.abandon_ratio), "abandon_ratio"),
        small("ASA 15m", secs(f15.asa_s), null, "asa_s"),
        small("callbacks", live.callbacks_pending + (live.callbacks_pending ? " (" + dur(oldestCb) + ")" : ""),
          worst(level(lv, "callbacks_pending", live.callbacks_pending), level(lv, "oldest_callback_s", oldestCb)), "callbacks")),
      el("dl", { class: "small agents" },
        small("available", live.agents_available, null, "agents_available"),
        small("on call", live.agents_on_call, null, "agents_on_call"),
        small("wrap-up", live.agents_wrap_up, null, "agents_wrap_up"),
        small("not ready", live.agents_not_ready, null, "agents_not_ready"),
        small("needed / in", (live.agents_needed ?? "—") + " / " + live.agents_logged_in,
          level(lv, "staffing_gap", live.agents_needed === null ? null : live.agents_needed - live.agents_logged_in), "staffing")),
      trendSvg(d.trend, d.sl_goal_ratio),
      el("div", { class: "legend" }, el("span", { class: "w" }, "\u2014 avg wait"), el("span", { class: "s" }, "- - SL"),
        el("span", {}, "today, per interval")),
      el("div", { class: "formula", "data-rule": "formula" },
        "SL = " + d.sl_formula + " · T " + d.sl_threshold_s + " s · goal " + pct(d.sl_goal_ratio),
        audit ? el("span", { class: "audit" }, " · changed by " + audit.data.by + " at " + clockText(audit.data.at_ms)) : null));
  }

  const STATE_ORDER = ["available", "ringing", "on_call", "on_hold", "wrap_up", "not_ready", "logged_out"];
  const STATE_WORD = { available: "available", ringing: "ringing", on_call: "on call", on_hold: "on hold",
    wrap_up: "wrap-up", not_ready: "not ready", logged_out: "logged out" };

  function agentRows() {
    const text = document.getElementById("agent-filter").value.trim().toLowerCase();
    const st = document.getElementById("agent-state").value;
    const team = teamQueues();
    const rows = byKind("agent").map((a) => a.data).filter((a) => a && typeof a === "object").filter((a) =>
      (!st || a.state === st) &&
      (!opts.teams.length || opts.teams.includes(a.team)) &&
      (!opts.queues.length || (a.queues || []).some((q) => opts.queues.includes(q))) &&
      (!text || [a.name, a.agent, a.team, a.reason, ...(a.queues || [])].some((v) => v && String(v).toLowerCase().includes(text))));
    const { key, dir } = state.sort;
    const val = (a) => key === "name" ? String(a.name || a.agent || "").toLowerCase()
      : key === "state" ? STATE_ORDER.indexOf(a.state)
      : key === "time" ? a.state_since_ms
      : key === "handled" ? -((a.today || {}).handled || 0)
      : String(a[key] || "").toLowerCase();
    rows.sort((a, b) => (val(a) < val(b) ? -dir : val(a) > val(b) ? dir : 0));
    return { rows, team };
  }

  function renderAgents() {
    const { rows } = agentRows();
    const tbody = document.querySelector("#agent-table tbody");
    const now = serverNow();
    tbody.replaceChildren(...rows.map((a) => el("tr", { "data-agent": a.agent },
      el("td", {}, a.name || a.agent),
      el("td", {}, el("span", { class: "chip st-" + a.state }, STATE_WORD[a.state] || a.state)),
      el("td", {}, dur(Math.max(0, now - a.state_since_ms) / 1000)),
      el("td", {}, a.reason || ""),
      el("td", {}, a.team || ""),
      el("td", {}, (a.today || {}).handled ?? 0))));
    document.getElementById("agent-count").textContent = rows.length + " agents";
  }

  function activeAlerts() {
    const out = [];
    for (const q of shownQueues()) {
      for (const a of q.data.alerts || []) {
        const ack = item("ack", q.key + "/" + a.alert);
        out.push({ queue: q.key, label: q.data.queue, ...a, ack: ack && ack.data.since_ms === a.since_ms ? ack.data : null });
      }
    }
    for (const s of byKind("source")) {
      for (const a of s.data.alerts || []) out.push({ queue: null, label: "source " + s.key, ...a, ack: null });
    }
    const rank = { crit: 0, warn: 1 };
    return out.sort((a, b) => rank[a.severity] - rank[b.severity] || a.since_ms - b.since_ms);
  }

  function renderTicker() {
    const alerts = activeAlerts();
    const ticker = document.getElementById("ticker");
    if (!alerts.length) {
      ticker.replaceChildren(el("span", { class: "muted" }, "\u2713 No alerts firing"));
      return;
    }
    ticker.replaceChildren(...alerts.map((a) => el("span", { class: "alert", "data-alert": a.alert, "data-queue": a.queue || "" },
      el("span", { class: "sev " + a.severity }, (a.severity === "crit" ? "\u2716 CRIT" : "\u25B2 WARN")),
      el("b", {}, a.label), " ", a.alert.replace(/_/g, " "), " ",
      el("span", { class: "muted" }, "since " + clockText(a.since_ms)),
      a.ack ? el("span", { class: "acked" }, "\u2714 ack by " + a.ack.by + " " + clockText(a.ack.at_ms))
        : state.role === "supervisor" && a.queue ? el("button", { class: "ack", type: "button",
          onclick: () => request({ type: "ack", queue: a.queue, alert: a.alert, since_ms: a.since_ms }) }, "Acknowledge") : null)));
  }

  // A beep for each critical alert not seen before (only once the user turned sound on).
  function noteAlerts(initial) {
    const firing = new Set();
    for (const a of activeAlerts()) {
      if (a.severity !== "crit") continue;
      const id = (a.queue || a.label) + "/" + a.alert + "/" + a.since_ms;
      firing.add(id);
      if (!state.seenCrit.has(id) && !initial && state.sound) beep();
    }
    state.seenCrit = firing; // only what fires now: the set never grows past that
  }

  let audio = null;
  function beep() {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.6);
  }

  function render() {
    const why = staleness();
    state.live = why === null; // once per draw: each tile's figures read it
    const body = document.body;
    body.classList.toggle("stale", why !== null && state.seq !== null);
    body.classList.toggle("connecting", state.seq === null);
    const status = document.getElementById("status");
    status.textContent = why === null ? "\u25CF LIVE" : "STALE";
    status.className = "status " + (why === null ? "live" : "stale");
    const banner = document.getElementById("banner");
    const partly = why === null ? staleSources(byKind("source")) : null;
    banner.hidden = why === null && partly === null;
    banner.textContent = why !== null ? "STALE: " + why + ". Figures are greyed out until data flows again."
      : partly !== null ? "\u25B2 " + partly + "; the queues it feeds may be behind." : "";
    // What a supervisor wants to know: how fresh the calls are, so the newest event's age
    // (sources report it); the workers' own refresh when no source is known yet.
    const lastEvent = Math.max(0, ...byKind("source").map((s) => s.data.last_event_ms));
    const newest = lastEvent || newestAsOf();
    document.getElementById("updated").textContent = newest
      ? (lastEvent ? "last event " : "updated ") + dur((serverNow() - newest) / 1000) + " ago" : "";
    document.getElementById("who").textContent = state.name ? state.name + " (" + state.role + ")" : "";
    document.getElementById("clock").textContent = clockText(serverNow());

    let queues = shownQueues();
    if (opts.rotateS > 0) queues = pageOf(queues);
    const tiles = document.getElementById("queues");
    tiles.replaceChildren(...(queues.length ? queues.map(safeTile) : [el("p", { class: "muted" }, "No queues yet.")]));
    renderAgents();
    renderTicker();
  }

  // Rotation (?rotate=N seconds): pages of queue tiles, then the agent grid.
  function pages() {
    return Math.max(1, Math.ceil(shownQueues().length / opts.perPage)) + 1;
  }
  function pageOf(queues) {
    return queues.slice(state.page * opts.perPage, (state.page + 1) * opts.perPage);
  }
  function applyView() {
    const body = document.body;
    const rotatingAgents = opts.rotateS > 0 && state.page === pages() - 1;
    const view = opts.rotateS > 0 ? (rotatingAgents ? "agents" : "queues") : opts.view;
    body.classList.toggle("view-queues", view === "queues");
    body.classList.toggle("view-agents", view === "agents");
  }

  // -- supervisor's threshold editor ----------------------------------------------------------

  const EDITABLE = ["oldest_wait_s", "service_level_ratio", "abandon_ratio", "callbacks_pending", "no_agent_available"];
  let editing = null;

  function openEditor(q) {
    editing = q.key;
    const d = q.data, form = document.getElementById("editor-form");
    document.getElementById("editor-queue").textContent = q.key;
    form.sl_threshold_s.defaultValue = form.sl_threshold_s.value = d.sl_threshold_s;
    form.sl_goal_pct.defaultValue = form.sl_goal_pct.value = +(d.sl_goal_ratio * 100).toFixed(1);
    const box = document.getElementById("editor-levels");
    box.replaceChildren(el("legend", {}, "Alert levels (warn / crit)"));
    for (const rule of EDITABLE) {
      const lv = (d.levels || {})[rule] || {};
      for (const which of ["warn", "crit"]) {
        box.append(el("label", {}, rule.replace(/_/g, " ") + " " + which + " (" + (lv.direction || "") + ")",
          el("input", { name: rule + "." + which, type: "number", step: "any", min: "0", value: lv[which] ?? "" })));
      }
    }
    document.getElementById("editor-result").textContent = "";
    document.getElementById("editor").showModal();
  }

  // Only the fields the supervisor changed are sent, so two supervisors editing one queue
  // keep each other's changes.
  async function saveEditor(ev) {
    ev.preventDefault();
    const form = document.getElementById("editor-form");
    const changes = {};
    for (const input of form.querySelectorAll("input")) {
      if (input.value === input.defaultValue) continue;
      const value = input.value === "" ? false : Number(input.value);
      if (input.name === "sl_goal_pct") changes.sl_goal_ratio = value / 100;
      else if (input.name.includes(".")) {
        const [rule, which] = input.name.split(".");
        ((changes.alerts = changes.alerts || {})[rule] = changes.alerts[rule] || {})[which] = value;
      } else changes[input.name] = value;
    }
    const result = document.getElementById("editor-result");
    if (!Object.keys(changes).length) {
      result.textContent = "Nothing changed.";
      return;
    }
    result.textContent = "Saving…";
    const reply = await request({ type: "set_thresholds", queue: editing, changes });
    if (reply.ok) {
      result.textContent = "Saved; the workers apply it within seconds.";
      setTimeout(() => document.getElementById("editor").close(), 800);
    } else {
      result.textContent = "Not saved: " + (reply.message || reply.code);
    }
  }

  // -- wiring ---------------------------------------------------------------------------------

  function init() {
    document.body.classList.toggle("tv", opts.tv);
    document.getElementById("editor-save").addEventListener("click", saveEditor);
    document.getElementById("agent-filter").addEventListener("input", () => { dirty = true; });
    document.getElementById("agent-state").addEventListener("change", () => { dirty = true; });
    for (const th of document.querySelectorAll("#agent-table th")) {
      th.addEventListener("click", () => {
        const key = th.dataset.sort;
        state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
        for (const other of document.querySelectorAll("#agent-table th")) other.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", state.sort.dir > 0 ? "ascending" : "descending");
        dirty = true;
      });
    }
    const sound = document.getElementById("sound");
    sound.addEventListener("click", () => {
      state.sound = !state.sound;
      sound.setAttribute("aria-pressed", String(state.sound));
      sound.textContent = state.sound ? "\u266A Sound on" : "\u266A Sound off";
      if (state.sound) beep(); // a click is the gesture browsers need before any sound
    });
    const fullscreen = () => document.documentElement.requestFullscreen && document.documentElement.requestFullscreen().catch(() => {});
    document.getElementById("fullscreen").addEventListener("click", fullscreen);
    if (opts.tv) document.addEventListener("click", fullscreen, { once: true });
    if (opts.sound) { // ?sound=1: armed by the first click, as browsers require
      document.addEventListener("click", () => { if (!state.sound) sound.click(); }, { once: true });
    }
    if (opts.rotateS > 0) {
      setInterval(() => { state.page = (state.page + 1) % pages(); applyView(); dirty = true; }, opts.rotateS * 1000);
    }
    applyView();
    // Figures that move with time alone (longest wait, time in state, ages) tick every second;
    // a connection gone silent, or a resync never answered, is closed and made again.
    setInterval(() => {
      dirty = true;
      const unanswered = state.resyncing && Date.now() - state.resyncAskedAt > 10000;
      if (ws && ws.readyState === WebSocket.OPEN && (silent() || unanswered)) ws.close();
    }, 1000);
    const frame = () => {
      requestAnimationFrame(frame); // first: a failing render must not stop the board
      if (!dirty) return;
      dirty = false;
      try {
        render();
      } catch (err) {
        document.body.classList.add("stale");
        const banner = document.getElementById("banner");
        banner.hidden = false;
        banner.textContent = "STALE: the page failed to draw the board (" + err.message + ").";
      }
    };
    requestAnimationFrame(frame);
    connect();
  }

  window.wallboard = { state, request, staleness };
  init();
})();
