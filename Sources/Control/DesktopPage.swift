/// The agent desktop: one self-contained page (HTML, CSS and JavaScript, no build step)
/// served at `/desktop`. It uses only the public HTTP API and the `/events` WebSocket:
/// log in (`POST /login` with the agent's SIP password: a session token under `http.auth`;
/// then `PUT /agents/{id}/logins/desktop`), follow the agent's shared call live, enter a
/// call key (`GET /call-keys/{key}`), request a transfer or a switchover, see the bot calls
/// Baton decided (`/events` type "conversation") and the calls likely to reach the agent.
enum DesktopPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Baton agent desktop</title>
<style>
 body { font: 15px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2430; }
 header { background: #1d2430; color: #fff; padding: .6em 1em; display: flex; gap: 1em; align-items: center; }
 header h1 { font-size: 1.1em; margin: 0; flex: 1; }
 main { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1em; padding: 1em; }
 section { background: #fff; border-radius: 6px; padding: 1em; box-shadow: 0 1px 2px #0002; }
 h2 { font-size: 1em; margin: 0 0 .6em; }
 input { padding: .35em; font: inherit; width: 12em; }
 button { padding: .35em .8em; font: inherit; cursor: pointer; }
 .error { color: #b00020; min-height: 1.2em; }
 .state { font-weight: 600; text-transform: uppercase; }
 dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em .8em; margin: .6em 0 0; }
 dt { color: #667; }
 dd { margin: 0; }
 ul { margin: .3em 0; padding-left: 1.2em; }
 .hidden { display: none; }
</style>
</head>
<body>
<header><h1>Baton agent desktop</h1><span id="who">not logged in</span><span id="ws-state">offline</span></header>
<main>
 <section id="login-section">
  <h2>Log in</h2>
  <form id="login-form"><input id="agent" placeholder="agent id" autocomplete="username">
  <input id="password" type="password" placeholder="password" autocomplete="current-password"> <button id="login" type="submit">Log in</button>
  <button id="logout" type="button" class="hidden">Log out</button></form>
  <div id="login-error" class="error" role="alert"></div>
 </section>
 <section id="call-section">
  <h2>Current call</h2>
  <div id="no-call">No call.</div>
  <div id="call" class="hidden">
   <dl><dt>Shared call</dt><dd id="call-id"></dd><dt>State</dt><dd id="call-state" class="state"></dd><dt>Call</dt><dd id="call-call"></dd></dl>
   <ul id="members"></ul>
  </div>
 </section>
 <section id="likely-section">
  <h2>Likely to reach you</h2>
  <div id="likely-none">No call is likely to reach you.</div>
  <ul id="likely"></ul>
 </section>
 <section id="decisions-section">
  <h2>Bot decisions</h2>
  <div id="decisions-none">No bot call decided yet.</div>
  <ul id="decisions"></ul>
 </section>
 <section id="key-section">
  <h2>Call key</h2>
  <form id="key-form"><input id="key" placeholder="e.g. 482913" inputmode="numeric" autocomplete="off"> <button id="lookup" type="submit">Show call data</button></form>
  <div id="key-error" class="error" role="alert"></div>
  <dl id="data" class="hidden">
   <dt>Call</dt><dd id="data-call"></dd>
   <dt>Account</dt><dd id="data-account"></dd>
   <dt>Reason</dt><dd id="data-reason"></dd>
   <dt>Notes</dt><dd id="data-notes"></dd>
   <dt>Said</dt><dd><ul id="data-transcript"></ul></dd>
  </dl>
 </section>
 <section id="action-section">
  <h2>Hand the call on</h2>
  <form id="transfer-form"><input id="transfer-target" placeholder="agent id or category:billing"> <button id="transfer" type="submit">Transfer</button></form>
  <form id="switch-form"><input id="switch-target" placeholder="device, speaker or sip:..."> <button id="switchover" type="submit">Switchover</button></form>
  <div id="action-result"></div>
  <div id="action-error" class="error" role="alert"></div>
 </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
// token: the session token of POST /login (with http.auth), sent as a bearer token and as
// ?token= on the /events WebSocket; kept in memory only (a reload logs the page out).
const state = { agent: null, user: null, shared: null, ws: null, token: null };

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (state.token) init.headers["Authorization"] = "Bearer " + state.token;
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const r = await fetch(path, init);
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  if (!r.ok) throw new Error((json && json.error && json.error.message) || (r.status + " " + r.statusText));
  return json;
}

function userOf(aor) {
  if (!aor) return null;
  const v = aor.replace(/^sips?:/i, "");
  return v.split("@")[0].toLowerCase();
}

function setText(id, v) { $(id).textContent = v == null ? "" : String(v); }

function renderCall(op) {
  state.shared = op;
  const live = op && op.state !== "ended";
  $("no-call").classList.toggle("hidden", !!op);
  $("call").classList.toggle("hidden", !op);
  if (!op) return;
  setText("call-id", op.id);
  setText("call-state", op.state);
  const primary = op.members.find((m) => m.kind === "call") || op.members[0];
  setText("call-call", primary ? primary.call : "");
  const ul = $("members");
  ul.replaceChildren(...op.members.map((m) => {
    const li = document.createElement("li");
    li.textContent = m.kind + " " + m.id + ": " + m.status + (m.peer ? " (" + m.peer + ")" : "");
    return li;
  }));
  $("call").dataset.live = live ? "yes" : "no";
}

async function refreshCall(id) {
  try {
    if (id) { renderCall(await api("GET", "/shared-calls/" + encodeURIComponent(id))); return; }
    const ops = await api("GET", "/shared-calls?user=" + encodeURIComponent(state.user));
    const live = ops.filter((o) => o.state !== "ended");
    renderCall(live.length ? live[live.length - 1] : (ops.length ? ops[ops.length - 1] : null));
  } catch (e) { setText("action-error", e.message); }
}

function connect() {
  if (state.ws) state.ws.close();
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/events"
    + (state.token ? "?token=" + encodeURIComponent(state.token) : ""));
  state.ws = ws;
  ws.onopen = () => setText("ws-state", "live");
  ws.onclose = () => { setText("ws-state", "offline"); if (state.ws === ws && state.agent) setTimeout(connect, 1000); };
  ws.onmessage = (m) => {
    let e; try { e = JSON.parse(m.data); } catch (x) { return; }
    if (e.type === "shared-call" && state.user && (e.users || []).includes(state.user)) refreshCall(e.shared_call);
    if (e.type === "conversation" && e.decision) showDecision(e.decision);
  };
}

// A bot call Baton decided (conversation rules): its type, the rule and the signals that
// fired it, the channel and what was done; the ten newest first.
function showDecision(d) {
  const signals = Object.entries(d.signals || {}).map(([k, v]) => k + " = " + v).join(", ");
  const li = document.createElement("li");
  li.textContent = "call " + d.call + ": " + d.type + " (rule '" + d.rule + "': " + signals + ") -> "
    + d.channel + (d.outcome ? ": " + d.outcome : "");
  $("decisions").prepend(li);
  while ($("decisions").children.length > 10) $("decisions").lastChild.remove();
  $("decisions-none").classList.add("hidden");
}

// The transfer model's view of the live calls (GET /agents/{id}/likely-calls), every 2 s
// while logged in: the probability and the call data the agent would get.
async function refreshLikely() {
  if (!state.agent) return;
  try {
    const rows = await api("GET", "/agents/" + encodeURIComponent(state.agent.id) + "/likely-calls");
    $("likely-none").classList.toggle("hidden", rows.length > 0);
    $("likely").replaceChildren(...rows.map((r) => {
      const li = document.createElement("li");
      li.textContent = "likely to reach you: p = " + r.probability.toFixed(2) + " (call " + r.call
        + (r.reason ? ", " + r.reason : "") + (r.account ? ", account " + r.account : "") + ")";
      return li;
    }));
  } catch (e) { /* shown on the next success */ }
}
setInterval(refreshLikely, 2000);

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  setText("login-error", "");
  const id = $("agent").value.trim();
  try {
    const session = await api("POST", "/login", { agent: id, password: $("password").value });
    state.token = session.token || null;
    $("password").value = "";
    const a = await api("PUT", "/agents/" + encodeURIComponent(id) + "/logins/desktop", { state: "logged-in" });
    state.agent = a; state.user = userOf(a.aor) || a.id.toLowerCase();
    setText("who", "Logged in as " + a.name + " (" + a.id + ")");
    $("logout").classList.remove("hidden");
    connect();
    refreshCall(null);
    refreshLikely();
  } catch (e) { setText("login-error", e.message); }
});

$("logout").addEventListener("click", async () => {
  if (!state.agent) return;
  try { await api("PUT", "/agents/" + encodeURIComponent(state.agent.id) + "/logins/desktop", { state: "logged-out" }); } catch (e) {}
  try { await api("POST", "/logout"); } catch (e) {}
  const ws = state.ws; state.agent = null; state.ws = null; state.token = null; if (ws) ws.close();
  setText("who", "not logged in"); $("logout").classList.add("hidden"); renderCall(null);
});

$("key-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  setText("key-error", "");
  $("data").classList.add("hidden");
  try {
    const k = await api("GET", "/call-keys/" + encodeURIComponent($("key").value.trim()));
    setText("data-call", k.call);
    setText("data-account", k.data.account);
    setText("data-reason", k.data.reason);
    setText("data-notes", k.data.notes);
    $("data-transcript").replaceChildren(...(k.data.transcript || []).map((t) => { const li = document.createElement("li"); li.textContent = t; return li; }));
    $("data").classList.remove("hidden");
  } catch (e) { setText("key-error", e.message); }
});

function currentCall() {
  const op = state.shared;
  const primary = op && (op.members.find((m) => m.kind === "call") || op.members[0]);
  if (!primary) throw new Error("no current call");
  return primary.call;
}

$("transfer-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  setText("action-error", ""); setText("action-result", "");
  try {
    const v = $("transfer-target").value.trim();
    const body = v.startsWith("category:") ? { category: v.slice(9) } : (v.includes("@") || v.startsWith("sip:") ? { target: v } : { agent: v });
    const r = await api("POST", "/calls/" + encodeURIComponent(currentCall()) + "/transfer", body);
    setText("action-result", "Transfer " + r.operation.id + " to " + r.target + ", call key " + r.key.key);
  } catch (e) { setText("action-error", e.message); }
});

$("switch-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  setText("action-error", ""); setText("action-result", "");
  try {
    const r = await api("POST", "/calls/" + encodeURIComponent(currentCall()) + "/switchover", { target: $("switch-target").value.trim() });
    setText("action-result", "Switchover " + r.id + " " + r.state);
  } catch (e) { setText("action-error", e.message); }
});
</script>
</body>
</html>
"""#
}
