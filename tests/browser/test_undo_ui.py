"""Undo in Chromium, over 512 px pairs the test makes: U takes back a vote the server has (the pair comes back
and takes a new vote), Backspace drops one still waiting offline in the outbox (it never reaches the server),
and a vote past the server's window stays, with the reason on screen."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from core.db.models import Vote, VoteRetraction
from core.db.session import session_scope
from core.states import Choice
from tests.browser.conftest import screenshot
from tests.helpers.data import make_comparisons, make_labeler
from tests.helpers.stack import wait_until

SRC = "document.getElementById('left-image').getAttribute('src')"


def votes_of(labeler_id: int) -> list[Vote]:
    with session_scope() as session:
        return session.scalars(select(Vote).where(Vote.labeler_id == labeler_id).order_by(Vote.id)).all()


def test_undo_takes_a_vote_back_and_refuses_one_past_the_window(api_only, browser):
    make_comparisons(5, size=512)
    labeler_id, token = make_labeler("ui-undo")
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{api_only}/#token={token}")
    page.get_by_test_id("prompt").wait_for()
    page.wait_for_function("() => document.getElementById('left-image').naturalWidth === 512")

    def vote(key: str) -> str:
        shown = page.evaluate(SRC)
        page.keyboard.press(key)
        page.wait_for_function(f"(src) => {SRC} !== src", arg=shown)
        return shown

    # 1. A vote the server has: U brings the pair back; the new vote replaces it.
    first = vote("1")
    wait_until(lambda: len(votes_of(labeler_id)) == 1, 10, "the vote sent")
    assert page.get_by_test_id("undo").is_visible()
    page.keyboard.press("u")
    page.wait_for_function(f"(src) => {SRC} === src", arg=first)
    assert "taken back" in page.get_by_test_id("status").inner_text()
    assert page.get_by_test_id("vote-count").inner_text() == "0"
    screenshot(page, "undo")
    assert votes_of(labeler_id) == []
    vote("2")
    again = wait_until(lambda: votes_of(labeler_id), 10, "the new vote")
    assert [v.choice for v in again] == [Choice.right]

    # 2. Offline: the vote waits in the outbox; Backspace drops it there and nothing reaches the server.
    context.set_offline(True)
    offline = vote("1")
    page.keyboard.press("Backspace")
    page.wait_for_function(f"(src) => {SRC} === src", arg=offline)
    context.set_offline(False)
    outbox = page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('dpoloop.outbox:'))"
                           ".map((k) => JSON.parse(localStorage.getItem(k)).length)")  # fmt: skip
    assert outbox == [0]
    vote("3")
    wait_until(lambda: len(votes_of(labeler_id)) == 2, 10, "the vote cast after the offline undo")
    assert [v.choice for v in votes_of(labeler_id)] == [Choice.right, Choice.tie]

    # 3. Past the server's window (its clock decides): the vote stays and the page says why.
    with session_scope() as session:
        session.execute(update(Vote).values(created_at=datetime.now(UTC) - timedelta(seconds=30)))
    page.keyboard.press("u")
    page.wait_for_function("() => document.getElementById('status').textContent.includes('stays')")
    assert "too late" in page.get_by_test_id("status").inner_text()
    context.close()
    with session_scope() as session:
        assert len(session.scalars(select(VoteRetraction)).all()) == 1  # the one the server took back
    assert len(votes_of(labeler_id)) == 2
