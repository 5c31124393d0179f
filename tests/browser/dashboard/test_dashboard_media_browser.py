"""Compose with a file in Debian's Chromium against a real `whatsapp-scheduler serve --sandbox`
(docs/media.md): choosing a file uploads it at once with its progress shown, the preview draws
it, a refused file says why in the page's language, and the message scheduled by the file's id
is sent by the real dispatcher (which uploads it to the stand-in) and read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests import media_files
from tests.acceptance.conftest import Service
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serve_sandbox, watch_csp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KEY = "browser-media-key-0123456789abcdef"
ZONE = "Europe/Istanbul"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve_sandbox(tmp_path, KEY) as running:
        yield running


@pytest.mark.timeout(120)
@needs_chromium
async def test_compose_uploads_a_photo_with_progress_and_it_is_sent(service: Service) -> None:
    from playwright.async_api import FilePayload, async_playwright, expect

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(
            viewport={"width": 390, "height": 900}, timezone_id=ZONE, locale="en-US"
        )
        page = await context.new_page()
        refused = watch_csp(page)
        await page.goto(service.url + "/signin")
        await page.fill("input[name=api_key]", KEY)
        await page.click("button[type=submit]")
        await page.goto(service.url + "/compose")
        await page.check("#kind-media")
        await expect(page.locator("#media-part")).to_be_visible()
        await expect(page.locator("#text-part")).to_be_hidden()
        # A GIF is refused with the rule, and nothing is kept for the form.
        await page.set_input_files(
            "#media-file", FilePayload(name="a.gif", mimeType="image/gif", buffer=media_files.gif())
        )
        await expect(page.locator("#media-state")).to_contain_text("This file cannot be sent")
        await expect(page.locator("#media-state")).to_contain_text("image/gif")
        await expect(page.locator("#media-id")).to_have_value("")
        # A photo: uploaded at once, progress to 100 %, drawn in the preview.
        photo = media_files.real_png()
        await page.set_input_files(
            "#media-file", FilePayload(name="ürün.png", mimeType="image/png", buffer=photo)
        )
        await expect(page.locator("#media-state")).to_contain_text("Uploaded ürün.png")
        await expect(page.locator("#media-progress")).to_have_attribute("value", "100")
        media_id = await page.locator("#media-id").input_value()
        assert media_id.startswith("med_")
        await expect(page.locator("#media-type")).to_have_value("image")
        drawn = page.locator("#media-preview img")
        await expect(drawn).to_have_attribute("src", f"/dashboard/files/{media_id}")
        await page.wait_for_function(
            "() => { const i = document.querySelector('#media-preview img');"
            " return i && i.complete && i.naturalWidth === 4; }"
        )
        await page.fill("#caption", "Yeni ürün")
        await page.fill("#recipient", "+905551234567")
        soon = datetime.now(ZoneInfo(ZONE)) + timedelta(seconds=3)
        await page.fill("#date", soon.date().isoformat())
        await page.fill("#time", soon.strftime("%H:%M:%S"))
        await page.select_option("#zone", ZONE)
        await page.click("#compose-submit")
        await expect(page.locator("h1")).to_have_text("Upcoming messages")
        assert refused == []
        await browser.close()
    async with httpx.AsyncClient(base_url=service.url, headers={"X-API-Key": KEY}) as api:
        listed = (await api.get("/schedule", params={"durum": "all"})).json()
        (message,) = [m for m in listed if m.get("content")] or [None]
        assert message is not None, listed
        assert message["content"] == {
            "type": "image",
            "image": {"id": media_id, "caption": "Yeni ürün"},
        }
        status = await _wait_read(api, message["id"])
        assert status == "read"


async def _wait_read(api: httpx.AsyncClient, message_id: str) -> str:
    import asyncio
    import time

    deadline = time.monotonic() + 60
    while True:
        body = (await api.get(f"/status/{message_id}")).json()
        if body["status"] in ("read", "failed") or time.monotonic() > deadline:
            return str(body["status"])
        await asyncio.sleep(0.2)
