"use strict";
// The dashboard talks to the node only through its JSON API.
const $ = (sel) => document.querySelector(sel);
let cursor = "";

async function api(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

async function loadNode() {
  try {
    const info = await api("/api/v1/node");
    $("#node-name").textContent = "· " + info.name;
    $("#status").textContent = "online";
  } catch (e) {
    $("#status").textContent = "unreachable: " + e.message;
  }
}

async function loadDocs(append) {
  const form = new FormData($("#filter"));
  const q = new URLSearchParams({ limit: "50" });
  for (const k of ["type", "collection"]) if (form.get(k)) q.set(k, form.get(k));
  if (append && cursor) q.set("cursor", cursor);
  const body = await api("/api/v1/docs?" + q);
  const tbody = $("#docs tbody");
  if (!append) tbody.replaceChildren();
  for (const d of body.docs) {
    const tr = document.createElement("tr");
    for (const v of [new Date(d.updated_at).toLocaleString(), d.type, d.collection, d.id]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    tr.addEventListener("click", () => showDoc(d.id));
    tbody.append(tr);
  }
  cursor = body.next;
  $("#more").hidden = !cursor;
}

async function showDoc(id) {
  const d = await api("/api/v1/docs/" + encodeURIComponent(id));
  $("#doc").textContent = JSON.stringify(d, null, 2);
}

function fillTable(sel, rows) {
  const tbody = $(sel + " tbody");
  tbody.replaceChildren();
  for (const cells of rows) {
    const tr = document.createElement("tr");
    for (const v of cells) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    tbody.append(tr);
  }
}

const when = (t) => (t ? new Date(t).toLocaleString() : "never");

async function loadSync() {
  const s = await api("/api/v1/sync");
  fillTable("#peers", (s.peers || []).map((p) => [p.name || p.url, p.state + (p.last_error ? " (" + p.last_error + ")" : ""), when(p.last_sync), String(p.pending)]));
}

async function loadJobs() {
  const j = await api("/api/v1/jobs?limit=20");
  fillTable("#jobs", j.jobs.map((x) => [when(x.created_at), x.kind, x.state + (x.error ? ": " + x.error : ""), Math.round(x.progress * 100) + "%"]));
}

// Status panels refresh on their own; the document list on request.
setInterval(() => { loadSync().catch(() => {}); loadJobs().catch(() => {}); }, 3000);
loadSync().catch(() => {});
loadJobs().catch(() => {});

$("#filter").addEventListener("submit", (e) => { e.preventDefault(); loadDocs(false); });
$("#more").addEventListener("click", () => loadDocs(true));
loadNode();
loadDocs(false).catch((e) => { $("#status").textContent = e.message; });
