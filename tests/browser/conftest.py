import os
from pathlib import Path

import httpx
import pytest

from tests.helpers.stack import Service, dpoloop, stack_env, wait_until
from tests.integration.conftest import live_stack  # noqa: F401 - the same running stack

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture
def browser(chromium_path):
    """Debian's Chromium, driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def api_only(pg_settings, embedded_model, tmp_path):
    """The API alone on this test's Postgres (no worker, no schedule): pages over pairs the test makes."""
    port, env = stack_env(pg_settings, embedded_model, round_schedule=False)
    logs = tmp_path / "logs"
    logs.mkdir()
    api = Service("api", dpoloop("api"), env, logs)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 30, "the API", proc=api)
    yield base
    api.stop()


def screenshot(page, name: str) -> None:
    """With DPOLOOP_SCREENSHOTS=DIR, the page as a PNG there (how docs/img/ is made)."""
    folder = os.environ.get("DPOLOOP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
