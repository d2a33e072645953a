// The labelers' verdict on a candidate: votes so far, the confidence bounds on its win rate, and what
// happens next (core/verdict.py: promoted once the lower bound reaches 50%, rejected once the upper
// bound falls to 50% + the margin, undecided at the vote cap).
import { fmt, h } from "../dom.js";

const STATES = {
  judging: "being judged by the labelers",
  promoted: "promoted by the labelers' verdict",
  rejected: "rejected by the labelers' verdict",
  undecided: "undecided: what served kept serving",
};

export function votesOf(c) {
  return (c.wins ?? 0) + (c.losses ?? 0) + (c.ties ?? 0);
}

function boundsBar(bounds, margin) {
  // The win-rate axis 0–100%, the interval shaded, and the two decision points marked.
  const [low, high] = bounds;
  const bar = h("div", { class: "verdict-bar", role: "img",
    "aria-label": `win rate between ${fmt.pct(low)} and ${fmt.pct(high)}` });
  const span = h("div", { class: "verdict-span" });
  span.style.left = `${100 * low}%`;  // CSSOM: allowed by the CSP
  span.style.width = `${100 * Math.max(0.005, high - low)}%`;
  bar.append(span);
  for (const [at, name] of [[0.5, "promote"], [0.5 + (margin ?? 0), "reject"]]) {
    const mark = h("div", { class: `verdict-mark ${name}`, title: `${name} at ${fmt.pct(at)}` });
    mark.style.left = `${100 * at}%`;
    bar.append(mark);
  }
  return bar;
}

function nextStep(c, rule) {
  if (c.state !== "judging") {
    const by = c.decided_by && c.decided_by !== "labelers" ? ` (by ${c.decided_by})` : "";
    return h("p", {}, `${STATES[c.state] || c.state}${by}`, c.reason ? `: ${c.reason}` : "",
             c.decided_at ? ` · ${fmt.time(c.decided_at)}` : "");
  }
  if (!rule) return h("p", { class: "muted" }, "judging");
  const left = Math.max(0, rule.max_votes - votesOf(c));
  const guess = c.votes_needed_estimate != null ? ` A decision is expected after about ${c.votes_needed_estimate} more votes.` : "";
  return h("p", {}, `It serves once the lower bound reaches 50%; it is rejected once the upper bound falls to `,
           `${fmt.pct(0.5 + rule.margin)}; after ${left} more votes without either, what serves keeps serving.${guess}`);
}

// `rule` ({alpha, beta, margin, max_votes}) where known: the overview carries it.
export function verdictBox(c, rule = null) {
  if (!c) return null;
  const counted = c.wins == null ? h("p", { class: "muted" }, "counts hidden")
    : h("p", {}, h("strong", { "data-testid": "verdict-votes" }, `${votesOf(c)} votes`),
        `: ${c.wins} won, ${c.losses} lost, ${c.ties} tied (people in good standing only)`,
        c.bounds ? ` · win rate ${fmt.interval(c.bounds)}` : "",
        rule ? ` · cap ${rule.max_votes}` : "");
  return h("div", { class: "verdict", "data-testid": "verdict" },
    h("p", {}, "Candidate: ", h("strong", { "data-testid": "verdict-state", class: c.state === "rejected" ? "bad" : c.state === "promoted" ? "ok" : "" }, c.state),
      c.serving_id != null ? [" against ", h("a", { href: `#/checkpoints/${c.serving_id}` }, `#${c.serving_id}`)] : ""),
    counted, c.bounds ? boundsBar(c.bounds, rule?.margin) : null, nextStep(c, rule));
}
