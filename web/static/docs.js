// Documents: the filtered, paged list, one document (content, edit box,
// history, follow-up jobs), and a form for a new document.
import { $, api, APIError, el, when, docLink, label, fillRows, reportError, clearError, notice, headerText } from "./api.js";
import { renderContent, textFields } from "./render.js";
import { merge3 } from "./merge.js";
import { trackJob } from "./jobs.js";

const pageSize = 50;

// The list pages with the API's opaque cursors: cursors[i] fetches page i.
const list = { filter: { type: "", collection: "" }, cursors: [""], page: 0 };

export function initDocs(go) {
  $("#doc-filter").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const q = new URLSearchParams();
    for (const k of ["type", "collection"]) if (f.get(k).trim()) q.set(k, f.get(k).trim());
    const target = "#/docs" + (q.toString() ? "?" + q : "");
    if (location.hash === target) showDocs(q);
    else go(target);
  });
  $("#docs-prev").addEventListener("click", () => {
    if (list.page > 0) loadPage(list.page - 1);
  });
  $("#docs-next").addEventListener("click", () => {
    if (list.cursors[list.page + 1]) loadPage(list.page + 1);
  });
  $("#doc-new").addEventListener("submit", createDoc);
  $("#doc-edit-open").addEventListener("click", () => openEditor());
  $("#doc-edit").addEventListener("submit", saveEdit);
  $("#doc-edit-cancel").addEventListener("click", closeEditor);
  $("#doc-job").addEventListener("submit", runJob);
  $("#doc-refresh").addEventListener("click", () => current && showDoc(current.id));
}

// --- List -------------------------------------------------------------------

export function showDocs(params) {
  const filter = { type: params.get("type") || "", collection: params.get("collection") || "" };
  const form = $("#doc-filter");
  form.elements.type.value = filter.type;
  form.elements.collection.value = filter.collection;
  const same = filter.type === list.filter.type && filter.collection === list.filter.collection;
  if (!same) {
    list.filter = filter;
    list.cursors = [""];
    list.page = 0;
  }
  return loadPage(list.page);
}

async function loadPage(page) {
  const q = new URLSearchParams({ limit: String(pageSize), excerpt: "1" });
  if (list.filter.type) q.set("type", list.filter.type);
  if (list.filter.collection) q.set("collection", list.filter.collection);
  if (list.cursors[page]) q.set("cursor", list.cursors[page]);
  let body;
  try {
    body = await api("GET", "/api/v1/docs?" + q);
    clearError("docs");
  } catch (e) {
    reportError("docs", "Listing documents failed", e);
    return;
  }
  list.page = page;
  list.cursors.length = page + 1;
  if (body.next) list.cursors.push(body.next);
  const rows = body.docs.map((d) =>
    el("tr", { "data-doc-id": d.id },
      el("td", {}, when(d.updated_at)),
      el("td", {}, d.type),
      el("td", {}, d.collection),
      // People find a note by its words; the id is there for the rest.
      d.excerpt ? el("td", { title: d.id }, docLink(d.id, d.excerpt)) : el("td", { class: "id" }, docLink(d.id))));
  const filtered = list.filter.type || list.filter.collection;
  fillRows($("#docs tbody"), rows, filtered ? "No documents match these filters." : "No documents yet.", 4);
  $("#docs-prev").disabled = page === 0;
  $("#docs-next").disabled = !body.next;
  const first = page * pageSize + 1;
  $("#docs-page").textContent = body.docs.length
    ? "Page " + (page + 1) + " · documents " + first + "–" + (first + body.docs.length - 1)
    : "Page " + (page + 1);
}

async function createDoc(e) {
  e.preventDefault();
  const f = new FormData(e.target);
  const content = {};
  if (f.get("text").trim()) content[f.get("field").trim() || "text"] = f.get("text");
  try {
    const d = await api("POST", "/api/v1/docs", {
      json: { type: f.get("type").trim(), collection: f.get("collection").trim(), content },
    });
    clearError("doc-new");
    e.target.reset();
    location.hash = "#/doc/" + encodeURIComponent(d.id);
  } catch (err) {
    reportError("doc-new", "Creating the document failed", err);
  }
}

// --- One document ---------------------------------------------------------

let current = null; // the document as last loaded or saved
let editBase = null; // content the open edit box started from

export async function showDoc(id) {
  $("#doc-title").textContent = "Document";
  let d;
  try {
    d = await api("GET", "/api/v1/docs/" + encodeURIComponent(id));
    clearError("doc");
  } catch (e) {
    current = null;
    $("#doc-body").hidden = true;
    reportError("doc", "Opening document " + id + " failed", e);
    return;
  }
  if (current && current.id !== d.id) closeEditor();
  current = d;
  $("#doc-body").hidden = false;
  drawDoc();
  loadHistory(id);
}

function drawDoc() {
  const d = current;
  $("#doc-title").textContent = label(d.type) + " · " + d.collection;
  const meta = $("#doc-meta");
  meta.replaceChildren();
  const rows = [["Type", d.type], ["Collection", d.collection], ["Id", d.id], ["URL", d.url],
    ["Created", when(d.created_at)], ["Updated", when(d.updated_at)]];
  for (const [k, v] of rows) meta.append(el("dt", {}, k), el("dd", {}, v));
  $("#doc-content").replaceChildren(renderContent(d));
  $("#doc-json").textContent = JSON.stringify(d, null, 2);
  const editable = textFields(d.type, d.content).length > 0;
  $("#doc-edit-open").disabled = !editable;
  $("#doc-edit-open").title = editable ? "" : "This document has no text fields";
  // Offer the follow-up that fits the type first.
  const kind = { transcript: "note", note: "diagnose" }[d.type];
  if (kind) $("#doc-job").elements.kind.value = kind;
}

async function loadHistory(id) {
  try {
    const h = await api("GET", "/api/v1/docs/" + encodeURIComponent(id) + "/history");
    clearError("history");
    if (!current || current.id !== id) return;
    const rows = h.changes.slice().reverse().map((c) =>
      el("tr", {}, el("td", {}, when(c.time)), el("td", {}, c.message || ""), el("td", { class: "id" }, c.actor.slice(0, 8) + " #" + c.seq),
        el("td", { class: "id", title: c.hash }, c.hash.slice(0, 12))));
    fillRows($("#doc-history tbody"), rows, "No changes.", 4);
  } catch (e) {
    reportError("history", "Loading the history failed", e);
  }
}

// --- Editing ------------------------------------------------------------------

function openEditor() {
  if (!current) return;
  editBase = { ...current.content };
  notice("");
  const box = $("#doc-edit-fields");
  box.replaceChildren();
  for (const k of textFields(current.type, current.content)) {
    const id = "edit-" + k;
    const ta = el("textarea", { id, name: k, rows: Math.min(16, Math.max(3, current.content[k].split("\n").length + 1)) });
    ta.value = current.content[k];
    box.append(el("div", { class: "edit-field" }, el("label", { for: id }, label(k)), ta,
      el("p", { class: "theirs", hidden: true, id: id + "-theirs" })));
  }
  $("#doc-edit").hidden = false;
  $("#doc-edit-open").hidden = true;
  $("#doc-content").hidden = true; // the box shows the same text
  const first = $("#doc-edit textarea");
  if (first) first.focus();
}

function closeEditor() {
  editBase = null;
  $("#doc-edit").hidden = true;
  $("#doc-edit-open").hidden = false;
  $("#doc-content").hidden = false;
  $("#doc-edit").elements.message.value = "";
}

async function saveEdit(e) {
  e.preventDefault();
  if (!current || !editBase) return;
  const id = current.id;
  const form = e.target;
  const save = form.querySelector("button[type=submit]");
  save.disabled = true;
  notice("");
  try {
    // Rebase on what the node has now: another device may have edited
    // the same text since the box was opened. The PATCH names the version
    // it was merged against (If-Match); if yet another edit lands in
    // between, the node refuses it (412) and the merge is redone.
    let d = null;
    for (let attempt = 0; !d; attempt++) {
      d = await mergeAndSave(id, form, attempt < 3);
      if (d === "nothing") return;
    }
    clearError("save");
    current = d;
    closeEditor();
    drawDoc();
    loadHistory(id);
    notice("Saved.");
  } catch (err) {
    reportError("save", "Saving failed", err);
  } finally {
    save.disabled = false;
  }
}

// mergeAndSave merges the edit box onto the node's current version and
// PATCHes it with If-Match. It returns the saved document, "nothing" if
// there was nothing to save, or null if the version moved on meanwhile and
// retry allows another round.
async function mergeAndSave(id, form, retry) {
  const fresh = await api("GET", "/api/v1/docs/" + encodeURIComponent(id));
  const patch = {};
  const conflicts = [];
  for (const ta of form.querySelectorAll("textarea")) {
    const k = ta.name;
    const base = editBase[k];
    const theirs = fresh.content[k];
    if (ta.value === base) continue;
    const merged = typeof theirs === "string" ? merge3(base, ta.value, theirs) : ta.value;
    if (merged === null) {
      conflicts.push(k);
      editBase[k] = theirs; // saving again keeps the box's text
      const p = $("#" + ta.id + "-theirs");
      p.hidden = false;
      p.textContent = "Now on the node: " + theirs;
    } else if (merged !== theirs) {
      patch[k] = merged;
    }
  }
  if (conflicts.length) {
    throw new Error(conflicts.map(label).join(", ") + " changed on another device while you edited the same words. " +
      "Your text is still in the box and the node's text is shown under it; save again to keep yours.");
  }
  if (!Object.keys(patch).length) {
    notice("Nothing to save: the text is unchanged.");
    closeEditor();
    return "nothing";
  }
  const msg = form.elements.message.value.trim() || "edit " + Object.keys(patch).join(", ") + " (dashboard)";
  try {
    return await api("PATCH", "/api/v1/docs/" + encodeURIComponent(id), {
      body: JSON.stringify(patch),
      headers: {
        "Content-Type": "application/merge-patch+json",
        "X-Change-Message": headerText(msg),
        "If-Match": '"' + [...fresh.heads].sort().join(".") + '"',
      },
    });
  } catch (err) {
    if (retry && err instanceof APIError && err.status === 412) return null;
    throw err;
  }
}

// --- Follow-up jobs ---------------------------------------------------------

async function runJob(e) {
  e.preventDefault();
  if (!current) return;
  const f = new FormData(e.target);
  const req = { kind: f.get("kind"), input: { doc_id: current.id } };
  if (f.get("model").trim()) req.model = f.get("model").trim();
  try {
    const j = await api("POST", "/api/v1/jobs", { json: req });
    clearError("doc-job");
    trackJob($("#doc-job-status"), j.id);
  } catch (err) {
    reportError("doc-job", "Starting the " + req.kind + " job failed", err);
  }
}
