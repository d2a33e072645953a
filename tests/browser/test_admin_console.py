"""The admin console in headless Chromium against the real stack (API, generate and train workers,
beat, Postgres, Redis): log in, read the overview, start rounds, follow one, open its checkpoint,
render its image grid, run an arena match, promote and roll back; a labeler's token is refused.

With DPOLOOP_SCREENSHOTS=docs/img the pages are saved there (the pictures in README.md and docs/)."""

import json
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from core.db.models import Comparison, Report, TrainingRound, Vote
from core.db.session import session_scope
from core.queue import GENERATE_WORKER_QUEUES
from core.repo.checkpoints import active_checkpoint_id
from core.services import reports
from core.settings import get_settings
from core.states import ComparisonKind, ReportReason, ReportStatus
from tests.browser.conftest import screenshot
from tests.helpers.data import make_comparisons, make_labeler, serve
from tests.helpers.stack import Service, dpoloop, stack_env, wait_until
from worker.scenes.policies import get_policy
from worker.scenes.simulate import simulate_labeler

EVAL_PROMPTS = 8  # the shipped evaluation set, one seed each (eval_seeds_per_prompt=1)
ROUND = {"steps": 80, "eval_every": 40, "batch_pairs": 4, "held_out_share": 0.25}  # long enough to watch


@pytest.fixture
def console_stack(pg_settings, embedded_model, tmp_path):
    settings = dict(pool_target=8, pool_batch=4, pool_interval_s=1, default_steps=8, round_schedule=False,
                    promotion="gate", auto_promote=False, gate_min_accuracy=0.0, gate_max_winner_drift=10,
                    gate_max_judge_drop=1, gate_eval_images=8, eval_seeds_per_prompt=1)  # fmt: skip
    port, env = stack_env(pg_settings, embedded_model, **settings)
    logs = tmp_path / "logs"
    logs.mkdir()
    services = [
        Service("api", dpoloop("api"), env, logs),
        Service("worker", dpoloop("worker", "--queues", GENERATE_WORKER_QUEUES, "--name", "gen@%h"), env, logs),
        Service("trainer", dpoloop("worker", "--queues", "train", "--name", "train@%h"), env, logs),
        Service("beat", dpoloop("beat"), env, logs),
    ]
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 30, "the API", proc=services[0])
    yield {"base_url": base, "services": services}
    for service in services:
        service.stop()



def votes_in_db() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(Vote.id)))


def train_votes_in_db() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count(Vote.id)).join(Comparison, Comparison.id == Vote.comparison_id)
                              .where(Comparison.kind == ComparisonKind.train))  # fmt: skip


def test_an_admin_runs_the_loop_from_the_console(console_stack, browser):
    from playwright.sync_api import expect

    base = console_stack["base_url"]
    _, admin_token = make_labeler("boss", admin=True)
    _, voter_token = make_labeler("sim")
    simulate_labeler(base, voter_token, get_policy("smaller"), votes=16, patience_s=120)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations below

    # Log in by link; the overview's numbers are the database's.
    page.goto(f"{base}/admin/#token={admin_token}")
    assert "#token" not in page.url
    expect(page.get_by_test_id("votes-total")).to_have_text(str(votes_in_db()), timeout=10_000)
    expect(page.get_by_test_id("active-checkpoint")).to_have_text("#1")
    expect(page.get_by_test_id("pool-ready")).to_have_text(re.compile(r"^\d+ / 8$"))
    expect(page.get_by_text("gen@", exact=False).first).to_be_visible(timeout=15_000)  # worker liveness
    pairing = page.get_by_test_id("pairing-random")  # the strategy that chose the pairs the labeler saw
    expect(pairing.locator("td").first).to_have_text("random (now)")
    expect(pairing.locator("td").nth(2)).to_have_text(str(train_votes_in_db()))
    screenshot(page, "overview")

    # A bad config is refused in place and queues nothing; a good one shows its curves as it runs.
    page.get_by_role("link", name="Rounds").click()
    page.get_by_test_id("round-config").fill('{"steps": -5}')
    page.get_by_role("button", name="Start round").click()
    expect(page.get_by_test_id("round-error")).to_contain_text("steps")
    page.get_by_test_id("round-config").fill("{not json")
    page.get_by_role("button", name="Start round").click()
    expect(page.get_by_test_id("round-error")).to_contain_text("Not JSON")
    with session_scope() as session:
        assert session.scalar(select(func.count(TrainingRound.id))) == 0
    page.get_by_test_id("round-config").fill(json.dumps(ROUND))
    page.get_by_role("button", name="Start round").click()
    page.wait_for_url(re.compile(r"#/rounds/\d+$"))
    round_id = int(page.url.rsplit("/", 1)[1])
    page.wait_for_function(  # points on the chart while the round still runs
        "() => document.querySelector('main p').textContent.startsWith('running')"
        " && parseInt(document.querySelector('[data-testid=points]').textContent) > 0",
        timeout=180_000,
    )
    expect(page.get_by_test_id("gate-verdict")).to_have_text("passed", timeout=240_000)
    expect(page.get_by_test_id("points")).to_have_text(f"{ROUND['steps']} points")
    screenshot(page, "round")
    with session_scope() as session:
        made = session.get(TrainingRound, round_id).checkpoint_id
    assert made is not None and page.get_by_role("link", name=f"checkpoint #{made}").count() > 0

    # Its checkpoint: the gate table, and the same-seed grid rendered as it arrives.
    page.get_by_role("link", name=f"checkpoint #{made}").first.click()
    page.wait_for_url(f"**#/checkpoints/{made}")
    expect(page.get_by_test_id("gate")).to_contain_text("held-out implicit accuracy")
    # The held-out rules show their interval over pairs ("95% interval … to …, N pairs"; one pair: none).
    interval = re.compile(r"95% interval \S+ to \S+, \d+ pairs|1 pair: no interval")
    expect(page.get_by_test_id("gate")).to_contain_text(interval)
    expect(page.get_by_test_id("grid-progress")).to_have_text(f"0 of {2 * EVAL_PROMPTS} images")
    page.get_by_test_id("render-grid").click()
    expect(page.get_by_test_id("grid-progress")).to_have_text(f"{2 * EVAL_PROMPTS} of {2 * EVAL_PROMPTS} images",
                                                              timeout=180_000)  # fmt: skip
    assert page.locator("[data-testid=image-grid] img").count() == 2 * EVAL_PROMPTS

    # An arena match of the new checkpoint and the base; a simulated labeler judges its pairs.
    page.get_by_role("link", name="Arena").click()
    page.get_by_test_id("match-a").select_option(str(made))
    page.get_by_test_id("match-b").select_option("1")
    page.get_by_role("button", name="Queue match").click()
    # The match renders both sides afresh (as many images as the grid): it waits as long.
    expect(page.locator("[data-testid^=match-] td").nth(3)).to_contain_text("ready", timeout=180_000)
    _, judge_token = make_labeler("judge")
    simulate_labeler(base, judge_token, get_policy("smaller"), votes=EVAL_PROMPTS, patience_s=60)
    for checkpoint_id in (made, 1):
        standing = page.get_by_test_id(f"standing-{checkpoint_id}")
        expect(standing).to_be_visible(timeout=15_000)
        expect(standing).to_contain_text("…")  # its interval
    screenshot(page, "arena")

    # Promote, then roll back: the serving mark and the lineage follow.
    page.goto(f"{base}/admin/#/checkpoints/{made}")
    page.get_by_test_id("promote").click()
    expect(page.get_by_test_id("serving")).to_be_visible(timeout=10_000)
    page.get_by_role("link", name="Checkpoints").click()
    expect(page.get_by_test_id(f"lineage-{made}").get_by_test_id("serving").first).to_be_visible()
    page.goto(f"{base}/admin/#/checkpoints/1")
    page.get_by_role("button", name="Roll back to this").click()
    expect(page.get_by_test_id("serving")).to_be_visible(timeout=10_000)
    with session_scope() as session:
        assert active_checkpoint_id(session) == 1
    page.get_by_role("link", name="Checkpoints").click()
    expect(page.get_by_test_id("lineage-1").locator(":scope > [data-testid=serving]")).to_be_visible()
    expect(page.get_by_test_id(f"lineage-{made}").locator(":scope > [data-testid=serving]")).to_have_count(0)
    assert errors == []


def test_a_labeler_token_gets_admins_only_and_the_api_refuses_it(console_stack, browser):
    from playwright.sync_api import expect

    base = console_stack["base_url"]
    _, token = make_labeler("carol")
    page = browser.new_page()
    page.goto(f"{base}/admin/#token={token}")
    expect(page.get_by_role("heading", name="Admins only")).to_be_visible()
    assert not page.locator("#nav").is_visible()
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/admin/overview", "/admin/rounds", "/admin/arena", "/admin/prompts", "/admin/labelers/stats"):
        assert httpx.get(f"{base}/api/v1{path}", headers=headers).status_code == 403, path
    assert httpx.post(f"{base}/api/v1/admin/arena/matches", headers=headers,
                      json={"checkpoint_a_id": 1, "checkpoint_b_id": 1}).status_code == 403  # fmt: skip


def test_an_admin_imports_a_file_and_downloads_the_votes(console_stack, browser, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from playwright.sync_api import expect

    from tests.worker.test_imports import pick_a_pic_rows

    (tmp_path / "data" / "imports").mkdir(parents=True, exist_ok=True)  # the stack's import root
    pq.write_table(pa.Table.from_pylist(pick_a_pic_rows(3)), tmp_path / "data" / "imports" / "three.parquet")
    _, admin_token = make_labeler("boss", admin=True)
    page = browser.new_page(accept_downloads=True)
    page.goto(f"{console_stack['base_url']}/admin/#token={admin_token}")
    page.get_by_role("link", name="Data").click()
    page.get_by_label("path on the server").fill("three.parquet")
    page.get_by_label("set name").fill("three")
    page.get_by_role("button", name="Import").click()
    row = page.locator("tr", has_text="three")
    expect(row).to_contain_text("done", timeout=120_000)  # the train worker encoded it
    expect(row).to_contain_text("3 / 3")
    page.get_by_label("path on the server").fill("nowhere")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("alert")).to_contain_text("does not exist")
    page.get_by_label("path on the server").fill(str(tmp_path))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("alert")).to_contain_text("not under the import root")
    with page.expect_download() as download:
        page.get_by_role("button", name="Votes (CSV)").click()
    assert download.value.suggested_filename == "dpoloop-votes.csv"
    assert Path(download.value.path()).read_text().startswith('"vote_id"')


def test_an_admin_steers_trust_from_the_console(console_stack, browser):
    from playwright.sync_api import expect

    _, admin_token = make_labeler("boss", admin=True)
    carol, _ = make_labeler("carol")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{console_stack['base_url']}/admin/#token={admin_token}")
    page.get_by_role("link", name="Labelers").click()
    expect(page.get_by_test_id(f"standing-{carol}")).to_contain_text("votes train")
    page.get_by_test_id(f"standing-{carol}").get_by_label("standing").select_option("excluded")
    expect(page.get_by_test_id("lineage")).to_contain_text("none")  # no checkpoint holds her votes yet
    expect(page.get_by_test_id(f"standing-{carol}")).to_contain_text("excluded by an admin")

    page.get_by_role("link", name="Prompts").click()
    page.get_by_label("filter pattern").fill("gore")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("td", has_text="gore")).to_be_visible()
    page.get_by_label("filter pattern").fill("/(unclosed/")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_text("not a regular expression")).to_be_visible()
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_text("No report.")).to_be_visible()
    (pair,) = make_comparisons(1)
    serve(pair, carol)
    made, _ = reports.report(pair, carol, "left", ReportReason.harmful, get_settings())
    decision = page.get_by_test_id(f"report-status-{made.id}")
    expect(decision).to_contain_text("open", timeout=10_000)  # the page refreshes itself
    decision.get_by_role("button", name="Confirm").click()
    expect(decision).to_contain_text("confirmed by boss")
    expect(decision).to_contain_text("no vote on it trains")
    decision.get_by_role("button", name="Dismiss").click()
    expect(decision).to_contain_text("dismissed by boss")
    with session_scope() as session:
        assert session.get(Report, made.id).status == ReportStatus.dismissed
    assert errors == []
