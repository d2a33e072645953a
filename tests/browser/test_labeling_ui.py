"""A labeler in headless Chromium: log in by link, label five pairs with the keyboard."""

import pytest
from sqlalchemy import func, select

from core.db.models import Vote
from core.db.session import session_scope
from core.repo.comparisons import ready_pool_count
from core.states import Choice
from tests.browser.conftest import CHROMIUM_ARGS, screenshot
from tests.helpers.data import make_labeler
from tests.helpers.stack import wait_until

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
    page.get_by_label("Note for the admins (optional)").fill("a hand with seven fingers, 1 2 3")  # keys do not vote
    page.get_by_role("button", name="Harmful").click()
    page.wait_for_function("(src) => document.getElementById('left-image').getAttribute('src') !== src",
                           arg=reported_src)  # fmt: skip
    with session_scope() as session:
        report = session.scalars(select(Report).where(Report.labeler_id == labeler_id)).one()
        assert (report.side, report.reason, report.note) == ("left", "harmful", "a hand with seven fingers, 1 2 3")
        assert session.scalar(select(func.count(Vote.id)).where(Vote.labeler_id == labeler_id)) == 0
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


def test_pairs_stack_on_a_phone_and_only_small_images_blown_up_are_pixelated(live_stack, page):
    _, token = make_labeler("ui-viewer")

    def pool_has_one():
        with session_scope() as session:
            return ready_pool_count(session, 1) >= 1

    wait_until(pool_has_one, 180, "a pair in the pool", every=1, proc=live_stack["services"][1])
    page.goto(f"{live_stack['base_url']}/#token={token}")
    page.get_by_test_id("prompt").wait_for()
    left, right = page.get_by_test_id("left-image"), page.get_by_test_id("right-image")
    page.wait_for_function("() => document.getElementById('left-image').complete")
    phone_left, phone_right = left.bounding_box(), right.bounding_box()
    assert phone_right["y"] >= phone_left["y"] + phone_left["height"]  # 390 px wide: one above the other
    # The embedded model's 64 px images, shown ~6x: sharp pixels, not a blur.
    page.wait_for_function("() => document.getElementById('left-image').classList.contains('pixelated')")

    page.set_viewport_size({"width": 1200, "height": 900})  # a desktop: side by side
    desk_left, desk_right = left.bounding_box(), right.bounding_box()
    assert abs(desk_left["y"] - desk_right["y"]) < 1 and desk_right["x"] > desk_left["x"] + desk_left["width"] - 1

    # A real-size (512 px) image is drawn smooth, however large it is shown.
    page.evaluate("""() => {
        const canvas = document.createElement('canvas');
        canvas.width = canvas.height = 512;
        const ctx = canvas.getContext('2d');
        ctx.fillStyle = '#c33'; ctx.fillRect(0, 0, 512, 512); ctx.fillStyle = '#33c'; ctx.fillRect(100, 100, 200, 200);
        document.getElementById('left-image').src = canvas.toDataURL('image/png');
    }""")
    page.wait_for_function("() => document.getElementById('left-image').naturalWidth === 512")
    page.wait_for_function("() => !document.getElementById('left-image').classList.contains('pixelated')")
    assert page.evaluate("getComputedStyle(document.getElementById('left-image')).imageRendering") == "auto"
    assert "pixelated" in (right.get_attribute("class") or "")  # still the 64 px one


REAL_SIZE = """(size) => {  // the pair on screen becomes two real-size images that differ in one small spot
    const draw = (dot) => {
        const canvas = document.createElement('canvas');
        canvas.width = canvas.height = size;
        const ctx = canvas.getContext('2d');
        ctx.fillStyle = '#2a6'; ctx.fillRect(0, 0, size, size);
        ctx.fillStyle = dot; ctx.fillRect(size / 2, size / 2, 6, 6);
        return canvas.toDataURL('image/png');
    };
    document.getElementById('left-image').src = draw('#fff');
    document.getElementById('right-image').src = draw('#000');
}"""


def transforms(page) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('#compare .viewport img')].map((i) => i.style.transform)")


@pytest.mark.parametrize("size", [512, 1024])
def test_the_compare_view_zooms_and_pans_both_images_together_and_flickers(live_stack, page, size):
    _, token = make_labeler(f"ui-looker-{size}")

    def pool_has_one():
        with session_scope() as session:
            return ready_pool_count(session, 1) >= 1

    wait_until(pool_has_one, 180, "a pair in the pool", every=1, proc=live_stack["services"][1])
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_stack['base_url']}/#token={token}")
    page.get_by_test_id("prompt").wait_for()
    page.evaluate(REAL_SIZE, size)
    page.wait_for_function(f"() => document.getElementById('right-image').naturalWidth === {size}")

    page.keyboard.press("z")
    compare = page.get_by_test_id("compare")
    compare.wait_for(state="visible")
    page.wait_for_function(f"() => document.querySelector('#compare img').naturalWidth === {size}")
    page.wait_for_function("() => document.querySelector('#compare img').style.transform !== ''")
    fitted = transforms(page)
    assert fitted[0] == fitted[1]
    left_view = page.locator('#compare .viewport[data-side="left"]').bounding_box()
    centre = (left_view["x"] + left_view["width"] / 2, left_view["y"] + left_view["height"] / 2)
    page.mouse.move(*centre)
    page.mouse.wheel(0, -400)  # zoom in over the left image
    page.wait_for_function("(t) => document.querySelector('#compare img').style.transform !== t", arg=fitted[0])
    zoomed = transforms(page)
    assert zoomed[0] == zoomed[1] and zoomed != fitted
    page.mouse.down()
    page.mouse.move(centre[0] - 120, centre[1] + 60, steps=4)  # pan by dragging
    page.mouse.up()
    panned = transforms(page)
    assert panned[0] == panned[1] and panned != zoomed
    if size == 512:
        screenshot(page, "compare-view")
    assert page.evaluate("document.getElementById('zoom-level').textContent") != "100%"

    page.keyboard.press("f")  # flicker: one place, both images in turn
    seen = set()
    for _ in range(12):
        seen.add(page.evaluate("document.querySelector('#compare img').src.slice(-40)"))
        if len(seen) == 2:
            break
        page.wait_for_timeout(250)
    assert len(seen) == 2
    assert page.locator('#compare .viewport[data-side="right"]').is_hidden()
    page.keyboard.press("1")  # no vote while looking closely
    page.keyboard.press("Escape")
    compare.wait_for(state="hidden")
    with session_scope() as session:
        assert session.scalar(select(func.count(Vote.id))) == 0
    page.keyboard.press("1")  # back on the pair: keys vote again
    page.wait_for_function("() => document.getElementById('vote-count').textContent === '1'")
