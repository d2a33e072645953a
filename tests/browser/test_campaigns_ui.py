"""Campaigns in the browser: an admin creates one in the console, assigns a labeler with a share, writes its
own guidelines through the page's campaign switcher, takes the labeler out and archives it; a labeler is
shown the question and guidelines of the campaign of the pair on screen, and votes under them."""

from playwright.sync_api import expect
from sqlalchemy import select

from core.db.models import Comparison, Vote
from core.db.session import session_scope
from core.services import blends, campaigns, guidelines, prompts
from tests.browser.conftest import screenshot
from tests.helpers.data import make_comparisons, make_labeler
from tests.helpers.stack import wait_until


def test_an_admin_runs_a_campaign_from_the_console(api_only, browser):
    base = api_only
    admin_id, admin_token = make_labeler("ui-boss", admin=True)
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
    blend = console.get_by_test_id("default-blend")  # what a generation naming no campaign is made with
    expect(blend.locator("#blend-default")).to_have_value("1")
    blend.locator("#blend-default").fill("0.5")
    blend.locator("#blend-hands").fill("0.5")
    blend.get_by_role("button", name="Save blend").click()
    expect(blend).to_contain_text("Saved: default 0.5, hands 0.5.")
    assert blends.read_default() == {"default": 0.5, "hands": 0.5}
    blend.locator("#blend-default").fill("0")
    blend.locator("#blend-hands").fill("0")
    blend.get_by_role("button", name="Save blend").click()
    expect(blend).to_contain_text("Not saved")  # the server's reason: a blend needs a campaign in it
    assert blends.read_default() == {"default": 0.5, "hands": 0.5}
    screenshot(console, "console-campaigns")

    console.get_by_label("Name (lowercase letters, digits and -)").fill("Bad Name")
    console.get_by_role("button", name="Create campaign").click()  # the browser's own check stops it
    assert [c.name for c in campaigns.list_campaigns()] == ["default", "hands"]

    hands.get_by_role("link", name="guidelines").click()
    expect(console.get_by_label("Campaign", exact=True)).to_have_value("hands")
    console.get_by_label("The question over each pair").fill("Which hands look right?")
    console.get_by_role("button", name="Save as a new version").click()
    console.get_by_text("Saved: labelers see the new version").wait_for()
    assert guidelines.current("hands").question == "Which hands look right?"
    assert guidelines.current("default").version == 0  # the other campaign's stay as they were
    console.get_by_label("Campaign", exact=True).select_option("default")
    expect(console.get_by_label("The question over each pair")).to_have_value("Which image matches the prompt better?")

    console.get_by_role("link", name="Campaigns").click()
    console.get_by_test_id("campaign-hands").get_by_role("link", name="prompts").click()
    expect(console.get_by_label("Campaign", exact=True)).to_have_value("hands")
    console.get_by_label("prompts to add").fill("two hands\na waving hand")
    console.get_by_role("button", name="Add prompts").click()
    console.get_by_text("Added 2, 0 already there.").wait_for()
    expect(console.get_by_role("cell", name="two hands")).to_be_visible()
    console.get_by_role("link", name="Campaigns").click()
    expect(console.get_by_test_id("campaign-counts-hands")).to_have_text("2 prompts, 0 pairs ready, 0 votes")
    assert sorted(p.prompt.text for p in prompts.list_prompts(campaign="hands")) == ["a waving hand", "two hands"]
    assert "two hands" not in [p.prompt.text for p in prompts.list_prompts()]

    console.get_by_role("link", name="Rounds").click()  # the header's switcher holds from page to page
    expect(console.get_by_role("heading", name="Start a round of hands")).to_be_visible()
    console.get_by_role("link", name="Arena").click()  # hands' lineage, ranked by hands' labelers
    expect(console.get_by_role("heading", name="Arena: hands")).to_be_visible()
    console.get_by_role("link", name="Labelers").click()  # the install's labelers, or hands' on its pairs
    expect(console.get_by_test_id(f"labeler-{admin_id}")).to_be_visible()
    console.get_by_label("figures of").select_option(label="campaign hands")
    expect(console.get_by_text("Krippendorff's alpha, campaign hands")).to_be_visible()
    expect(console.get_by_test_id(f"labeler-{admin_id}")).to_have_count(0)
    expect(console.get_by_test_id(f"labeler-{alice}")).to_be_visible()
    console.get_by_role("link", name="Data").click()
    expect(console.get_by_label("whose votes (campaign)")).to_have_value("hands")
    console.get_by_label("Campaign", exact=True).select_option("default")  # on a page of the install's: it draws again
    expect(console.get_by_label("whose votes (campaign)")).to_have_value("default")
    console.get_by_role("link", name="Guidelines").click()
    expect(console.get_by_role("heading", name="Guidelines of default")).to_be_visible()

    console.get_by_role("link", name="Campaigns").click()
    hands = console.get_by_test_id("campaign-hands")
    hands.get_by_role("button", name="Open to every labeler").click()
    expect(hands).to_contain_text("open to every labeler")
    assert campaigns.get("hands").open_to_all
    hands.get_by_role("button", name="Close to assigned labelers").click()
    expect(hands).to_contain_text("1 labeler")
    hands.get_by_role("button", name="remove alice").click()
    expect(console.get_by_test_id("campaign-members-hands")).to_contain_text("No labelers yet.")
    hands.get_by_role("button", name="Archive").click()
    expect(hands).to_contain_text("archived")
    assert [c.name for c in campaigns.list_campaigns()] == ["default"]
    assert [m.name for m in campaigns.campaigns_of(alice)] == ["default"]


def test_a_labeler_sees_the_question_and_guidelines_of_the_pairs_campaign(api_only, browser):
    base = api_only
    bob, token = make_labeler("bob")
    campaigns.create("hands", "", open_to_all=False, by="root")
    campaigns.assign("hands", bob, 1.0, by="root")
    campaigns.update("default", open_to_all=False)  # bob labels hands alone
    guidelines.set_guidelines("Which image matches the prompt better?", "", "root")
    saved = guidelines.set_guidelines("Which hands look right?", "Count the **fingers**.", "root", "hands")
    with session_scope() as session:
        hands = campaigns.by_name(session, "hands").id
    make_comparisons(2)
    make_comparisons(2, seed=1, campaign_id=hands)

    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(f"{base}/#token={token}")
    dialog = page.get_by_test_id("guidelines")
    dialog.wait_for(state="visible")
    assert "Which hands look right?" in dialog.inner_text() and dialog.locator("strong").inner_text() == "fingers"
    page.get_by_role("button", name="Got it").click()
    expect(page.get_by_test_id("question")).to_have_text("Which hands look right?")
    page.get_by_test_id("prompt").wait_for()
    page.keyboard.press("1")
    expect(page.locator("#vote-count")).to_have_text("1")

    def cast():
        with session_scope() as session:
            return session.execute(select(Comparison.campaign_id, Vote.guidelines_version)
                                   .join(Comparison, Comparison.id == Vote.comparison_id)
                                   .where(Vote.labeler_id == bob)).all()  # fmt: skip

    wait_until(cast, 10, "the vote")
    assert cast() == [(hands, saved.version)]
