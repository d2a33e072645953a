// Labelers: how each one labels, and creating, disabling and re-keying them.
import { getJSON, send } from "../api.js";
import { fill, fmt, h, table } from "../dom.js";

function linkBox(box, created, what) {
  fill(box, h("div", { class: "card", "data-testid": "login-link" },
    h("div", { class: "label" }, `${what} ${created.name}: send this login link (it is shown once)`),
    h("div", { class: "copy" }, created.login_url), h("div", { class: "row" },
      h("button", { class: "action", type: "button", onclick: () => navigator.clipboard?.writeText(created.login_url) }, "Copy"))));
}

export default async function labelers(main, ctx) {
  const name = h("input", { name: "name", required: true, placeholder: "name", "aria-label": "name", pattern: "[\\w.@+\\-]+" });
  const admin = h("input", { type: "checkbox", "aria-label": "admin" });
  const error = h("p", { class: "error", role: "alert" });
  const link = h("div");
  const list = h("div", {}, h("p", { class: "muted" }, "loading…"));
  const refresh = async () => {
    const stats = await getJSON("/admin/labelers/stats");
    fill(list, table(["labeler", "role", "votes", "per hour (last)", "median decision", "ties", "both bad", "skips", "agreement", ""],
      stats.map((s) => h("tr", { "data-testid": `labeler-${s.labeler_id}`, class: s.active ? "" : "muted" },
        h("td", {}, s.name, s.active ? "" : " (disabled)"), h("td", {}, s.role, s.ai ? " (AI)" : ""), h("td", {}, s.votes), h("td", {}, s.votes_last_hour),
        h("td", {}, s.median_decision_ms == null ? "–" : `${(s.median_decision_ms / 1000).toFixed(1)} s`),
        h("td", {}, fmt.pct(s.tie_share)), h("td", {}, fmt.pct(s.both_bad_share)), h("td", {}, fmt.pct(s.skip_share)),
        h("td", {}, s.agreement == null ? "–" : `${fmt.pct(s.agreement)} of ${s.agreement_votes}`),
        h("td", {}, h("div", { class: "row" },
          h("button", { class: "action", onclick: async () => {
            await send("PATCH", `/admin/labelers/${s.labeler_id}`, { active: !s.active }).catch((e) => alert(e.message));
            await refresh();
          } }, s.active ? "Disable" : "Enable"),
          h("button", { class: "action", onclick: async () => {
            if (!confirm(`A new token for ${s.name}? The old one stops working at once.`)) return;
            try { linkBox(link, await send("POST", `/admin/labelers/${s.labeler_id}/token`), "New token for"); } catch (e) { alert(e.message); }
          } }, "New token")))))));
  };
  const create = async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      linkBox(link, await send("POST", "/admin/labelers", { name: name.value.trim(), admin: admin.checked }), "Created");
      name.value = "";
      admin.checked = false;
      await refresh();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  main.append(h("h1", {}, "Labelers"),
    h("form", { class: "row", onsubmit: create }, name, h("label", {}, admin, " admin"), h("button", { class: "action", type: "submit" }, "Create labeler")),
    error, link, h("h2", {}, "How they label"),
    h("p", { class: "muted" }, "Agreement: how often a vote matches the other labelers' majority on the same pair."), list);
  await ctx.every(10000, refresh);
}
