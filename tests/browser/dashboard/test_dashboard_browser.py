"""The dashboard in Debian's Chromium against a real `whatsapp-scheduler serve --sandbox`.

Sign in (a wrong key is refused), compose a message due in a few seconds and watch it go from
queued to sent to read without a reload, cancel another, compose a template, import a CSV with
one bad row.
Screenshots go to tests/artifacts/.
"""

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

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
KEY = "browser-dashboard-key-0123456789"
ZONE = "Europe/Istanbul"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve_sandbox(tmp_path, KEY) as running:
        yield running


@pytest.mark.timeout(120)
@needs_chromium
async def test_dashboard_end_to_end(service: Service, status_watch) -> None:
    from playwright.async_api import FilePayload, async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(
            viewport={"width": 1200, "height": 800}, timezone_id=ZONE, locale="en-US"
        )
        page = await context.new_page()
        refused = watch_csp(page)

        # Sign in: a wrong key is refused, the right one opens Upcoming.
        first = await page.goto(service.url + "/")
        assert first is not None
        assert "script-src 'self'" in first.headers["content-security-policy"]
        await expect(page).to_have_url(service.url + "/signin?next=%2F")
        await page.fill("input[name=api_key]", "wrong-key")
        await page.click("button[type=submit]")
        await expect(page.locator("#signin-error")).to_contain_text("not right")
        await page.fill("input[name=api_key]", KEY)
        await page.click("button[type=submit]")
        await expect(page.locator("h1")).to_have_text("Upcoming messages")

        # Compose one due in a few seconds; the browser's zone is preselected.
        await page.click("text=Compose")
        await expect(page.locator("#zone")).to_have_value(ZONE)
        # The zone search narrows the picker and picks the first match; clearing it keeps it.
        await page.fill("#zone-filter", "new_y")
        await expect(page.locator("#zone")).to_have_value("America/New_York")
        shown = await page.evaluate(
            "() => Array.from(document.getElementById('zone').options).filter(o => !o.hidden)"
            ".map(o => o.value)"
        )
        assert set(shown) == {"America/New_York"}, shown
        await page.fill("#zone-filter", "")
        await page.select_option("#zone", ZONE)
        await page.fill("#recipient", "0555 123 45 67")
        await expect(page.locator("#recipient-check")).to_have_text("valid: +905551234567")
        await page.fill("#recipient", "12")
        await expect(page.locator("#recipient-check")).to_contain_text("alici: '12'")
        await page.fill("#recipient", "+905551234567")
        text = "Randevunuz yarın 10:00'da — görüşmek üzere! 🙂"
        await page.fill("#text", text)
        await expect(page.locator("#text-count")).to_have_text(f"{len(text)} / 4,096")
        due = datetime.now(ZoneInfo(ZONE)) + timedelta(seconds=8)
        await page.fill("#date", due.strftime("%Y-%m-%d"))
        await page.fill("#time", due.strftime("%H:%M:%S"))
        await page.click("button:has-text('Schedule')")
        await expect(page.locator("#created")).to_be_visible()
        created = (await page.locator("#created a").inner_text()).strip()
        await page.evaluate("window.__noReload = true")
        badge = page.locator(f'tr[data-id="{created}"] .status')
        await status_watch.start(page, ".status", "tr", "id")
        await expect(badge).to_have_attribute("data-status", "queued")
        await expect(page.locator("#live")).to_have_class("live on")
        await page.screenshot(path=str(ARTIFACTS / "dashboard-upcoming.png"), full_page=True)
        await expect(badge).to_have_attribute("data-status", "read", timeout=40_000)
        await expect(badge).to_have_text("read")
        # Screen readers hear it too (an aria-live region).
        await expect(page.locator("#live-announce")).to_have_text(f"{created}: read")
        assert await page.evaluate("window.__noReload === true")
        # Live, without a reload, only ever forward. Which steps between queued and read it
        # showed depends on the machine: the page looks once a second, and "sent" lasts ~1.5 s
        # in the sandbox; the message's own timeline below has every one of them.
        shown = await status_watch.seen(page, created)
        order = ["queued", "sending", "sent", "delivered", "read"]
        assert shown[0] == "queued", shown
        assert shown[-1] == "read", shown
        assert shown == sorted(shown, key=order.index), shown

        # Its page: the timeline is complete.
        await page.click(f'tr[data-id="{created}"] td a')
        for step in ("sent", "delivered", "read"):
            await expect(page.locator(f'.timeline [data-transition="{step}"]')).to_be_visible()
        await page.screenshot(path=str(ARTIFACTS / "dashboard-message.png"), full_page=True)

        # Cancel another one, with the confirmation page.
        later = datetime.now(ZoneInfo(ZONE)) + timedelta(hours=2)
        async with httpx.AsyncClient(base_url=service.url, headers={"X-API-Key": KEY}) as api:
            reply = await api.post(
                "/schedule",
                json={
                    "id": "to-cancel",
                    "alici": "+16505551234",
                    "tarih": later.strftime("%Y-%m-%d"),
                    "saat": later.strftime("%H:%M"),
                    "mesaj": "cancel me",
                    "timezone": ZONE,
                },
            )
            assert reply.status_code == 200
            await page.goto(service.url + "/")
            await page.click('tr[data-id="to-cancel"] a.cancel')
            await expect(page.locator("h1")).to_have_text("Cancel this message?")
            await page.click("#confirm-cancel")
            await expect(page.locator("#cancelled")).to_be_visible()
            assert (await api.get("/status/to-cancel")).json()["status"] == "cancelled"

            # Compose a template (one of the sandbox catalogue's, which `serve --sandbox` syncs:
            # an unknown name is refused): the choice swaps the text for name, language, params.
            await page.click("text=Compose")
            await expect(page.locator("#template-part")).to_be_hidden()
            await page.check("#kind-template")
            await expect(page.locator("#text-part")).to_be_hidden()
            await page.fill("#recipient", "+16505551234")
            await page.fill("#template-name", "randevu_hatirlatma")
            await page.fill("#template-language", "tr")
            await page.fill("#template-params", "Ada\n10:00")
            await page.fill("#date", later.strftime("%Y-%m-%d"))
            await page.fill("#time", later.strftime("%H:%M"))
            await page.screenshot(path=str(ARTIFACTS / "dashboard-compose-template.png"))
            await page.click("button:has-text('Schedule')")
            await expect(page.locator("#created")).to_be_visible()
            made = (await page.locator("#created a").inner_text()).strip()
            row = page.locator(f'tr[data-id="{made}"]')
            await expect(row.locator('[data-kind="template"]')).to_have_text("template")
            await expect(row.locator(".template-name")).to_have_text("randevu_hatirlatma")
            listed = {m["id"]: m for m in (await api.get("/schedule")).json()}
            assert listed[made]["template"]["components"][0]["parameters"][1]["text"] == "10:00"

            # Import a CSV with one bad row: preview marks it, the rest is stored.
            day = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)).strftime("%Y-%m-%d")
            csv = (
                "recipient,date,time,text\n"
                f"+905551234567,{day},09:00,Günaydın İstanbul\n"
                f"+905551234568,{day},09:05,Şükran ğüşıöç\n"
                f"not-a-phone,{day},09:10,bozuk\n"
                f"+16505551234,{day},09:15,Hello\n"
            )
            await page.click("text=Import")
            upload: FilePayload = {
                "name": "list.csv",
                "mimeType": "text/csv",
                "buffer": csv.encode(),
            }
            await page.set_input_files("#file", files=[upload])
            await page.click("button:has-text('Preview')")
            await expect(page.locator("tr.bad")).to_have_count(1)
            await expect(page.locator("tr.bad")).to_have_attribute("data-line", "4")
            await expect(page.locator("#valid-count")).to_have_text("3")
            await page.click("#store")
            await expect(page.locator("#summary")).to_have_text("Stored 3, refused 1.")
            await expect(page.locator("#progress")).to_have_attribute("value", "3")
            await expect(page.locator("#store")).to_be_hidden()  # not left reading "Storing..."
            await page.screenshot(path=str(ARTIFACTS / "dashboard-import.png"), full_page=True)
            queued = (await api.get("/schedule")).json()
            assert {m["mesaj"] for m in queued} >= {"Günaydın İstanbul", "Şükran ğüşıöç", "Hello"}
            # The same file again: nothing new, and the page says so.
            await page.click("text=Import")
            await page.set_input_files("#file", files=[upload])
            await page.click("button:has-text('Preview')")
            await page.click("#store")
            await expect(page.locator("#summary")).to_have_text(
                "Stored 0, already stored before 3 (not stored again), refused 1."
            )
            assert len((await api.get("/schedule")).json()) == len(queued)

        # History, in Turkish, on a phone screen.
        await page.goto(service.url + "/lang/tr?next=/history")
        await expect(page.locator("h1")).to_have_text("Geçmiş")
        await page.set_viewport_size({"width": 390, "height": 800})
        await page.screenshot(path=str(ARTIFACTS / "dashboard-history-phone.png"), full_page=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400  # no sideways scrolling on a phone
        assert refused == []  # every page worked under the Content-Security-Policy
        await browser.close()
