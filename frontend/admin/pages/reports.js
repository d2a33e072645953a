// Reports: images labelers flagged (harmful, explicit, broken, other). Each pair left the pool and its
// reporter's vote left training; an admin's Confirm takes every vote on it out of training, Dismiss returns them.
import { getJSON, send } from "../api.js";
import { fill, fmt, h, table } from "../dom.js";

const EFFECT = { open: "only the reporter's vote is out", confirmed: "no vote on it trains", dismissed: "the others' votes train" };

function decision(r, refresh) {
  const decide = (status) => async () => {
    await send("PATCH", `/admin/reports/${r.id}`, { status }).catch((e) => alert(e.message));
    await refresh();
  };
  return h("td", { "data-testid": `report-status-${r.id}`, class: r.status === "open" ? "bad" : "" },
    r.status, r.decided_by ? ` by ${r.decided_by} ${fmt.ago(r.decided_at)}` : "", h("div", { class: "muted" }, EFFECT[r.status]),
    h("div", { class: "row" },
      r.status === "confirmed" ? null : h("button", { class: "action", onclick: decide("confirmed") }, "Confirm"),
      r.status === "dismissed" ? null : h("button", { class: "action", onclick: decide("dismissed") }, "Dismiss")));
}

export default async function reports(main, ctx) {
  const list = h("div", {}, h("p", { class: "muted" }, "loading…"));
  main.append(h("h1", {}, "Reports"),
    h("p", { class: "muted" }, "A reported pair leaves the pool for everyone, and the reporter's vote on it leaves training. "
      + "Confirm a report to keep every vote on the pair out of training; dismiss it to let the others' votes train."), list);
  const refresh = async () => {
    const all = await getJSON("/admin/reports");
    fill(list, all.length ? table(["reported", "by", "reason", "prompt", "image", "decision"], all.map((r) => h("tr", { "data-testid": `report-${r.id}` },
      h("td", {}, fmt.ago(r.created_at)), h("td", {}, r.labeler), h("td", {}, r.reason, r.note ? `: ${r.note}` : ""),
      h("td", {}, r.prompt, h("div", { class: "muted" }, `pair #${r.comparison_id}, ${r.side}`)),
      h("td", {}, r.image_urls.map((url) => h("img", { src: url, alt: "reported image", width: 64, height: 64 }))),
      decision(r, refresh))))
      : h("p", { class: "muted" }, "No report."));
  };
  await ctx.every(5000, refresh);
}
