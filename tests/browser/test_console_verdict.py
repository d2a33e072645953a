"""The console shows the labelers' verdict on a candidate (Chromium against the real API on Postgres):
the overview names each campaign's candidate and its running verdict, the checkpoint page its votes,
bounds and what happens next, and an admin rejects it there. Only the API runs: a worker would try to render the
candidate's (empty) weights."""

from sqlalchemy import select

from core.db.models import Candidacy, Checkpoint
from core.db.session import session_scope
from core.states import CandidateState, CheckpointStatus
from tests.api.test_evaluations_api import new_checkpoint
from tests.helpers.data import make_labeler


def test_the_console_shows_the_running_verdict_and_an_admin_rejects_the_candidate(api_only, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    candidate = new_checkpoint(tmp_path, "round-candidate")
    with session_scope() as session:
        session.add(Candidacy(checkpoint_id=candidate, serving_id=1, wins=31, losses=12, ties=9,
                              votes_needed_estimate=40, bounds=[0.43, 0.79]))  # fmt: skip
    _, admin_token = make_labeler("boss", admin=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(f"{api_only}/admin/#token={admin_token}")
    expect(page.get_by_test_id("candidate")).to_have_text(f"#{candidate} round-candidate", timeout=10_000)
    verdict = page.get_by_test_id("verdict")
    expect(verdict.get_by_test_id("verdict-state")).to_have_text("judging")
    expect(verdict.get_by_test_id("verdict-votes")).to_have_text("52 votes")
    expect(verdict).to_contain_text("win rate 43%–79%")
    expect(verdict).to_contain_text("rejected once the upper bound falls to 60%")  # ½ + the default margin
    expect(verdict).to_contain_text("after 348 more votes")  # the default cap of 400, less 52
    expect(page.get_by_test_id("active-checkpoint")).to_have_text("#1")  # a candidate does not serve

    page.goto(f"{api_only}/admin/#/checkpoints/{candidate}")
    expect(page.get_by_test_id("judging")).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("verdict-state")).to_have_text("judging")
    expect(page.get_by_test_id("verdict")).to_contain_text("about 40 more votes")
    page.get_by_test_id("reject").click()
    expect(page.get_by_test_id("verdict-state")).to_have_text("rejected", timeout=10_000)
    expect(page.get_by_test_id("verdict")).to_contain_text("by boss")
    expect(page.get_by_test_id("reject")).to_have_count(0)
    with session_scope() as session:
        assert session.scalar(select(Candidacy.state)) == CandidateState.rejected
        assert session.get(Checkpoint, candidate).status == CheckpointStatus.rejected

    page.goto(f"{api_only}/admin/")
    expect(page.get_by_text("none: the next checkpoint that passes the gate will be")).to_be_visible(timeout=10_000)

    # Another campaign's candidate, judged by its own labelers, is shown with its campaign.
    from core.services import campaigns

    hands = campaigns.create("hands", "", open_to_all=False, by="boss").id
    theirs = new_checkpoint(tmp_path, "hands-candidate")
    with session_scope() as session:
        session.get(Checkpoint, theirs).campaign_id = hands
        session.add(Candidacy(checkpoint_id=theirs, serving_id=1))
    page.reload()
    expect(page.get_by_test_id("candidate-hands")).to_have_text(f"#{theirs} hands-candidate", timeout=10_000)
    expect(page.get_by_text("is judged blind against what serves hands")).to_be_visible()
    expect(page.get_by_test_id("candidate")).to_have_count(0)  # default has none now
    assert errors == []
