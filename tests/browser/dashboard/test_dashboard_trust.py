"""What a shop owner must be able to trust, in Debian's Chromium against `serve --sandbox`:
a double-clicked "Schedule" sends one request and stores one message, and /docs renders
with no network but this machine (Swagger UI's files come from the package, no CDN)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.acceptance.conftest import Service
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serve_sandbox, watch_csp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
KEY = "browser-docs-key-0123456789abcdef"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve_sandbox(tmp_path, KEY) as running:
        yield running


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


async def _sign_in(page: Any, service: Service) -> None:
    from playwright.async_api import expect

    await page.goto(service.url + "/signin")
    await page.fill("input[name=api_key]", KEY)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).not_to_have_text("Sign in")


@pytest.mark.timeout(120)
@needs_chromium
async def test_a_double_clicked_schedule_sends_one_request_and_stores_one_message(
    service: Service,
) -> None:
    """The form locks on submit. The first POST is held back a moment in the browser (as a
    slow network would), so the second click surely comes while it is on its way."""
    from playwright.async_api import Route, async_playwright, expect

    posts: list[str] = []

    async def slow_compose(route: Route) -> None:
        if route.request.method == "POST":
            posts.append(route.request.post_data or "")
            await asyncio.sleep(1.0)
        with contextlib.suppress(Exception):  # a request the page gave up is not continued
            await route.continue_()

    later = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="en-US")
        page = await context.new_page()
        await _sign_in(page, service)
        await page.goto(service.url + "/compose")
        await page.fill("#recipient", "+905551234567")
        await page.fill("#text", "Randevunuz yarın 10:00'da")
        await page.fill("#date", later)
        await page.fill("#time", "10:00")
        await context.route("**/compose", slow_compose)
        # Two clicks, the second while the first POST is on its way (a double click that
        # the browser does not merge into one submission, as happened to users).
        # Mouse clicks land only inside the viewport: the button is scrolled into it first.
        await page.locator("#compose-submit").scroll_into_view_if_needed()
        box = await page.locator("#compose-submit").bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        await page.mouse.click(x, y)
        await asyncio.sleep(0.3)
        await page.mouse.click(x, y)  # a person's click: no waiting for the button
        await expect(page.locator("h1")).to_have_text("Upcoming messages")
        await browser.close()
    assert len(posts) == 1, posts
    assert "id=web-" in posts[0]  # and had it gone twice, it names one message
    listed = httpx.get(service.url + "/schedule", headers={"X-API-Key": KEY}, timeout=30)
    assert listed.status_code == 200
    assert [m.get("mesaj") for m in listed.json()] == ["Randevunuz yarın 10:00'da"]


#: Records every class the #live mark takes from now on (a MutationObserver sees each change).
WATCH_LIVE_JS = """() => {
  const live = document.getElementById("live");
  window.__liveClasses = [live.className];
  new MutationObserver(() => window.__liveClasses.push(live.className))
    .observe(live, {attributes: true, attributeFilter: ["class"]});
}"""


@pytest.mark.timeout(120)
@needs_chromium
async def test_the_live_mark_shows_only_where_statuses_are_watched_and_never_flickers(
    service: Service,
) -> None:
    from playwright.async_api import Request, async_playwright, expect

    later = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    body = {"alici": "+905551234567", "tarih": later, "saat": "10:00", "mesaj": "Merhaba"}
    made = httpx.post(service.url + "/schedule", json=body, headers={"X-API-Key": KEY}, timeout=30)
    assert made.status_code in (200, 201), made.text
    streams: list[str] = []

    def on_request(request: Request) -> None:
        if "/dashboard/api/events" in request.url:
            streams.append(request.url)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="en-US")
        page = await context.new_page()
        await _sign_in(page, service)
        await page.goto(service.url + "/compose")  # no statuses on this page
        await expect(page.locator("#live")).to_be_hidden()
        page.on("request", on_request)
        await page.goto(service.url + "/")
        await expect(page.locator("#live")).to_have_class("live on")
        await page.evaluate(WATCH_LIVE_JS)
        # Each stream ends after a few seconds and the browser opens the next: wait for two
        # such reconnects, then nothing in between may have said "offline".
        deadline = asyncio.get_running_loop().time() + 60
        while len(streams) < 3:  # the first stream and two reconnects
            assert asyncio.get_running_loop().time() < deadline, streams
            await asyncio.sleep(0.2)
        await expect(page.locator("#live")).to_have_class("live on")
        classes = await page.evaluate("window.__liveClasses")
        await browser.close()
    assert all("on" in c.split() for c in classes), classes


@pytest.mark.timeout(120)
@needs_chromium
async def test_every_page_says_it_is_the_sandbox_and_links_its_inbox(service: Service) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(locale="tr-TR")).new_page()
        await _sign_in(page, service)
        for path in ("/", "/history", "/compose", "/import"):
            await page.goto(service.url + path)
            banner = page.locator("#sandbox-banner")
            await expect(banner).to_contain_text("hiçbir şey WhatsApp'a gitmez")
        inbox = await page.locator("#sandbox-banner a").get_attribute("href")
        await browser.close()
    assert inbox is not None
    assert inbox != service.url + "/"  # the stand-in's own address, not the service's
    assert httpx.get(inbox, timeout=30).status_code == 200


@pytest.mark.timeout(120)
@needs_chromium
async def test_the_sandbox_says_why_a_text_it_warned_about_is_delivered(service: Service) -> None:
    """A text to a number that never wrote: the warning says WhatsApp would refuse it (131047)
    and, in the sandbox (whose stand-in does not enforce the window by default), why it will
    be delivered anyway."""
    from playwright.async_api import async_playwright, expect

    later = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(locale="tr-TR")).new_page()
        await _sign_in(page, service)
        await page.goto(service.url + "/compose")
        await page.fill("#recipient", "+905551239876")
        # Before anything is scheduled, compose says the window is closed for this number.
        await expect(page.locator("#window-state")).to_contain_text("hiç yazmadılar")
        await page.fill("#text", "Merhaba")
        await page.fill("#date", later)
        await page.fill("#time", "10:00")
        await page.locator("#compose-submit").click()
        warning = page.locator('#warnings li[data-code="window_closed"]')
        await expect(warning).to_contain_text("WhatsApp bu metni reddeder (131047)")
        await expect(page.locator("#sandbox-window-note")).to_contain_text(
            "Bu sanal ortamda yine de teslim edilir"
        )
        await browser.close()
