// Reports: images labelers flagged (harmful, explicit, broken, other); each pair left the pool.
import { getJSON } from "../api.js";
import { fill, fmt, h, table } from "../dom.js";

export default async function reports(main, ctx) {
  const list = h("div", {}, h("p", { class: "muted" }, "loading…"));
  main.append(h("h1", {}, "Reports"),
    h("p", { class: "muted" }, "A reported pair leaves the pool for everyone and no round trains on it."), list);
  await ctx.every(5000, async () => {
    const all = await getJSON("/admin/reports");
    fill(list, all.length ? table(["reported", "by", "reason", "prompt", "image"], all.map((r) => h("tr", { "data-testid": `report-${r.id}` },
      h("td", {}, fmt.ago(r.created_at)), h("td", {}, r.labeler), h("td", {}, r.reason, r.note ? `: ${r.note}` : ""),
      h("td", {}, r.prompt, h("div", { class: "muted" }, `pair #${r.comparison_id}, ${r.side}`)),
      h("td", {}, r.image_urls.map((url) => h("img", { src: url, alt: "reported image", width: 64, height: 64 }))))))
      : h("p", { class: "muted" }, "No report."));
  });
}
