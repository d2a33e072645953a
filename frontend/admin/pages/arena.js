// The arena of the campaign the header's switcher chose: every checkpoint of its lineage with its
// labelers' evaluation votes on one Bradley-Terry scale with bootstrap 95% intervals; and queueing a
// match of two of its checkpoints (or one and the base).
import { getJSON, send } from "../api.js";
import { currentCampaign } from "../campaign-switch.js";
import { fill, fmt, h, table } from "../dom.js";

const REFRESH_MS = 4000;

function rankingChart(ctx, canvas) {
  return ctx.chart(canvas, {
    data: {
      labels: [],
      datasets: [
        { type: "bar", label: "95% interval", data: [], backgroundColor: "#3b6fd855", borderColor: "#3b6fd8", borderWidth: 1, barPercentage: 0.5 },
        { type: "line", label: "strength", data: [], showLine: false, pointRadius: 5, borderColor: "#d8573b", backgroundColor: "#d8573b" },
      ],
    },
    options: {
      indexAxis: "y", animation: false, maintainAspectRatio: false,
      scales: { x: { title: { display: true, text: "strength (log-odds of winning; the base is 0)" } } },
      plugins: { title: { display: true, text: "Checkpoints by human preference" } },
    },
  });
}

export default async function arena(main, ctx) {
  const campaign = currentCampaign();
  const query = `campaign=${encodeURIComponent(campaign)}`;
  const canvas = h("canvas", { role: "img", "aria-label": "ranking with intervals" });
  const standings = h("div", {}, h("p", { class: "muted" }, "loading…"));
  const first = h("select", { "aria-label": "checkpoint A", "data-testid": "match-a" });
  const second = h("select", { "aria-label": "checkpoint B", "data-testid": "match-b" });
  const error = h("p", { class: "error", role: "alert", "data-testid": "match-error" });
  const matches = h("div");
  const queue = async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await send("POST", "/admin/arena/matches", { checkpoint_a_id: Number(first.value), checkpoint_b_id: Number(second.value) });
      await refreshMatches();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  main.append(h("h1", {}, `Arena: ${campaign}`), h("div", { class: "chart tall" }, canvas), standings,
    h("h2", {}, "Queue a match"),
    h("p", { class: "muted" }, `Both checkpoints render ${campaign}'s evaluation prompts with the same seeds; its labelers see the pairs blind, before train pairs.`),
    h("form", { class: "row", onsubmit: queue }, first, " against ", second, h("button", { class: "action", type: "submit" }, "Queue match")),
    error, h("h2", {}, "Matches"), matches);
  const chart = rankingChart(ctx, canvas);

  Promise.all([getJSON("/checkpoints"), getJSON("/admin/campaigns?archived=true")]).then(([all, known]) => {
    const id = known.find((c) => c.name === campaign)?.id;
    const lineage = all.filter((c) => c.status !== "broken" && (c.id === 1 || c.campaign_id === id));  // the base: every lineage's root
    const options = lineage.map((c) => h("option", { value: c.id }, `#${c.id} ${c.name}`));
    fill(first, options);
    fill(second, options.map((o) => o.cloneNode(true)));
    if (options.length > 1) second.selectedIndex = 1;
  });
  const refreshMatches = async () => {
    const all = await getJSON(`/admin/arena/matches?${query}`);
    fill(matches, all.length ? table(["match", "A", "B", "state", "by", "queued"], all.map((m) => h("tr", { "data-testid": `match-${m.id}` },
      h("td", {}, `#${m.id}`), h("td", {}, `#${m.checkpoint_a_id}`), h("td", {}, `#${m.checkpoint_b_id}`),
      h("td", { class: m.state === "failed" ? "bad" : "" }, m.state === "ready" ? `ready (evaluation ${m.evaluation_id})` : m.state, m.error ? `: ${m.error}` : ""),
      h("td", {}, m.requested_by), h("td", {}, fmt.ago(m.created_at)))))
      : h("p", { class: "muted" }, "No match yet."));
  };
  await ctx.every(REFRESH_MS, async () => {
    const [found] = await Promise.all([getJSON(`/admin/arena?${query}`), refreshMatches()]);
    const rows = found.standings;
    chart.data.labels = rows.map((s) => `#${s.checkpoint_id} ${s.name}`);
    chart.data.datasets[0].data = rows.map((s) => s.interval);
    chart.data.datasets[1].data = rows.map((s) => s.strength);
    chart.update("none");
    fill(standings, rows.length
      ? [h("p", { class: "muted" }, `${found.votes} votes; intervals from ${found.bootstrap} bootstrap resamples; a tie counts half.`),
         table(["rank", "checkpoint", "strength", "95% interval", "votes", "wins", "losses", "ties"], rows.map((s, i) => h("tr", { "data-testid": `standing-${s.checkpoint_id}` },
           h("td", {}, i + 1), h("td", {}, h("a", { href: `#/checkpoints/${s.checkpoint_id}` }, `#${s.checkpoint_id} ${s.name}`)),
           h("td", {}, s.strength.toFixed(2)), h("td", {}, `${s.interval[0].toFixed(2)} … ${s.interval[1].toFixed(2)}`),
           h("td", {}, s.votes), h("td", {}, s.wins), h("td", {}, s.losses), h("td", {}, s.ties))))]
      : h("p", { class: "muted" }, "No evaluation votes yet."));
  });
}
