"""The campaign wizard end to end in Debian's Chromium against `serve --sandbox`: the live count
follows a label as it is typed, the preview shows a contact's name, Check summarises, Create
stores it, and the campaign page's funnel (chart and table) follows its message from queued to
sent and beyond without a reload, as the dispatcher sends it to the stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.acceptance.conftest import Service
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serve_sandbox, watch_csp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
KEY = "browser-campaign-key-0123456789abcdef"
#: The funnel as the chart draws it now: {status: count} (the bars are in the steps' order).
FUNNEL_JS = """() => Object.fromEntries(window.__funnelView.steps.map(
  (s, i) => [s.status, window.__funnelChart.data.datasets[0].data[i]]))"""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve_sandbox(tmp_path, KEY) as running:
        yield running


@pytest.mark.timeout(180)
@needs_chromium
async def test_the_wizard_creates_a_campaign_whose_funnel_follows_it_live(service: Service) -> None:
    from playwright.async_api import async_playwright, expect

    contacts = {
        "contacts": [
            {"phone": "+905551234567", "name": "Ayşe", "labels": ["vip"]},
            {"phone": "+905551234568", "name": "Bora", "labels": ["vi"]},
            {"phone": "+905551234569", "name": "Cem", "labels": ["other"]},
        ]
    }
    made = httpx.post(
        service.url + "/contacts", json=contacts, headers={"X-API-Key": KEY}, timeout=30
    )
    assert made.json()["stored"] == 3, made.text
    due = datetime.now(UTC) + timedelta(seconds=40)  # time to fill in the form first
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(locale="en-US")).new_page()
        refused = watch_csp(page)
        await page.goto(service.url + "/signin")
        await page.fill("input[name=api_key]", KEY)
        await page.click("button[type=submit]")
        await page.click("a[href='/dashboard/campaigns']")
        await page.click("#new-campaign")
        await page.fill("#name", "Browser reminder")
        count = page.locator("#audience-count")
        # Typed key by key: "vi" matches Bora, "vip" only Ayşe, then "vip, vi" both.
        await page.locator("#labels").press_sequentially("vi", delay=50)
        await expect(count).to_have_text("Matching contacts: 1")
        await expect(page.locator("#preview-list li")).to_have_count(1)
        await page.locator("#labels").press_sequentially("p", delay=50)
        await expect(count).to_have_text("Matching contacts: 1")
        await page.locator("#labels").press_sequentially(", vi", delay=50)
        await expect(count).to_have_text("Matching contacts: 2")
        await page.fill("#labels", "vip")
        await expect(count).to_have_text("Matching contacts: 1")
        await page.fill("#text", "Merhaba {{name}}, görüşmek üzere")
        await expect(page.locator("#preview-list")).to_contain_text(
            "Ayşe +905551234567: Merhaba Ayşe, görüşmek üzere"
        )
        await page.fill("#date", due.date().isoformat())
        await page.fill("#time", due.strftime("%H:%M:%S"))
        await page.select_option("#zone", "UTC")
        await page.click("#check")
        await expect(page.locator("#summary-recipients")).to_contain_text("Recipients: 1")
        await expect(page.locator("#summary-none-skipped")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "campaign-wizard.png"), full_page=True)
        await page.click("#create")
        await expect(page.locator("#campaign-created")).to_be_visible()
        await page.wait_for_function("() => window.__funnelChart !== undefined")
        assert (await page.evaluate(FUNNEL_JS))["queued"] == 1
        url = page.url
        # The dispatcher sends it at its time; the page is not reloaded.
        deadline = asyncio.get_running_loop().time() + 120  # only against a hang
        while (funnel := await page.evaluate(FUNNEL_JS))["queued"] != 0:
            assert asyncio.get_running_loop().time() < deadline, funnel
            await asyncio.sleep(0.5)
        assert page.url == url
        done = sum(funnel[s] for s in ("sending", "sent", "delivered", "read", "failed"))
        assert done == 1, funnel
        queued_cell = page.locator('#funnel-numbers tr[data-status="queued"] .n')
        await expect(queued_cell).to_have_text("0")
        await expect(page.locator("#pause")).to_be_hidden()  # nothing left to pause
        await page.screenshot(path=str(ARTIFACTS / "campaign-funnel.png"), full_page=True)
        await browser.close()
    assert refused == []


@pytest.mark.timeout(180)
@needs_chromium
async def test_a_template_campaign_maps_its_parameters_with_a_preview(service: Service) -> None:
    from playwright.async_api import async_playwright, expect

    contacts = {
        "contacts": [
            {"phone": "+905551234567", "name": "Ayşe", "labels": ["vip"],
             "attributes": {"saat": "14:30"}},
            {"phone": "+905551234568", "name": "Bora", "labels": ["vip"]},
        ]
    }  # fmt: skip
    made = httpx.post(
        service.url + "/contacts", json=contacts, headers={"X-API-Key": KEY}, timeout=30
    )
    assert made.json()["stored"] == 2, made.text
    due = datetime.now(UTC) + timedelta(hours=2)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(locale="tr-TR")).new_page()
        refused = watch_csp(page)
        await page.goto(service.url + "/signin")
        await page.fill("input[name=api_key]", KEY)
        await page.click("button[type=submit]")
        await page.goto(service.url + "/dashboard/campaigns/new")
        await page.fill("#name", "Randevu")
        await page.fill("#labels", "vip")
        await expect(page.locator("#audience-count")).to_have_text("2 kişi uyuyor")
        await expect(page.locator("#wizard-template")).to_be_hidden()
        await page.check("#kind-template")
        await expect(page.locator("#wizard-text")).to_be_hidden()
        await page.select_option("#template", "randevu_hatirlatma|tr")
        rows = page.locator("#params tbody tr")
        await expect(rows.nth(1)).to_be_visible()
        await expect(rows.nth(2)).to_be_hidden()  # the body has two variables
        await rows.nth(0).locator("select").select_option("name")
        await rows.nth(1).locator("select").select_option("attribute")
        await rows.nth(1).locator("input[name=param_key]").fill("saat")
        await rows.nth(1).locator("input[name=param_default]").fill("10:00")
        preview = page.locator("#preview-list")
        await expect(preview).to_contain_text("Merhaba Ayşe, randevunuz yarın saat 14:30.")
        await expect(preview).to_contain_text("Merhaba Bora, randevunuz yarın saat 10:00.")
        await page.fill("#date", due.date().isoformat())
        await page.fill("#time", due.strftime("%H:%M:%S"))
        await page.select_option("#zone", "UTC")
        await page.click("#check")
        await expect(page.locator("#summary-recipients")).to_contain_text("Mesaj 2 kişiye gidecek")
        # The form came back as it was: the template and its mapping kept, the text hidden.
        await expect(page.locator("#template")).to_have_value("randevu_hatirlatma|tr")
        await expect(rows.nth(1).locator("input[name=param_key]")).to_have_value("saat")
        await expect(page.locator("#wizard-text")).to_be_hidden()
        await page.click("#create")
        await expect(page.locator("#campaign-created")).to_be_visible()
        await expect(page.locator('#funnel-numbers tr[data-status="queued"] .n')).to_have_text("2")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "campaign-template.png"), full_page=True)
        await browser.close()
    assert refused == []
