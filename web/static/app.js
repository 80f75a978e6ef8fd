// The dashboard's router: one view per location hash (so that views can be
// bookmarked, shared between colleagues and reloaded), plus the node
// indicator. Views that show changing state (jobs, sync) refresh on a timer
// while they are open; the rest refresh when asked.
import { $, $$, api, reportError, clearError, notice } from "./api.js";
import { initDocs, showDocs, showDoc } from "./docs.js";
import { initJobs, showJobs } from "./jobs.js";
import { showModels, showSync } from "./status.js";

const routes = {
  docs: { view: "#view-docs", show: (p) => showDocs(p) },
  doc: { view: "#view-doc", nav: "docs", show: (p, arg) => showDoc(arg) },
  transcribe: { view: "#view-transcribe", show: () => showModels() },
  jobs: { view: "#view-jobs", show: (p) => showJobs(p), every: 2000 },
  models: { view: "#view-models", show: () => showModels() },
  sync: { view: "#view-sync", show: () => showSync(), every: 3000 },
};

let timer = null;
let generation = 0; // a refresh loop stops once a newer render started
let lastRoute = "";

function parse() {
  const h = location.hash.replace(/^#\/?/, "");
  const [path, query] = h.split("?", 2);
  const [name, ...rest] = path.split("/");
  return { name: routes[name] ? name : "docs", arg: decodeURIComponent(rest.join("/")), params: new URLSearchParams(query || "") };
}

function render() {
  const r = parse();
  const route = routes[r.name];
  clearTimeout(timer);
  const gen = ++generation;
  for (const v of $$("main > section[data-view]")) v.hidden = "#" + v.id !== route.view;
  for (const a of $$("nav a[data-route]")) {
    if (a.dataset.route === (route.nav || r.name)) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const key = r.name + "/" + r.arg;
  if (key !== lastRoute) {
    lastRoute = key;
    notice("");
    // Move focus to the view's heading so that screen readers announce it.
    const h = $(route.view + " h2");
    if (h) h.focus({ preventScroll: true });
  }
  const run = async () => {
    await route.show(r.params, r.arg);
    if (route.every && gen === generation) timer = setTimeout(run, route.every);
  };
  run();
}

async function checkNode() {
  try {
    const info = await api("GET", "/api/v1/node");
    clearError("node");
    $("#node-name").textContent = info.name;
    document.title = "Outpost · " + info.name;
    // Say so before an upload, not after its job fails.
    $("#no-speech").hidden = !info.speech || info.speech.available !== false;
  } catch (e) {
    if (e.status) reportError("node", "Reading node information failed", e);
  }
}

function go(hash) {
  location.hash = hash;
}

initDocs(go);
initJobs(go);
window.addEventListener("hashchange", render);
// A job cancelled from a row refreshes the view that holds it.
window.addEventListener("outpost:refresh", render);
$("#refresh").addEventListener("click", () => {
  checkNode();
  render();
});
setInterval(checkNode, 5000);
checkNode();
render();
// Forms that take a model name offer the node's models.
showModels();
