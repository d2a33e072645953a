// A checkpoint's gate: each rule's measured value (with its interval over held-out pairs) beside its limit, and the verdict.
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
      h("td", {}, NAMES[name] || name), h("td", {}, fmt.num(r.value), interval(r)), h("td", {}, r.op || ""), h("td", {}, fmt.num(r.limit)),
      h("td", { class: r.passed ? "ok" : "bad" }, r.passed ? "pass" : "fail")))));
}

// The held-out rules measure over pairs: a rule fails only when its whole interval lies past the limit.
function interval(r) {
  if (r.low == null || r.high == null || !(r.pairs >= 2)) return r.pairs === 1 ? h("span", { class: "muted" }, " (1 pair: no interval)") : null;
  return h("span", { class: "muted", "data-testid": "gate-interval" },
    ` (${Math.round((r.confidence ?? 0.95) * 100)}% interval ${fmt.num(r.low)} to ${fmt.num(r.high)}, ${r.pairs} pairs)`);
}
