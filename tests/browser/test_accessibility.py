"""axe-core (axe-playwright-python) on every page a person uses: the labeling page, its compare view and
guidelines, and each page of the console. No serious or critical violation anywhere."""


from core.db.session import session_scope
from core.repo.comparisons import ready_pool_count
from core.services import guidelines
from tests.helpers.data import make_labeler
from tests.helpers.stack import wait_until

CONSOLE_PAGES = ["overview", "rounds", "checkpoints", "arena", "reward", "labelers", "prompts", "reports",
                 "guidelines", "campaigns", "data"]  # fmt: skip



def serious(page, where: str) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [f"{where}: {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]} "
            f"{[n['any'][0].get('data') for n in v['nodes'] if n['any']][:1]}"
            for v in found if v["impact"] in ("serious", "critical")]  # fmt: skip


def test_no_serious_accessibility_violation_on_any_page(live_stack, browser):
    base = live_stack["base_url"]
    _, token = make_labeler("a11y-labeler")
    _, admin_token = make_labeler("a11y-admin", admin=True)
    guidelines.set_guidelines("Which image matches the prompt better?", "Judge **colours** first.\n\n- then shapes",
                              "a11y-admin")  # fmt: skip

    def pool_has_one():
        with session_scope() as session:
            return ready_pool_count(session, 1) >= 1

    wait_until(pool_has_one, 180, "a pair in the pool", every=1, proc=live_stack["services"][1])
    problems = []
    for viewport, scheme in (({"width": 1200, "height": 900}, "light"), ({"width": 390, "height": 844}, "light"),
                             ({"width": 1200, "height": 900}, "dark")):  # fmt: skip
        page = browser.new_page(viewport=viewport, color_scheme=scheme)
        page.goto(f"{base}/#token={token}")
        page.get_by_test_id("guidelines").wait_for(state="visible")
        problems += serious(page, f"guidelines {viewport['width']}px {scheme}")
        page.get_by_role("button", name="Got it").click()
        page.get_by_test_id("prompt").wait_for()
        page.wait_for_function("() => document.getElementById('left-image').complete")
        problems += serious(page, f"labeling {viewport['width']}px {scheme}")
        page.keyboard.press("z")
        page.get_by_test_id("compare").wait_for(state="visible")
        problems += serious(page, f"compare view {viewport['width']}px {scheme}")
        page.keyboard.press("Escape")
        page.keyboard.press("r")
        page.get_by_role("dialog", name="Report an image").wait_for()
        problems += serious(page, f"report dialog {viewport['width']}px {scheme}")
        page.close()

    login = browser.new_page()
    login.goto(f"{base}/")
    problems += serious(login, "labeling login")
    for scheme in ("light", "dark"):
        console = browser.new_page(viewport={"width": 1200, "height": 900}, color_scheme=scheme)
        console.goto(f"{base}/admin/#token={admin_token}")
        for name in CONSOLE_PAGES:
            console.goto(f"{base}/admin/#/{name}")
            console.locator("main h1").first.wait_for()
            console.wait_for_timeout(300)  # the page's first calls answer
            problems += serious(console, f"console {name} {scheme}")
        console.close()
    assert problems == [], "\n".join(problems)
