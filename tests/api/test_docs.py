"""/docs: Swagger UI from the vendored, pinned release, served by the API itself, under a policy that
lets in nothing from elsewhere; every other path keeps the strict policy."""

from __future__ import annotations

import re

from app.api.headers import STRICT_CSP
from core.paths import FRONTEND_DIR


def test_the_docs_load_swagger_ui_from_this_origin_only(client):
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/vendor/swagger-ui/") for s in sources), sources
    for source in sources:
        served = client.get(source)
        assert served.status_code == 200 and served.content == (FRONTEND_DIR / source.lstrip("/")).read_bytes()
    csp = page.headers["content-security-policy"]
    assert "http" not in csp and "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0], csp
    assert "frame-ancestors 'none'" in csp
    assert client.get("/redoc").headers["content-security-policy"] == STRICT_CSP  # no CDN-loaded redoc


def test_only_the_docs_page_itself_gets_the_docs_policy(client):
    console = client.get("/docs/..%2fadmin/index.html")
    assert console.status_code == 200 and "admin" in console.text.lower()  # the static files resolve it
    assert console.headers["content-security-policy"] == STRICT_CSP
    for path in ("/docs/..%2f", "/docsx", "/docs/", "/vendor/swagger-ui/swagger-ui.css"):
        assert client.get(path, follow_redirects=False).headers["content-security-policy"] == STRICT_CSP, path
