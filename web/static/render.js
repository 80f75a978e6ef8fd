// Document content rendered for people: text as text, segments with their
// times, tables for lists of records, links for automerge: references. Known
// types (transcript, note, diagnosis) put their important fields first; any
// other type, including user-defined ones, gets the generic layout.
import { el, label, clock, docLink } from "./api.js";

// Fields that are rendered apart (in the header or a details box), never in
// the body.
const apart = new Set(["provenance"]);

const layouts = {
  transcript: ["text", "language", "duration", "audio", "segments", "next_job"],
  note: ["subjective", "objective", "assessment", "plan", "medications", "follow_up", "text", "body"],
  diagnosis: ["requires_clinician_confirmation", "status", "suggestions", "red_flags"],
  maintenance_report: ["summary", "findings", "parts_needed", "next_inspection"],
};

export function renderContent(doc) {
  const c = doc.content || {};
  const out = document.createDocumentFragment();
  if (doc.type === "diagnosis" && c.requires_clinician_confirmation) {
    out.append(el("p", { class: "warning", role: "note" },
      "Suggestions produced by a model, not diagnoses: a clinician must confirm them."));
  }
  const first = layouts[doc.type] || ["text", "body", "log"];
  const keys = Object.keys(c).filter((k) => !apart.has(k));
  keys.sort((a, b) => rank(first, a) - rank(first, b) || a.localeCompare(b));
  const dl = el("div", { class: "fields" });
  for (const k of keys) dl.append(field(doc.type, k, c[k]));
  if (!keys.length) dl.append(el("p", { class: "muted" }, "This document has no content yet."));
  out.append(dl);
  if (c.provenance && typeof c.provenance === "object") {
    out.append(el("details", { class: "provenance" }, el("summary", {}, "Provenance"), value(c.provenance, 1)));
  }
  return out;
}

function rank(order, k) {
  const i = order.indexOf(k);
  return i < 0 ? order.length : i;
}

function field(type, k, v) {
  const box = el("div", { class: "field", "data-field": k });
  box.append(el("h4", {}, label(k)));
  if (type === "transcript" && k === "segments" && Array.isArray(v)) {
    box.append(segments(v));
  } else if (type === "transcript" && k === "duration" && typeof v === "number") {
    box.append(el("p", {}, clock(v)));
  } else if (type === "transcript" && k === "audio" && v && v.sha256) {
    box.append(audio(v));
  } else if (k === "next_job" && typeof v === "string") {
    box.append(el("p", {}, el("a", { href: "#/jobs?job=" + encodeURIComponent(v) }, "Follow-up job " + v)));
  } else {
    box.append(value(v, 0));
  }
  return box;
}

function segments(segs) {
  const t = el("table", { class: "segments" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Time"), el("th", { scope: "col" }, "Text"))));
  const tb = el("tbody");
  for (const s of segs) {
    tb.append(el("tr", {}, el("td", { class: "time" }, clock(s.start) + " – " + clock(s.end)), el("td", {}, s.text ?? "")));
  }
  t.append(tb);
  return t;
}

function audio(a) {
  const src = "/api/v1/blobs/" + encodeURIComponent(a.sha256);
  return el("p", {},
    el("audio", { controls: true, preload: "none", src, "aria-label": "Recording " + (a.name || "") }),
    " ", el("a", { href: src, download: a.name || "recording" }, "Download " + (a.name || "recording")));
}

// value renders any JSON value; depth bounds nesting so that a deeply
// nested document cannot make an unreadable page.
export function value(v, depth) {
  if (v === null || v === undefined) return el("span", { class: "muted" }, "none");
  if (typeof v === "string") {
    if (/^automerge:[1-9A-HJ-NP-Za-km-z]+$/.test(v)) return el("p", {}, docLink(v.slice(10), v));
    return el("p", { class: "prose" }, v);
  }
  if (typeof v !== "object") return el("p", {}, String(v));
  if (depth > 6) return el("pre", {}, JSON.stringify(v, null, 2));
  if (Array.isArray(v)) {
    if (!v.length) return el("span", { class: "muted" }, "none");
    if (v.every((x) => x && typeof x === "object" && !Array.isArray(x))) return records(v, depth);
    return el("ul", {}, ...v.map((x) => el("li", {}, value(x, depth + 1))));
  }
  const dl = el("dl", { class: "nested" });
  for (const [k, x] of Object.entries(v)) dl.append(el("dt", {}, label(k)), el("dd", {}, value(x, depth + 1)));
  return dl;
}

// columns puts what a row is about first, then its details; the node
// stores map keys sorted, which would put "dose" before "name".
const columns = ["name", "condition", "equipment", "icd10", "dose", "route", "frequency", "likelihood",
  "observation", "severity", "action", "rationale", "red_flags"];

function records(rows, depth) {
  const cols = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  cols.sort((a, b) => rank(columns, a) - rank(columns, b));
  const t = el("table", { class: "records" },
    el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { scope: "col" }, label(c))))));
  const tb = el("tbody");
  for (const r of rows) {
    tb.append(el("tr", {}, ...cols.map((c) => {
      const x = r[c];
      return el("td", {}, x !== null && typeof x === "object" ? value(x, depth + 1) : x === undefined ? "" : String(x));
    })));
  }
  t.append(tb);
  return t;
}

// textFields are the fields the edit box offers, in the order the page
// shows them: top-level strings (Automerge Text on the node), but not
// references the node maintains.
export function textFields(type, content) {
  const first = layouts[type] || ["text", "body", "log"];
  return Object.keys(content || {})
    .filter((k) => typeof content[k] === "string" && k !== "source" && k !== "next_job")
    .sort((a, b) => rank(first, a) - rank(first, b) || a.localeCompare(b));
}
