// Data: the votes out (Pick-a-Pic parquet, or the flat votes table) and pairs in (imports).
import { api, getJSON, reason, send } from "../api.js";
import { currentCampaign } from "../campaign-switch.js";
import { fill, fmt, h, table } from "../dom.js";

async function download(params, button) {
  button.disabled = true;
  try {
    const response = await api(`/admin/export?${new URLSearchParams(params)}`);
    if (!response.ok) throw new Error(await reason(response));
    const link = h("a", { href: URL.createObjectURL(await response.blob()),
                          download: `dpoloop-${params.form}.${params.format}` });
    link.click();
    URL.revokeObjectURL(link.href);
  } catch (e) {
    alert(e.message);
  } finally {
    button.disabled = false;
  }
}

export default async function data(main, ctx) {
  const kind = h("select", { "aria-label": "which comparisons" }, ["train", "eval", "all"].map((k) => h("option", { value: k }, k)));
  const ties = h("input", { type: "checkbox", "aria-label": "include ties" });
  const campaign = h("select", { "aria-label": "whose votes (campaign)" },
    (await getJSON("/admin/campaigns?archived=true")).map((c) => h("option", { value: c.name, selected: c.name === currentCampaign() }, c.name)));
  const path = h("input", { required: true, placeholder: "picks.parquet (in the import folder)", "aria-label": "path on the server", size: 40 });
  const name = h("input", { placeholder: "name (default: the file's)", "aria-label": "set name" });
  const error = h("p", { class: "error", role: "alert" });
  const sets = h("div", {}, h("p", { class: "muted" }, "loading…"));
  const exportButton = (form, format, label) => {
    const button = h("button", { class: "action", type: "button" }, label);
    button.addEventListener("click", () => download({ form, format, kind: kind.value, include_ties: ties.checked, campaign: campaign.value }, button));
    return button;
  };
  const start = async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await send("POST", "/admin/imports", { path: path.value.trim(), campaign: currentCampaign(),
                                             ...(name.value.trim() ? { name: name.value.trim() } : {}) });
      path.value = name.value = "";
    } catch (e) {
      error.textContent = e.message;
    }
  };
  main.append(h("h1", {}, "Data"),
    h("h2", {}, "Export"),
    h("p", { class: "muted" }, "Pairs: one row per decided comparison in the Pick-a-Pic v2 layout, images included. Votes: one row per vote."),
    h("div", { class: "row" }, campaign, kind, h("label", {}, ties, " include ties"), exportButton("pairs", "parquet", "Pairs (parquet)"),
      exportButton("votes", "parquet", "Votes (parquet)"), exportButton("votes", "csv", "Votes (CSV)")),
    h("h2", {}, `Import for ${currentCampaign()}`),
    h("p", { class: "muted" }, "A Pick-a-Pic parquet file or folder, a datasets save_to_disk folder, or a folder of NAME_0.png/NAME_1.png with a .jsonl, in the server's import folder (DPOLOOP_IMPORT_ROOT, by default imports/ in the data dir; a relative path is inside it, nothing outside it is read). Images are bytes in the rows or files in the folder, never paths or URLs. The campaign's rounds (the switcher at the top picks it) use it with \"sources\": [\"votes\", \"import:NAME\"]."),
    h("form", { class: "row", onsubmit: start }, path, name, h("button", { class: "action", type: "submit" }, "Import")), error,
    sets);
  await ctx.every(2000, async () => {
    const all = await getJSON("/admin/imports");
    fill(sets, all.length ? table(["set", "state", "progress", "added", "duplicates", "ties", "unlabeled", "bad", "started"],
      all.map((s) => h("tr", {}, h("td", {}, s.name, h("div", { class: "muted" }, s.source)),
        h("td", { class: s.state === "failed" ? "bad" : "" }, s.state, s.error ? `: ${s.error}` : ""),
        h("td", {}, `${s.rows_done} / ${s.rows_total ?? "?"} `, h("progress", { max: s.rows_total || 1, value: s.rows_done })),
        ...["added", "duplicates", "ties", "unlabeled", "bad"].map((k) => h("td", {}, s.counts[k] ?? 0)),
        h("td", {}, fmt.ago(s.created_at)))))
      : h("p", { class: "muted" }, "Nothing imported yet."));
  });
}
