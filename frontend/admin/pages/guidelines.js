// Guidelines: the question over each pair and the text labelers are shown on their first visit, after each
// change, and behind "?". Each save is a new version; every vote records the version it was cast under.
import { getJSON, send } from "../api.js";
import { fill, fmt, h } from "../dom.js";

const HELP = "Paragraphs are separated by a blank line; a line starting with \"- \" is a list item; **bold** and "
  + "[a link](https://…) work inside both. Anything else is shown as written.";

export default async function guidelines(main, ctx, campaign = "default") {
  const path = (p) => `${p}?campaign=${encodeURIComponent(campaign)}`;
  const question = h("input", { id: "guidelines-question-input", maxlength: 300, required: true, class: "wide" });
  const body = h("textarea", { id: "guidelines-body-input", maxlength: 5000, rows: 10, class: "wide" });
  const version = h("p", { class: "muted", "data-testid": "guidelines-version" });
  const preview = h("div", { class: "guidelines-body", "data-testid": "guidelines-preview" });
  const result = h("p", { role: "status" });
  const show = (g) => {
    question.value = g.question;
    body.value = g.body;
    fill(version, g.version ? `Version ${g.version}, set by ${g.set_by} ${fmt.ago(g.updated_at)}.`
      : "No guidelines set yet: labelers see the default question.");
    window.dpoloopGuidelines.render(preview, g.blocks);
  };
  const save = async (event) => {
    event.preventDefault();
    try {
      show(await send("PUT", path("/admin/guidelines"), { question: question.value, body: body.value }));
      fill(result, "Saved: labelers see the new version on their next pair.");
    } catch (error) {
      fill(result, h("span", { class: "bad" }, `Not saved: ${error.message}`));
    }
  };
  // Both before the form exists: a load never overwrites typing.
  const current = await getJSON(path("/guidelines"));
  main.append(h("h1", {}, `Guidelines of ${campaign}`), version,
    h("form", { onsubmit: save },
      h("p", {}, h("label", { for: "guidelines-question-input" }, "The question over each pair"), h("br"), question),
      h("p", {}, h("label", { for: "guidelines-body-input" }, "Guidelines"), h("br"), body),
      h("p", { class: "muted" }, HELP),
      h("button", { type: "submit", class: "action" }, "Save as a new version")),
    result, h("h2", {}, "What labelers see"), preview);
  show(current);
}
