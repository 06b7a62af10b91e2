// redswitch dashboard. Read-only websocket for everyone; operator actions
// go to the head node's HTTP API with a bearer token, never the websocket.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const WINDOW_MS = 60000;      // the rate strip shows the last minute
  const KEEP_MS = 90000;        // samples kept beyond it for smooth scrolling
  const MAX_LOG = 200;
  const TOKEN_KEY = "redswitch.operatorToken";
  const PHASE_COLOURS = ["#e5261f", "#e3b341", "#4c9aff", "#3fb950", "#b07cff", "#39c5cf"];

  const state = {
    view: null,
    samples: [],  // {t: ms (server clock), rate}
    skew: 0,      // server clock minus ours, ms, from the latest message
    token: sessionStorage.getItem(TOKEN_KEY) || "",
  };

  // ---------- small helpers ----------
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k === "style") Object.assign(e.style, v); // CSSOM, allowed by the CSP

      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const k of kids) if (k != null) e.append(k);
    return e;
  }
  const serverNow = () => Date.now() + state.skew;
  const ms = (s) => (s ? Date.parse(s) : NaN);
  function seconds(x) { return (Math.round(x * 10) / 10).toFixed(1) + " s"; }
  function clock(t) {
    const d = new Date(t);
    if (isNaN(d)) return "";
    const p = (n, w = 2) => String(n).padStart(w, "0");
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }
  function bytes(n) {
    if (n == null) return "–";
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " kB";
    return (n / 1048576).toFixed(1) + " MB";
  }
  function commits(n) { return n === 1 ? "1 commit lost" : `${n} commits lost`; }
  function noteTime(t) {
    // Estimate the server clock from messages so durations counted on this
    // device agree with the head node's timestamps.
    const s = ms(t);
    if (!isNaN(s)) state.skew = s - Date.now();
  }

  // ---------- websocket ----------
  let backoff = 500;
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws`);
    setConn("connecting", "connecting");
    ws.onopen = () => {
      backoff = 500;
      setConn("live", "live");
      // The server replays the view, recent lines and samples: start clean.
      state.samples = [];
      $("log").replaceChildren();
    };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      if (m.type === "view" && m.view) renderView(m.view);
      else if (m.type === "line" && m.line) addLine(m.line);
      else if (m.type === "rate" && m.sample) addSample(m.sample);
    };
    ws.onclose = () => {
      setConn("down", "reconnecting…");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
    ws.onerror = () => ws.close();
  }
  function setConn(s, text) { $("conn").dataset.state = s; $("conn-text").textContent = text; }

  // ---------- view ----------
  function renderView(v) {
    state.view = v;
    renderCluster(v.cluster || {});
    renderJournal(v.journal_error || "");
    renderNodes(v.nodes || []);
    renderLast(v.failovers || [], v.probe || {});
    renderHistory(v.failovers || [], summaryOf(v), v.reference || {});
    renderOutages(v.outages || []);
    renderProbe(v.probe || {});
    fillOperatorTargets(v.nodes || []);
    drawStrip();
  }

  function renderCluster(c) {
    const box = $("cluster");
    box.replaceChildren(
      "cluster ", el("b", { text: c.scope || "?" }),
      " · leader ", el("b", { text: c.leader || "none" }));
    const t = c.timings || {};
    const parts = [];
    if (t.name) parts.push(`${t.name} timings`);
    if (t.ttl) parts.push(`ttl ${t.ttl} s · loop ${t.loop_wait} s · retry ${t.retry_timeout} s`);
    if (t.patroni_version) parts.push(`Patroni ${t.patroni_version}`);
    $("timings").textContent = parts.join(" · ");
    const warn = $("timing-warning");
    const clamped = (t.effective_ttl && t.effective_ttl !== t.ttl) ||
      (t.effective_retry_timeout && t.effective_retry_timeout !== t.retry_timeout);
    warn.hidden = !clamped;
    if (clamped) {
      warn.textContent = `Patroni ${t.patroni_version || ""} runs with ttl ${t.effective_ttl} s and retry_timeout ` +
        `${t.effective_retry_timeout} s, not the requested ${t.ttl}/${t.retry_timeout}: failovers will be slower.`;
    }
  }

  // A failed journal records nothing more: say so until a restart.
  function renderJournal(err) {
    const b = $("journal-error");
    b.hidden = !err;
    b.textContent = err ? `${err}. Nothing more is recorded: free or fix the disk, then restart the head node.` : "";
  }

  const cards = new Map(); // node name -> {col, parts}
  function renderNodes(nodes) {
    const box = $("nodes");
    const seen = new Set();
    for (const n of nodes) {
      seen.add(n.name);
      let c = cards.get(n.name);
      if (!c) { c = makeCard(n.name); cards.set(n.name, c); }
      updateCard(c, n);
      box.append(c.col); // keeps the head node's order
    }
    for (const [name, c] of cards) {
      if (!seen.has(name)) { c.col.remove(); cards.delete(name); }
    }
  }
  function makeCard(name) {
    const p = {};
    p.name = el("span", { class: "node-name", text: name });
    p.power = el("span", { class: "power" });
    p.role = el("div", { class: "role" });
    p.state = el("div", { class: "state" });
    p.tl = el("dd"); p.lag = el("dd"); p.agent = el("dd");
    p.powerBtn = el("button", { type: "button", class: "op-only power-btn" });
    p.powerBtn.addEventListener("click", () => {
      const on = p.powerBtn.dataset.on !== "true";
      act("POST", `/api/v1/nodes/${encodeURIComponent(name)}/power`, { on }, `power ${on ? "on" : "off"} ${name}`);
    });
    p.card = el("article", { class: "node", "data-name": name },
      el("div", { class: "node-head" }, p.name, p.power),
      p.role, p.state,
      el("dl", { class: "facts" },
        el("div", {}, el("dt", { text: "timeline" }), p.tl),
        el("div", {}, el("dt", { text: "lag" }), p.lag),
        el("div", {}, el("dt", { text: "agent" }), p.agent)),
      p.powerBtn);
    p.lever = el("span", { class: "lever" });
    p.swLabel = el("span", { class: "switch-label" });
    p.sw = el("button", { type: "button", class: "switch", "aria-label": "switch" },
      el("span", { class: "plate" }, p.lever), p.swLabel);
    p.sw.addEventListener("click", () => {
      if (!document.body.classList.contains("operator") || !p.sw.dataset.id) return;
      const on = p.sw.dataset.on !== "true";
      act("POST", `/api/v1/switches/${encodeURIComponent(p.sw.dataset.id)}`, { on }, `switch ${p.sw.dataset.id} ${on ? "on" : "off"}`);
    });
    const col = el("div", { class: "node-col" }, p.card, p.sw);
    return { col, p };
  }
  function updateCard(c, n) {
    const p = c.p;
    const role = n.role || "unknown";
    p.card.dataset.role = role;
    const on = n.power !== "off";
    p.power.dataset.on = String(on);
    p.power.textContent = on ? "power on" : "power off";
    p.role.textContent = n.sync ? `${role} (sync)` : role;
    p.state.textContent = n.state || "";
    p.tl.textContent = n.timeline ? String(n.timeline) : "–";
    p.lag.textContent = bytes(n.lag_bytes);
    p.agent.textContent = n.agent ? "up" : "silent";
    p.powerBtn.dataset.on = String(on);
    p.powerBtn.textContent = on ? `Power off ${n.name}` : `Power on ${n.name}`;
    if (n.switch) {
      p.sw.hidden = false;
      p.sw.dataset.id = String(n.switch.id);
      p.sw.dataset.on = String(!!n.switch.on);
      p.swLabel.replaceChildren(`switch ${n.switch.id}`, el("br"), el("b", { text: n.switch.on ? "ON" : "OFF" }));
      p.sw.setAttribute("aria-label", `switch ${n.switch.id} is ${n.switch.on ? "on" : "off"}`);
    } else {
      p.sw.hidden = true;
      delete p.sw.dataset.id;
    }
  }

  function lastFailover(list) {
    let best = null;
    for (const f of list) if (!best || ms(f.started_at) > ms(best.started_at)) best = f;
    return best;
  }
  function renderLast(list, probe) {
    const f = lastFailover(list);
    const big = $("last-big"), sub = $("last-sub");
    if (!f) {
      big.textContent = "no failover yet";
      sub.textContent = "flip a red switch to cut a node's power";
      $("phases").replaceChildren(); $("phase-legend").replaceChildren(); $("phase-note").textContent = "";
      return;
    }
    const lost = f.lost_commits || 0;
    big.replaceChildren(el("span", { class: "dur", text: seconds(f.duration_s) }), " · ",
      el("span", { class: "lost" + (lost > 0 ? " lost-bad" : ""), text: commits(lost) }));
    const who = f.old_primary || f.new_primary ? `${f.old_primary || "?"} → ${f.new_primary || "?"}` : "";
    sub.textContent = [who, f.cause, clock(ms(f.started_at))].filter(Boolean).join(" · ");
    renderPhases(f);
  }
  function renderPhases(f) {
    const bar = $("phases"), legend = $("phase-legend"), note = $("phase-note");
    bar.replaceChildren(); legend.replaceChildren(); note.textContent = "";
    const total = f.duration_s || 0;
    if (!total) return;
    // The bar stacks the phases in time order up to the first commit.
    // Patroni publishes the new role ("promoted") about a second after the
    // first commit: it delayed nothing, so it is told apart, not stacked.
    const all = f.phases || [];
    const shown = all.filter((p) => p.name !== "promoted" && (p.offset_s || 0) <= total)
      .sort((a, b) => (a.offset_s || 0) - (b.offset_s || 0));
    const segs = [];
    let prev = 0;
    for (const p of shown) {
      const end = Math.max(prev, p.offset_s || 0);
      segs.push({ name: p.name, len: end - prev });
      prev = end;
    }
    if (total - prev > 0.05) segs.push({ name: "first commit", len: total - prev });
    segs.forEach((s, i) => {
      const colour = PHASE_COLOURS[i % PHASE_COLOURS.length];
      bar.append(el("span", { style: { width: `${(100 * s.len) / total}%`, background: colour }, title: s.name }));
      legend.append(el("li", {}, el("i", { style: { background: colour } }), `${s.name} `, el("b", { text: seconds(s.len) })));
    });
    const notes = [];
    if (f.rig_share_s != null) notes.push(`writable → first commit (the rig's own share): ${Math.round(f.rig_share_s * 1000)} ms`);
    let published = f.role_published_s;
    if (published == null) published = (all.find((p) => p.name === "promoted") || {}).offset_s;
    if (published != null) {
      const d = published - total;
      notes.push(d >= 0 ? `Patroni published the role +${d.toFixed(1)} s after the first commit`
        : `Patroni published the role ${(-d).toFixed(1)} s before the first commit`);
    }
    note.textContent = notes.join(" · ");
  }

  // The view carries the latest failovers in full and a summary of all of
  // them (count, percentiles, histogram buckets, losses); a view without
  // one (an older head node) is summarised here from its list.
  function summaryOf(v) {
    const list = v.failovers || [];
    const s = v.summary;
    if (s && (s.count || 0) >= list.length) return s;
    const durs = list.map((f) => f.duration_s || 0).sort((a, b) => a - b);
    const out = { count: durs.length, with_loss: 0, lost_commits: 0, buckets: [] };
    if (!durs.length) return out;
    const rank = (p) => durs[Math.max(0, Math.ceil(p * durs.length) - 1)];
    Object.assign(out, { min_s: durs[0], max_s: durs[durs.length - 1], p50_s: rank(0.5), p90_s: rank(0.9), p99_s: rank(0.99),
      mean_s: durs.reduce((a, b) => a + b, 0) / durs.length });
    const byS = new Map();
    for (const f of list) {
      const b = Math.min(120, Math.max(0, Math.floor(f.duration_s || 0)));
      const x = byS.get(b) || { s: b, n: 0, lost: 0 };
      x.n++;
      if ((f.lost_commits || 0) > 0) { x.lost++; out.with_loss++; out.lost_commits += f.lost_commits; }
      byS.set(b, x);
    }
    out.buckets = [...byS.values()].sort((a, b) => a.s - b.s);
    return out;
  }

  // Every outage, failover or not, with its cause; one of unknown cause
  // shows the evidence the head node gathered instead of a guess.
  function renderOutages(list) {
    const sorted = [...list].sort((a, b) => ms(b.started_at) - ms(a.started_at));
    const body = $("outages").tBodies[0];
    body.replaceChildren(...sorted.map((o) => {
      const cause = el("td", { class: "cause cause-" + (o.cause_kind || "unknown"), text: o.cause || "unknown" });
      if ((o.evidence || []).length) {
        cause.append(el("details", { class: "evidence" },
          el("summary", { text: "evidence" }),
          el("ul", {}, ...o.evidence.map((line) => el("li", { text: line })))));
      }
      return el("tr", { "data-cause": o.cause_kind || "unknown" },
        el("td", { text: (o.id || "").replace("outage-", "") }),
        el("td", { text: clock(ms(o.started_at)) }),
        cause,
        el("td", { text: `${o.from || "?"} → ${o.to || "?"}` + (o.failover ? "" : " (no failover)") }),
        el("td", { class: "num", text: seconds(o.duration_s || 0) }));
    }));
    $("outages-none").hidden = list.length > 0;
    const last = sorted[0];
    $("out-count").textContent = last ? `(${(last.id || "").replace("outage-", "")})` : "";
  }

  function renderHistory(list, sum, ref) {
    const sorted = [...list].sort((a, b) => ms(b.started_at) - ms(a.started_at));
    const total = Math.max(sum.count || 0, list.length);
    const body = $("history").tBodies[0];
    body.replaceChildren(...sorted.map((f, i) => el("tr", {},
      el("td", { text: String(total - i) }),
      el("td", { text: clock(ms(f.started_at)) }),
      el("td", { class: "cause", text: f.cause || "" }),
      el("td", { text: `${f.old_primary || "?"} → ${f.new_primary || "?"}` }),
      el("td", { class: "num", text: seconds(f.duration_s || 0) }),
      el("td", { class: "num" + ((f.lost_commits || 0) > 0 ? " bad" : ""), text: String(f.lost_commits || 0) }))));
    $("fo-count").textContent = total ? `(${total})` : "";
    const note = $("history-note");
    note.hidden = total <= list.length;
    note.textContent = note.hidden ? "" : `the latest ${list.length} of ${total}; the histogram and figures count them all`;
    renderStats(sum);
    drawHistogram(sum, ref);
  }

  function renderStats(sum) {
    const box = $("hist-stats");
    if (!sum.count) { box.replaceChildren(); return; }
    const fig = (label, v) => [`${label} `, el("b", { text: seconds(v || 0) })];
    const parts = [...fig("median", sum.p50_s), " · ", ...fig("p90", sum.p90_s), " · ", ...fig("p99", sum.p99_s),
      " · ", ...fig("longest", sum.max_s)];
    const lost = sum.lost_commits || 0;
    parts.push(" · ", el("b", { class: lost > 0 ? "bad" : "", text: commits(lost) }));
    if (sum.with_loss) parts.push(` in ${sum.with_loss} failover${sum.with_loss === 1 ? "" : "s"}`);
    box.replaceChildren(...parts);
  }

  function renderProbe(p) {
    $("rate-now").textContent = p.rate != null ? `${Math.round(p.rate)} now` : "";
  }

  // ---------- log and samples ----------
  function addLine(l) {
    const log = $("log");
    const li = el("li", { "data-kind": l.kind || "info" },
      el("time", { datetime: l.at || "", text: clock(ms(l.at)) }), l.text || "");
    log.prepend(li);
    while (log.children.length > MAX_LOG) log.lastElementChild.remove();
  }
  function addSample(s) {
    const t = ms(s.t);
    if (isNaN(t)) return;
    noteTime(s.t);
    state.samples.push({ t, rate: Number(s.rate) || 0 });
    const cut = t - KEEP_MS;
    while (state.samples.length && state.samples[0].t < cut) state.samples.shift();
  }

  // ---------- canvases ----------
  function fitCanvas(c) {
    const r = c.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const ctx = c.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx, w: r.width, h: r.height };
  }

  function drawStrip() {
    const { ctx, w, h } = fitCanvas($("strip"));
    ctx.clearRect(0, 0, w, h);
    const left = 44, bottom = h - 20, top = 8, right = w - 8;
    const now = serverNow(), from = now - WINDOW_MS;
    const x = (t) => left + ((t - from) / WINDOW_MS) * (right - left);
    const pts = state.samples.filter((s) => s.t >= from - 2000);
    const max = Math.max(10, ...pts.map((s) => s.rate)) * 1.15;
    const y = (r) => bottom - (r / max) * (bottom - top);

    ctx.font = "12px system-ui, sans-serif";
    ctx.strokeStyle = "#2a3340"; ctx.fillStyle = "#93a1b0"; ctx.lineWidth = 1;
    for (const frac of [0, 0.5, 1]) {
      const r = max / 1.15 * frac, yy = Math.round(y(r)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, yy); ctx.lineTo(right, yy); ctx.stroke();
      ctx.textAlign = "right"; ctx.fillText(String(Math.round(r)), left - 6, yy + 4);
    }
    ctx.textAlign = "center";
    for (const s of [60, 45, 30, 15, 0]) {
      ctx.textAlign = s === 60 ? "left" : s === 0 ? "right" : "center";
      ctx.fillText(s ? `−${s} s` : "now", x(now - s * 1000), h - 4);
    }

    // Outages: a sample with no commits paints red back to the one before it.
    ctx.fillStyle = "rgba(229,38,31,0.55)";
    for (let i = 0; i < pts.length; i++) {
      if (pts[i].rate > 0) continue;
      const a = i > 0 ? pts[i - 1].t : pts[i].t - 250;
      ctx.fillRect(x(a), top, Math.max(2, x(pts[i].t) - x(a)), bottom - top);
    }
    const p = state.view && state.view.probe;
    if (p && p.outage_in_progress) {
      const since = ms(p.outage_since);
      const a = isNaN(since) ? now : Math.max(from, since);
      const last = pts.length ? pts[pts.length - 1].t : a;
      ctx.fillRect(x(Math.max(a, last)), top, Math.max(2, x(now) - x(Math.max(a, last))), bottom - top);
    }

    // The rate itself, broken where there are no commits.
    ctx.strokeStyle = "#3fb950"; ctx.fillStyle = "rgba(63,185,80,0.18)"; ctx.lineWidth = 2.5;
    let run = [];
    const flush = () => {
      if (run.length > 1) {
        ctx.beginPath(); ctx.moveTo(x(run[0].t), bottom);
        for (const s of run) ctx.lineTo(x(s.t), y(s.rate));
        ctx.lineTo(x(run[run.length - 1].t), bottom); ctx.closePath(); ctx.fill();
        ctx.beginPath();
        run.forEach((s, i) => (i ? ctx.lineTo(x(s.t), y(s.rate)) : ctx.moveTo(x(s.t), y(s.rate))));
        ctx.stroke();
      }
      run = [];
    };
    for (let i = 0; i < pts.length; i++) {
      if (pts[i].rate <= 0 || (i > 0 && pts[i].t - pts[i - 1].t > 2000)) flush();
      if (pts[i].rate > 0) run.push(pts[i]);
    }
    flush();
  }

  function drawHistogram(sum, ref) {
    const { ctx, w, h } = fitCanvas($("hist"));
    ctx.clearRect(0, 0, w, h);
    const aggr = ref.aggressive_s || 10, def = ref.default_s || 40;
    const buckets = sum.buckets || [];
    const maxX = Math.ceil(Math.max(def + 5, ...buckets.map((b) => b.s + 1)));
    const left = 30, right = w - 8, top = 22, bottom = h - 20;
    const x = (s) => left + (s / maxX) * (right - left);
    const bins = new Array(maxX).fill(0), bad = new Array(maxX).fill(false);
    buckets.forEach((b) => {
      const i = Math.min(maxX - 1, Math.max(0, b.s));
      bins[i] += b.n || 0;
      if ((b.lost || 0) > 0) bad[i] = true;
    });
    const top1 = Math.max(1, ...bins);
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = "#93a1b0"; ctx.textAlign = "center";
    for (let s = 0; s <= maxX; s += maxX > 60 ? 20 : 10) ctx.fillText(`${s} s`, x(s), h - 4);
    ctx.textAlign = "right"; ctx.fillText(String(top1), left - 6, top + 8);
    bins.forEach((n, i) => {
      if (!n) return;
      const bh = (n / top1) * (bottom - top);
      ctx.fillStyle = bad[i] ? "#ff5a4f" : i < aggr ? "#3fb950" : "#e3b341";
      ctx.fillRect(x(i) + 1, bottom - bh, Math.max(2, x(i + 1) - x(i) - 2), bh);
    });
    ctx.strokeStyle = "#2a3340"; ctx.beginPath(); ctx.moveTo(left, bottom + 0.5); ctx.lineTo(right, bottom + 0.5); ctx.stroke();
    const mark = (s, colour, label, align) => {
      ctx.strokeStyle = colour; ctx.setLineDash([5, 4]); ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(x(s), top - 4); ctx.lineTo(x(s), bottom); ctx.stroke(); ctx.setLineDash([]);
      ctx.fillStyle = colour; ctx.textAlign = align; ctx.font = "13px system-ui, sans-serif";
      ctx.fillText(label, x(s) + (align === "left" ? 4 : -4), top - 8);
    };
    const narrow = w < 560;
    mark(aggr, "#3fb950", narrow ? `< ${aggr} s` : `aggressive: under ${aggr} s`, "left");
    mark(def, "#e3b341", narrow ? `≈ ${def} s default` : `Patroni default: about ${def} s`, "right");
    if (!sum.count) {
      ctx.fillStyle = "#93a1b0"; ctx.textAlign = "center"; ctx.font = "14px system-ui, sans-serif";
      ctx.fillText("no failovers measured yet", (left + right) / 2, (top + bottom) / 2);
    }
  }

  // ---------- ticking: the outage counter and the moving strip ----------
  function tick() {
    const p = state.view && state.view.probe;
    const out = $("outage"), live = $("live");
    if (p && p.outage_in_progress) {
      const since = ms(p.outage_since);
      const txt = isNaN(since) ? "writes failing" : `writes failing · ${seconds((serverNow() - since) / 1000)}`;
      out.hidden = false; out.textContent = txt;
      live.hidden = false; live.textContent = "failover in progress: " + txt;
    } else {
      out.hidden = true; live.hidden = true;
    }
  }
  setInterval(tick, 100);
  setInterval(drawStrip, 250);
  window.addEventListener("resize", () => {
    drawStrip();
    if (state.view) drawHistogram(summaryOf(state.view), state.view.reference || {});
  });

  // ---------- operator ----------
  function setOperator(on) {
    document.body.classList.toggle("operator", on);
    $("op-body").hidden = !on;
    $("token-form").hidden = on;
  }
  function status(ok, text) {
    const s = $("op-status");
    s.dataset.ok = String(ok); s.textContent = text;
    const t = $("toast");
    t.dataset.ok = String(ok); t.textContent = text; t.hidden = false;
    clearTimeout(status.timer);
    status.timer = setTimeout(() => { t.hidden = true; }, ok ? 3000 : 10000);
  }
  async function api(method, path, body) {
    const opts = { method, headers: { Authorization: `Bearer ${state.token}` } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    let res;
    try { res = await fetch(path, opts); } catch (e) { throw new Error(`${method} ${path}: ${e.message}`); }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!res.ok) {
      const why = (data && data.error) || text.trim() || res.statusText;
      const err = new Error(`${method} ${path}: ${res.status} ${why}`);
      err.status = res.status;
      err.data = data;
      throw err;
    }
    return data;
  }
  async function act(method, path, body, what) {
    if (!state.token) { status(false, "unlock the operator panel first"); return null; }
    try {
      const r = await api(method, path, body);
      status(true, `${what}: done`);
      return r;
    } catch (e) {
      status(false, e.message);
      if (e.status === 401) lock();
      return null;
    }
  }
  function lock() {
    state.token = ""; sessionStorage.removeItem(TOKEN_KEY); setOperator(false);
    clearTimeout(scen.timer);
  }

  $("op-toggle").addEventListener("click", () => {
    const d = $("operator");
    d.hidden = !d.hidden;
    $("op-toggle").setAttribute("aria-expanded", String(!d.hidden));
    if (!d.hidden && !state.token) $("token").focus();
  });
  $("op-close").addEventListener("click", () => { $("operator").hidden = true; $("op-toggle").setAttribute("aria-expanded", "false"); });
  $("token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const tok = $("token").value.trim();
    if (!tok) return;
    state.token = tok;
    // Check the token with a harmless read before trusting it.
    try {
      await api("GET", "/api/v1/faults");
    } catch (e) {
      if (e.status === 401 || e.status === 403) {
        state.token = ""; $("token").value = "";
        status(false, "token refused: " + e.message);
        return;
      }
    }
    sessionStorage.setItem(TOKEN_KEY, tok);
    $("token").value = "";
    setOperator(true);
    status(true, "operator unlocked");
    refreshOperator();
  });
  $("lock").addEventListener("click", () => { lock(); status(true, "locked"); });
  function refreshOperator() {
    refreshFaults();
    loadScenarios();
    refreshRuns();
    refreshForks();
  }

  async function refreshFaults() {
    if (!state.token) return;
    const list = $("faults");
    let data;
    try { data = await api("GET", "/api/v1/faults"); } catch (e) { status(false, e.message); return; }
    const faults = Array.isArray(data) ? data : (data && (data.faults || data.active)) || [];
    if (!faults.length) { list.replaceChildren(el("li", { class: "muted", text: "no active faults" })); return; }
    list.replaceChildren(...faults.map((f) => {
      const id = f.id != null ? String(f.id) : "";
      return el("li", {},
        el("span", { text: `${f.kind || "fault"} on ${f.target || f.node || "?"}${id ? " (" + id + ")" : ""}` }),
        el("button", { type: "button", class: "small", onclick: async () => {
          await act("DELETE", `/api/v1/faults/${encodeURIComponent(id)}`, undefined, `remove fault ${id}`);
          refreshFaults();
        } }, "Remove"));
    }));
  }
  $("faults-refresh").addEventListener("click", refreshFaults);
  $("fault-add").addEventListener("click", async () => {
    const kind = $("fault-kind").value.trim(), target = $("fault-target").value;
    if (!kind) { status(false, "choose a fault kind"); return; }
    await act("POST", "/api/v1/faults", { kind, target }, `inject ${kind} on ${target}`);
    refreshFaults();
  });

  // ---------- scenario runs: GET /api/v1/scenarios, POST …/run, poll …/runs/{id} ----------
  const scen = { list: [], runId: "", timer: 0 };
  async function loadScenarios() {
    if (!state.token) return;
    const sel = $("scenario-name");
    let list;
    try { list = await api("GET", "/api/v1/scenarios"); } catch (e) {
      sel.replaceChildren(el("option", { value: "", text: "scenarios unavailable" }));
      $("scenario-desc").textContent = e.message;
      return;
    }
    scen.list = Array.isArray(list) ? list : [];
    const keep = sel.value;
    sel.replaceChildren(...scen.list.map((sc) => el("option", {
      value: sc.name, text: sc.runnable ? sc.name : `${sc.name} (not on this cluster)`,
    })));
    const first = scen.list.find((sc) => sc.runnable);
    if (scen.list.some((sc) => sc.name === keep)) sel.value = keep;
    else if (first) sel.value = first.name;
    describeScenario();
  }
  function describeScenario() {
    const sc = scen.list.find((x) => x.name === $("scenario-name").value);
    const desc = $("scenario-desc");
    $("scenario-run").disabled = !sc || !sc.runnable;
    if (!sc) { desc.textContent = scen.list.length ? "" : "no scenarios"; return; }
    desc.replaceChildren(sc.description || "");
    if (!sc.runnable) {
      desc.append(el("span", { class: "unmet", text: "Cannot run on this cluster: " + (sc.unmet || []).join("; ") }));
    }
  }
  $("scenario-name").addEventListener("change", describeScenario);
  $("scenarios-refresh").addEventListener("click", () => { loadScenarios(); refreshRuns(); });

  $("scenario-run").addEventListener("click", async () => {
    const name = $("scenario-name").value;
    if (!name) { status(false, "choose a scenario"); return; }
    if (!state.token) { status(false, "unlock the operator panel first"); return; }
    try {
      const run = await api("POST", "/api/v1/scenarios/run", { name });
      status(true, `scenario ${name}: started`);
      watchRun(run);
    } catch (e) {
      status(false, e.message);
      if (e.status === 401) { lock(); return; }
      // 409: another run is in the way; show that one instead.
      if (e.data && e.data.run) watchRun(e.data.run);
    }
  });
  $("scenario-cancel").addEventListener("click", async () => {
    if (!scen.runId) return;
    const run = await act("DELETE", `/api/v1/scenarios/runs/${encodeURIComponent(scen.runId)}`, undefined, "cancel the scenario");
    if (run) renderRun(run);
  });

  // refreshRuns shows the current run, or else the latest one.
  async function refreshRuns() {
    if (!state.token) return;
    let runs;
    try { runs = await api("GET", "/api/v1/scenarios/runs"); } catch { return; }
    if (!Array.isArray(runs) || !runs.length) return;
    watchRun(runs.find((r) => r.state === "running") || runs[0]);
  }
  function watchRun(run) {
    scen.runId = run.id;
    renderRun(run);
    clearTimeout(scen.timer);
    if (run.state === "running") scen.timer = setTimeout(pollRun, 1000);
  }
  async function pollRun() {
    const id = scen.runId;
    if (!id || !state.token) return;
    let run;
    try { run = await api("GET", `/api/v1/scenarios/runs/${encodeURIComponent(id)}`); } catch (e) {
      $("run-state").textContent = "unknown";
      $("run-elapsed").textContent = e.message;
      if (e.status !== 404) scen.timer = setTimeout(pollRun, 3000);
      return;
    }
    if (id !== scen.runId) return; // another run took over meanwhile
    watchRun(run);
  }
  function fmtNumber(v) {
    if (v == null || !isFinite(v)) return "–";
    return Number.isInteger(v) ? String(v) : v.toFixed(3);
  }
  function renderRun(run) {
    $("scenario-status").hidden = false;
    $("run-name").textContent = run.name || "?";
    const st = $("run-state");
    const label = run.state === "running" && run.cancelled ? "cancelling" : run.cancelled ? "cancelled" : run.state;
    st.dataset.state = run.state || "";
    st.textContent = label || "?";
    const begun = ms(run.started_at);
    const end = run.ended_at ? ms(run.ended_at) : serverNow();
    $("run-elapsed").textContent = isNaN(begun) ? "" : `${clock(begun)} · ${seconds(Math.max(0, end - begun) / 1000)}`;
    $("scenario-cancel").hidden = run.state !== "running" || !!run.cancelled;
    const prog = $("run-progress");
    const lines = run.progress || [];
    prog.replaceChildren(...lines.map((l) => el("li", {},
      el("time", { text: isNaN(begun) ? "" : `+${Math.round((ms(l.at) - begun) / 1000)} s` }), l.text || "")));
    if (run.progress_dropped) prog.prepend(el("li", { class: "muted", text: `(${run.progress_dropped} earlier lines)` }));
    prog.scrollTop = prog.scrollHeight;
    const out = $("run-result");
    out.replaceChildren();
    if (run.state === "running") {
      if (run.cancelled) out.append(el("p", { class: "muted", text: "cancelled: restoring power and recovering faults…" }));
      return;
    }
    const res = run.result || {};
    const verdict = { passed: "PASSED", failed: "FAILED", error: run.cancelled ? "CANCELLED" : "ERROR" }[run.state] || run.state;
    const took = res.duration_seconds != null ? ` in ${seconds(res.duration_seconds)}` : "";
    out.append(el("p", { class: "verdict", "data-state": run.state, text: verdict + took }));
    if (run.error) out.append(el("p", { class: "run-error", text: run.error }));
    const steps = res.steps || [];
    if (steps.length) {
      out.append(el("ul", { class: "run-steps" }, ...steps.map((s) => el("li", { "data-ok": String(!!s.ok) },
        el("b", { text: s.ok ? "✓ " : "✗ " }), `line ${s.line}: ${s.text || ""}`,
        s.detail ? el("span", { class: "muted", text: " — " + s.detail }) : null))));
    }
    const m = res.measurements || {};
    const keys = Object.keys(m).sort();
    if (keys.length) {
      out.append(el("dl", { class: "measures" }, ...keys.map((k) =>
        el("div", {}, el("dt", { text: k }), el("dd", { text: fmtNumber(m[k]) })))));
    }
  }

  // ---------- forks: POST/GET /api/v1/forks, DELETE /api/v1/forks/{name} ----------
  const FORK_FIELDS = [["name", "name"], ["node", "from"], ["port", "port"], ["dsn", "DSN"], ["method", "method"],
    ["timeline", "timeline"], ["to_writable_s", "writable after"]];
  function forkFact(f, k) {
    const v = f[k];
    if (v == null || v === "") return "–";
    return k === "to_writable_s" ? seconds(v) : String(v);
  }
  $("fork-create").addEventListener("click", async () => {
    const from = $("fork-from").value, name = $("fork-name").value.trim();
    if (!name) { status(false, "name the fork"); return; }
    const body = from ? { from, name } : { name };
    const f = await act("POST", "/api/v1/forks", body, `fork ${from || "a replica"} as ${name}`);
    const box = $("fork-answer");
    if (!f) { box.hidden = true; return; }
    box.replaceChildren(...FORK_FIELDS.map(([k, label]) =>
      el("div", {}, el("dt", { text: label }), el("dd", { class: k === "dsn" ? "dsn" : "", text: forkFact(f, k) }))));
    box.hidden = false;
    $("fork-name").value = "";
    refreshForks();
  });
  async function refreshForks() {
    if (!state.token) return;
    const list = $("forks");
    let data;
    try { data = await api("GET", "/api/v1/forks"); } catch (e) {
      list.replaceChildren(el("li", { class: "muted", text: e.message }));
      return;
    }
    const forks = Array.isArray(data) ? data : [];
    if (!forks.length) { list.replaceChildren(el("li", { class: "muted", text: "no forks" })); return; }
    list.replaceChildren(...forks.map((f) => el("li", { "data-name": f.name || "" },
      el("span", {}, el("b", { text: f.name || "?" }),
        ` from ${f.node || "?"} · port ${forkFact(f, "port")} · ${f.method || "?"} · writable after ${forkFact(f, "to_writable_s")}`,
        el("br"), el("code", { class: "dsn", text: f.dsn || "" })),
      el("button", { type: "button", class: "small danger", onclick: async () => {
        if (!confirm(`Destroy fork ${f.name}? Its data is deleted.`)) return;
        await act("DELETE", `/api/v1/forks/${encodeURIComponent(f.name)}`, undefined, `destroy fork ${f.name}`);
        refreshForks();
      } }, "Destroy"))));
  }
  $("forks-refresh").addEventListener("click", refreshForks);
  $("history-reset").addEventListener("click", () => {
    if (!confirm("Forget every measured failover?")) return;
    act("POST", "/api/v1/history/reset", {}, "reset history");
  });

  function fillOperatorTargets(nodes) {
    const names = nodes.map((n) => n.name);
    // opts are [value, text] pairs.
    const fill = (sel, opts) => {
      const want = opts.map((o) => o.join("=")).join("\n");
      if (sel.dataset.opts === want) return; // keep the operator's choice
      const keep = sel.value;
      sel.replaceChildren(...opts.map(([value, text]) => el("option", { value, text })));
      if (opts.some(([v]) => v === keep)) sel.value = keep;
      sel.dataset.opts = want;
    };
    fill($("fault-target"), [...names, "etcd"].map((n) => [n, n]));
    fill($("fork-from"), [["", "a replica"], ...names.map((n) => [n, n])]);
  }

  setOperator(!!state.token);
  if (state.token) refreshOperator();
  connect();
})();
