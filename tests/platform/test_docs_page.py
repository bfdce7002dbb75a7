"""The interactive docs page renders the operations in a real (headless) browser, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

from tests.fixtures.live import serve_app

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser() -> str:
    path = find_browser()
    if path is None:
        message = "no Chromium on this machine (apt-get install chromium); .ci/run installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def render(browser: str, url: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
             "--dump-dom", url],
            capture_output=True, text=True, timeout=90, check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_docs_page_renders_operations_offline(app, app_config, browser, client):
    """Tags start folded (a hundred operations); a link to one unfolds it and draws its
    operations."""
    tags = [tag["name"] for tag in client.get("/api/v1/openapi.json").json["tags"]]
    with serve_app(app_config) as base_url:
        dom = render(browser, f"{base_url}/api/v1/docs#/catalogue")
    assert "swagger-ui" in dom
    assert dom.count('class="opblock-tag-section') == len(tags), "not every tag was drawn"
    assert all(f'data-tag="{tag}"' in dom for tag in tags)
    assert "opblock-summary-path" in dom, "Swagger UI did not render any operation"
    for path in ("/api/v1/products", "/api/v1/routine", "/api/v1/treatments/{slug}"):
        assert path in dom
    assert "/api/v1/carts/{cart_id}" not in dom  # its tag stays folded


def test_docs_page_loads_no_remote_assets(client):
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/docs-assets/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page
