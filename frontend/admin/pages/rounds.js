// Training rounds: the list, starting one (config checked by the API before it is queued), and one
// round's page with its curves as they come in, its gate and its config.
import { getJSON, send } from "../api.js";
import { currentCampaign } from "../campaign-switch.js";
import { fill, fmt, h, table } from "../dom.js";
import { gateTable } from "./gate.js";

const ACTIVE = ["queued", "running"];
const REFRESH_MS = 2000;
const CURVES = [  // [title, per-step metric keys]
  ["Loss", ["loss"]],
  ["Implicit accuracy", ["implicit_accuracy"]],
  ["Reward margin", ["reward_margin"]],
  ["Denoising error: model vs reference", ["model_err_w", "model_err_l", "ref_err_w", "ref_err_l"]],
];
const COLOURS = ["#3b6fd8", "#d8573b", "#2a8a3e", "#a05cc8"];

function pairsUsed(r) {
  const c = r.counts || {};
  return c.train_pairs == null ? "–" : `${c.train_pairs} + ${c.held_out_pairs ?? 0} held out${bySource(c)}`;
}

// What each source gave (train + held out) of the pairs it had, and its budget within max_pairs.
function bySource(c) {
  const parts = Object.entries(c.sources || {}).map(([source, s]) =>
    `${source} ${s.train + s.held_out} of ${s.pairs}${s.budget < s.pairs ? ` (budget ${s.budget})` : ""}`);
  return parts.length ? ` — ${parts.join(", ")}` : "";
}

function countedOut(r) {
  const skip = new Set(["train_pairs", "held_out_pairs", "votes", "sources"]);
  return Object.entries(r.counts || {}).filter(([k, v]) => !skip.has(k) && v).map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`).join(", ");
}

function result(r) {
  if (r.error) return h("span", { class: "bad" }, r.error);
  if (r.checkpoint_id) return h("a", { href: `#/checkpoints/${r.checkpoint_id}` }, `checkpoint #${r.checkpoint_id}`);
  return r.state;
}

export async function rounds(main, ctx) {
  const error = h("p", { class: "error", role: "alert", "data-testid": "round-error" });
  const config = h("textarea", { rows: 5, "aria-label": "round config (JSON)", "data-testid": "round-config" }, '{\n  "steps": 100\n}');
  const list = h("div", {}, h("p", { class: "muted" }, "loading…"));
  const known = await getJSON("/admin/campaigns?archived=true");
  const names = new Map(known.map((c) => [c.id, c.name]));
  const chosen = currentCampaign();
  const start = async (event) => {
    event.preventDefault();
    error.textContent = "";
    let parsed;
    try {
      parsed = JSON.parse(config.value || "{}");
    } catch (e) {
      error.textContent = `Not JSON: ${e.message}`;
      return;
    }
    try {
      const round = await send("POST", "/admin/rounds", { config: parsed, campaign: chosen });
      location.hash = `#/rounds/${round.id}`;
    } catch (e) {
      error.textContent = e.message;
    }
  };
  main.append(h("h1", {}, "Rounds"),
    h("form", { onsubmit: start }, h("h2", {}, `Start a round of ${chosen}`),
      h("p", { class: "muted" }, "Config as JSON (e.g. steps, beta, learning_rate, method); empty means the defaults. "
        + "A round trains on its campaign's votes, from the checkpoint serving that campaign; the campaign "
        + "switcher at the top picks which."),
      config, h("div", { class: "row" }, h("button", { class: "action", type: "submit" }, "Start round")),
      error),
    h("h2", {}, `Rounds of ${chosen}`), list);
  await ctx.every(REFRESH_MS * 2, async () => {
    const all = await getJSON(`/admin/rounds?limit=100&campaign=${encodeURIComponent(chosen)}`);
    fill(list, all.length ? table(["round", "campaign", "trigger", "state", "pairs used", "counted out", "duration", "result", ""],
      all.map((r) => h("tr", { "data-testid": `round-row-${r.id}` },
        h("td", {}, h("a", { href: `#/rounds/${r.id}` }, `#${r.id}`)), h("td", {}, names.get(r.campaign_id) ?? r.campaign_id),
        h("td", {}, r.trigger, r.requested_by ? ` (${r.requested_by})` : ""),
        h("td", {}, r.state), h("td", {}, pairsUsed(r)), h("td", {}, countedOut(r)),
        h("td", {}, fmt.duration(r.started_at, r.finished_at)), h("td", {}, result(r)),
        h("td", {}, ACTIVE.includes(r.state) ? cancelButton(r.id) : null))))
      : h("p", { class: "muted" }, "No round yet."));
  });
}

function cancelButton(id) {
  return h("button", { class: "action", onclick: async (event) => {
    if (!confirm(`Cancel round ${id}? The checkpoint that serves stays.`)) return;
    event.target.disabled = true;
    await send("POST", `/admin/rounds/${id}/cancel`).catch((e) => alert(e.message));
  } }, "Cancel");
}

function lineChart(ctx, canvas, title, keys) {
  return ctx.chart(canvas, {
    type: "line",
    data: { datasets: keys.map((k, i) => ({ label: k, data: [], borderColor: COLOURS[i], pointRadius: 0, borderWidth: 1.5 })) },
    options: {
      animation: false, parsing: false, normalized: true, maintainAspectRatio: false,
      scales: { x: { type: "linear", title: { display: true, text: "step" } } },
      plugins: { title: { display: true, text: title }, legend: { display: keys.length > 1 } },
    },
  });
}

export async function round(main, ctx, id) {
  const head = h("p", {}, "loading…");
  const progress = h("p", { "data-testid": "round-progress" });
  const canvases = CURVES.map(([title]) => h("canvas", { "aria-label": title, role: "img" }));
  const gate = h("div", {}, h("p", { class: "muted" }, "no checkpoint yet"));
  const config = h("pre", { "data-testid": "round-config-used" });
  const metrics = h("div");
  main.append(h("h1", {}, `Round ${id}`), head, progress,
    h("div", { class: "charts" }, canvases.map((c) => h("div", { class: "chart" }, c))),
    h("h2", {}, "Gate"), gate, h("h2", {}, "Result"), metrics, h("h2", {}, "Config it ran with"), config);
  const charts = CURVES.map(([title, keys], i) => lineChart(ctx, canvases[i], title, keys));
  let lastStep = 0;
  let points = 0;
  let gateShown = false;
  await ctx.every(REFRESH_MS, async () => {
    const r = await getJSON(`/admin/rounds/${id}?after_step=${lastStep}`);
    for (const s of r.steps || []) {
      CURVES.forEach(([, keys], i) => keys.forEach((k, j) => {
        if (s.metrics[k] != null) charts[i].data.datasets[j].data.push({ x: s.step, y: s.metrics[k] });
      }));
      lastStep = Math.max(lastStep, s.step);
      points += 1;
    }
    if (r.steps?.length) charts.forEach((c) => c.update("none"));
    const total = r.config?.steps;
    fill(head, `${r.state} · ${r.trigger}${r.requested_by ? ` by ${r.requested_by}` : ""} · started ${fmt.time(r.started_at)} · `,
         `took ${fmt.duration(r.started_at, r.finished_at)}`, r.cancel_requested ? " · cancel requested" : "",
         ACTIVE.includes(r.state) ? [" ", cancelButton(r.id)] : null);
    fill(progress, h("span", { "data-testid": "points" }, `${points} points`), ` · step ${lastStep}${total ? ` of ${total} ` : " "}`,
         total ? h("progress", { max: total, value: lastStep }) : null);
    config.textContent = JSON.stringify(r.config, null, 2);
    fill(metrics, r.error ? h("p", { class: "bad" }, r.error) : null,
         Object.keys(r.counts || {}).length ? h("p", {}, "Pairs: ", pairsUsed(r), countedOut(r) ? ` · counted out: ${countedOut(r)}` : "") : null,
         r.checkpoint_id ? h("p", {}, "Made ", h("a", { href: `#/checkpoints/${r.checkpoint_id}` }, `checkpoint #${r.checkpoint_id}`)) : null);
    if (r.checkpoint_id && !gateShown) {
      const found = (await getJSON("/checkpoints")).find((c) => c.id === r.checkpoint_id);
      if (found) { fill(gate, gateTable(found)); gateShown = true; }
    }
    if (!ACTIVE.includes(r.state) && (!r.checkpoint_id || gateShown)) return false;  // nothing more will come
  });
}
