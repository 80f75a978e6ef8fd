// The dashboard's only way to the node's data is the node's JSON API; this
// module is that way, plus the small DOM helpers every view shares. Errors
// are never swallowed: every failed call ends up in the alert region, under
// a key, so that a background refresh that keeps failing shows one message
// (not one per tick) and clears it when it recovers.

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// APIError carries the node's {"error": "..."} text and the HTTP status
// (0 when the node could not be reached at all).
export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// api calls the node. opts: json (a value sent as JSON), body (sent as is),
// headers. It returns the decoded JSON answer or throws an APIError.
export async function api(method, path, opts = {}) {
  const headers = new Headers({ Accept: "application/json" });
  let body = opts.body;
  if (opts.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(opts.json);
  }
  for (const [k, v] of Object.entries(opts.headers || {})) headers.set(k, v);
  let res;
  try {
    res = await fetch(path, { method, headers, body });
  } catch (e) {
    setOnline(false);
    throw new APIError(0, "the node cannot be reached (" + e.message + ")");
  }
  setOnline(true);
  return decode(res.status, res.statusText, await res.text());
}

// decode turns an HTTP answer into its JSON value or an APIError; shared
// with the upload, which uses XMLHttpRequest for its progress events.
export function decode(status, statusText, text) {
  let data = null;
  let parsed = false;
  if (text) {
    try {
      data = JSON.parse(text);
      parsed = true;
    } catch {
      // Not JSON: a proxy's page, or a crash; shown below as text.
    }
  }
  if (status < 200 || status > 299) {
    if (parsed && data && typeof data.error === "string") throw new APIError(status, data.error);
    const detail = text && !parsed ? ": " + text.slice(0, 200) : "";
    throw new APIError(status, "HTTP " + status + " " + (statusText || "") + detail);
  }
  if (text && !parsed) throw new APIError(status, "the node's answer is not JSON: " + text.slice(0, 200));
  return data;
}

// headerText makes any string safe for an HTTP header: fetch only takes
// byte strings, so UTF-8 is sent as its bytes (the node reads them back as
// UTF-8) and line breaks are dropped.
export function headerText(s) {
  return unescape(encodeURIComponent(s.replace(/[\r\n]+/g, " ")));
}

// --- Alerts ---------------------------------------------------------------

const alerts = new Map(); // key → message

export function reportError(key, what, err) {
  const status = err && err.status ? " (HTTP " + err.status + ")" : "";
  alerts.set(key, what + ": " + (err && err.message ? err.message : String(err)) + status);
  drawAlerts();
}

export function clearError(key) {
  if (alerts.delete(key)) drawAlerts();
}

function drawAlerts() {
  const box = $("#alerts");
  box.replaceChildren();
  for (const [key, msg] of alerts) {
    const p = el("p", { class: "alert", "data-key": key }, msg + " ");
    const close = el("button", { type: "button", class: "link", "aria-label": "Dismiss this message" }, "Dismiss");
    close.addEventListener("click", () => clearError(key));
    p.append(close);
    box.append(p);
  }
  box.hidden = alerts.size === 0;
}

// notice shows a short success message in the polite status region.
export function notice(msg) {
  $("#notice").textContent = msg;
}

// --- Online indicator -------------------------------------------------------

let online = null;
let lostAt = null;

export function setOnline(ok) {
  if (ok === online) return;
  online = ok;
  const s = $("#status");
  s.dataset.state = ok ? "online" : "unreachable";
  if (ok) {
    lostAt = null;
    s.textContent = "online";
  } else {
    lostAt = lostAt || new Date();
    s.textContent = "unreachable since " + lostAt.toLocaleTimeString();
  }
}

// --- DOM and formatting -----------------------------------------------------

// el builds an element; children are nodes or strings (always text, never
// HTML: document content comes from other devices).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

export function docLink(id, text) {
  return el("a", { href: "#/doc/" + encodeURIComponent(id) }, text || id);
}

export function when(t) {
  if (!t) return "never";
  const d = new Date(t);
  return isNaN(d) || d.getFullYear() < 2 ? "never" : d.toLocaleString();
}

export function ago(t) {
  if (!t) return "never";
  const s = Math.round((Date.now() - new Date(t)) / 1000);
  if (s < 5) return "just now";
  if (s < 90) return s + " s ago";
  if (s < 90 * 60) return Math.round(s / 60) + " min ago";
  if (s < 36 * 3600) return Math.round(s / 3600) + " h ago";
  return when(t);
}

export function clock(seconds) {
  const s = Math.max(0, Number(seconds) || 0);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = (s % 60).toFixed(1).padStart(4, "0");
  return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + sec;
}

export function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n) || 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i ? v.toFixed(1) : String(v)) + " " + units[i];
}

export function label(key) {
  const s = String(key).replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function fillRows(tbody, rows, empty, cols) {
  tbody.replaceChildren();
  if (!rows.length) {
    tbody.append(el("tr", { class: "empty" }, el("td", { colspan: cols }, empty)));
    return;
  }
  tbody.append(...rows);
}
