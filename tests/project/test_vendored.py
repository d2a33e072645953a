"""The console's vendored chart library is the pinned release, unchanged, with its licence; and every
module the console imports is a file the API serves (no build step, no network)."""

import hashlib
import re

from core.paths import FRONTEND_DIR

CHARTJS = FRONTEND_DIR / "vendor" / "chartjs"


def test_chartjs_is_the_pinned_release_with_its_licence():
    recorded = re.search(r"sha256 ([0-9a-f]{64})", (CHARTJS / "README.md").read_text()).group(1)
    script = (CHARTJS / "chart.umd.min.js").read_bytes()
    assert hashlib.sha256(script).hexdigest() == recorded
    assert b"Chart.js v4.5.1" in script[:200]
    assert "MIT License" in (CHARTJS / "LICENSE.md").read_text()


def test_every_console_module_and_script_is_served_from_the_frontend():
    admin = FRONTEND_DIR / "admin"
    html = (admin / "index.html").read_text()
    for src in re.findall(r'src="(/[^"]+)"', html) + re.findall(r'href="(/[^"]+\.css)"', html):
        assert (FRONTEND_DIR / src.lstrip("/")).is_file(), src
    assert "http" not in "".join(re.findall(r'(?:src|href)="([^"]+)"', html))  # nothing from another site
    for module in admin.rglob("*.js"):
        for target in re.findall(r'from "(\.[^"]+)"', module.read_text()):
            assert (module.parent / target).resolve().is_file(), f"{module.name} imports {target}"


def test_swagger_ui_is_the_pinned_release_with_its_licence():
    folder = FRONTEND_DIR / "vendor" / "swagger-ui"
    recorded = dict(
        (name, digest)
        for digest, name in re.findall(r"sha256 ([0-9a-f]{64}) (\S+)", (folder / "README.md").read_text())
    )
    assert set(recorded) == {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}
    for name, digest in recorded.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (folder / "LICENSE").read_text()
