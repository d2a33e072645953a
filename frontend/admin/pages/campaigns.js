// Campaigns: several loops on one install. Create and archive them; assign labelers with a share of their
// pairs. `default` holds everything from before campaigns and is open to every labeler.
import { getJSON, send } from "../api.js";
import { fill, fmt, h, table } from "../dom.js";

const enc = encodeURIComponent;

function createForm(refresh) {
  const name = h("input", { id: "campaign-name", required: true, pattern: "[a-z0-9][a-z0-9\\-]{0,62}", maxlength: 63 });
  const description = h("input", { id: "campaign-description", maxlength: 500, class: "wide" });
  const open = h("input", { id: "campaign-open", type: "checkbox" });
  const result = h("p", { role: "status" });
  const create = async (event) => {
    event.preventDefault();
    try {
      await send("POST", "/admin/campaigns", { name: name.value, description: description.value, open_to_all: open.checked });
      fill(result, `Created ${name.value}.`);
      name.value = description.value = "";
      open.checked = false;
      await refresh();
    } catch (error) {
      fill(result, h("span", { class: "bad" }, `Not created: ${error.message}`));
    }
  };
  return h("form", { onsubmit: create },
    h("h2", {}, "New campaign"),
    h("p", {}, h("label", { for: "campaign-name" }, "Name (lowercase letters, digits and -)"), h("br"), name),
    h("p", {}, h("label", { for: "campaign-description" }, "Description"), h("br"), description),
    h("p", {}, open, " ", h("label", { for: "campaign-open" }, "Open to every labeler")),
    h("button", { type: "submit", class: "action" }, "Create campaign"), result);
}

function membersOf(campaign, labelers, refresh) {
  const box = h("div", { "data-testid": `campaign-members-${campaign.name}` }, h("p", { class: "muted" }, "loading…"));
  const pick = h("select", { id: `assign-${campaign.name}`, "aria-label": `labeler to assign to ${campaign.name}` },
    labelers.filter((l) => l.active).map((l) => h("option", { value: l.id }, l.name)));
  const share = h("input", { type: "number", min: 0.05, max: 1, step: 0.05, value: 1, class: "narrow",
                             "aria-label": `share of their pairs from ${campaign.name}` });
  const act = (method, path, body) => async () => {
    try { await send(method, path, body); } catch (error) { alert(error.message); }
    await refresh();
  };
  const show = async () => {
    const members = await getJSON(`/admin/campaigns/${enc(campaign.name)}/labelers`);
    fill(box, members.length
      ? table(["labeler", "share", "added"], members.map((m) => h("tr", {},
          h("td", {}, m.name), h("td", {}, m.share), h("td", {}, `${fmt.ago(m.added_at)} by ${m.added_by} `,
            h("button", { class: "action", onclick: act("DELETE", `/admin/campaigns/${enc(campaign.name)}/labelers/${m.labeler_id}`) },
              `remove ${m.name}`)))))
      : h("p", { class: "muted" }, campaign.open_to_all ? "Open to every labeler; none given a share." : "No labelers yet."));
  };
  const assign = (event) => {
    event.preventDefault();
    act("PUT", `/admin/campaigns/${enc(campaign.name)}/labelers/${pick.value}`, { share: Number(share.value) })();
  };
  return [box, campaign.archived_at ? null : h("form", { class: "row", onsubmit: assign }, pick, share,
    h("button", { type: "submit", class: "action" }, "Assign")), show];
}

// The install's default blend: each active campaign's serving adapter at a weight (0: left out); a
// generation naming no campaign gets it.
function blendForm(active) {
  const inputs = active.map((c) => h("input", { type: "number", min: 0, max: 2, step: 0.05, value: c.blend_weight,
    class: "narrow", id: `blend-${c.name}`, "data-campaign": c.name }));
  const result = h("p", { role: "status" });
  const save = async (event) => {
    event.preventDefault();
    const adapters = Object.fromEntries(inputs.filter((i) => Number(i.value) > 0).map((i) => [i.dataset.campaign, Number(i.value)]));
    try {
      const saved = await send("PUT", "/admin/blend", { adapters });
      fill(result, `Saved: ${Object.entries(saved.adapters).map(([n, w]) => `${n} ${w}`).join(", ")}.`);
    } catch (error) {
      fill(result, h("span", { class: "bad" }, `Not saved: ${error.message}`));
    }
  };
  return h("form", { onsubmit: save, "data-testid": "default-blend" },
    h("h2", {}, "Default blend"),
    h("p", { class: "muted" }, "What a generation naming no campaign is made with: each campaign's serving adapter at "
      + "this weight (0 leaves it out; a campaign serving a full fine-tune cannot take part). Clients may ask for "
      + "their own blend with adapters in the request."),
    active.map((c, i) => h("p", {}, h("label", { for: `blend-${c.name}` }, c.name), " ", inputs[i])),
    h("button", { type: "submit", class: "action" }, "Save blend"), result);
}

export default async function campaigns(main) {
  const list = h("div", {}, h("p", { class: "muted" }, "loading…"));
  const refresh = async () => {
    const [all, labelers] = await Promise.all([getJSON("/admin/campaigns?archived=true"), getJSON("/admin/labelers")]);
    const sections = all.map((c) => {
      const [box, form, show] = membersOf(c, labelers, refresh);
      const archive = async () => {
        if (!confirm(`Archive ${c.name}? Its labelers get no more pairs from it; its data stays.`)) return;
        try { await send("POST", `/admin/campaigns/${enc(c.name)}/archive`); } catch (error) { alert(error.message); }
        await refresh();
      };
      const toggleOpen = async () => {
        try { await send("PATCH", `/admin/campaigns/${enc(c.name)}`, { open_to_all: !c.open_to_all }); } catch (error) { alert(error.message); }
        await refresh();
      };
      show();
      return h("section", { "data-testid": `campaign-${c.name}`, "aria-label": `campaign ${c.name}` },
        h("h2", {}, c.name, c.archived_at ? h("span", { class: "muted" }, ` (archived ${fmt.ago(c.archived_at)})`) : ""),
        h("p", {}, c.description || h("span", { class: "muted" }, "no description"), " · ",
          c.open_to_all ? "open to every labeler" : `${c.labelers} labeler${c.labelers === 1 ? "" : "s"}`, " · ",
          h("span", { "data-testid": `campaign-counts-${c.name}` },
            `${c.prompts} prompts, ${c.ready_pairs} pairs ready, ${c.votes} votes`), " · ",
          h("a", { href: `#/guidelines/${enc(c.name)}` }, "guidelines"), " · ", h("a", { href: `#/prompts/${enc(c.name)}` }, "prompts"),
          c.archived_at ? "" : [" · ", h("button", { class: "action", onclick: toggleOpen },
            c.open_to_all ? "Close to assigned labelers" : "Open to every labeler")],
          c.name === "default" || c.archived_at ? "" : [" · ", h("button", { class: "action", onclick: archive }, "Archive")]),
        box, form);
    });
    fill(list, sections, blendForm(all.filter((c) => !c.archived_at)));
  };
  main.append(h("h1", {}, "Campaigns"),
    h("p", { class: "muted" }, "Each campaign is a loop with its own question, guidelines and labelers. A labeler in several "
      + "gets pairs from each by their share, and each campaign's pool draws from its own prompts. A campaign's rounds train its own lineage; an admin promotes its checkpoints. A generation names a campaign, a blend of several, or gets the default blend."),
    list, createForm(refresh));
  await refresh();
}
