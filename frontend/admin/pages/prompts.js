// Prompts: a campaign's set the pool draws from and the fixed evaluation set; add, flag, retire. The
// prompt filter is the install's.
import { getJSON, send } from "../api.js";
import { fill, h, table } from "../dom.js";

export default async function prompts(main, ctx, campaign = "default") {
  const path = (p) => `${p}${p.includes("?") ? "&" : "?"}campaign=${encodeURIComponent(campaign)}`;
  const text = h("textarea", { rows: 4, placeholder: "one prompt per line", "aria-label": "prompts to add" });
  const file = h("input", { type: "file", accept: ".txt,text/plain", "aria-label": "a text file of prompts" });
  const forEval = h("input", { type: "checkbox", "aria-label": "for evaluation" });
  const message = h("p", { role: "status" });
  const list = h("div", {}, h("p", { class: "muted" }, "loading…"));
  file.addEventListener("change", async () => {
    if (file.files[0]) text.value = (text.value ? `${text.value}\n` : "") + (await file.files[0].text());
  });
  const refresh = async () => {
    const all = await getJSON(path("/admin/prompts?limit=2000"));
    fill(list, h("p", { class: "muted" }, `${all.filter((p) => p.active).length} active, ${all.filter((p) => p.for_eval && p.active).length} in the evaluation set`),
      table(["prompt", "source", "pairs", "votes", "evaluation", ""], all.map((p) => h("tr", { class: p.active ? "" : "muted", "data-testid": `prompt-${p.id}` },
        h("td", {}, p.text, p.active ? "" : " (retired)"), h("td", {}, p.source), h("td", {}, p.pairs), h("td", {}, p.votes),
        h("td", {}, h("label", {}, h("input", { type: "checkbox", checked: p.for_eval, onchange: async (e) => {
          await send("PATCH", `/admin/prompts/${p.id}`, { for_eval: e.target.checked }).catch((err) => alert(err.message));
          await refresh();
        } }), " eval")),
        h("td", {}, h("button", { class: "action", onclick: async () => {
          await send("PATCH", `/admin/prompts/${p.id}`, { active: !p.active }).catch((err) => alert(err.message));
          await refresh();
        } }, p.active ? "Retire" : "Restore"))))));
  };
  const add = async (event) => {
    event.preventDefault();
    const lines = text.value.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    if (!lines.length) return;
    try {
      const added = await send("POST", path("/admin/prompts"), { prompts: lines, for_eval: forEval.checked });
      message.className = "";
      message.textContent = `Added ${added.added}, ${added.skipped} already there.`;
      text.value = "";
      await refresh();
    } catch (e) {
      message.className = "error";
      message.textContent = e.message;
    }
  };
  const filterList = h("div");
  const pattern = h("input", { placeholder: "a word, phrase or /regex/", "aria-label": "filter pattern" });
  const filterMessage = h("p", { role: "status" });
  const refreshFilter = async () => {
    const rules = await getJSON("/admin/prompt-filter");
    fill(filterList, rules.length ? table(["rule", "pattern", "by", ""], rules.map((r) => h("tr", {},
      h("td", {}, r.id), h("td", {}, r.is_regex ? `/${r.pattern}/` : r.pattern), h("td", {}, r.created_by),
      h("td", {}, h("button", { class: "action", onclick: async () => { await send("DELETE", `/admin/prompt-filter/${r.id}`).catch((e) => alert(e.message)); await refreshFilter(); } }, "Remove")))))
      : h("p", { class: "muted" }, "No rule yet."));
  };
  const addRule = async (event) => {
    event.preventDefault();
    const text = pattern.value.trim();
    const regex = text.length > 2 && text.startsWith("/") && text.endsWith("/");
    try {
      await send("POST", "/admin/prompt-filter", { pattern: regex ? text.slice(1, -1) : text, is_regex: regex });
      pattern.value = "";
      filterMessage.textContent = "";
      await refreshFilter();
    } catch (e) {
      filterMessage.textContent = e.message;
    }
  };
  const applyRules = async () => {
    try {
      const applied = await send("POST", "/admin/prompt-filter/apply");
      filterMessage.textContent = `Retired ${applied.retired.length} prompts the filter refuses.`;
      await refresh();
    } catch (e) {
      filterMessage.textContent = e.message;
    }
  };
  main.append(h("h1", {}, `Prompts of ${campaign}`),
    h("form", { onsubmit: add }, text, h("div", { class: "row" }, file, h("label", {}, forEval, " for evaluation"),
      h("button", { class: "action", type: "submit" }, "Add prompts"))), message,
    h("h2", {}, "Prompt filter"),
    h("p", { class: "muted" }, "Generations and new prompts that match a rule are refused, naming it."),
    h("form", { class: "row", onsubmit: addRule }, pattern, h("button", { class: "action", type: "submit" }, "Add rule"),
      h("button", { class: "action", type: "button", onclick: applyRules }, "Retire matching prompts")),
    filterMessage, filterList,
    h("h2", {}, "All prompts"),
    h("p", { class: "muted" }, "A retired prompt leaves the pool; its votes stay training data."), list);
  refreshFilter();
  await ctx.every(15000, refresh);
}
