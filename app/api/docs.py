"""/docs: Swagger UI from the vendored, pinned release in frontend/vendor/swagger-ui, served by this
process. No script from a CDN runs on the origin where admin tokens live, and the page's policy
allows its one inline starter by hash, nothing inline besides. ReDoc is not served."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

DOCS_PATH = "/docs"
ASSETS = "/vendor/swagger-ui"  # the frontend's static files


def docs_policy(page: str) -> str:
    """The docs page's Content-Security-Policy: this origin, plus the page's inline scripts by their hashes."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
                      for body in re.findall(r"<script>(.*?)</script>", page, re.DOTALL))  # fmt: skip
    # Swagger UI sets style attributes on what it renders; styles cannot run code.
    return (f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")  # fmt: skip


def add_docs(api: FastAPI) -> dict[str, str]:
    """Serve the docs page; returns {its path: its policy}."""
    page = get_swagger_ui_html(
        openapi_url=api.openapi_url or "/openapi.json", title=f"{api.title} - API docs",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},  # else a badge from the validator's site
    )  # fmt: skip
    html = bytes(page.body).decode()

    @api.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(html)

    return {DOCS_PATH: docs_policy(html)}
