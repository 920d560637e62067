// The myst node's web UI: one page over the daemon's local REST API, signed
// in with a one-time code from `myst ui` (session cookie + CSRF header).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { csrf: "", view: "node", ids: [], lastConn: null, samples: [], busy: false, regs: {}, regAt: 0 };

// ---- API ----------------------------------------------------------------

class APIError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : "the daemon answered " + status);
    this.status = status;
    this.field = body && body.field;
  }
}

async function call(method, path, body) {
  const opts = { method, headers: { "X-Myst-CSRF": state.csrf }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, opts);
  } catch (e) {
    reconnecting(true);
    throw new APIError(0, { error: "the daemon does not answer; retrying" });
  }
  reconnecting(false);
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch (e) { /* empty body */ }
  if (resp.status === 401) {
    showLogin();
    throw new APIError(401, data);
  }
  if (!resp.ok) throw new APIError(resp.status, data);
  return data;
}

function reconnecting(on) {
  $("reconnecting").hidden = !on;
}

function showError(err) {
  const el = $("error");
  if (!err) { el.hidden = true; el.textContent = ""; return; }
  if (err.status === 0 || err.status === 401) return; // the banners say it
  el.textContent = err.message;
  el.hidden = false;
}

// ---- sign-in ------------------------------------------------------------

async function signIn() {
  const m = location.hash.match(/code=([0-9a-f]+)/);
  if (m) {
    history.replaceState(null, "", location.pathname); // the code is spent either way
    try {
      const r = await fetch("/ui/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code: m[1] }) });
      const data = await r.json().catch(() => ({}));
      if (!r.ok) { showLogin(data.error); return false; }
      state.csrf = data.csrf;
      return true;
    } catch (e) { showLogin("the daemon does not answer"); return false; }
  }
  try {
    const r = await fetch("/ui/session");
    if (!r.ok) { showLogin(); return false; }
    state.csrf = (await r.json()).csrf;
    return true;
  } catch (e) {
    reconnecting(true);
    return false;
  }
}

function showLogin(why) {
  state.csrf = "";
  for (const v of document.querySelectorAll(".view")) v.hidden = true;
  $("tabs").hidden = true;
  $("login").hidden = false;
  $("health").textContent = "";
  if (why) { $("error").textContent = why; $("error").hidden = false; }
}

// ---- helpers ------------------------------------------------------------

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

// fill replaces a table's rows, unless what they show is unchanged (rows
// stay in place: focus, hover and clicks are not disturbed every second).
function fill(tbody, key, build, cols, empty) {
  if (tbody.dataset.key === key) return;
  tbody.dataset.key = key;
  const rows = build();
  // Column names ride on the cells: narrow screens show them inline.
  const heads = [...tbody.parentElement.querySelectorAll("thead th")].map((th) => th.textContent);
  for (const r of rows) [...r.children].forEach((td, i) => { if (heads[i]) td.dataset.label = heads[i]; });
  // Fields the user is typing in survive the redraw: a new row's field
  // with the same data-keep is swapped for the old element, keeping its
  // value and focus.
  const typing = new Map();
  for (const f of tbody.querySelectorAll("[data-keep]")) {
    if (f.value || f === document.activeElement) typing.set(f.dataset.keep, f);
  }
  for (const r of rows) {
    for (const f of r.querySelectorAll("[data-keep]")) {
      const old = typing.get(f.dataset.keep);
      if (old) f.replaceWith(old);
    }
  }
  const focused = document.activeElement;
  tbody.replaceChildren();
  if (!rows.length) {
    tbody.append(el("tr", {}, el("td", { class: "empty", colspan: String(cols), text: empty })));
    return;
  }
  for (const r of rows) tbody.append(r);
  if (focused && focused !== document.activeElement && tbody.contains(focused)) focused.focus();
}

function short(id) { return id ? id.slice(0, 8) + "…" + id.slice(-6) : "–"; }

function duration(ns) {
  let s = Math.floor((ns || 0) / 1e9);
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return (h ? h + " h " : "") + (h || m ? m + " min " : "") + s + " s";
}

function bytes(n) {
  n = n || 0;
  if (n >= 1 << 30) return (n / (1 << 30)).toFixed(2) + " GiB";
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(2) + " MiB";
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KiB";
  return n + " B";
}

function mystt(a) { return (a === undefined || a === "" ? "0" : a) + " MYSTT"; }

const amountRE = /^\d{1,12}(\.\d{1,18})?$/;
const countryRE = /^[A-Z]{2}$/;

// fieldError marks an input and says what is wrong; nothing is sent.
function fieldError(key, input, msg) {
  const span = document.querySelector(`.field-error[data-for="${key}"]`);
  if (span) span.textContent = msg || "";
  if (input) input.setAttribute("aria-invalid", msg ? "true" : "false");
  if (msg && input) input.focus();
  return !msg;
}

function clearFieldErrors(form) {
  for (const s of form.querySelectorAll(".field-error")) s.textContent = "";
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
}

async function act(button, f) {
  if (state.busy) return;
  state.busy = true;
  const label = button.textContent;
  button.disabled = true;
  showError(null);
  try { await f(); } catch (e) { showError(e); } finally {
    button.disabled = false;
    button.textContent = label;
    state.busy = false;
    refresh();
  }
}

// ---- screens ------------------------------------------------------------

function select(view) {
  state.view = view;
  for (const v of ["node", "provider", "consumer"]) {
    $("view-" + v).hidden = v !== view;
    $("tab-" + v).setAttribute("aria-selected", v === view ? "true" : "false");
  }
  refresh();
}

async function refreshHealth() {
  const h = await call("GET", "/healthcheck");
  $("health").textContent = `${h.status} · broker ${h.broker} · ${h.version}`;
  $("node-status").textContent = h.status;
  $("node-broker").textContent = h.broker;
  $("node-chain").textContent = h.chain || "–";
  $("node-version").textContent = h.version;
  $("node-uptime").textContent = duration(h.uptime_ns);
}

async function refreshIdentities() {
  const l = await call("GET", "/identities");
  state.ids = l.identities || [];
  const unlocked = state.ids.filter((i) => i.unlocked).map((i) => i.id);
  for (const sel of [$("svc-identity"), $("con-identity")]) {
    const keep = sel.value;
    sel.replaceChildren(...unlocked.map((id) => el("option", { value: id, text: short(id) })));
    if (unlocked.includes(keep)) sel.value = keep;
  }
}

async function refreshNode() {
  const nat = await call("GET", "/nat");
  $("node-nat").textContent = nat.nat + (nat.public_ip ? " · " + nat.public_ip : "") + (nat.override ? " (announced " + nat.override + ")" : "");
  if (Date.now() - state.regAt > 5000) {
    state.regAt = Date.now();
    for (const i of state.ids) {
      call("GET", `/identities/${i.id}/registration`).then((r) => { state.regs[i.id] = r.registered; }).catch(() => {});
    }
  }
  const regs = state.ids.map((i) => state.regs[i.id]);
  fill($("identities"), JSON.stringify([state.ids, regs]), () => state.ids.map((i) => {
    const pass = el("input", { type: "password", "data-keep": "pass-" + i.id, "aria-label": "Passphrase for " + i.id, autocomplete: "current-password", placeholder: "passphrase" });
    const btn = el("button", { type: "button", class: "secondary", text: "Unlock" });
    btn.addEventListener("click", () => act(btn, async () => {
      // The field in the row now: a redraw may have kept the old one.
      const f = btn.parentElement.querySelector("input") || pass;
      if (!f.value) { f.setAttribute("aria-invalid", "true"); f.focus(); throw new APIError(400, { error: "passphrase: type the identity's passphrase" }); }
      btn.textContent = "Unlocking…";
      await call("PUT", `/identities/${i.id}/unlock`, { passphrase: f.value });
      f.value = "";
    }));
    const reg = state.regs[i.id];
    let regCell = reg === undefined ? "…" : reg ? el("span", { class: "pill ok", text: "registered" }) : el("span", { class: "muted", text: "no" });
    if (reg === false && i.unlocked) {
      const rb = el("button", { type: "button", class: "secondary", text: "Register" });
      rb.addEventListener("click", () => act(rb, async () => {
        rb.textContent = "Waiting for the chain…";
        const r = await call("POST", `/identities/${i.id}/register`);
        state.regs[i.id] = r.registered;
      }));
      regCell = el("div", { class: "row" }, regCell, rb);
    } else if (reg === false) {
      regCell = el("span", { class: "muted", text: "no (unlock it to register)" });
    }
    return el("tr", { "data-id": i.id },
      el("td", { class: "mono", text: i.id }),
      el("td", {}, i.unlocked ? el("span", { class: "pill ok", text: "unlocked" }) : el("span", { class: "pill", text: "locked" })),
      el("td", {}, regCell),
      el("td", {}, i.unlocked ? "" : el("div", { class: "row" }, pass, btn)));
  }), 4, "No identity yet: create one below.");
}

async function refreshProvider() {
  const [svcs, sess] = await Promise.all([call("GET", "/services"), call("GET", "/sessions")]);
  const live = (svcs.services || []).map((s) => [s.id, s.type, s.options, s.sessions, s.reachability]);
  fill($("services"), JSON.stringify(live), () => (svcs.services || []).map((s) => {
    const stop = el("button", { type: "button", class: "danger", text: "Stop", "aria-label": "Stop " + s.type + " service" });
    stop.addEventListener("click", () => act(stop, () => call("DELETE", "/services/" + s.id)));
    return el("tr", { "data-service": s.type },
      el("td", { text: s.type }),
      el("td", { text: `${s.options.price_hour || 0}/h · ${s.options.price_gib || 0}/GiB` }),
      el("td", { text: s.options.country }),
      el("td", { text: `${s.sessions}/${s.options.max_sessions}` }),
      el("td", { text: (s.reachability || "–") + (s.relay && s.reachability !== "relayed" ? " + relay" : "") }),
      el("td", {}, stop));
  }), 6, "No service running: start one above.");
  fill($("sessions"), JSON.stringify(sess.sessions || []), () => (sess.sessions || []).map((s) => el("tr", {},
    el("td", { class: "mono", text: short(s.consumer_id) }),
    el("td", { text: s.service_type + " · " + s.state }),
    el("td", { text: duration(s.duration_ns) }),
    el("td", { text: bytes(s.bytes_in) + " / " + bytes(s.bytes_out) }),
    el("td", { text: mystt(s.amount) }))), 5, "No session.");
  const id = $("svc-identity").value;
  if (id) {
    const e = await call("GET", "/earnings?identity=" + encodeURIComponent(id));
    $("earn-settled").textContent = mystt(e.settled);
    $("earn-unsettled").textContent = mystt(e.unsettled);
    $("earn-consumers").textContent = String(e.consumers);
    $("earn-threshold").textContent = e.settle_threshold ? mystt(e.settle_threshold) : "–";
  }
}

// exitText is a proposal's exit policy in a cell: "no 25 · 20 Mbit/s".
function exitText(e) {
  if (!e) return "–";
  const parts = [];
  if (e.blocked_ports && e.blocked_ports.length) parts.push("no " + e.blocked_ports.join(","));
  if (e.session_mbit) parts.push(e.session_mbit + " Mbit/s");
  if (e.private_allowed) parts.push("+private");
  return parts.length ? parts.join(" · ") : "open";
}

function proposalQuery() {
  const q = new URLSearchParams({ limit: "100" });
  const t = $("f-type").value, c = $("f-country").value.trim().toUpperCase(), h = $("f-max-hour").value.trim(), bw = $("f-min-bw").value.trim();
  if (t) q.set("service_type", t);
  if (c) q.set("country", c);
  if (h) q.set("max_price_hour", h);
  if (bw) q.set("min_bandwidth", bw);
  return q;
}

function validFilters() {
  clearFieldErrors($("filter-form"));
  const c = $("f-country").value.trim().toUpperCase(), h = $("f-max-hour").value.trim(), bw = $("f-min-bw").value.trim();
  if (c && !countryRE.test(c)) return fieldError("filter", $("f-country"), "Country: two letters, like DE.");
  if (h && !amountRE.test(h)) return fieldError("filter", $("f-max-hour"), "Max price per hour: a decimal amount, like 0.05.");
  if (bw && !(Number(bw) >= 0 && Number(bw) <= 1e6)) return fieldError("filter", $("f-min-bw"), "Min bandwidth: between 0 and 1000000 Mbit/s.");
  return true;
}

function sortProposals(list) {
  const key = $("f-sort").value === "gib" ? "per_gib" : "per_hour";
  return list.sort((a, b) => Number(a.price[key]) - Number(b.price[key]));
}

async function connectTo(p, button) {
  const consumer = $("con-identity").value;
  if (!consumer) throw new APIError(400, { error: "no unlocked identity to pay with: unlock one on the Node screen" });
  if (button) button.textContent = "Connecting…";
  const exclude = $("con-exclude").value.split(/[\s,]+/).filter((s) => s);
  await call("PUT", "/connection", { consumer_id: consumer, provider_id: p.provider_id, service_type: p.service_type, exclude });
}

// pathText says how the tunnel reaches the provider.
function pathText(p) {
  return { direct: "direct", punched: "direct (punched through the provider's NAT)", relayed: "relayed (through the network's relay)" }[p] || p;
}

async function refreshConsumer() {
  const c = await call("GET", "/connection");
  const stateEl = $("conn-state");
  stateEl.textContent = c.state;
  stateEl.className = "state-" + c.state;
  $("conn-provider").textContent = c.provider_id ? c.provider_id + " · " + c.service_type : "–";
  $("conn-tunnel").textContent = c.tunnel_ip || "–";
  $("conn-path").textContent = c.state === "Connected" && c.path ? pathText(c.path) : "–";
  $("conn-duration").textContent = c.state === "Connected" ? duration(c.duration_ns) : "–";
  $("conn-bytes").textContent = c.state === "Connected" ? bytes(c.bytes_received) + " / " + bytes(c.bytes_sent) : "–";
  $("conn-cost").textContent = c.state === "Connected" ? mystt(c.cost) : "–";
  $("conn-error").textContent = c.last_error ? "Last: " + c.last_error : "";
  $("disconnect").disabled = c.state === "NotConnected";
  sample(c);
  const consumer = $("con-identity").value;
  if (consumer) {
    call("GET", "/payments/balance?identity=" + encodeURIComponent(consumer)).then((b) => {
      $("bal-deposit").textContent = mystt(b.deposit);
      $("bal-tokens").textContent = mystt(b.tokens);
    }).catch(() => {});
  }
  if (!validFilters()) return;
  const l = await call("GET", "/proposals?" + proposalQuery());
  const list = sortProposals(l.proposals || []);
  const shown = list.map((p) => [p.provider_id, p.service_type, p.location, p.price, p.reachability, p.exit]);
  fill($("proposals"), JSON.stringify([shown, c.state === "NotConnected"]), () => list.map((p) => {
    const btn = el("button", { type: "button", class: "connect", "data-provider": p.provider_id, text: "Connect", "aria-label": `Connect to ${p.service_type} in ${p.location.country}` });
    btn.disabled = c.state !== "NotConnected";
    btn.addEventListener("click", () => act(btn, () => connectTo(p, btn)));
    return el("tr", {},
      el("td", { class: "mono", text: short(p.provider_id) }),
      el("td", { text: p.service_type }),
      el("td", { text: p.location.country + (p.location.city ? " · " + p.location.city : "") }),
      el("td", { text: p.price.per_hour }),
      el("td", { text: p.price.per_gib }),
      el("td", { text: (p.reachability || "–") + (p.relay && p.reachability !== "relayed" ? " + relay" : "") }),
      el("td", { text: exitText(p.exit) }),
      el("td", {}, btn));
  }), 8, "No provider matches these filters.");
}

// The throughput chart: bytes per second over the last minute.
function sample(c) {
  const now = Date.now();
  const total = c.state === "Connected" ? (c.bytes_received || 0) + (c.bytes_sent || 0) : 0;
  if (state.lastConn && c.state === "Connected" && state.lastConn.total <= total) {
    const rate = (total - state.lastConn.total) / Math.max(0.001, (now - state.lastConn.at) / 1000);
    state.samples.push(rate);
    if (state.samples.length > 60) state.samples.shift();
  } else if (c.state !== "Connected") {
    state.samples = [];
  }
  state.lastConn = { at: now, total };
  const cv = $("chart"), g = cv.getContext("2d");
  g.clearRect(0, 0, cv.width, cv.height);
  const max = Math.max(1024, ...state.samples);
  g.strokeStyle = "#5a3fd8";
  g.lineWidth = 2;
  g.beginPath();
  state.samples.forEach((v, i) => {
    const x = (i / 59) * cv.width, y = cv.height - 4 - (v / max) * (cv.height - 8);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
  g.fillStyle = "#5f6b76";
  g.font = "12px system-ui";
  g.fillText(bytes(state.samples.length ? state.samples[state.samples.length - 1] : 0) + "/s", 6, 14);
}

let refreshing = false;
async function refresh() {
  if (!state.csrf || refreshing) return;
  refreshing = true;
  try {
    await refreshHealth();
    await refreshIdentities();
    if (state.view === "node") await refreshNode();
    if (state.view === "provider") await refreshProvider();
    if (state.view === "consumer") await refreshConsumer();
  } catch (e) {
    if (e.status !== 0 && e.status !== 401) showError(e);
  } finally {
    refreshing = false;
  }
}

// ---- forms --------------------------------------------------------------

function wire() {
  for (const v of ["node", "provider", "consumer"]) $("tab-" + v).addEventListener("click", () => select(v));

  $("create-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearFieldErrors($("create-form"));
    const pass = $("create-pass");
    if (pass.value.length < 1) { fieldError("create-pass", pass, "Passphrase: type one (it encrypts the key on disk)."); return; }
    act($("create-btn"), async () => { await call("POST", "/identities", { passphrase: pass.value }); pass.value = ""; });
  });

  $("svc-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = $("svc-form");
    clearFieldErrors(f);
    const id = $("svc-identity").value, hour = $("svc-price-hour").value.trim() || "0", gib = $("svc-price-gib").value.trim() || "0";
    const country = $("svc-country").value.trim().toUpperCase(), max = $("svc-max").value.trim();
    if (!id) return fieldError("svc", $("svc-identity"), "Identity: unlock one on the Node screen first.");
    if (!amountRE.test(hour)) return fieldError("svc", $("svc-price-hour"), "Price per hour: a decimal amount of MYSTT, like 0.01.");
    if (!amountRE.test(gib)) return fieldError("svc", $("svc-price-gib"), "Price per GiB: a decimal amount of MYSTT, like 0.05.");
    if (country && !countryRE.test(country)) return fieldError("svc", $("svc-country"), "Country: two letters, like DE (empty: the node's own).");
    const n = Number(max);
    if (!/^\d+$/.test(max) || n < 1 || n > 10000) return fieldError("svc", $("svc-max"), "Max sessions: a whole number from 1 to 10000.");
    act($("svc-start"), async () => {
      $("svc-start").textContent = "Starting…";
      await call("POST", "/services", { provider_id: id, type: $("svc-type").value, options: { price_hour: hour, price_gib: gib, country, max_sessions: n } });
    });
  });

  $("settle").addEventListener("click", () => act($("settle"), async () => {
    const id = $("svc-identity").value;
    if (!id) throw new APIError(400, { error: "no unlocked provider identity: unlock one on the Node screen" });
    $("settle").textContent = "Settling…";
    await call("POST", "/settle", { provider_id: id });
  }));

  $("filter-form").addEventListener("input", () => refresh());
  $("filter-form").addEventListener("submit", (ev) => ev.preventDefault());

  $("quick-connect").addEventListener("click", () => act($("quick-connect"), async () => {
    const c = $("quick-country").value.trim().toUpperCase();
    if (!countryRE.test(c)) { fieldError("filter", $("quick-country"), "Quick connect: a country as two letters, like DE."); return; }
    // The daemon picks the best there (reachable first, then cheapest) and
    // goes to the next when one fails.
    const consumer = $("con-identity").value;
    if (!consumer) throw new APIError(400, { error: "no unlocked identity to pay with: unlock one on the Node screen" });
    $("quick-connect").textContent = "Connecting…";
    const exclude = $("con-exclude").value.split(/[\s,]+/).filter((s) => s);
    const body = { consumer_id: consumer, country: c, exclude };
    if ($("f-type").value) body.service_type = $("f-type").value;
    if ($("f-max-hour").value) body.max_price_hour = $("f-max-hour").value;
    await call("PUT", "/connection", body);
  }));

  $("disconnect").addEventListener("click", () => act($("disconnect"), () => call("DELETE", "/connection")));

  $("deposit-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearFieldErrors($("deposit-form"));
    const a = $("deposit-amount"), id = $("con-identity").value;
    if (!amountRE.test(a.value.trim()) || Number(a.value) <= 0) { fieldError("deposit-amount", a, "Amount: a decimal amount of MYSTT above 0, like 10."); return; }
    if (!id) { fieldError("deposit-amount", a, "Unlock an identity on the Node screen first."); return; }
    act($("deposit"), async () => {
      $("deposit").textContent = "Waiting for the chain…";
      await call("POST", "/payments/deposit", { identity: id, amount: a.value.trim() });
      a.value = "";
    });
  });

  $("withdraw").addEventListener("click", () => act($("withdraw"), async () => {
    const id = $("con-identity").value;
    if (!id) throw new APIError(400, { error: "no unlocked identity: unlock one on the Node screen" });
    $("withdraw").textContent = "Waiting for the chain…";
    const r = await call("POST", "/payments/withdraw", { identity: id });
    if (r.announced) showError(new APIError(200, { error: "Withdrawal announced: press Withdraw again after " + new Date(r.available_at).toLocaleString() + "." }));
  }));
}

async function start() {
  wire();
  if (!(await signIn())) {
    // The daemon may be down: keep trying.
    setTimeout(start2, 1000);
    return;
  }
  enter();
}

async function start2() {
  if (state.csrf) return;
  if (await signIn()) enter(); else if (!$("reconnecting").hidden) setTimeout(start2, 1000);
}

function enter() {
  $("login").hidden = true;
  $("tabs").hidden = false;
  select(location.hash === "#connect" ? "consumer" : location.hash === "#provide" ? "provider" : "node");
}

setInterval(() => {
  if (state.csrf) refresh();
  else if (!$("reconnecting").hidden) start2();
}, 1000);

document.addEventListener("DOMContentLoaded", start);
