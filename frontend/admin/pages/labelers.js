// Labelers: how each one labels, and creating, disabling and re-keying them.
import { getJSON, send } from "../api.js";
import { currentCampaign } from "../campaign-switch.js";
import { fill, fmt, h, table } from "../dom.js";

function linkBox(box, created, what) {
  fill(box, h("div", { class: "card", "data-testid": "login-link" },
    h("div", { class: "label" }, `${what} ${created.name}: send this login link (it is shown once)`),
    h("div", { class: "copy" }, created.login_url), h("div", { class: "row" },
      h("button", { class: "action", type: "button", onclick: () => navigator.clipboard?.writeText(created.login_url) }, "Copy"))));
}

// An admin's word over the quality rules; changing it shows the checkpoints built on their votes.
function standingSelect(labelerId, override, refresh, lineageBox) {
  const select = h("select", { "aria-label": "standing" }, [["auto", "rules decide"], ["good", "always train"], ["excluded", "never train"]]
    .map(([value, text]) => h("option", { value, selected: (override || "auto") === value }, text)));
  select.addEventListener("change", async () => {
    await send("PATCH", `/admin/labelers/${labelerId}`, { standing: select.value }).catch((e) => alert(e.message));
    const found = await getJSON(`/admin/labelers/${labelerId}/lineage`);
    fill(lineageBox, h("div", { class: "card", "data-testid": "lineage" },
      h("div", { class: "label" }, `Checkpoints built on labeler ${labelerId}'s votes`),
      found.built_on.length ? `#${found.built_on.join(", #")}` : "none",
      // One button per campaign whose serving checkpoint holds their votes.
      found.rebuilds.map((r) => h("div", { class: "row" }, h("button", { class: "action", onclick: async () => {
        const body = { config: { start_from: r.rebuild_from }, campaign: r.campaign };
        const round = await send("POST", "/admin/rounds", body).catch((e) => alert(e.message));
        if (round) location.hash = `#/rounds/${round.id}`;
      } }, r.campaign === "default" ? `Rebuild from #${r.rebuild_from}` : `Rebuild ${r.campaign} from #${r.rebuild_from}`)))));
    await refresh();
  });
  return select;
}

export default async function labelers(main, ctx) {
  const name = h("input", { name: "name", required: true, placeholder: "name", "aria-label": "name", pattern: "[\\w.@+\\-]+" });
  const admin = h("input", { type: "checkbox", "aria-label": "admin" });
  const error = h("p", { class: "error", role: "alert" });
  const link = h("div");
  const list = h("div", {}, h("p", { class: "muted" }, "loading…"));
  // Every vote (the install's labelers), or the switcher's campaign: its labelers, on its pairs.
  const scope = h("select", { "aria-label": "figures of", "data-testid": "figures-of" },
    h("option", { value: "" }, "every campaign"), h("option", { value: currentCampaign() }, `campaign ${currentCampaign()}`));
  const refresh = async () => {
    const query = scope.value ? `?campaign=${encodeURIComponent(scope.value)}` : "";
    const [stats, trust] = await Promise.all([getJSON(`/admin/labelers/stats${query}`), getJSON(`/admin/labelers/quality${query}`)]);
    const quality = Object.fromEntries(trust.map((q) => [q.labeler_id, q]));
    const whose = scope.value ? `campaign ${scope.value}` : "all labelers";
    fill(list, h("p", { class: "muted" }, `Krippendorff's alpha, ${whose}: ${trust[0]?.alpha_all == null ? "–" : trust[0].alpha_all.toFixed(3)}`),
      table(["labeler", "role", "votes", "per hour (last)", "median decision", "ties", "both bad", "skips", "agreement",
             "gold", "left share", "standing", ""],
      stats.map((s) => h("tr", { "data-testid": `labeler-${s.labeler_id}`, class: s.active ? "" : "muted" },
        h("td", {}, s.name, s.active ? "" : " (disabled)"), h("td", {}, s.role, s.ai ? " (AI)" : ""), h("td", {}, s.votes), h("td", {}, s.votes_last_hour),
        h("td", {}, s.median_decision_ms == null ? "–" : `${(s.median_decision_ms / 1000).toFixed(1)} s`),
        h("td", {}, fmt.pct(s.tie_share)), h("td", {}, fmt.pct(s.both_bad_share)), h("td", {}, fmt.pct(s.skip_share)),
        h("td", {}, s.agreement == null ? "–" : `${fmt.pct(s.agreement)} of ${s.agreement_votes}`),
        h("td", {}, quality[s.labeler_id]?.gold_votes ? `${quality[s.labeler_id].gold_correct}/${quality[s.labeler_id].gold_votes} (${fmt.interval(quality[s.labeler_id].gold_interval)})` : "–"),
        h("td", {}, fmt.pct(quality[s.labeler_id]?.side_bias)),
        h("td", { "data-testid": `standing-${s.labeler_id}`, class: quality[s.labeler_id]?.good_standing === false ? "bad" : "ok" },
          quality[s.labeler_id]?.good_standing === false ? `excluded: ${quality[s.labeler_id].reasons.join("; ")}` : "votes train",
          standingSelect(s.labeler_id, quality[s.labeler_id]?.override, refresh, lineageBox)),
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
  const lineageBox = h("div");
  main.append(h("h1", {}, "Labelers"),
    h("form", { class: "row", onsubmit: create }, name, h("label", {}, admin, " admin"), h("button", { class: "action", type: "submit" }, "Create labeler")),
    error, link, lineageBox, h("h2", {}, "How they label"),
    h("p", {}, "Figures of ", scope),
    h("p", { class: "muted" }, "Agreement: how often a vote matches the other labelers' majority on the same pair. Standing is judged on every vote, whichever campaign."), list);
  scope.addEventListener("change", refresh);
  await ctx.every(10000, refresh);
}
