// dpoloop labeling UI: prompt + two images, vote by click or key.
// The next pair is fetched and its images decoded before the current vote is sent, so the next
// pair appears at once. Votes go through an outbox in localStorage, one per token, re-read on every
// change (several tabs may share it): a network fault or a closed tab never loses one, and the
// server makes a repeated vote harmless. A pair is named by its handle (`comparison.id`: an opaque
// string the server made for this labeler), in votes, reports and the exclude list; never by a row id.
"use strict";

const API = "/api/v1";
const KEYS = { "1": "left", ArrowLeft: "left", "2": "right", ArrowRight: "right", "3": "tie",
               ArrowDown: "tie", "4": "both_bad", ArrowUp: "both_bad", " ": "skip" };
const PREFETCH_MAX_AGE_MS = 60_000;  // the server holds a served pair for 120 s; refetch well before
const UNDO_WINDOW_MS = 10_000;  // DPOLOOP_UNDO_WINDOW_S's default: the server has the last word
const $ = (id) => document.getElementById(id);

let token = null;
let current = null;      // {comparison, shownAt}
let upcoming = null;     // {comparison, fetchedAt}: prefetched, images decoded
let prefetching = null;  // the prefetch in flight
let votes = 0;
let emptyTimer = null;
let capped = null;       // a CapReached from the last fetch
let retryTimer = null;
let lastVote = null;     // {entry, comparison, at}: what U / Backspace takes back
let undoTimer = null;
const unreadable = new Set();  // pairs whose images failed to load: never asked for again
// Each campaign has its question and guidelines (GET /guidelines?campaign=): those of the pair on screen
// are shown, and its votes are cast under them.
let campaign = "default";
const guidelinesOf = new Map();  // campaign -> {guidelines, checkedAt}
const loadingGuidelines = new Set();  // campaigns whose guidelines are being fetched: one request each
const NO_GUIDELINES = { version: 0, question: "", blocks: [] };
const guidelines = () => guidelinesOf.get(campaign)?.guidelines ?? NO_GUIDELINES;  // the pair on screen's
const GUIDELINES_RECHECK_MS = 30_000;

// ---- the outbox ------------------------------------------------------------------------------
// Keyed by a hash of the token, not the token: logging out leaves no trace of it in storage, while
// votes not yet sent wait for the same labeler's next login.
function tokenHash(text) {
  let h1 = 0x811c9dc5, h2 = 0x01000193;  // two FNV-1a lanes: a name for the outbox, not a secret
  for (let i = 0; i < text.length; i++) {
    h1 = Math.imul(h1 ^ text.charCodeAt(i), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ text.charCodeAt(i), 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}
const outboxKey = () => `dpoloop.outbox:${tokenHash(token)}`;
const readOutbox = () => JSON.parse(localStorage.getItem(outboxKey()) || "[]");
function changeOutbox(change) {
  const entries = change(readOutbox());
  localStorage.setItem(outboxKey(), JSON.stringify(entries));
  return entries;
}

// ---- screens ---------------------------------------------------------------------------------
function show(section) {
  for (const id of ["login", "labeling", "empty", "later"]) $(id).hidden = id !== section;
}

// A vote cap (429 with Retry-After): say so, and try again when the server says.
class CapReached extends Error {
  constructor(message, retryAfterS) { super(message); this.retryAfterS = retryAfterS; }
}
async function capReached(response) {
  let detail = "you have voted a lot lately";
  try { detail = (await response.json()).detail; } catch { /* keep the default */ }
  return new CapReached(detail, Number(response.headers.get("Retry-After")) || 60);
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const response = await fetch(API + path, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (response.status === 401) {
    logout("Your token is not valid (any more). Log in again.");
    throw new Unauthorized();
  }
  return response;
}

function logout(message = "") {
  clearTimeout(emptyTimer);
  clearTimeout(retryTimer);
  localStorage.removeItem("dpoloop.token");
  token = current = upcoming = lastVote = null;
  $("undo").hidden = true;
  $("who").hidden = true;
  $("login-error").textContent = message;
  status("");
  show("login");
}

// ---- fetching pairs --------------------------------------------------------------------------
function preload(url) {
  const img = new Image();
  img.src = url;
  return img.decode();
}

// A comparison other than the ones on screen, waiting to be sent or unreadable; images decoded.
async function fetchNext() {
  const exclude = new Set([...unreadable, ...readOutbox().map((v) => v.comparisonId)]);
  if (current) exclude.add(current.comparison.id);
  const query = exclude.size ? `?exclude=${[...exclude].slice(-100).join(",")}` : "";
  const response = await api(`/comparisons/next${query}`);
  if (response.status === 204) return null;
  if (response.status === 429) throw await capReached(response);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const comparison = await response.json();
  try {
    await Promise.all([preload(comparison.left.url), preload(comparison.right.url)]);
  } catch {
    unreadable.add(comparison.id);
    throw new Error("a pair's images could not be loaded; skipping it");
  }
  return { comparison, fetchedAt: Date.now() };
}

function prefetch() {
  if (!prefetching && token && !upcoming) {
    prefetching = fetchNext()
      .then((next) => { upcoming = next; })
      .catch((e) => {
        if (e instanceof CapReached) capped = e;
        else if (!(e instanceof Unauthorized)) status(`Could not fetch the next pair (${e.message}).`, true);
      })
      .finally(() => { prefetching = null; });
  }
  return prefetching || Promise.resolve();
}

// Pixelated rendering only where it helps: an image under 256 px shown at more than twice its size.
function renderingFor(img) {
  const small = img.naturalWidth > 0 && img.naturalWidth < 256;
  img.classList.toggle("pixelated", small && img.clientWidth > 2 * img.naturalWidth);
}
for (const id of ["left-image", "right-image"]) {
  $(id).addEventListener("load", () => renderingFor($(id)));
}
window.addEventListener("resize", () => { renderingFor($("left-image")); renderingFor($("right-image")); });

function display(comparison) {
  clearTimeout(emptyTimer);
  current = { comparison, shownAt: performance.now() };
  enterCampaign(comparison.campaign || "default");
  $("prompt").textContent = comparison.prompt;
  $("left-image").src = comparison.left.url;
  $("right-image").src = comparison.right.url;
  show("labeling");
  prefetch();
}

async function advance() {
  if (!token) return;
  const known = guidelinesOf.get(campaign);
  if (!known || Date.now() - known.checkedAt > GUIDELINES_RECHECK_MS) loadGuidelines(campaign);  // a change shows
  if (upcoming && Date.now() - upcoming.fetchedAt > PREFETCH_MAX_AGE_MS) upcoming = null;  // its hold lapsed
  if (!upcoming) await prefetch();
  if (!token) return;
  if (upcoming) {
    const next = upcoming;
    upcoming = null;
    display(next.comparison);
  } else if (capped) {
    current = null;
    $("later-reason").textContent = capped.message;
    show("later");
    emptyTimer = setTimeout(advance, capped.retryAfterS * 1000);
    capped = null;
  } else {
    current = null;
    show("empty");
    emptyTimer = setTimeout(advance, 2000);
  }
}

// ---- guidelines: shown on a first visit and after each change, and behind ? ----------------------
// The default campaign keeps the key it had before campaigns existed: nobody sees its guidelines again.
const seenKey = (name) => `dpoloop.guidelines-seen:${tokenHash(token)}${name === "default" ? "" : `:${name}`}`;

function showGuidelines() {
  const { question, blocks } = guidelines();
  $("guidelines-question").textContent = question;
  dpoloopGuidelines.render($("guidelines-body"), blocks);
  if (!blocks.length) $("guidelines-body").textContent = "No further guidelines: judge by the question.";
  if (!$("guidelines-dialog").open) $("guidelines-dialog").showModal();
}

$("guidelines-dialog").addEventListener("close", () => {
  if (token) localStorage.setItem(seenKey(campaign), String(guidelines().version));
});

// The pair on screen belongs to `name`: its question shows, and its guidelines if not seen in this version.
function enterCampaign(name) {
  if (name === campaign && guidelinesOf.has(name)) return;
  campaign = name;
  const known = guidelinesOf.get(name);
  if (known) adopt(known.guidelines);
  else loadGuidelines(name);
}

function adopt(found) {
  $("question").textContent = found.question;
  const seen = Number(localStorage.getItem(seenKey(campaign)) || 0);
  if (found.version > seen) showGuidelines();
}

async function loadGuidelines(name) {
  if (loadingGuidelines.has(name)) return;
  const known = guidelinesOf.get(name);
  if (known) known.checkedAt = Date.now();  // a failed recheck waits for the next one
  loadingGuidelines.add(name);
  let found;
  try {
    const response = await api(`/guidelines?campaign=${encodeURIComponent(name)}`);
    if (!response.ok) return;
    found = await response.json();
  } catch {
    return;  // offline or logged out: the ones on screen stay
  } finally {
    loadingGuidelines.delete(name);
  }
  guidelinesOf.set(name, { guidelines: found, checkedAt: Date.now() });
  if (name === campaign) adopt(found);
}

// ---- sending votes ---------------------------------------------------------------------------
async function flushOutbox() {
  for (let entries = readOutbox(); entries.length && token; entries = readOutbox()) {
    const vote = entries[0];
    let response;
    try {
      response = await api(`/comparisons/${vote.comparisonId}/vote`, {
        method: "POST", body: JSON.stringify({ choice: vote.choice, decision_ms: vote.decisionMs,
                                               guidelines_version: vote.guidelinesVersion ?? null }),
      });
    } catch (e) {
      if (e instanceof Unauthorized) return;
      status("Offline? Your votes are kept and will be sent.", true);
      retryTimer = setTimeout(send, 2000);
      return;
    }
    if (response.status >= 500) {  // try again later
      retryTimer = setTimeout(send, 2000);
      return;
    }
    if (response.status === 429) {  // a vote cap: the vote waits in the outbox until the server takes it
      const cap = await capReached(response);
      status(cap.message, true);
      retryTimer = setTimeout(send, cap.retryAfterS * 1000);
      return;
    }
    // Stored (201), stored before (200), or refused for good (4xx): done with this entry.
    changeOutbox((all) => all.filter((v) => v.id !== vote.id));
    status(response.ok ? "" : `A vote was refused: HTTP ${response.status}`, !response.ok);
  }
}

let flushing = null;
function send() {
  if (!flushing) flushing = flushOutbox().finally(() => { flushing = null; });
}

async function vote(choice) {
  if (!current) return;
  const { comparison, shownAt } = current;
  const button = document.querySelector(`[data-choice="${choice}"]`);
  button.classList.add("pressed");
  setTimeout(() => button.classList.remove("pressed"), 150);
  // comparisonId: the pair's handle.
  const entry = { id: `${Date.now()}-${Math.random()}`, comparisonId: comparison.id, choice,
                  decisionMs: Math.round(performance.now() - shownAt),
                  guidelinesVersion: guidelinesOf.get(comparison.campaign || "default")?.guidelines.version ?? null };
  changeOutbox((all) => [...all, entry]);
  current = null;
  votes += 1;
  $("vote-count").textContent = votes;
  offerUndo({ entry, comparison, at: Date.now() });
  if (prefetching) await prefetching;  // the next pair is in hand before the vote leaves
  advance();
  send();
}

// ---- undo: U or Backspace takes back the last vote for a few seconds ----------------------------
function offerUndo(vote) {
  lastVote = vote;
  $("undo").hidden = false;
  clearTimeout(undoTimer);
  undoTimer = setTimeout(() => { lastVote = null; $("undo").hidden = true; }, UNDO_WINDOW_MS);
}

async function undo() {
  const taken = lastVote;
  if (!taken || Date.now() - taken.at > UNDO_WINDOW_MS) return;
  lastVote = null;
  clearTimeout(undoTimer);
  $("undo").hidden = true;
  if (flushing) await flushing;  // the vote is either still here, or the server has it: not half-way
  const unsent = readOutbox().some((v) => v.id === taken.entry.id);
  if (unsent) {
    changeOutbox((all) => all.filter((v) => v.id !== taken.entry.id));  // it never left: nothing to ask
  } else {
    let response;
    try {
      response = await api(`/comparisons/${taken.comparison.id}/vote`, { method: "DELETE" });
    } catch (e) {
      if (!(e instanceof Unauthorized)) status("Could not take the vote back (offline?); it stays.", true);
      return;
    }
    if (!response.ok) {
      let detail = `HTTP ${response.status}`;
      try { detail = (await response.json()).detail; } catch { /* keep the status */ }
      status(`The vote stays: ${detail}.`, true);
      return;
    }
    if (!(await response.json()).reopened) {  // someone else holds the pair now
      votes -= 1;
      $("vote-count").textContent = votes;
      status("Vote taken back.");
      return;
    }
  }
  votes -= 1;
  $("vote-count").textContent = votes;
  // The pair on screen waits (still held for you) while the one taken back is shown again.
  if (current) upcoming = { comparison: current.comparison, fetchedAt: Date.now() };
  display(taken.comparison);
  status("Vote taken back: vote again.");
}
$("undo-button").addEventListener("click", undo);

// ---- start -----------------------------------------------------------------------------------
async function start(attempt = 0) {
  let response;
  try {
    response = await api("/me");
  } catch (e) {
    if (e instanceof Unauthorized) return;
    response = null;
  }
  if (!response || !response.ok) {
    const wait = Math.min(30, 2 ** attempt);
    status(`Cannot reach the server${response ? ` (HTTP ${response.status})` : ""}; retrying in ${wait} s…`, true);
    retryTimer = setTimeout(() => start(attempt + 1), wait * 1000);
    return;
  }
  const me = await response.json();
  status("");
  votes = me.votes + readOutbox().length;
  $("labeler-name").textContent = me.name;
  $("vote-count").textContent = votes;
  $("who").hidden = false;
  await loadGuidelines(campaign);
  send();
  advance();
}

// ---- reporting an image ------------------------------------------------------------------------
function openReport() {
  if (!current) return;
  $("report-form").reset();
  $("report-dialog").returnValue = "";
  $("report-dialog").showModal();
}

$("report-dialog").addEventListener("close", async () => {
  const reason = $("report-dialog").returnValue;
  if (!current || !["harmful", "explicit", "broken", "other"].includes(reason)) return;
  const form = new FormData($("report-form"));
  const side = form.get("side") || "both";
  const note = (form.get("note") || "").trim() || null;
  const { comparison } = current;
  try {
    const response = await api(`/comparisons/${comparison.id}/report`, {
      method: "POST", body: JSON.stringify({ side, reason, note }),
    });
    if (response.status === 429) throw await capReached(response);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    status("Reported: that pair will not be shown again.");
  } catch (e) {
    if (e instanceof CapReached) {  // the report cap: the pair stays on screen to vote on or skip
      status(`The report was not sent: ${e.message}. Reporting works again in ${Math.ceil(e.retryAfterS / 60)} min.`, true);
    } else if (!(e instanceof Unauthorized)) status(`The report was not sent (${e.message}); try again.`, true);
    return;
  }
  unreadable.add(comparison.id);  // never ask for it again in this tab
  current = null;
  advance();
});
$("report-button").addEventListener("click", openReport);

// ---- looking closely (frontend/compare.js) ------------------------------------------------------
function lookClosely() {
  if (current) dpoloopCompare.open($("left-image").src, $("right-image").src);
}
$("compare-button").addEventListener("click", lookClosely);
$("guidelines-button").addEventListener("click", showGuidelines);
for (const id of ["left-image", "right-image"]) $(id).addEventListener("click", lookClosely);

const UNDO_KEYS = ["u", "U", "Backspace"];
document.addEventListener("keydown", (event) => {
  // Undo also from "pool empty" or "come back later": the last vote may have emptied the pool.
  const undoable = lastVote && UNDO_KEYS.includes(event.key) && !event.repeat;
  if (($("labeling").hidden && !undoable) || $("report-dialog").open || $("guidelines-dialog").open
      || dpoloopCompare.isOpen() || event.target.tagName === "INPUT") {
    return;
  }
  if (event.key === "?") { event.preventDefault(); showGuidelines(); return; }
  if (event.repeat || event.ctrlKey || event.altKey || event.metaKey) return;  // held keys and shortcuts
  if (event.key === "r" || event.key === "R") { event.preventDefault(); openReport(); return; }
  if (event.key === "z" || event.key === "Z") { event.preventDefault(); lookClosely(); return; }
  if (UNDO_KEYS.includes(event.key)) { event.preventDefault(); undo(); return; }
  const choice = KEYS[event.key];
  if (choice) { event.preventDefault(); vote(choice); }
});
for (const button of document.querySelectorAll("[data-choice]")) {
  button.addEventListener("click", () => vote(button.dataset.choice));
}
$("logout").addEventListener("click", () => logout());
$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token-input").value.trim();
  localStorage.setItem("dpoloop.token", token);
  start();
});

const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromLink) {
  localStorage.setItem("dpoloop.token", fromLink);
  history.replaceState(null, "", location.pathname);  // keep the token out of the address bar
}
token = localStorage.getItem("dpoloop.token");
for (const key of Object.keys(localStorage)) {  // outboxes named by the token itself (older versions)
  const old = key.startsWith("dpoloop.outbox:") && key.slice("dpoloop.outbox:".length);
  if (old && old.length > 16) {
    const moved = `dpoloop.outbox:${tokenHash(old)}`;
    localStorage.setItem(moved, JSON.stringify([...JSON.parse(localStorage.getItem(moved) || "[]"),
                                                ...JSON.parse(localStorage.getItem(key))]));
    localStorage.removeItem(key);
  }
}
if (token) start(); else show("login");
