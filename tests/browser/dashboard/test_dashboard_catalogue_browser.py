"""The template catalogue page and the compose form's template preview in Debian's Chromium
against a real `whatsapp-scheduler serve --sandbox` (its stand-in's seeded catalogue is synced at
start): from the catalogue's "use" link to a preview that fills in as the parameters are typed,
then the message scheduled. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.acceptance.conftest import Service
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serve_sandbox, watch_csp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
KEY = "browser-catalogue-key-0123456789"
ZONE = "Europe/Istanbul"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve_sandbox(tmp_path, KEY) as running:
        yield running


@pytest.mark.timeout(120)
@needs_chromium
async def test_catalogue_to_a_previewed_template_message(service: Service) -> None:
    from playwright.async_api import async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(
            viewport={"width": 1200, "height": 900}, timezone_id=ZONE, locale="tr-TR"
        )
        page = await context.new_page()
        refused = watch_csp(page)
        await page.goto(service.url + "/catalogue")
        await page.fill("input[name=api_key]", KEY)
        await page.click("button[type=submit]")
        await expect(page.locator("h1")).to_have_text("Meta'daki şablonlar")
        row = page.locator('tr[data-template="randevu_hatirlatma"][data-language="tr"]')
        await expect(row.locator(".category")).to_have_text("hizmet bildirimi")
        await expect(row.locator(".tstatus")).to_have_text("onaylı")
        await page.screenshot(path=str(ARTIFACTS / "dashboard-catalogue.png"), full_page=True)
        await row.locator("text=Mesajda kullan").click()

        # Compose opens on that template; the preview shows it with its variables.
        await expect(page.locator("#kind-template")).to_be_checked()
        preview = page.locator("#template-preview")
        body = page.locator("#preview-body")
        await expect(preview).to_be_visible()
        await expect(body).to_have_text("Merhaba {{1}}, randevunuz yarın saat {{2}}.")
        await expect(page.locator("#preview-footer")).to_have_text("Yanıtlamak için yazın")
        await expect(page.locator("#preview-info")).to_contain_text("2 gövde parametresi alır")
        await page.fill("#template-params", "Ayşe")
        await expect(body).to_have_text("Merhaba Ayşe, randevunuz yarın saat {{2}}.")
        await expect(page.locator("#preview-info")).to_contain_text("Eksik: {{2}}")
        await page.fill("#template-params", "Ayşe\n10:30")
        await expect(body).to_have_text("Merhaba Ayşe, randevunuz yarın saat 10:30.")
        await expect(page.locator("#preview-info")).not_to_contain_text("Eksik")

        # Another language of it: the preview follows; one it lacks says which exist.
        await page.fill("#template-language", "de")
        await expect(preview).to_have_attribute("data-found", "false")
        await expect(page.locator("#preview-info")).to_contain_text("en_US, tr")
        await page.fill("#template-language", "en_US")
        await expect(body).to_have_text("Hello Ayşe, your appointment is tomorrow at 10:30.")
        await page.fill("#template-language", "tr")
        await expect(body).to_have_text("Merhaba Ayşe, randevunuz yarın saat 10:30.")
        await page.screenshot(path=str(ARTIFACTS / "dashboard-compose-preview.png"), full_page=True)

        # And it is scheduled as previewed.
        await page.fill("#recipient", "+905551234567")
        due = datetime.now(ZoneInfo(ZONE)) + timedelta(hours=3)
        await page.fill("#date", due.strftime("%Y-%m-%d"))
        await page.fill("#time", due.strftime("%H:%M:%S"))
        await page.click("#compose-submit")
        await expect(page.locator("#created")).to_be_visible()
        assert refused == []
        await browser.close()
