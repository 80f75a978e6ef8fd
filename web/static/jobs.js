// Jobs: the queue as a table (state filter, progress, errors, cancel,
// results), a tracker that follows one job (and the job it chains to), and
// the transcription upload.
import { $, api, decode, el, when, docLink, fillRows, reportError, clearError, setOnline, APIError } from "./api.js";

const active = new Set(["queued", "running"]);

export function initJobs(go) {
  $("#job-filter").addEventListener("change", (e) => {
    const s = e.target.value;
    go("#/jobs" + (s ? "?state=" + s : ""));
  });
  $("#transcribe").addEventListener("submit", transcribe);
  const coll = localStorage.getItem("outpost.collection");
  if (coll) $("#transcribe").elements.collection.value = coll;
}

// showJobs draws the jobs table; the router calls it again every few
// seconds while the view is open.
export async function showJobs(params) {
  const state = params.get("state") || "";
  $("#job-filter").value = state;
  let body;
  try {
    body = await api("GET", "/api/v1/jobs?limit=100" + (state ? "&state=" + state : ""));
    clearError("jobs");
  } catch (e) {
    reportError("jobs", "Listing jobs failed", e);
    return;
  }
  const highlight = params.get("job");
  const rows = body.jobs.map((j) => jobRow(j, j.id === highlight));
  fillRows($("#jobs tbody"), rows, state ? "No " + state + " jobs." : "No jobs yet.", 6);
  $("#jobs-count").textContent = body.jobs.length >= 100 ? "Showing the newest 100 jobs." : "";
}

function jobRow(j, highlight) {
  const input = parseInput(j.input);
  const what = el("td", { class: "details" });
  if (input.doc_id) what.append("From ", docLink(input.doc_id, "source document"), " ");
  if (input.name) what.append("Audio " + input.name + " ");
  if (j.model) what.append("· model " + j.model + " ");
  if (j.result) what.append(el("span", { class: "result" }, docLink(j.result, "Open result")), " ");
  if (j.error) what.append(el("span", { class: "error-text" }, j.error));
  const cancel = active.has(j.state)
    ? el("button", { type: "button", class: "cancel", "aria-label": "Cancel " + j.kind + " job " + j.id }, "Cancel")
    : "";
  if (cancel) cancel.addEventListener("click", () => cancelJob(j.id, cancel));
  return el("tr", { "data-job-id": j.id, "data-state": j.state, class: highlight ? "highlight" : null },
    el("td", { title: j.id }, when(j.created_at)),
    el("td", {}, j.kind),
    el("td", {}, el("span", { class: "badge " + j.state }, j.state), j.attempts > 1 ? " (attempt " + j.attempts + ")" : ""),
    el("td", {}, progress(j)),
    what,
    el("td", {}, cancel));
}

function parseInput(raw) {
  // The API returns input as the JSON the job was submitted with.
  if (raw && typeof raw === "object") return raw;
  return {};
}

// progress shows what the node reports. A running job whose progress the
// node has not reported (0) gets an indeterminate bar, not a false 0%.
function progress(j) {
  const label = j.kind + " progress";
  switch (j.state) {
    case "queued":
      return el("span", { class: "progress muted" }, "waiting");
    case "running": {
      if (!(j.progress > 0)) return el("span", { class: "progress" }, el("progress", { "aria-label": label }), " working");
      const pct = Math.round(j.progress * 100);
      return el("span", { class: "progress" }, el("progress", { max: 100, value: pct, "aria-label": label }), " " + pct + "%");
    }
    case "done":
      return el("span", { class: "progress" }, el("progress", { max: 100, value: 100, "aria-label": label }), " 100%");
    default:
      return el("span", { class: "progress muted" }, "–");
  }
}

async function cancelJob(id, button) {
  button.disabled = true;
  try {
    await api("DELETE", "/api/v1/jobs/" + encodeURIComponent(id));
    clearError("cancel");
  } catch (e) {
    reportError("cancel", "Cancelling job " + id + " failed", e);
  }
  const ev = new CustomEvent("outpost:refresh");
  window.dispatchEvent(ev);
}

// --- Tracker --------------------------------------------------------------------

// trackJob shows one job's progress in box until it ends, then its result;
// a transcription that chains a note is followed into that job too.
export function trackJob(box, id) {
  const card = el("div", { class: "tracker", "data-job-id": id, role: "status" });
  box.prepend(card);
  const tick = async () => {
    if (!card.isConnected) return;
    let j;
    try {
      j = await api("GET", "/api/v1/jobs/" + encodeURIComponent(id));
      clearError("track-" + id);
    } catch (e) {
      reportError("track-" + id, "Following job " + id + " failed", e);
      setTimeout(tick, 3000);
      return;
    }
    card.replaceChildren(
      el("strong", {}, j.kind + " job "), el("a", { href: "#/jobs?job=" + encodeURIComponent(j.id) }, j.id), " ",
      el("span", { class: "badge " + j.state, "data-state": j.state }, j.state), " ", progress(j));
    if (j.error) card.append(el("p", { class: "error-text" }, j.error));
    if (j.result) card.append(" ", el("span", { class: "result" }, docLink(j.result, "Open " + (j.kind === "transcribe" ? "transcript" : "result"))));
    if (!["done", "failed", "cancelled"].includes(j.state)) {
      setTimeout(tick, 1000);
      return;
    }
    const input = parseInput(j.input);
    if (j.state === "done" && input.then && j.result) followChain(box, j.result);
  };
  tick();
}

async function followChain(box, transcriptID) {
  try {
    const d = await api("GET", "/api/v1/docs/" + encodeURIComponent(transcriptID));
    if (typeof d.content.next_job === "string") trackJob(box, d.content.next_job);
  } catch (e) {
    reportError("chain", "Finding the follow-up job failed", e);
  }
}

// --- Transcription upload ---------------------------------------------------

function transcribe(e) {
  e.preventDefault();
  const form = e.target;
  const data = new FormData(form);
  for (const k of ["model", "language", "prompt", "then", "priority"]) {
    if (!String(data.get(k) || "").trim()) data.delete(k);
  }
  localStorage.setItem("outpost.collection", String(data.get("collection")));
  const bar = $("#upload-progress");
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  bar.hidden = false;
  bar.value = 0;
  // XMLHttpRequest, not fetch: recordings can be hundreds of megabytes and
  // people need to see the upload move.
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/v1/transcriptions");
  xhr.setRequestHeader("Accept", "application/json");
  xhr.upload.onprogress = (ev) => {
    if (ev.lengthComputable) bar.value = Math.round((ev.loaded / ev.total) * 100);
  };
  const done = () => {
    submit.disabled = false;
    bar.hidden = true;
  };
  xhr.onerror = () => {
    done();
    setOnline(false);
    reportError("transcribe", "Uploading the recording failed", new APIError(0, "the node cannot be reached"));
  };
  xhr.onload = () => {
    done();
    setOnline(true);
    try {
      const j = decode(xhr.status, xhr.statusText, xhr.responseText);
      clearError("transcribe");
      form.elements.file.value = "";
      trackJob($("#transcribe-jobs"), j.id);
    } catch (err) {
      reportError("transcribe", "Transcription refused", err);
    }
  };
  xhr.send(data);
}
