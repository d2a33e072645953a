"""/docs in headless Chromium: Swagger UI renders every operation from this origin's files alone,
and its page policy refuses nothing it needs."""

import httpx

from tests.browser.conftest import CHROMIUM_ARGS
from tests.helpers.stack import Service, dpoloop, stack_env, wait_until


def test_swagger_ui_renders_from_this_origin_under_its_policy(pg_settings, embedded_model, tmp_path, chromium_path):
    from playwright.sync_api import sync_playwright

    port, env = stack_env(pg_settings, embedded_model)
    api = Service("api", dpoloop("api"), env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/api/v1/health").status_code == 200, 30, "the API", proc=api)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            page = browser.new_page()
            requested, errors = [], []
            page.on("request", lambda request: requested.append(request.url))
            page.on("console", lambda message: message.type == "error" and errors.append(message.text))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base}/docs")
            page.locator(".opblock").first.wait_for(timeout=20_000)
            operations = page.locator(".opblock").count()
            browser.close()
    finally:
        api.stop()
    assert errors == []  # a refused script, style or fetch shows here
    assert requested and all(url.startswith(base) for url in requested), requested
    assert operations >= 50
