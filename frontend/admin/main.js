// dpoloop admin console: a page per hash route (#/overview, #/rounds/7, ...), each a client of the
// admin REST API. A page renders its frame at once and fills each part as its call answers; polls
// stop when the page is left.
import { Forbidden, Unauthorized, getJSON, session } from "./api.js";
import { PER_CAMPAIGN, chooseCampaign, currentCampaign, showCampaigns } from "./campaign-switch.js";
import { $, fill } from "./dom.js";
import arena from "./pages/arena.js";
import campaigns from "./pages/campaigns.js";
import { checkpoint, checkpoints } from "./pages/checkpoints.js";
import data from "./pages/data.js";
import guidelines from "./pages/guidelines.js";
import labelers from "./pages/labelers.js";
import overview from "./pages/overview.js";
import prompts from "./pages/prompts.js";
import reports from "./pages/reports.js";
import reward from "./pages/reward.js";
import { round, rounds } from "./pages/rounds.js";

const PAGES = { overview, rounds, round, checkpoints, checkpoint, arena, reward, labelers, prompts, reports, guidelines,
                campaigns, data };
const DETAIL = { rounds: "round", checkpoints: "checkpoint" };  // "#/rounds/7" is round 7's page

let me = null;
let page = null;  // the context of the page on screen

export function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

export function report(error) {
  if (!(error instanceof Unauthorized || error instanceof Forbidden)) status(error.message, true);
}

// What a page gets: polling and charts that end with it.
function context() {
  const ctx = {
    alive: true, timers: [], charts: [],
    every(ms, task) {  // run now, then ms after each run ends; a task that returns false is done
      const run = async () => {
        if (!ctx.alive) return;
        let again = true;
        try { again = (await task()) !== false; } catch (error) { report(error); }
        if (ctx.alive && again) ctx.timers.push(setTimeout(run, ms));
      };
      return run();
    },
    chart(canvas, config) {
      const chart = new window.Chart(canvas, config);
      ctx.charts.push(chart);
      return chart;
    },
    close() {
      ctx.alive = false;
      ctx.timers.forEach(clearTimeout);
      ctx.charts.forEach((c) => c.destroy());
    },
  };
  return ctx;
}

function show(section) {
  for (const id of ["login", "admins-only", "page"]) $(id).hidden = id !== section;
  $("nav").hidden = $("who").hidden = $("campaign-box").hidden = section !== "page";
}

function logout(message = "") {
  page?.close();
  page = me = null;
  session.clear();
  $("login-error").textContent = message;
  status("");
  show("login");
}

session.onUnauthorized = () => logout("Your token is not valid (any more). Log in again.");
session.onForbidden = () => { page?.close(); show("admins-only"); };

let visits = 0;  // counts route() calls, so a visit that a later one overtook while it waited stops

async function route() {
  const visit = ++visits;
  if (location.hash.startsWith("#token=")) {  // a login link: keep the token, drop it from the address bar
    session.save(decodeURIComponent(location.hash.slice("#token=".length)));
    history.replaceState(null, "", `${location.pathname}#/overview`);
  }
  if (!session.token) return logout();
  try {
    me ??= await getJSON("/me");
  } catch (error) {
    me = null;
    return report(error);
  }
  if (visit !== visits) return;
  if (me.role !== "admin") return session.onForbidden();
  $("admin-name").textContent = me.name;
  const [, name = "overview", arg] = location.hash.split("/");
  const key = arg && DETAIL[name] ? DETAIL[name] : name in PAGES ? name : "overview";
  try {
    if (PER_CAMPAIGN.has(key) && arg) chooseCampaign(decodeURIComponent(arg));  // a link to one campaign's page
    const known = await getJSON("/admin/campaigns");
    if (visit !== visits) return;
    showCampaigns($("campaign-global"), known);
  } catch (error) {
    return report(error);
  }
  for (const link of $("nav").querySelectorAll("a")) link.classList.toggle("current", link.hash === `#/${name}`);
  page?.close();
  page = context();
  status("");
  show("page");
  // Each visit draws into its own element: a page still loading from an earlier visit draws into a
  // detached one, never into this one.
  const view = document.createElement("div");
  fill($("page"), view);
  document.title = `dpoloop · ${name}`;
  try {
    await PAGES[key](view, page, PER_CAMPAIGN.has(key) ? currentCampaign() : arg && decodeURIComponent(arg));
  } catch (error) {
    report(error);
  }
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  session.save($("token-input").value.trim());
  $("token-input").value = "";
  route();
});
$("campaign-global").addEventListener("change", (event) => {
  chooseCampaign(event.target.value);
  const [, name] = location.hash.split("/");
  if (PER_CAMPAIGN.has(name)) location.hash = `#/${name}/${encodeURIComponent(event.target.value)}`;
  else route();  // the same page again, for the chosen campaign
});
$("logout").addEventListener("click", () => logout());
$("switch-token").addEventListener("click", () => logout());
window.addEventListener("hashchange", route);
route();
