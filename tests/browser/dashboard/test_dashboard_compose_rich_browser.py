"""Compose with reply buttons in Debian's Chromium against a real `whatsapp-scheduler serve
--sandbox` (docs/dashboard.md, "Files and places"): choosing "buttons or a list" shows only
that part, and in it only the chosen type's inputs; two titles typed are scheduled as Meta's
reply buttons and the message page shows them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.acceptance.conftest import Service
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serve_sandbox, watch_csp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KEY = "browser-rich-key-0123456789abcdef"
ZONE = "Europe/Istanbul"
PARTS = ("#text-part", "#template-part", "#media-part", "#location-part", "#interactive-part",
         "#contact-part")  # fmt: skip
SUBPARTS = ("#buttons-part", "#list-part", "#cta-part")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve_sandbox(tmp_path, KEY) as running:
        yield running


async def _only_shown(page, shown: str, among: tuple[str, ...]) -> None:
    from playwright.async_api import expect

    for selector in among:
        if selector == shown:
            await expect(page.locator(selector)).to_be_visible()
        else:
            await expect(page.locator(selector)).to_be_hidden()


@pytest.mark.timeout(120)
@needs_chromium
async def test_compose_schedules_reply_buttons_and_the_page_shows_them(service: Service) -> None:
    from playwright.async_api import async_playwright, expect

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
        await _only_shown(page, "#text-part", PARTS)
        await page.check("#kind-contact")
        await _only_shown(page, "#contact-part", PARTS)
        await page.check("#kind-interactive")
        await _only_shown(page, "#interactive-part", PARTS)
        await expect(page.locator("#interactive-type")).to_have_value("button")
        await _only_shown(page, "#buttons-part", SUBPARTS)
        await page.select_option("#interactive-type", "list")
        await _only_shown(page, "#list-part", SUBPARTS)
        await page.fill("#list-rows", "not sent: the list is not chosen")
        await page.select_option("#interactive-type", "cta_url")
        await _only_shown(page, "#cta-part", SUBPARTS)
        await page.select_option("#interactive-type", "button")
        await _only_shown(page, "#buttons-part", SUBPARTS)
        await page.fill("#body-text", "Randevunuza gelecek misiniz?")
        await page.fill("#buttons", "Evet\nErteleyelim")
        await page.fill("#recipient", "+905551234567")
        later = datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)
        await page.fill("#date", later.date().isoformat())
        await page.fill("#time", "10:00:00")
        await page.select_option("#zone", ZONE)
        await page.click("#compose-submit")
        await expect(page.locator("h1")).to_have_text("Upcoming messages")
        message_id = page.url.split("created=")[1]
        await page.goto(service.url + f"/message/{message_id}")
        shown = page.locator("#shown-buttons li")
        await expect(shown).to_have_text(["Evet", "Erteleyelim"])
        await expect(page.locator("#interactive-shown .preview-body")).to_have_text(
            "Randevunuza gelecek misiniz?"
        )
        assert refused == []
        await browser.close()
    async with httpx.AsyncClient(base_url=service.url, headers={"X-API-Key": KEY}) as api:
        listed = (await api.get("/schedule", params={"durum": "all"})).json()
        (message,) = [m for m in listed if m["id"] == message_id]
        assert message["content"] == {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Randevunuza gelecek misiniz?"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "b1", "title": "Evet"}},
                        {"type": "reply", "reply": {"id": "b2", "title": "Erteleyelim"}},
                    ]
                },
            },
        }
