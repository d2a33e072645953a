// Prompts: the set the pool draws from and the fixed evaluation set; add, flag, retire.
import { getJSON, send } from "../api.js";
import { fill, h, table } from "../dom.js";

export default async function prompts(main, ctx) {
  const text = h("textarea", { rows: 4, placeholder: "one prompt per line", "aria-label": "prompts to add" });
  const file = h("input", { type: "file", accept: ".txt,text/plain", "aria-label": "a text file of prompts" });
  const forEval = h("input", { type: "checkbox", "aria-label": "for evaluation" });
  const message = h("p", { role: "status" });
  const list = h("div", {}, h("p", { class: "muted" }, "loading…"));
  file.addEventListener("change", async () => {
    if (file.files[0]) text.value = (text.value ? `${text.value}\n` : "") + (await file.files[0].text());
  });
  const refresh = async () => {
    const all = await getJSON("/admin/prompts?limit=2000");
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
      const added = await send("POST", "/admin/prompts", { prompts: lines, for_eval: forEval.checked });
      message.className = "";
      message.textContent = `Added ${added.added}, ${added.skipped} already there.`;
      text.value = "";
      await refresh();
    } catch (e) {
      message.className = "error";
      message.textContent = e.message;
    }
  };
  main.append(h("h1", {}, "Prompts"),
    h("form", { onsubmit: add }, text, h("div", { class: "row" }, file, h("label", {}, forEval, " for evaluation"),
      h("button", { class: "action", type: "submit" }, "Add prompts"))), message,
    h("p", { class: "muted" }, "A retired prompt leaves the pool; its votes stay training data."), list);
  await ctx.every(15000, refresh);
}
