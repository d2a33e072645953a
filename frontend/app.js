// dpoloop labeling UI: prompt + two images, vote by click or key.
// The next pair is fetched and its images decoded before the current vote is sent, so the next
// pair appears at once. Votes go through an outbox kept in localStorage: a network fault or a
// closed tab never loses one (the server makes repeats harmless).
"use strict";

const API = "/api/v1";
const KEYS = { "1": "left", ArrowLeft: "left", "2": "right", ArrowRight: "right", "3": "tie",
               ArrowDown: "tie", "4": "both_bad", ArrowUp: "both_bad", " ": "skip" };
const $ = (id) => document.getElementById(id);

let token = null;
let current = null;      // {comparison, shownAt}
let upcoming = null;     // a prefetched comparison whose images are decoded, or null
let prefetching = null;  // the promise of the prefetch in flight
let votes = 0;
let emptyTimer = null;
const outbox = JSON.parse(localStorage.getItem("dpoloop.outbox") || "[]");

function saveOutbox() { localStorage.setItem("dpoloop.outbox", JSON.stringify(outbox)); }

function show(section) {
  for (const id of ["login", "labeling", "empty"]) $(id).hidden = id !== section;
}

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function api(path, options = {}) {
  const response = await fetch(API + path, {
    ...options,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  if (response.status === 401) { logout("Your token is not valid (any more). Log in again."); throw new Error("401"); }
  return response;
}

function logout(message = "") {
  localStorage.removeItem("dpoloop.token");
  token = null;
  $("who").hidden = true;
  $("login-error").textContent = message;
  show("login");
}

function preload(url) {
  const img = new Image();
  img.src = url;
  return img.decode().then(() => url);
}

// Fetch a comparison other than the ones on screen or waiting to be sent, with its images decoded.
async function fetchNext() {
  const exclude = [current && current.comparison.id, ...outbox.map((v) => v.comparisonId)].filter(Boolean);
  const query = exclude.length ? `?exclude=${exclude.join(",")}` : "";
  const response = await api(`/comparisons/next${query}`);
  if (response.status === 204) return null;
  if (!response.ok) throw new Error(`next comparison: HTTP ${response.status}`);
  const comparison = await response.json();
  await Promise.all([preload(comparison.left.url), preload(comparison.right.url)]);
  return comparison;
}

function prefetch() {
  if (!prefetching) {
    prefetching = fetchNext()
      .then((c) => { upcoming = c; })
      .catch((e) => { if (e.message !== "401") status(`Could not fetch the next pair (${e.message}); retrying…`, true); })
      .finally(() => { prefetching = null; });
  }
  return prefetching;
}

function display(comparison) {
  clearTimeout(emptyTimer);
  current = { comparison, shownAt: performance.now() };
  $("prompt").textContent = comparison.prompt;
  $("left-image").src = comparison.left.url;
  $("right-image").src = comparison.right.url;
  show("labeling");
  prefetch();
}

async function advance() {
  if (!upcoming) await prefetch();
  if (upcoming) {
    const next = upcoming;
    upcoming = null;
    display(next);
  } else {
    current = null;
    show("empty");
    emptyTimer = setTimeout(advance, 2000);
  }
}

async function flushOutbox() {
  while (outbox.length) {
    const vote = outbox[0];
    let response;
    try {
      response = await api(`/comparisons/${vote.comparisonId}/vote`, {
        method: "POST", body: JSON.stringify({ choice: vote.choice, decision_ms: vote.decisionMs }),
      });
    } catch (e) {
      if (e.message === "401") return;
      status("Offline? Your votes are kept and will be sent.", true);
      setTimeout(flushOutbox, 2000);
      return;
    }
    if (response.ok || (response.status >= 400 && response.status < 500)) {
      outbox.shift();  // stored (201), already stored (200), or refused for good (4xx): done with it
      saveOutbox();
      if (!response.ok) status(`A vote was refused: HTTP ${response.status}`, true);
      else status("");
    } else {
      setTimeout(flushOutbox, 2000);  // 5xx: try again later
      return;
    }
  }
}

let flushing = null;
function send() {
  if (!flushing) flushing = flushOutbox().finally(() => { flushing = null; if (outbox.length) send(); });
}

async function vote(choice) {
  if (!current) return;
  const { comparison, shownAt } = current;
  const button = document.querySelector(`[data-choice="${choice}"]`);
  button.classList.add("pressed");
  setTimeout(() => button.classList.remove("pressed"), 150);
  outbox.push({ comparisonId: comparison.id, choice, decisionMs: Math.round(performance.now() - shownAt) });
  saveOutbox();
  current = null;
  votes += 1;
  $("vote-count").textContent = votes;
  if (prefetching) await prefetching;  // the next pair is in hand before the vote leaves
  advance();
  send();
}

async function start() {
  let response;
  try { response = await api("/me"); } catch { return; }
  if (!response.ok) { status(`Could not reach the server: HTTP ${response.status}`, true); return; }
  const me = await response.json();
  votes = me.votes + outbox.length;
  $("labeler-name").textContent = me.name;
  $("vote-count").textContent = votes;
  $("who").hidden = false;
  send();
  advance();
}

document.addEventListener("keydown", (event) => {
  if ($("labeling").hidden || event.target.tagName === "INPUT") return;
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
if (token) start(); else show("login");
