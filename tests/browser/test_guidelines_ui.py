"""Guidelines in the browser: an admin writes them in the console, a labeler is shown them on the first
visit and after each change (not on every visit), can reopen them with ?, and votes carry the version."""

from playwright.sync_api import expect
from sqlalchemy import select

from core.db.models import Vote
from core.db.session import session_scope
from core.repo.comparisons import ready_pool_count
from tests.browser.conftest import screenshot
from tests.helpers.data import make_labeler
from tests.helpers.stack import wait_until


def test_guidelines_from_the_console_reach_labelers_and_their_votes(live_stack, browser):
    base = live_stack["base_url"]
    _, admin_token = make_labeler("ui-boss", admin=True)
    labeler_id, token = make_labeler("ui-reader")

    console = browser.new_page(viewport={"width": 1200, "height": 900})
    console.goto(f"{base}/admin/#token={admin_token}")
    console.goto(f"{base}/admin/#/guidelines")
    console.get_by_label("The question over each pair").fill("Which image shows the prompt more faithfully?")
    console.get_by_label("Guidelines", exact=True).fill(
        "Look at the **shapes and colours** the prompt names.\n\n- a wrong colour loses\n- a missing object "
        "loses\n\nMore in [the handbook](https://example.com/handbook). <b>not bold</b>")
    console.get_by_role("button", name="Save as a new version").click()
    console.get_by_text("Saved: labelers see the new version").wait_for()
    preview = console.get_by_test_id("guidelines-preview")
    assert preview.locator("strong").inner_text() == "shapes and colours"
    assert preview.locator("a").get_attribute("href") == "https://example.com/handbook"
    assert "<b>not bold</b>" in preview.inner_text() and preview.locator("b").count() == 0  # text, never HTML
    assert "Version 1" in console.get_by_test_id("guidelines-version").inner_text()
    screenshot(console, "console-guidelines")

    def pool_has(n):
        with session_scope() as session:
            return ready_pool_count(session, 1) >= n

    wait_until(lambda: pool_has(3), 180, "pairs in the pool", every=1, proc=live_stack["services"][1])
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.goto(f"{base}/#token={token}")
    dialog = page.get_by_test_id("guidelines")
    dialog.wait_for(state="visible")  # the first visit
    assert dialog.locator("li").count() == 2 and "faithfully" in dialog.inner_text()
    screenshot(page, "labeling-guidelines")
    page.keyboard.press("1")  # keys do not vote while the guidelines are open
    page.get_by_role("button", name="Got it").click()
    dialog.wait_for(state="hidden")
    assert page.get_by_test_id("question").inner_text() == "Which image shows the prompt more faithfully?"
    page.get_by_test_id("prompt").wait_for()  # a key before the first pair is on screen votes on nothing
    page.keyboard.press("1")
    expect(page.locator("#vote-count")).to_have_text("1")

    page.reload()  # a later visit: not shown again
    page.get_by_test_id("prompt").wait_for()
    page.wait_for_timeout(500)
    assert dialog.is_hidden()
    page.keyboard.press("?")  # but there behind ?
    dialog.wait_for(state="visible")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    console.get_by_label("The question over each pair").fill("Which image would you rather show a customer?")
    console.get_by_role("button", name="Save as a new version").click()
    console.get_by_text("Version 2").wait_for()
    page.reload()  # changed since: shown again
    dialog.wait_for(state="visible")
    assert "customer" in dialog.inner_text()
    page.get_by_role("button", name="Got it").click()
    page.get_by_test_id("prompt").wait_for()
    page.keyboard.press("2")
    expect(page.locator("#vote-count")).to_have_text("2")

    def versions():
        with session_scope() as session:
            found = list(session.scalars(select(Vote.guidelines_version).where(Vote.labeler_id == labeler_id)
                                         .order_by(Vote.id)))  # fmt: skip
        return found if len(found) == 2 else None

    assert wait_until(versions, 30, "both votes recorded") == [1, 2]
