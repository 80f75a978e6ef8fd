// Models and sync: what this node can run and whom it syncs with.
import { $, api, el, when, ago, bytes, fillRows, reportError, clearError } from "./api.js";

export async function showModels() {
  let body;
  try {
    body = await api("GET", "/api/v1/models");
    clearError("models");
  } catch (e) {
    reportError("models", "Listing models failed", e);
    return;
  }
  const rows = body.models.map((m) => {
    const d = m.details || {};
    const about = [d.architecture, d.parameters ? params(d.parameters) + " parameters" : "", d.quantization,
      d.context_length ? "context " + d.context_length : ""].filter(Boolean).join(" · ");
    return el("tr", { "data-model": m.name },
      el("td", {}, m.name),
      el("td", {}, m.kind === "llm" ? "language model" : m.kind === "whisper" ? "speech to text" : m.kind),
      el("td", {}, about, " ", d.random_weights ? el("span", { class: "badge warn", title: "Generated for tests: produces gibberish" }, "random weights") : ""),
      el("td", {}, bytes(m.size)),
      el("td", {}, when(m.added)),
      el("td", { class: "id", title: m.sha256 }, (m.sha256 || "").slice(0, 12)));
  });
  fillRows($("#models tbody"), rows, "No models on this node. Add one with `outpost models pull` or `outpost models import`.", 6);
  // Offer the names where forms ask for a model.
  const list = $("#model-names");
  list.replaceChildren(...body.models.map((m) => el("option", { value: m.name }, m.kind)));
}

function params(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1) + "B";
  if (n >= 1e6) return (n / 1e6).toFixed(0) + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(0) + "K";
  return String(n);
}

export async function showSync() {
  let s;
  try {
    s = await api("GET", "/api/v1/sync");
    clearError("sync");
  } catch (e) {
    reportError("sync", "Reading sync status failed", e);
    return;
  }
  $("#sync-self").textContent = "Peer id " + s.peer_id + " · collections: " +
    (s.collections && s.collections.length ? s.collections.join(", ") : "all that peers grant");
  const rows = s.peers.map((p) => el("tr", { "data-peer": p.url, "data-state": p.state },
    el("td", {}, p.name || p.url, p.name ? el("div", { class: "muted" }, p.url) : ""),
    el("td", {}, p.outbound ? "we dial" : "dialed us"),
    el("td", {}, el("span", { class: "badge " + p.state }, p.state),
      p.last_error ? el("div", { class: "error-text" }, p.last_error) : "",
      p.state === "backoff" && p.retry_at ? el("div", { class: "muted" }, "retry " + when(p.retry_at)) : ""),
    el("td", { title: when(p.last_sync) }, ago(p.last_sync)),
    el("td", {}, String(p.pending)),
    el("td", {}, String(p.docs)),
    el("td", {}, bytes(p.bytes_in) + " in / " + bytes(p.bytes_out) + " out")));
  fillRows($("#peers tbody"), rows, "No peers. Start the node with --server, --peer or --discover.", 7);
}
