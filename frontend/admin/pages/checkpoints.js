// Checkpoints: the lineage as a tree, and one checkpoint's page (metrics, gate, human win rate,
// promote or roll back, and the same-seed image grid against its parent and the base).
import { getJSON, send } from "../api.js";
import { fill, fmt, h, table } from "../dom.js";
import { gateTable } from "./gate.js";
import { verdictBox } from "./verdict.js";

const GRID_REFRESH_MS = 2000;

function label(c) {
  return `#${c.id} ${c.name}`;
}

function humanEval(c) {
  const e = c.human_eval;
  if (!e) return null;
  const judge = e.judge?.win_rate != null
    ? ` · judge ${e.judge.judge.split(":")[0]} ${fmt.pct(e.judge.win_rate)} (${e.judge.wins}W ${e.judge.losses}L ${e.judge.ties}T)` : "";
  if (e.win_rate == null) return h("span", { class: "muted" }, `humans: no votes yet vs #${e.baseline_id}${judge}`);
  return h("span", {}, `humans ${fmt.pct(e.win_rate)} (${fmt.interval(e.interval)}) vs #${e.baseline_id}, `,
           `${e.wins}W ${e.losses}L ${e.ties}T${judge}`);
}

function statusTag(c) {
  if (c.candidate?.state === "judging") return h("span", { class: "tag", "data-testid": "judging" }, "candidate: judging");
  if (c.status === "ready") return null;
  return h("span", { class: "tag bad", title: c.status_reason || "" }, c.status, c.status_reason ? `: ${c.status_reason}` : "");
}

function node(c, children, names) {
  const kids = children.get(c.id) || [];
  const campaign = c.campaign_id !== 1 ? h("span", { class: "tag", "data-testid": "campaign" }, names.get(c.campaign_id) ?? c.campaign_id) : null;
  return h("li", { "data-testid": `lineage-${c.id}` },
    h("a", { href: `#/checkpoints/${c.id}` }, label(c)), " ", h("span", { class: "tag" }, c.kind), " ", campaign, " ",
    c.active ? h("span", { class: "serving", "data-testid": "serving" }, "serving") : null, " ", statusTag(c), " ", humanEval(c),
    kids.length ? h("ul", {}, kids.map((k) => node(k, children, names))) : null);
}

// `names`: campaign id → name, for checkpoints of a lineage other than default's.
export function lineage(all, names = new Map()) {
  const children = new Map();
  const ids = new Set(all.map((c) => c.id));
  const roots = [];
  for (const c of all) {
    if (c.parent_id != null && ids.has(c.parent_id)) {
      if (!children.has(c.parent_id)) children.set(c.parent_id, []);
      children.get(c.parent_id).push(c);
    } else roots.push(c);
  }
  return h("ul", { class: "tree", "data-testid": "lineage" }, roots.map((c) => node(c, children, names)));
}

export async function checkpoints(main, ctx) {
  const tree = h("div", {}, h("p", { class: "muted" }, "loading…"));
  main.append(h("h1", {}, "Checkpoints"), h("p", { class: "muted" },
    "Parent → child; a round starts from the checkpoint that serves its campaign. \"serving\" marks default's; "
    + "another campaign's checkpoints carry its name, and serve it once promoted."), tree);
  const names = new Map((await getJSON("/admin/campaigns?archived=true")).map((c) => [c.id, c.name]));
  await ctx.every(5000, async () => fill(tree, lineage(await getJSON("/checkpoints"), names)));
}

// `serving`: what serves the checkpoint's campaign (named `campaign`) now.
function promoteButton(c, serving, campaign, refresh) {
  const older = serving && c.id < serving.id;
  const text = older ? "Roll back to this" : "Promote (serve this)";
  return h("button", { class: "action", "data-testid": "promote", onclick: async (event) => {
    const question = `Serve ${label(c)} to ${campaign} instead of ${serving ? label(serving) : "the current one"}? Workers swap within seconds.`;
    if (!confirm(question)) return;
    event.target.disabled = true;
    try {
      await send("POST", `/admin/checkpoints/${c.id}/promote`, { reason: older ? "rollback from the console" : "promoted from the console" });
    } catch (e) {
      alert(e.message);
    }
    await refresh();
  } }, text);
}

function rejectButton(c, refresh) {
  return h("button", { class: "action", "data-testid": "reject", onclick: async (event) => {
    if (!confirm(`Reject ${label(c)} without waiting for the labelers' verdict? It will not serve.`)) return;
    event.target.disabled = true;
    try {
      await send("POST", `/admin/checkpoints/${c.id}/reject`, { reason: "rejected from the console" });
    } catch (e) {
      alert(e.message);
    }
    await refresh();
  } }, "Reject (end its judging)");
}

export async function checkpoint(main, ctx, id) {
  const head = h("div", {}, h("p", { class: "muted" }, "loading…"));
  const gate = h("div");
  const verdict = h("div");
  const metrics = h("div");
  const grid = h("div", {}, h("p", { class: "muted" }, "loading…"));
  main.append(h("h1", {}, `Checkpoint ${id}`), head, h("h2", {}, "Gate"), gate, h("h2", {}, "Labelers' verdict"), verdict,
              h("h2", {}, "Metrics"), metrics,
              h("h2", {}, "Same-seed image grid"), grid);
  const names = new Map((await getJSON("/admin/campaigns?archived=true")).map((x) => [x.id, x.name]));
  const refresh = async () => {
    const all = await getJSON("/checkpoints");
    const c = all.find((x) => String(x.id) === id);
    if (!c) return fill(head, h("p", { class: "error" }, `No checkpoint ${id}.`));
    const campaign = names.get(c.campaign_id) ?? "default";
    const serving = all.find((x) => x.serves.includes(campaign));
    const parent = all.find((x) => x.id === c.parent_id);
    const others = c.serves.filter((name) => name !== "default");
    fill(head,
      h("p", {}, h("strong", {}, c.name), " ", h("span", { class: "tag" }, c.kind), " ",
        campaign !== "default" ? h("span", { class: "tag" }, `campaign ${campaign}`) : null, " ",
        c.active ? h("span", { class: "serving", "data-testid": "serving" }, "serving") : null, " ",
        others.length ? h("span", { class: "serving" }, `serving ${others.join(", ")}`) : null, " ", statusTag(c)),
      h("p", {}, "Parent: ", parent ? h("a", { href: `#/checkpoints/${parent.id}` }, label(parent)) : "none",
        c.round_id ? [" · made by ", h("a", { href: `#/rounds/${c.round_id}` }, `round ${c.round_id}`)] : "",
        ` · created ${fmt.time(c.created_at)}`, c.path ? [" · ", h("code", {}, c.path)] : ""),
      h("p", {}, humanEval(c) || h("span", { class: "muted" }, "no human evaluation yet")),
      h("div", { class: "row" }, c.serves.includes(campaign) ? h("span", { class: "muted" }, `This checkpoint serves ${campaign}.`)
        : c.status === "broken" ? h("span", { class: "muted" }, "Broken checkpoints cannot serve.") : promoteButton(c, serving, campaign, refresh),
        c.candidate?.state === "judging" ? [" ", rejectButton(c, refresh)] : null));
    fill(gate, gateTable(c));
    // The rule (margin, cap) comes with the overview's candidate: only the one being judged needs it.
    const rule = c.candidate?.state === "judging" ? (await getJSON("/admin/overview")).candidate?.rule : null;
    fill(verdict, verdictBox(c.candidate, rule) || h("p", { class: "muted" }, "never a candidate (promoted by the gate, by hand, or the base)"));
    const flat = Object.entries(c.metrics || {}).filter(([, v]) => typeof v !== "object");
    fill(metrics, flat.length ? table(["metric", "value"], flat.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, fmt.num(v)))))
                              : h("p", { class: "muted" }, "none"));
  };
  await Promise.all([refresh(), showGrid(grid, ctx, id)]);  // neither waits for the other
}

async function showGrid(box, ctx, id) {
  let queued = false;
  const draw = (g) => {
    const columns = `minmax(10rem, 1.2fr) repeat(${g.columns.length}, minmax(6rem, 10rem))`;
    const render = h("button", { class: "action", "data-testid": "render-grid", onclick: async (event) => {
      event.target.disabled = true;
      try {
        draw(await send("POST", `/admin/checkpoints/${id}/grid`));
        queued = true;
        poll();
      } catch (e) {
        alert(e.message);
        event.target.disabled = false;
      }
    } }, "Render the missing images");
    fill(box,
      h("div", { class: "row" }, h("span", { "data-testid": "grid-progress" }, `${g.made} of ${g.total} images`), " ",
        h("progress", { max: g.total || 1, value: g.made }), " ", g.made < g.total && !queued ? render : null),
      g.rows.length === 0 ? h("p", { class: "muted" }, "No evaluation prompts: mark some prompts for evaluation.") :
      h("div", { class: "grid", "data-testid": "image-grid" },
        h("div", { class: "grid-row", "data-columns": columns }, h("strong", {}, "prompt · seed"),
          g.columns.map((c) => h("strong", {}, `${c.role}: #${c.checkpoint_id}`, c.problem ? h("div", { class: "bad" }, c.problem) : null))),
        g.rows.map((r) => h("div", { class: "grid-row" }, h("div", { class: "prompt" }, r.prompt, h("div", { class: "muted" }, `seed ${r.seed}`)),
          r.images.map((url, i) => url ? h("figure", {}, h("img", { src: url, alt: `${g.columns[i].role}: ${r.prompt}` }))
                                       : h("div", { class: "pending" }, queued ? "rendering…" : "not rendered"))))));
    for (const row of box.querySelectorAll(".grid-row")) row.style.gridTemplateColumns = columns;  // CSSOM: allowed by the CSP
    return g;
  };
  const poll = () => ctx.every(GRID_REFRESH_MS, async () => {
    const g = draw(await getJSON(`/admin/checkpoints/${id}/grid`));
    if (!queued || g.made >= g.total) return false;
  });
  await poll();
}
