// A checkpoint's gate: each rule's measured value beside its limit, and the verdict.
import { fmt, h, table } from "../dom.js";

const NAMES = {
  finite_loss: "loss is finite",
  accuracy: "held-out implicit accuracy",
  winner_drift: "winners' error drift vs reference",
  judge: "prompt-following (judge)",
};

export function gateTable(checkpoint) {
  const gate = checkpoint.metrics?.gate;
  if (!gate) return h("p", { class: "muted" }, checkpoint.kind === "base" ? "the base model passed no gate" : "no gate recorded");
  const rules = gate.rules || Object.fromEntries(Object.entries(gate.checks || {}).map(([k, ok]) => [k, { passed: ok }]));
  return h("div", { "data-testid": "gate" },
    h("p", {}, "Verdict: ", h("strong", { class: gate.passed ? "ok" : "bad", "data-testid": "gate-verdict" },
      gate.passed ? "passed" : "failed"), gate.reasons?.length ? ` (${gate.reasons.join("; ")})` : ""),
    table(["rule", "value", "", "limit", "result"], Object.entries(rules).map(([name, r]) => h("tr", {},
      h("td", {}, NAMES[name] || name), h("td", {}, fmt.num(r.value)), h("td", {}, r.op || ""), h("td", {}, fmt.num(r.limit)),
      h("td", { class: r.passed ? "ok" : "bad" }, r.passed ? "pass" : "fail")))));
}
