// The campaign's preference model (the header's campaign): each version's held-out accuracy against the
// votes it trained on, beside the labelers' agreement and the judge's accuracy (the ceilings); a button
// to train the next version.
import { getJSON, send } from "../api.js";
import { currentCampaign } from "../campaign-switch.js";
import { fill, fmt, h, table } from "../dom.js";

const REFRESH_MS = 5000;
const pct = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`);

function accuracyChart(ctx, canvas) {
  const series = (label, color, dash = []) => ({ label, data: [], borderColor: color, backgroundColor: color, borderDash: dash, spanGaps: true });
  return ctx.chart(canvas, {
    type: "line",
    data: { datasets: [series("held-out accuracy", "#3b6fd8"), series("labelers agree", "#2a9d5c", [6, 4]), series("judge", "#d8573b", [2, 3])] },
    options: {
      animation: false, maintainAspectRatio: false, parsing: false,
      scales: { x: { type: "linear", title: { display: true, text: "decisive votes trained on" } },
                y: { min: 0, max: 1, title: { display: true, text: "accuracy on held-out votes" } } },
      plugins: { title: { display: true, text: "Preference model by version" } },
    },
  });
}

export default async function reward(main, ctx) {
  const campaign = currentCampaign();
  const query = `?campaign=${encodeURIComponent(campaign)}`;
  const canvas = h("canvas", { role: "img", "aria-label": "held-out accuracy against votes trained on" });
  const current = h("div", { "data-testid": "reward-current" }, h("p", { class: "muted" }, "loading…"));
  const versions = h("div");
  const error = h("p", { class: "error", role: "alert", "data-testid": "reward-error" });
  const train = async () => {
    error.textContent = "";
    try {
      await send("POST", `/admin/reward/train${query}`);
      await refresh();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  main.append(h("h1", {}, `Preference model: ${campaign}`),
    h("p", { class: "muted" }, "A Bradley-Terry model of this campaign's labelers, learnt from people's decisive votes on its pairs (AI labelers and labelers out of good standing left out). Each campaign learns its own: pick another in the header."),
    current, h("button", { class: "action", type: "button", onclick: train, "data-testid": "reward-train" }, "Train a new version"), error,
    h("div", { class: "chart" }, canvas), h("h2", {}, "Versions"), versions);
  const chart = accuracyChart(ctx, canvas);
  const refresh = async () => {
    const found = await getJSON(`/admin/reward${query}`);
    const ready = found.versions.filter((v) => v.state === "ready").reverse();
    const points = (value) => ready.map((v) => ({ x: v.votes, y: value(v) ?? null }));
    chart.data.datasets[0].data = points((v) => v.held_out_accuracy);
    chart.data.datasets[1].data = points((v) => v.ceilings.labelers_agree?.rate);
    chart.data.datasets[2].data = points((v) => v.ceilings.judge?.accuracy);
    chart.update("none");
    const c = found.current;
    fill(current, c
      ? h("p", {}, `In use: v${c.id}, ${c.votes} votes (${c.train_pairs} pairs trained on, ${c.held_out_pairs} held out): held-out accuracy ${pct(c.held_out_accuracy)}; labelers agree ${pct(c.ceilings.labelers_agree?.rate)} (${c.ceilings.labelers_agree?.vote_pairs ?? 0} vote pairs); judge ${pct(c.ceilings.judge?.accuracy)}.`)
      : h("p", { class: "muted" }, "No version yet: one trains once enough people's votes have arrived, or now with the button."));
    fill(versions, found.versions.length
      ? table(["version", "state", "votes", "pairs (held out)", "held-out accuracy", "labelers agree", "judge", "by", "finished"],
        found.versions.map((v) => h("tr", { "data-testid": `reward-${v.id}` },
          h("td", {}, `v${v.id}`), h("td", { class: v.state === "failed" ? "bad" : "" }, v.state, v.error ? `: ${v.error}` : ""),
          h("td", {}, v.votes ?? "–"), h("td", {}, v.train_pairs === null ? "–" : `${v.train_pairs + v.held_out_pairs} (${v.held_out_pairs})`),
          h("td", {}, pct(v.held_out_accuracy)), h("td", {}, pct(v.ceilings.labelers_agree?.rate)), h("td", {}, pct(v.ceilings.judge?.accuracy)),
          h("td", {}, v.requested_by), h("td", {}, v.finished_at ? fmt.ago(v.finished_at) : "–"))))
      : h("p", { class: "muted" }, "No version yet."));
  };
  await ctx.every(REFRESH_MS, refresh);
}
