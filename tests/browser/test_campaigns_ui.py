"""Campaigns in the console: an admin creates one, assigns a labeler with a share, writes its own
guidelines through the page's campaign switcher, takes the labeler out and archives it."""

from playwright.sync_api import expect

from core.services import campaigns, guidelines
from tests.browser.conftest import screenshot
from tests.helpers.data import make_labeler


def test_an_admin_runs_a_campaign_from_the_console(api_only, browser):
    base = api_only
    _, admin_token = make_labeler("ui-boss", admin=True)
    alice, _ = make_labeler("alice")
    console = browser.new_page(viewport={"width": 1200, "height": 900})
    console.on("dialog", lambda dialog: dialog.accept())  # the archive confirmation
    console.goto(f"{base}/admin/#token={admin_token}")
    console.get_by_role("link", name="Campaigns").click()
    expect(console.get_by_test_id("campaign-default")).to_contain_text("open to every labeler")

    console.get_by_label("Name (lowercase letters, digits and -)").fill("hands")
    console.get_by_label("Description").fill("Which hands look right?")
    console.get_by_role("button", name="Create campaign").click()
    hands = console.get_by_test_id("campaign-hands")
    expect(hands).to_contain_text("Which hands look right?")
    hands.get_by_label("labeler to assign to hands").select_option(label="alice")
    hands.get_by_label("share of their pairs from hands").fill("0.5")
    hands.get_by_role("button", name="Assign").click()
    expect(console.get_by_test_id("campaign-members-hands")).to_contain_text("alice")
    assert [(m.name, m.share) for m in campaigns.members("hands")] == [("alice", 0.5)]
    screenshot(console, "console-campaigns")

    console.get_by_label("Name (lowercase letters, digits and -)").fill("Bad Name")
    console.get_by_role("button", name="Create campaign").click()  # the browser's own check stops it
    assert [c.name for c in campaigns.list_campaigns()] == ["default", "hands"]

    hands.get_by_role("link", name="guidelines").click()
    expect(console.get_by_label("Campaign")).to_have_value("hands")
    console.get_by_label("The question over each pair").fill("Which hands look right?")
    console.get_by_role("button", name="Save as a new version").click()
    console.get_by_text("Saved: labelers see the new version").wait_for()
    assert guidelines.current("hands").question == "Which hands look right?"
    assert guidelines.current("default").version == 0  # the other campaign's stay as they were
    console.get_by_label("Campaign").select_option("default")
    expect(console.get_by_label("The question over each pair")).to_have_value("Which image matches the prompt better?")

    console.get_by_role("link", name="Campaigns").click()
    hands = console.get_by_test_id("campaign-hands")
    hands.get_by_role("button", name="remove alice").click()
    expect(console.get_by_test_id("campaign-members-hands")).to_contain_text("No labelers yet.")
    hands.get_by_role("button", name="Archive").click()
    expect(hands).to_contain_text("archived")
    assert [c.name for c in campaigns.list_campaigns()] == ["default"]
    assert [m.name for m in campaigns.campaigns_of(alice)] == ["default"]
