// The campaign the console looks at: one switcher in the header, for every page, kept for the tab's
// session. Pages whose content is one campaign's (Guidelines and Prompts, #/PAGE/NAME) show the chosen
// one; Rounds starts its rounds and lists theirs, Arena ranks its lineage, Preference model shows its
// model, Data exports its votes; the other pages are the install's (what serves default, all checkpoints,
// all labelers: Labelers can narrow its figures to the chosen campaign).
import { h } from "./dom.js";

const KEY = "dpoloop.console.campaign";
export const PER_CAMPAIGN = new Set(["guidelines", "prompts"]);  // pages addressed as #/PAGE/NAME

export const currentCampaign = () => sessionStorage.getItem(KEY) || "default";
export const chooseCampaign = (name) => sessionStorage.setItem(KEY, name);

// Fill the header's select with the active campaigns, the current one chosen (back to default when
// the current one was archived or never existed).
export function showCampaigns(select, campaigns) {
  const names = campaigns.filter((c) => !c.archived_at).map((c) => c.name);
  if (!names.includes(currentCampaign())) chooseCampaign("default");
  select.replaceChildren(...names.map((n) => h("option", { value: n, selected: n === currentCampaign() }, n)));
  select.value = currentCampaign();
}
