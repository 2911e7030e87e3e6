// The operator's status page: plain JavaScript, no build step.
//
// It reads the console's HTTP API (docs/console.md) and follows its event stream
// (GET /api/events, server-sent events read through fetch so the token can travel in the
// Authorization header; resumed with Last-Event-ID after a drop). Every button sends the
// same command `exhibit ctl` would, through POST /api/<command>.
"use strict";

const TEXT = {
  en: {
    title: "Show console", connecting: "Connecting…", live: "Live", stale: "Waiting for the controller…",
    lost: "Controller lost", "lost-banner": "The controller does not answer: the wall plays on from its last state; commands wait until it is back.",
    token: "Operator token", "sign-in": "Sign in", "bad-token": "That token is not accepted.",
    show: "Show", program: "Program", cue: "Cue", next: "Next", "show-time": "Show time", state: "State",
    item: "Item", "visitor-language": "Visitors' language",
    go: "GO", back: "Back", pause: "Pause", resume: "Resume", blackout: "Blackout", "blackout-off": "Lights up",
    panic: "Panic", "panic-again": "Press again: PANIC", cues: "Cues", scene: "Scene", duration: "Duration",
    "goto": "Go to", wall: "Wall", nodes: "Nodes", node: "Node", role: "Role", seen: "Last heard",
    offset: "Offset µs", worst: "Worst ms", dropped: "Dropped", bundles: "Bundles", log: "Warnings",
    joined: "joined", loading: "loading", hung: "hung", lost_state: "lost", fault: "fault",
    absent: "not connected",
    playing: "playing", paused: "paused", waiting: "waiting for GO", panicked: "panic",
    main: "main", attract: "attract", standby: "standby", "ago": "s ago", sent: "sent", refused: "refused",
    "no-nodes": "No node has joined yet.", "no-log": "No warnings.",
  },
  zh: {
    title: "演出控制台", connecting: "正在连接…", live: "在线", stale: "等待控制器…",
    lost: "与控制器失去连接", "lost-banner": "控制器没有响应：投影墙按最后的状态继续播放；命令会在控制器恢复后执行。",
    token: "操作员令牌", "sign-in": "登录", "bad-token": "令牌无效。",
    show: "演出", program: "节目", cue: "场景提示", next: "下一个", "show-time": "演出时间", state: "状态",
    item: "展品", "visitor-language": "观众语言",
    go: "开始", back: "上一个", pause: "暂停", resume: "继续", blackout: "黑场", "blackout-off": "恢复画面",
    panic: "紧急停止", "panic-again": "再按一次：紧急停止", cues: "场景提示列表", scene: "场景", duration: "时长",
    "goto": "跳转", wall: "投影墙", nodes: "节点", node: "节点", role: "角色", seen: "最近消息",
    offset: "时钟偏差 µs", worst: "最慢帧 ms", dropped: "掉帧", bundles: "内容包", log: "警告",
    joined: "在线", loading: "加载中", hung: "卡住", lost_state: "离线", fault: "故障",
    absent: "未连接",
    playing: "播放中", paused: "已暂停", waiting: "等待开始", panicked: "紧急停止",
    main: "主节目", attract: "待机循环", standby: "闭馆画面", "ago": "秒前", sent: "已发送", refused: "被拒绝",
    "no-nodes": "还没有节点加入。", "no-log": "没有警告。",
  },
};

const STATE_KEY = { joined: "joined", loading: "loading", hung: "hung", lost: "lost_state" };
const $ = (sel) => document.querySelector(sel);
const view = {
  lang: localStorage.getItem("exhibit-lang") || ((navigator.language || "en").startsWith("zh") ? "zh" : "en"),
  token: localStorage.getItem("exhibit-token") || "",
  show: {}, cues: [], current: null, next: null, nodes: [], wall: null, log: [],
  lastEventId: null, lastBeat: 0, link: "connecting", blackout: false,
};

function t(key) { return (TEXT[view.lang] || TEXT.en)[key] ?? TEXT.en[key] ?? key; }

function applyText() {
  document.documentElement.lang = view.lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const b of document.querySelectorAll("[data-lang]")) b.classList.toggle("on", b.dataset.lang === view.lang);
  renderAll();
}

// ------------------------------------------------------------------ HTTP

async function api(path, options = {}) {
  const headers = { "Accept": "application/json", ...(options.headers || {}) };
  if (view.token) headers["Authorization"] = `Bearer ${view.token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { ...options, headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  if (res.status === 401) { askToken(); throw new Error(t("bad-token")); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || data.detail || `HTTP ${res.status}`);
  return data;
}

function askToken(message) {
  $("#login").hidden = false;
  $("#login-error").textContent = view.token ? t("bad-token") : (message || "");
}

async function command(name, body = {}) {
  const reply = $("#reply");
  reply.className = "reply";
  try {
    const data = await api(`api/${name}`, { method: "POST", body });
    reply.textContent = `${t(name) || name}: ${data.ignored ? data.ignored : t("sent")}`;
  } catch (err) {
    reply.className = "reply error";
    reply.textContent = `${t(name) || name}: ${t("refused")} — ${err.message}`;
  }
}

// ------------------------------------------------------------------ rendering

function text(el, value) { el.textContent = value == null || value === "" ? "–" : String(value); }

function renderShow() {
  const s = view.show;
  text($("#program"), s.program ? t(s.program) : null);
  text($("#cue"), s.cue);
  text($("#next"), view.next ? view.next.id : s.next_cue);
  // What the wall was asked to show (a kiosk's select and language).
  text($("#selected-item"), s.selected_item);
  text($("#visitor-language"), s.language);
  const state = s.panic ? "panicked" : s.waiting ? "waiting" : s.paused ? "paused" : s.program ? "playing" : null;
  text($("#play-state"), state ? t(state) : null);
  view.blackout = Number(s.blackout || 0) > 0.5 || s.blackout === true;
  const b = $("#blackout");
  b.textContent = view.blackout ? t("blackout-off") : t("blackout");
  b.classList.toggle("on", view.blackout);
}

// Show time between the console's clock beats (once a second): the controller time runs
// on from the last beat, and the anchor in force at that moment gives the show time.
function showTimeNow() {
  const c = view.clockRef;
  if (!c) return view.show.show_time;
  const controllerNow = c.controller_time + (performance.now() - c.at) / 1000;
  const a = view.anchor && controllerNow >= view.anchor[0] ? view.anchor : null;
  if (a) return a[1] + (controllerNow - a[0]) * a[2];
  return c.show_time + (controllerNow - c.controller_time) * (c.rate ?? 1);
}

function renderClock() {
  const st = showTimeNow();
  text($("#show-time"), typeof st === "number" ? st.toFixed(1) + " s" : null);
}

function renderCues() {
  const body = $("#cue-table tbody");
  body.replaceChildren();
  for (const c of view.cues) {
    const tr = document.createElement("tr");
    if (view.current != null && c.index === view.current.index) tr.className = "current";
    else if (view.next != null && c.index === view.next.index) tr.className = "next";
    for (const v of [c.index, c.id, c.scene, c.duration != null ? `${c.duration} s` : ""]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    tr.children[3].className = "num";
    const td = document.createElement("td");
    const btn = document.createElement("button");
    btn.type = "button";
    btn.textContent = t("goto");
    btn.addEventListener("click", () => command("goto", { cue: c.id }));
    td.append(btn);
    tr.append(td);
    body.append(tr);
  }
}

function health(node) {
  if (!node) return "absent";              // a display of the venue that never joined
  if (node.extra && node.extra.fault) return "fault";
  return node.state;
}

// A node's cue cell: the cue it plays, then the item and language it draws, if any.
function drawing(n) {
  const cue = n.cue || (n.extra && n.extra.cue) || "";
  const lang = n.language ? `(${n.language})` : "";
  const shows = [n.item || "", lang].filter(Boolean).join(" ");
  return [cue, shows].filter(Boolean).join(" · ");
}

// A node's bundles: each id with the version it plays, or how its fetch from the
// controller stands (a percentage while it arrives; refused/failed with the reason).
function bundlesCell(n) {
  const transfer = n.transfer || {};
  const ids = new Set([...Object.keys(n.bundles || {}), ...Object.keys(transfer)]);
  return [...ids].sort().map((k) => {
    const f = transfer[k];
    if (f && f.state !== "installed") {
      const part = f.size ? ` ${Math.floor((100 * (f.done || 0)) / f.size)}%` : "";
      return `${k} ${f.state}${f.state === "fetching" ? part : ""}`;
    }
    const v = (n.bundles || {})[k];
    return `${k} ${typeof v === "object" ? (v.version || v.state || "") : (v || (f && f.version) || "")}`;
  }).join(", ");
}

function renderNodes() {
  const body = $("#node-table tbody");
  body.replaceChildren();
  if (!view.nodes.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 11;
    td.className = "muted";
    td.textContent = t("no-nodes");
    tr.append(td);
    body.append(tr);
  }
  for (const n of view.nodes) {
    const tr = document.createElement("tr");
    tr.dataset.node = n.id;
    const cells = [
      n.id, n.role, null, n.last_seen_s != null ? `${Number(n.last_seen_s).toFixed(1)} ${t("ago")}` : "",
      drawing(n), n.show_time != null ? Number(n.show_time).toFixed(2) : "",
      n.offset_us != null ? Math.round(n.offset_us) : "", n.fps != null ? Number(n.fps).toFixed(1) : "",
      n.frame_ms_worst != null ? Number(n.frame_ms_worst).toFixed(1) : "",
      n.frames_dropped != null ? n.frames_dropped : "",
      bundlesCell(n),
    ];
    cells.forEach((v, i) => {
      const td = document.createElement("td");
      if (i === 2) {
        const badge = document.createElement("span");
        const h = health(n);
        badge.className = `badge ${h}`;
        badge.dataset.state = n.state;
        badge.textContent = h === "fault" ? t("fault") : t(STATE_KEY[n.state] || n.state);
        if (h === "fault") badge.title = n.extra.fault;
        td.append(badge);
      } else {
        td.textContent = v;
        if (i === 10) {           // why a bundle was refused or failed, on hover
          const why = Object.entries(n.transfer || {}).filter(([, f]) => f.error)
            .map(([k, f]) => `${k}: ${f.error}`);
          if (why.length) { td.title = why.join("\n"); td.classList.add("warn"); }
        }
      }
      if ([3, 5, 6, 7, 8, 9].includes(i)) td.className = "num";
      tr.append(td);
    });
    body.append(tr);
  }
}

const SVG = "http://www.w3.org/2000/svg";
function renderWall() {
  const svg = $("#wall-svg");
  const w = view.wall;
  svg.replaceChildren();
  if (!w || !w.width) return;
  const pad = 0.04 * Math.max(w.width, w.height);
  svg.setAttribute("viewBox", `${-pad} ${-pad} ${w.width + 2 * pad} ${w.height + 2 * pad}`);
  const scale = w.width / 600;     // text and strokes sized for ~600 px of wall
  const outline = document.createElementNS(SVG, "rect");
  Object.entries({ x: 0, y: 0, width: w.width, height: w.height, fill: "none", stroke: "#666",
    "stroke-width": 2 * scale, "stroke-dasharray": `${6 * scale} ${4 * scale}` })
    .forEach(([k, v]) => outline.setAttribute(k, v));
  svg.append(outline);
  const byId = Object.fromEntries(view.nodes.map((n) => [n.id, n]));
  for (const d of w.displays || []) {
    const [x, y, dw, dh] = d.rect;
    const node = byId[d.id];
    const h = health(node);
    const g = document.createElementNS(SVG, "g");
    g.dataset.display = d.id;
    g.dataset.health = h;
    const r = document.createElementNS(SVG, "rect");
    Object.entries({ x, y: w.height - y - dh, width: dw, height: dh,
      "fill-opacity": 0.55, stroke: d.colour || "#ccc", "stroke-width": 3 * scale })
      .forEach(([k, v]) => r.setAttribute(k, v));
    r.style.fill = `var(--${h})`;        // (a presentation attribute cannot use var())
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("text-anchor", "middle");
    label.setAttribute("font-size", 15 * scale);
    label.setAttribute("stroke-width", 3 * scale);
    const fps = node && node.fps != null && node.role === "projector"
      ? ` · ${Number(node.fps).toFixed(0)} fps` : "";
    const lines = [d.id, `${h === "fault" ? t("fault") : t(STATE_KEY[h] || h)}${fps}`];
    lines.forEach((line, i) => {
      const span = document.createElementNS(SVG, "tspan");
      span.setAttribute("x", x + dw / 2);
      span.setAttribute("y", w.height - y - dh / 2 + (i - 0.35) * 19 * scale);
      span.textContent = line;
      label.append(span);
    });
    g.append(r, label);
    svg.append(g);
  }
}

function renderLog() {
  const list = $("#log-list");
  list.replaceChildren();
  if (!view.log.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = t("no-log");
    list.append(li);
  }
  for (const line of view.log.slice(-50).reverse()) {
    const li = document.createElement("li");
    li.className = String(line.level || "").toLowerCase();
    const ts = line.ts ? String(line.ts).slice(11, 19) + " " : "";
    li.textContent = `${ts}${line.msg || line.message || ""}`;
    list.append(li);
  }
}

function renderLink() {
  const el = $("#link");
  el.className = `link ${view.link}`;
  $("#link-text").textContent = t(view.link === "live" ? "live" : view.link === "stale" ? "stale" : view.link === "lost" ? "lost" : "connecting");
  const banner = $("#banner");
  banner.hidden = view.link !== "lost";
  banner.textContent = t("lost-banner");
}

function renderAll() { renderShow(); renderClock(); renderCues(); renderNodes(); renderWall(); renderLog(); renderLink(); }

// ------------------------------------------------------------------ data in

function takeShow(show) {
  if (!show) return;
  Object.assign(view.show, show);
  if (show.current !== undefined) view.current = show.current;
  if (show.next !== undefined) view.next = show.next;
  renderShow(); renderClock(); renderCues();
}

function takeStatus(st) {
  if (!st) return;
  // Projectors and kiosks; operator desks (this page's own link among them) are not nodes.
  if (Array.isArray(st.nodes)) view.nodes = st.nodes.filter((n) => n.role !== "operator");
  if (st.show) takeShow(st.show);
  if (typeof st.show_time === "number") view.show.show_time = st.show_time;
  renderNodes(); renderWall(); renderClock();
}

function takeCues(data) {
  view.cues = data.cues || [];
  view.cuesLoop = Boolean(data.loop);
  view.current = data.current ?? view.current;
  view.next = data.next ?? view.next;
  renderCues();
}

function onEvent(type, data) {
  view.lastBeat = performance.now();
  // What arrived, by type (a test or a curious operator can read window.__exhibit).
  window.__exhibit = window.__exhibit || {};
  window.__exhibit[type] = (window.__exhibit[type] || 0) + 1;
  if (view.link !== "live") { view.link = "live"; renderLink(); }
  if (type === "clock") {
    if (typeof data.show_time === "number") {
      view.show.show_time = data.show_time;
      view.clockRef = { ...data, at: performance.now() };
      // The clock's own anchor is the one in force: a later one from a key update wins
      // only from its controller time on.
      if (view.anchor && view.anchor[0] <= data.controller_time) view.anchor = null;
    }
    renderClock();
  } else if (type === "status") {
    takeStatus(data);
  } else if (type === "state") {
    if (data.key === "cue" && data.value) {
      // The cue key names what plays now; the next one follows it in the list (the
      // main program's list: an attract or standby cue leaves the list as it is).
      view.show.cue = data.value.id;
      if (!data.value.program || data.value.program === "main") {
        const i = data.value.index;
        view.current = { index: i, id: data.value.id };
        const n = view.cues.length;
        view.next = n && (i + 1 < n || view.cuesLoop) ? view.cues[(i + 1) % n] : null;
        view.show.next_cue = view.next ? view.next.id : null;
      }
      renderCues();
    } else if (data.key === "program" && data.value) {
      view.show.program = data.value.name;
    } else if (data.key === "anchor" && Array.isArray(data.value)) {
      view.anchor = data.value;
    } else if (data.key === "blackout" && data.value) {
      view.show.blackout = data.value.level;
    } else if (data.key === "selected_item" && data.value) {
      view.show.selected_item = data.value.item;
    } else if (data.key === "language" && typeof data.value === "string") {
      view.show.language = data.value;
    }
    renderShow();
  } else if (type === "log") {
    view.log.push(data);
    view.log = view.log.slice(-200);
    renderLog();
  } else if (type === "reset") {
    loadAll();
  }
}

async function refreshCues() {
  try { takeCues(await api("api/cues")); } catch (err) { /* the stream says if we are cut off */ }
}

async function loadAll() {
  try {
    const [show, cues, nodes] = await Promise.all([api("api/show"), api("api/cues"), api("api/nodes")]);
    takeShow(show); takeCues(cues); takeStatus(nodes);
    $("#venue").textContent = show.venue || "";
    // The languages the venue offers its operators ([console] languages).
    const offered = Array.isArray(show.languages) && show.languages.length ? show.languages : ["en", "zh"];
    for (const b of document.querySelectorAll("[data-lang]")) b.hidden = !offered.includes(b.dataset.lang);
    if (!offered.includes(view.lang)) { view.lang = offered[0]; applyText(); }
    view.wall = await api("api/wall").catch(() => null);
    const log = await api("api/log").catch(() => null);
    if (log && Array.isArray(log.lines)) view.log = log.lines;
    $("#login").hidden = true;
    renderAll();
    return true;
  } catch (err) {
    return false;
  }
}

// Server-sent events over fetch: EventSource cannot send an Authorization header.
async function follow() {
  let backoff = 500;
  for (;;) {
    try {
      const headers = { "Accept": "text/event-stream" };
      if (view.token) headers["Authorization"] = `Bearer ${view.token}`;
      if (view.lastEventId != null) headers["Last-Event-ID"] = view.lastEventId;
      const res = await fetch("api/events", { headers, cache: "no-store" });
      if (res.status === 401) { askToken(); await sleep(2000); continue; }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      backoff = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut).replace(/^\r?\n\r?\n/, "");
          parseBlock(block);
        }
      }
    } catch (err) {
      /* dropped: reconnect below */
    }
    if (view.link === "live") { view.link = "stale"; renderLink(); }
    await sleep(backoff);
    backoff = Math.min(backoff * 2, 5000);
  }
}

function parseBlock(block) {
  let type = "message", id = null;
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) { view.lastBeat = performance.now(); continue; }
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  if (id !== null) view.lastEventId = id;
  if (!data.length) return;
  try { onEvent(type, JSON.parse(data.join("\n"))); } catch (err) { /* a bad event is skipped */ }
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

// The controller is lost when the stream has been silent for 3 s (a clock beat comes
// every second).
setInterval(renderClock, 100);
setInterval(() => {
  const silent = performance.now() - view.lastBeat;
  const state = view.lastBeat === 0 ? view.link : silent > 3000 ? "lost" : silent > 1500 ? "stale" : "live";
  if (state !== view.link) { view.link = state; renderLink(); }
}, 250);

// ------------------------------------------------------------------ controls

for (const b of document.querySelectorAll("[data-cmd]")) {
  b.addEventListener("click", () => command(b.dataset.cmd));
}
$("#blackout").addEventListener("click", () => command("blackout", { on: !view.blackout }));
let panicArmed = 0;
$("#panic").addEventListener("click", () => {
  const b = $("#panic");
  if (panicArmed && performance.now() - panicArmed < 3000) {
    panicArmed = 0;
    b.classList.remove("armed");
    b.textContent = t("panic");
    command("panic");
    return;
  }
  panicArmed = performance.now();        // QLab-style: a second press within 3 s panics
  b.classList.add("armed");
  b.textContent = t("panic-again");
  setTimeout(() => {
    if (panicArmed && performance.now() - panicArmed >= 3000) {
      panicArmed = 0;
      b.classList.remove("armed");
      b.textContent = t("panic");
    }
  }, 3100);
});
for (const b of document.querySelectorAll("[data-lang]")) {
  b.addEventListener("click", () => {
    view.lang = b.dataset.lang;
    localStorage.setItem("exhibit-lang", view.lang);
    applyText();
  });
}
$("#login").addEventListener("submit", async (e) => {
  e.preventDefault();
  view.token = $("#token").value.trim();
  localStorage.setItem("exhibit-token", view.token);
  if (await loadAll()) $("#login").hidden = true;
});

applyText();
loadAll();
follow();
