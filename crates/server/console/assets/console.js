// mistgate console: live updates and actions. Pages render on the server and read without
// this script; it adds the live tail, local times, and actions through the JSON API (with
// the session's CSRF token in X-CSRF-Token).

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function toast(text) {
  const t = document.getElementById("toast");
  if (!t) return;
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("show"), 2500);
}

async function api(method, url, body) {
  const headers = { "X-CSRF-Token": csrf, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(url, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  let json = null;
  try { json = await r.json(); } catch { /* empty answer */ }
  if (!r.ok) throw new Error(json?.detail ?? json?.error ?? `HTTP ${r.status}`);
  return json;
}

// Times: local time as the title, "N min ago" for the last day.
function localTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll("time[datetime]")) {
    const t = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(t.getTime())) continue;
    el.title = `${t.toLocaleString()} (local) · ${el.getAttribute("datetime")}`;
    const s = Math.round((now - t.getTime()) / 1000);
    if (s >= 0 && s < 86400) {
      el.textContent = s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
    }
  }
}

function utc(value) {
  return value && value.length === 16 ? `${value}:00Z` : value;
}

// Buttons and forms that call the API.
document.addEventListener("click", async (ev) => {
  const el = ev.target.closest("[data-post],[data-delete],[data-toggle-enabled],[data-expire],[data-copy]");
  if (!el) return;
  try {
    if (el.dataset.copy) {
      const text = document.getElementById(el.dataset.copy).textContent;
      await navigator.clipboard.writeText(text);
      toast("Copied");
      return;
    }
    el.disabled = true;
    if (el.dataset.post) {
      await api("POST", el.dataset.post, el.dataset.body ? JSON.parse(el.dataset.body) : undefined);
      toast(el.dataset.done ?? "Done");
      setTimeout(() => location.reload(), 400);
    } else if (el.dataset.delete) {
      if (el.dataset.confirm && !confirm(el.dataset.confirm)) { el.disabled = false; return; }
      await api("DELETE", el.dataset.delete);
      location.href = el.dataset.next || location.href;
    } else if (el.dataset.toggleEnabled) {
      const url = el.dataset.toggleEnabled;
      const current = writable(await api("GET", url));
      current.enabled = !current.enabled;
      await api("PUT", url, current);
      location.reload();
    } else if (el.dataset.expire) {
      const s = JSON.parse(el.dataset.silence);
      const now = new Date(Date.now() + 1000).toISOString();
      if (new Date(s.starts_at) >= new Date()) {
        await api("DELETE", `/api/v1/silences/${s.id}`);
      } else {
        const body = { starts_at: s.starts_at, ends_at: now, comment: s.comment };
        for (const k of ["site_id", "device", "kind", "alarm_type"]) if (s[k]) body[k] = s[k];
        await api("PUT", `/api/v1/silences/${s.id}`, body);
      }
      location.reload();
    }
  } catch (e) {
    el.disabled = false;
    toast(`Refused: ${e.message}`);
  }
});

// A webhook as the API shows it, less what a write may not carry.
function writable(view) {
  const out = { ...view };
  for (const k of Object.keys(out)) if (k.startsWith("has_")) delete out[k];
  for (const k of ["id", "org_id", "site_id", "for_site", "created_time", "modified_time"]) delete out[k];
  return out;
}

document.addEventListener("submit", async (ev) => {
  const form = ev.target;
  if (form.dataset.replayRange) {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const k of ["since", "until"]) if (form.elements[k].value) q.set(k, utc(form.elements[k].value));
    try {
      const r = await api("POST", `${form.dataset.replayRange}?${q}`);
      toast(`Queued ${r?.replayed?.length ?? r?.count ?? ""} again`);
      setTimeout(() => location.reload(), 400);
    } catch (e) { toast(`Refused: ${e.message}`); }
    return;
  }
  if (form.dataset.resend) {
    ev.preventDefault();
    const out = form.querySelector("output");
    out.textContent = "Sending…";
    try {
      const body = { url: form.elements.url.value.trim() };
      if (form.elements.secret.value) body.secret = form.elements.secret.value;
      const r = await api("POST", form.dataset.resend, body);
      out.textContent = r.success
        ? `Delivered: HTTP ${r.status_code} in ${r.latency_ms.toFixed(0)} ms`
        : `Not delivered: ${r.status_code ? `HTTP ${r.status_code}` : r.error}`;
    } catch (e) { out.textContent = `Refused: ${e.message}`; }
    return;
  }
  if (!("apiForm" in form.dataset)) return;
  ev.preventDefault();
  const alert = form.querySelector('[role="alert"]');
  let body = {};
  if (form.dataset.merge) body = writable(await api("GET", form.dataset.merge));
  const topics = [];
  for (const el of form.elements) {
    if (!el.name || "skip" in el.dataset) continue;
    if (el.type === "checkbox") {
      if (el.name === "topics") { if (el.checked) topics.push(el.value); } else body[el.name] = el.checked;
      continue;
    }
    const v = el.value.trim();
    if ("list" in el.dataset) { body[el.name] = v.split(",").map((s) => s.trim()).filter(Boolean); continue; }
    if (v === "") { if (el.name !== "secret") delete body[el.name]; continue; }
    body[el.name] = "time" in el.dataset ? utc(v) : v;
  }
  if (form.querySelector('input[name="topics"][type="checkbox"]')) body.topics = topics;
  let action = form.dataset.action;
  if (form.dataset.actionFrom) action = `/api/v1/${form.elements.scope.value}/${encodeURIComponent(form.elements.scope_id.value.trim())}/webhooks`;
  try {
    await api(form.dataset.method || "POST", action, body);
    toast("Saved");
    location.href = form.dataset.next || location.href;
  } catch (e) {
    if (alert) { alert.hidden = false; alert.textContent = e.message; } else toast(e.message);
  }
});

// Tabs (the raw event's pretty and exact views).
for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener("click", () => {
    for (const t of tab.parentElement.querySelectorAll('[role="tab"]')) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    }
  });
}
for (const el of document.querySelectorAll("[data-origin]")) el.textContent = location.origin;

// Overview: refresh the numbers in place.
const refresh = document.querySelector("[data-refresh]");
if (refresh) {
  setInterval(async () => {
    if (document.hidden) return;
    const r = await fetch(location.href, { credentials: "same-origin" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    const main = doc.getElementById("main");
    if (main) { document.getElementById("main").innerHTML = main.innerHTML; localTimes(); }
  }, Number(refresh.dataset.refresh) * 1000);
}

// Live tail: server-sent events, rendered at most a few times a second; at high rates it
// shows the newest rows and counts the rest instead of freezing the page.
const table = document.getElementById("tail-table");
if (table) tail(table);

function tail(table) {
  const rows = document.getElementById("tail-rows");
  const more = document.getElementById("tail-more");
  const pause = document.getElementById("tail-pause");
  const state = document.getElementById("tail-state");
  const status = document.getElementById("tail-status");
  const rate = document.getElementById("tail-rate");
  const text = (table.dataset.text || "").toLowerCase();
  const MAX_ROWS = 500, PER_FRAME = 50;
  // A quiet tail draws an event at once; a busy one at most every FRAME_MS, so a flood
  // costs four redraws a second whatever its rate.
  const FRAME_MS = 250;
  let buffer = [], hidden = 0, paused = false, scheduled = false, arrivals = [], drawn = 0;

  const url = new URL(table.dataset.stream, location.origin);
  if (table.dataset.resume) url.searchParams.set("last_event_id", table.dataset.resume);
  const source = new EventSource(url);
  source.onopen = () => { state.textContent = paused ? "Paused" : "Live"; status.classList.add("on"); };
  source.onerror = () => { state.textContent = "Reconnecting…"; status.classList.remove("on"); };
  source.addEventListener("event", (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch { return; }
    arrivals.push(Date.now());
    if (text && !m.data.toLowerCase().includes(text)) return;
    buffer.push(e);
    if (!paused) schedule();
    else showMore();
  });

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    setTimeout(render, Math.max(0, drawn + FRAME_MS - Date.now()));
  }
  function showMore() {
    const n = buffer.length + hidden;
    more.hidden = n === 0;
    more.textContent = `${n} more`;
  }
  function render() {
    scheduled = false;
    drawn = Date.now();
    if (paused) return;
    const batch = buffer.splice(0, buffer.length);
    if (batch.length > PER_FRAME) hidden += batch.length - PER_FRAME;
    const shown = batch.slice(-PER_FRAME);
    const frag = document.createDocumentFragment();
    for (let i = shown.length - 1; i >= 0; i--) frag.appendChild(row(shown[i]));
    localTimes(frag);
    rows.insertBefore(frag, rows.firstChild);
    const extra = rows.rows.length - MAX_ROWS;
    if (extra > 0) {
      const range = document.createRange();
      range.setStartBefore(rows.rows[MAX_ROWS]);
      range.setEndAfter(rows.lastElementChild);
      range.deleteContents();
    }
    document.getElementById("tail-empty")?.remove();
    showMore();
  }
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    status.classList.toggle("paused", paused);
    state.textContent = paused ? "Paused" : "Live";
    if (!paused) { hidden = 0; schedule(); }
  });
  more.addEventListener("click", () => { hidden = 0; paused = false; pause.setAttribute("aria-pressed", "false"); pause.textContent = "Pause"; state.textContent = "Live"; schedule(); });
  setInterval(() => {
    const since = Date.now() - 5000;
    arrivals = arrivals.filter((t) => t >= since);
    rate.textContent = (arrivals.length / 5).toFixed(arrivals.length < 50 ? 1 : 0);
  }, 1000);
}

function cell(tr, content) {
  const td = tr.insertCell();
  if (content instanceof Node) td.appendChild(content); else td.textContent = content ?? "";
  return td;
}
function link(href, text, code) {
  const a = document.createElement("a");
  a.href = href;
  if (code) { const c = document.createElement("code"); c.textContent = text; a.appendChild(c); } else a.textContent = text;
  return a;
}
function row(e) {
  const tr = document.createElement("tr");
  tr.dataset.eventId = e.id;
  tr.className = "fresh";
  cell(tr, link(`/ui/events/${e.id}`, String(e.id)));
  const t = document.createElement("time");
  t.setAttribute("datetime", e.time);
  t.textContent = e.time.slice(0, 19).replace("T", " ");
  cell(tr, t);
  const topic = document.createElement("span");
  topic.className = "topic";
  topic.textContent = e.topic;
  cell(tr, topic);
  cell(tr, e.type);
  cell(tr, e.site_name || (e.site_id ? e.site_id.slice(0, 8) : ""));
  if (e.mac) cell(tr, link(`/ui/devices/${e.mac}`, e.name || e.mac.match(/../g).join(":"), !e.name));
  else cell(tr, e.name);
  cell(tr, e.summary).className = "wrap";
  return tr;
}

localTimes();
