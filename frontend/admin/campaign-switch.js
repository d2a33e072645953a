// The campaign switcher of a page whose content is one campaign's (#/PAGE/NAME): choosing another
// campaign goes to the same page for it.
import { h } from "./dom.js";

export default function campaignSwitch(page, campaign, all) {
  const pick = h("select", { id: `${page}-campaign`, onchange: () => { location.hash = `#/${page}/${encodeURIComponent(pick.value)}`; } },
    all.map((c) => h("option", { value: c.name, selected: c.name === campaign }, c.name)));
  return h("p", {}, h("label", { for: `${page}-campaign` }, "Campaign "), pick);
}
