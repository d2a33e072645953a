// The loop at a glance, refreshed every few seconds.
import { getJSON } from "../api.js";
import { card, fill, fmt, h, table } from "../dom.js";
import { verdictBox } from "./verdict.js";

const REFRESH_MS = 3000;
const PAIRING_REFRESH_MS = 30000; // it counts every vote: not on the overview's 3 s beat

export default async function overview(main, ctx) {
  const cards = h("div", { class: "cards" }, h("p", { class: "muted" }, "loading…"));
  const running = h("div");
  const candidate = h("div");
  const workers = h("div");
  const failures = h("div");
  const pairing = h("div");
  main.append(h("h1", {}, "Overview"), cards, h("h2", {}, "Candidate being judged"), candidate,
              h("h2", {}, "Round running now"), running,
              h("h2", {}, "Workers and queues"), workers, h("h2", {}, "Pair selection: human votes per strategy"), pairing,
              h("h2", {}, "Last failures"), failures);
  // Ties, both-bad and passes teach a round nothing: the decisive share is what a strategy buys.
  ctx.every(PAIRING_REFRESH_MS, async () => {
    const found = await getJSON("/admin/pairing");
    fill(pairing, found.length
      ? table(["strategy", "pairs", "votes", "decisive", "tie", "both bad", "passed", "decisive share"],
          found.map((p) => h("tr", { "data-testid": `pairing-${p.strategy}` },
            h("td", {}, p.current ? `${p.strategy} (now)` : p.strategy), h("td", {}, p.pairs), h("td", {}, p.votes),
            h("td", {}, p.decisive), h("td", {}, p.ties), h("td", {}, p.both_bad), h("td", {}, p.skips),
            h("td", {}, fmt.pct(p.decisive_share)))))
      : h("p", { class: "muted" }, "no human votes on train pairs yet"));
  });
  await ctx.every(REFRESH_MS, async () => {
    const o = await getJSON("/admin/overview");
    fill(cards,
      card("Serving", h("a", { href: `#/checkpoints/${o.active_checkpoint_id}`, "data-testid": "active-checkpoint" },
                        `#${o.active_checkpoint_id}`), `since ${fmt.time(o.active_since)}`),
      card("Pool", `${o.pool_ready} / ${o.pool_target}`, `refill ${o.refill_pairs_per_min.toFixed(1)} pairs/min · ${o.eval_ready} evaluation pairs`, "pool-ready"),
      card("Votes, last hour", o.votes_last_hour, "", "votes-last-hour"),
      card("Votes in all", o.votes_total, "", "votes-total"),
      card("Toward the next round", `${o.decisive_since_last_round} / ${o.round_min_pairs}`,
           o.schedule_on ? `decisive votes; next may start ${o.next_scheduled_round_at ? fmt.time(o.next_scheduled_round_at) : "when enough"}` : "schedule off",
           "decisive-since-round"));
    // Each campaign's candidate, judged by its own labelers against what serves that campaign.
    fill(candidate, o.candidates.length
      ? o.candidates.flatMap((k) => [
          h("p", {}, h("a", { href: `#/checkpoints/${k.checkpoint_id}`, "data-testid": k.campaign === "default" ? "candidate" : `candidate-${k.campaign}` },
                       `#${k.checkpoint_id} ${k.name}`),
            k.campaign === "default" ? "" : ` (${k.campaign})`,
            ` is judged blind against what serves ${k.campaign}; it does not serve until its labelers' verdict promotes it.`),
          verdictBox(k, k.rule)])
      : h("p", { class: "muted" }, "none: the next checkpoint that passes the gate will be"));
    const r = o.running_round;
    fill(running, r
      ? h("p", {}, h("a", { href: `#/rounds/${r.id}` }, `Round ${r.id}`), ` ${r.state} (${r.trigger}) · step ${r.step}${r.steps ? ` of ${r.steps}` : ""} `,
          r.steps ? h("progress", { max: r.steps, value: r.step }) : null)
      : h("p", { class: "muted" }, "none"));
    fill(workers,
      o.workers.length
        ? table(["worker", "queues", "serves", "last seen", ""], o.workers.map((w) => h("tr", {},
            h("td", {}, w.name), h("td", {}, w.queues), h("td", {}, w.checkpoint_id == null ? "–" : `#${w.checkpoint_id}`),
            h("td", {}, `${w.seconds_since_seen.toFixed(0)} s ago`),
            h("td", { class: w.alive ? "ok" : "bad" }, w.alive ? "alive" : "silent")))) : h("p", { class: "muted" }, "no worker has reported"),
      h("p", {}, "Queue depths: ", Object.entries(o.queue_depths).map(([q, n]) => `${q} ${n ?? "?"}`).join(" · ")));
    const rows = [
      ...o.failed_rounds.map((f) => ["round", h("a", { href: `#/rounds/${f.id}` }, `#${f.id}`), f.error, f.finished_at]),
      ...o.failed_generations.map((f) => ["generation", `#${f.id}`, f.error, f.finished_at]),
      ...o.failed_housekeeping.map((f) => ["housekeeping", `#${f.id}`, f.error, f.finished_at]),
      ...o.broken_checkpoints.map((c) => ["checkpoint (broken)", h("a", { href: `#/checkpoints/${c.id}` }, `#${c.id}`), c.reason ?? c.status_reason, null]),
    ];
    fill(failures, rows.length
      ? table(["what", "", "reason", "when"], rows.map(([what, id, why, when]) => h("tr", {},
          h("td", {}, what), h("td", {}, id), h("td", {}, why ?? ""), h("td", {}, when ? fmt.ago(when) : ""))))
      : h("p", { class: "muted" }, "none"));
  });
}
