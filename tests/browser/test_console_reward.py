"""The console's preference model page (Chromium against the real API on Postgres): the version in use
with its ceilings, every version with failures and their reasons, the plot, and training a new version
(queued on the broker; a second press is refused with the reason); the header's campaign switcher shows
and trains another campaign's own model."""

from core.db.models import RewardModel
from core.db.session import session_scope
from core.services import campaigns
from core.states import RewardModelState
from tests.helpers.data import make_labeler


def test_the_console_shows_the_preference_model_and_queues_a_version(api_only, browser):  # noqa: F811
    from playwright.sync_api import expect

    ceilings = {"labelers_agree": {"comparisons": 30, "vote_pairs": 41, "rate": 0.78},
                "judge": {"judge": "scenes", "accuracy": 0.66, "pairs": 40}}  # fmt: skip
    with session_scope() as session:
        session.add(RewardModel(state=RewardModelState.ready, features="latents+text", requested_by="schedule",
                                votes=212, train_pairs=160, held_out_pairs=40, held_out_accuracy=0.725,
                                ceilings=ceilings, card={}))  # fmt: skip
        session.add(RewardModel(state=RewardModelState.failed, features="latents+text", requested_by="cli",
                                error="RuntimeError: out of memory", ceilings={}, card={}))  # fmt: skip
    _, admin_token = make_labeler("boss", admin=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{api_only}/admin/#token={admin_token}")
    page.get_by_role("link", name="Preference model").click()
    expect(page.get_by_role("heading", name="Preference model: default")).to_be_visible()  # the header's campaign
    current = page.get_by_test_id("reward-current")
    expect(current).to_contain_text("In use: v1, 212 votes", timeout=10_000)
    expect(current).to_contain_text("held-out accuracy 72.5%; labelers agree 78.0% (41 vote pairs); judge 66.0%")
    expect(page.get_by_test_id("reward-2")).to_contain_text("failed: RuntimeError: out of memory")
    expect(page.get_by_role("img", name="held-out accuracy against votes trained on")).to_be_visible()

    page.get_by_test_id("reward-train").click()
    expect(page.get_by_test_id("reward-3")).to_contain_text("queued", timeout=10_000)
    expect(page.get_by_test_id("reward-3")).to_contain_text("boss")
    page.get_by_test_id("reward-train").click()
    expect(page.get_by_test_id("reward-error")).to_contain_text("version 3 is already queued")
    expect(current).to_contain_text("In use: v1")  # a queued version is not in use

    # Another campaign learns its own labelers: the switcher shows its model and trains for it alone.
    hands = campaigns.create("hands", "", open_to_all=True, by="root").id
    with session_scope() as session:
        session.add(RewardModel(state=RewardModelState.ready, features="latents+text", requested_by="schedule",
                                votes=90, train_pairs=70, held_out_pairs=18, held_out_accuracy=0.61, ceilings={},
                                card={}, campaign_id=hands))  # fmt: skip
    page.reload()
    page.get_by_label("Campaign", exact=True).select_option("hands")
    expect(page.get_by_role("heading", name="Preference model: hands")).to_be_visible()
    expect(current).to_contain_text("In use: v4, 90 votes", timeout=10_000)
    expect(page.get_by_test_id("reward-1")).to_have_count(0)  # default's versions are not this campaign's
    page.get_by_test_id("reward-train").click()  # default's queued version does not block this campaign's
    expect(page.get_by_test_id("reward-5")).to_contain_text("queued", timeout=10_000)
    with session_scope() as session:
        assert session.get(RewardModel, 5).campaign_id == hands
    page.get_by_label("Campaign", exact=True).select_option("default")
    expect(current).to_contain_text("In use: v1", timeout=10_000)
    expect(page.get_by_test_id("reward-5")).to_have_count(0)
    assert errors == []
