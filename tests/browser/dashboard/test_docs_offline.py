"""/docs in Debian's Chromium with no network but this machine: a fresh browser is sent to the
sign-in, then Swagger UI renders the API from files the package serves (no CDN)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.acceptance.conftest import BIN, Service, base_env, free_port
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium, watch_csp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
KEY = "browser-docs-key-0123456789abcdef"


@pytest.fixture
def service(tmp_path: Path):
    port = free_port()
    argv = [str(BIN), "serve", "--sandbox", "--port", str(port), "--sandbox-port", str(free_port())]
    running = Service(argv, base_env(tmp_path, API_KEY=KEY), port, tmp_path)
    try:
        running.wait_healthy()
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(120)
@needs_chromium
async def test_docs_render_with_no_network_after_signing_in(service: Service) -> None:
    from playwright.async_api import Route, async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    offsite: list[str] = []

    async def closed_network(route: Route) -> None:
        if urlsplit(route.request.url).hostname in {"127.0.0.1", "localhost"}:
            await route.continue_()
        else:  # what a closed network does to a CDN request
            offsite.append(route.request.url)
            await route.abort()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1200, "height": 800})
        await context.route("**/*", closed_network)
        page = await context.new_page()
        refused = watch_csp(page)

        await page.goto(service.url + "/docs")
        await expect(page).to_have_url(service.url + "/signin?next=%2Fdocs")
        await page.fill("input[name=api_key]", KEY)
        await page.click("button[type=submit]")
        await expect(page).to_have_url(service.url + "/docs")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("whatsapp-scheduler")
        # The seed's endpoints are there, rendered by Swagger UI (not a blank page).
        await expect(
            page.locator(".opblock-summary-path[data-path='/schedule']").first
        ).to_be_visible()
        await page.screenshot(path=str(ARTIFACTS / "docs-offline.png"), full_page=False)
        await browser.close()
    assert offsite == []
    assert refused == []
