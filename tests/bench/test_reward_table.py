"""The reward bench's Markdown block: per budget both series with W/L/T per seed and gate passes, the
paired differences and the goals; written in place of the policy's earlier block or before the next section."""

from bench.reward_table import block, put_in
from tests.bench.test_loop_stats import run


def results(seeds: int) -> list[dict]:
    made = []
    for seed in range(seeds):
        for votes in (100, 200, 400):
            made.append(run(votes, 50, 20, 30, seed=seed, judge=(0.9, 0.8, False)) | {"generation_s_per_vote": 0.5})
            made.append(run(votes, 70 + seed, 10, 20 - seed, seed=seed, variant="reward")
                        | {"generation_s_per_vote": 1.5, "reward_model": {"held_out_accuracy": 0.6 + seed / 10}})
    return made


def test_the_block_shows_both_series_the_gate_and_the_goals():
    text = block("smaller", results(2), "2026-12-07", "bench/results/x.json")
    assert text.startswith("<!-- reward bench: smaller -->") and text.endswith("<!-- /reward bench: smaller -->")
    assert "2 of 5 runs so far" in text and "no finding yet" in text
    row_200 = next(line for line in text.splitlines() if line.startswith("| 200 |"))
    # votes only: 65% each seed, judge fell beyond the gate; reward: 80% and 80.5%, no judge recorded as failing
    assert "| 65.0% (65.0%–65.0%); 50/20/30 50/20/30 | 0/2 |" in row_200
    assert "80.2% (80.1%–80.4%); 70/10/20 71/10/19 | 2/2 |" in row_200
    assert "median +15.3%, better in 2 of 2 (+15.0% +15.5%)" in row_200
    assert "at 200 (80.2%) is at or above votes-only at 400 (65.0%); the best median is 80.2%." in text
    assert "held-out accuracy 0.60–0.70; generation 0.50–1.50 s per human vote" in text
    assert "runs so far" not in block("smaller", results(5), "d", "p")


def test_a_block_replaces_its_policys_earlier_one_and_goes_before_the_next_section_the_first_time():
    docs = "# Bench\n\nlarger's block\n\n### Promotion by the labelers' verdict\n\nmore\n"
    first = put_in(docs, "smaller", "<!-- reward bench: smaller -->\nold\n<!-- /reward bench: smaller -->")
    assert first.index("old") < first.index("### Promotion") and "larger's block" in first
    again = put_in(first, "smaller", "<!-- reward bench: smaller -->\nnew\n<!-- /reward bench: smaller -->")
    assert "new" in again and "old" not in again and again.count("reward bench: smaller") == 2
