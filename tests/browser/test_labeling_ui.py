"""A labeler in headless Chromium: log in by link, label five pairs with the keyboard."""

import pytest
from sqlalchemy import select

from core.db.models import Vote
from core.db.session import session_scope
from core.repo.comparisons import ready_pool_count
from core.states import Choice
from tests.helpers.data import make_labeler
from tests.helpers.stack import wait_until

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
KEYS = [("1", Choice.left), ("2", Choice.right), ("3", Choice.tie), ("4", Choice.both_bad), ("Space", Choice.skip)]


@pytest.fixture
def page(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 390, "height": 844})  # a phone-sized screen
        browser.close()


def test_label_five_pairs_with_the_keyboard(live_stack, page):
    labeler_id, token = make_labeler("ui-labeler")

    def pool_has(n):
        with session_scope() as session:
            return ready_pool_count(session, 1) >= n

    wait_until(lambda: pool_has(6), 180, "six pairs in the pool", every=1, proc=live_stack["services"][1])

    page.goto(f"{live_stack['base_url']}/#token={token}")
    assert "#token" not in page.url  # the token leaves the address bar
    page.get_by_test_id("prompt").wait_for()
    assert page.get_by_text("Both bad").is_visible()
    shown = []
    for key, _ in KEYS:
        left = page.get_by_test_id("left-image")
        page.wait_for_function("() => document.getElementById('left-image').complete")
        src = left.get_attribute("src")
        shown.append(src)
        page.keyboard.press(key)
        page.wait_for_function(
            "(src) => document.getElementById('left-image').getAttribute('src') !== src"
            " || !document.getElementById('empty').hidden",
            arg=src,
        )
    assert len(set(shown)) == 5
    assert page.get_by_test_id("vote-count").inner_text() == "5"

    def five_votes():
        with session_scope() as session:
            votes = session.scalars(select(Vote).where(Vote.labeler_id == labeler_id).order_by(Vote.id)).all()
            return len(votes) == 5 and votes

    votes = wait_until(five_votes, 20, "five votes in the database")
    assert [v.choice for v in votes] == [choice for _, choice in KEYS]
    assert len({v.comparison_id for v in votes}) == 5  # no pair repeated
    assert all(v.decision_ms is not None and v.decision_ms >= 0 for v in votes)


def test_a_labeler_reports_an_image_with_r_and_never_sees_it_again(live_stack, page):
    import httpx

    from core.db.models import Report

    labeler_id, token = make_labeler("ui-reporter")
    _, admin_token = make_labeler("ui-admin", admin=True)

    def pool_has(n):
        with session_scope() as session:
            return ready_pool_count(session, 1) >= n

    wait_until(lambda: pool_has(3), 180, "three pairs in the pool", every=1, proc=live_stack["services"][1])
    page.goto(f"{live_stack['base_url']}/#token={token}")
    page.get_by_test_id("prompt").wait_for()
    reported_src = page.get_by_test_id("left-image").get_attribute("src")
    page.keyboard.press("r")
    page.get_by_role("dialog").get_by_label("Left").check()
    page.get_by_role("button", name="Harmful").click()
    page.wait_for_function("(src) => document.getElementById('left-image').getAttribute('src') !== src",
                           arg=reported_src)  # fmt: skip
    with session_scope() as session:
        report = session.scalars(select(Report).where(Report.labeler_id == labeler_id)).one()
        assert (report.side, report.reason) == ("left", "harmful")
    seen = set()
    for _ in range(2):  # the next pairs: never the reported one
        src = page.get_by_test_id("left-image").get_attribute("src")
        seen.add(src)
        page.keyboard.press("1")
        page.wait_for_function(
            "(src) => document.getElementById('left-image').getAttribute('src') !== src"
            " || !document.getElementById('empty').hidden",
            arg=src,
        )
    assert reported_src not in seen
    listed = httpx.get(f"{live_stack['base_url']}/api/v1/admin/reports",
                       headers={"Authorization": f"Bearer {admin_token}"}).json()  # fmt: skip
    assert [(r["comparison_id"], r["reason"], r["labeler"]) for r in listed] == [(report.comparison_id, "harmful",
                                                                                 "ui-reporter")]  # fmt: skip
