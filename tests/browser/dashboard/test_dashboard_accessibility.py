"""WCAG 2.2 level A and AA on every dashboard page, checked with axe-core (the
`axe-playwright-python` package bundles it) in Debian's Chromium against a real
`whatsapp-scheduler serve --sandbox`: each page in English and Turkish, at a desktop and a
phone size. A violation fails the test with axe's rule, its help text and the offending HTML."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.acceptance.conftest import Service
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serve_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KEY = "browser-accessibility-key-0123456789"
ZONE = "Europe/Istanbul"
#: axe-core's tags for WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SIZES = {"desktop": (1200, 800), "phone": (390, 844)}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve_sandbox(tmp_path, KEY) as running:
        later = datetime.now(ZoneInfo(ZONE)) + timedelta(hours=3)
        with httpx.Client(base_url=running.url, headers={"X-API-Key": KEY}, timeout=30) as api:
            now = datetime.now(ZoneInfo(ZONE))
            sent = {
                "id": "a11y-now",
                "alici": "+905551230000",
                "tarih": now.strftime("%Y-%m-%d"),
                "saat": now.strftime("%H:%M:%S"),
                "timezone": ZONE,
                "mesaj": "Şimdi gönderilen",  # so the inbox has a conversation to show
            }
            assert api.post("/schedule", json=sent).status_code == 200
            for id_, body in (
                ("a11y-text", {"mesaj": "Randevunuz yarın 10:00'da"}),
                (
                    "a11y-template",
                    {
                        "template": {
                            "name": "randevu_hatirlatma",
                            "language": "tr",
                            "parameters": ["Ayşe", "10:00"],
                        }
                    },
                ),
            ):
                answer = api.post(
                    "/schedule",
                    json={
                        "id": id_,
                        "alici": "+905551234567",
                        "tarih": later.strftime("%Y-%m-%d"),
                        "saat": later.strftime("%H:%M"),
                        "timezone": ZONE,
                        **body,
                    },
                )
                assert answer.status_code == 200, answer.text
            # A failed one (Meta's 131047: retry, send as a template) and an import's row.
            for id_ in ("a11y-failed", "csv-0123456789ab-2"):
                body = {"id": id_, "alici": "+905551234568", "tarih": later.strftime("%Y-%m-%d"),
                        "saat": later.strftime("%H:%M"), "timezone": ZONE, "mesaj": "Kargo"}  # fmt: skip
                assert api.post("/schedule", json=body).status_code == 200
            # The address book and a campaign (docs/dashboard.md, "Contacts and campaigns").
            people = [
                {"phone": "+905551234567", "name": "Ayşe", "labels": ["vip"]},
                {"phone": "+905551234568", "name": "Bora", "labels": ["vip", "izmir"]},
            ]
            assert api.post("/contacts", json={"contacts": people}).json()["stored"] == 2
            campaign = {"name": "Aralık", "mesaj": "Merhaba {{name}}", "audience": {"labels": ["vip"]},
                        "tarih": later.strftime("%Y-%m-%d"), "saat": later.strftime("%H:%M"),
                        "timezone": ZONE}  # fmt: skip
            made = api.post("/campaigns", json=campaign)
            assert made.status_code == 200, made.text
            CAMPAIGNS[:] = [
                f"/dashboard/campaigns/{made.json()['id']}",
                f"/dashboard/campaigns/{made.json()['id']}/recipients",
                f"/dashboard/campaigns/{made.json()['id']}/cancel",
            ]
        with sqlite3.connect(tmp_path / "acceptance.db") as db:
            db.execute(
                "UPDATE messages SET status = 'failed', last_error_code = 131047, attempts = 1,"
                " last_error_text = 'Re-engagement message', failed_at = updated_at"
                " WHERE id = 'a11y-failed'"
            )
        yield running


PAGES = [
    "/",
    "/history",
    "/compose",
    "/compose?template=randevu_hatirlatma&language=tr",
    "/import",
    "/catalogue",
    "/message/a11y-text",
    "/message/a11y-template",
    "/message/a11y-text/cancel",
    "/message/no-such-message",
    "/message/a11y-failed",
    "/message/a11y-failed/retry",
    "/message/a11y-failed/as-template",
    "/message/a11y-text/duplicate",
    "/history?status=failed",
    "/imports",
    "/imports/csv-0123456789ab",
    "/dashboard/contacts",
    "/dashboard/contacts?label=vip",
    "/dashboard/campaigns",
    "/dashboard/campaigns/new",
]
#: The campaign's own pages (its id is made when the fixture creates it).
CAMPAIGNS: list[str] = []


def _report(found: list[dict[str, Any]]) -> str:
    lines = []
    for violation in found:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines += [f"    {node['html'][:160]}" for node in violation["nodes"][:4]]
    return "\n".join(lines)


@pytest.mark.timeout(300)
@needs_chromium
@pytest.mark.parametrize("size", sorted(SIZES))
async def test_every_page_passes_wcag_aa_in_both_languages(service: Service, size: str) -> None:
    from axe_playwright_python.async_playwright import Axe
    from playwright.async_api import async_playwright, expect

    axe = Axe()
    width, height = SIZES[size]
    problems: dict[str, str] = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for lang, locale in (("en", "en-US"), ("tr", "tr-TR")):
            context = await browser.new_context(
                viewport={"width": width, "height": height}, locale=locale, timezone_id=ZONE
            )
            page = await context.new_page()
            await page.goto(service.url + "/signin")
            signin = await axe.run(page, options={"runOnly": WCAG_AA})
            if signin.response["violations"]:
                problems[f"{lang} /signin"] = _report(signin.response["violations"])
            await page.fill("input[name=api_key]", KEY)
            await page.click("button[type=submit]")
            await page.wait_for_url(service.url + "/")
            # The first Tab reaches a skip link that shows itself and jumps to the content.
            await page.keyboard.press("Tab")
            skip = page.locator("#skip")
            await expect(skip).to_be_focused()
            await expect(skip).to_be_in_viewport()
            await page.keyboard.press("Enter")
            await expect(page.locator("main")).to_be_focused()
            for path in PAGES + CAMPAIGNS:
                await page.goto(service.url + path)
                await page.wait_for_load_state("networkidle")
                result = await axe.run(page, options={"runOnly": WCAG_AA})
                if result.response["violations"]:
                    problems[f"{lang} {path}"] = _report(result.response["violations"])
            # The sandbox's inbox (linked from every page's banner) too.
            inbox = await page.locator("#sandbox-banner a").get_attribute("href")
            assert inbox is not None
            await page.goto(inbox)
            await page.locator(".chat-item").first.click()  # the conversation, its reply box
            await expect(page.locator("form.reply").first).to_be_visible()
            result = await axe.run(page, options={"runOnly": WCAG_AA})
            if result.response["violations"]:
                problems[f"{lang} inbox"] = _report(result.response["violations"])
            await context.close()
        await browser.close()
    assert not problems, "\n\n".join(f"{where}:\n{text}" for where, text in problems.items())


@pytest.mark.timeout(300)
@needs_chromium
async def test_the_phone_layout_fits_and_keeps_the_action_on_top(service: Service) -> None:
    """At 390x844 (a phone) no page scrolls sideways, the header keeps to a small part of the
    screen, and an import of 300 rows shows its Store button on the first screen."""
    from playwright.async_api import FilePayload, async_playwright, expect

    width, height = SIZES["phone"]
    later = datetime.now(ZoneInfo(ZONE)) + timedelta(days=2)
    rows = ["recipient,date,time,text"] + [
        f"+90555{i:07d},{later:%Y-%m-%d},10:{i % 60:02d},Satır {i} {'uzun metin ' * 8}"
        for i in range(300)
    ]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for locale in ("en-US", "tr-TR"):
            context = await browser.new_context(
                viewport={"width": width, "height": height}, locale=locale, timezone_id=ZONE
            )
            page = await context.new_page()
            await page.goto(service.url + "/signin")
            await page.fill("input[name=api_key]", KEY)
            await page.click("button[type=submit]")
            await page.wait_for_url(service.url + "/")
            for path in PAGES + CAMPAIGNS:
                await page.goto(service.url + path)
                wide = await page.evaluate("document.documentElement.scrollWidth")
                assert wide <= width, f"{locale} {path} is {wide} px wide on a {width} px screen"
                top = await page.locator("header.top").bounding_box()
                assert top is not None
                assert top["height"] <= 0.12 * height, f"{locale} {path}: header {top['height']}"
            await page.goto(service.url + "/import")
            await page.set_input_files(
                "#file",
                FilePayload(
                    name="musteriler.csv",
                    mimeType="text/csv",
                    buffer="\n".join(rows).encode(),
                ),
            )
            await page.click("#upload button[type=submit]")
            await expect(page.locator("#valid-count")).to_have_text("300")
            store = await page.locator("#store").bounding_box()
            assert store is not None
            assert store["y"] + store["height"] <= height, f"Store button at y={store['y']}"
            await context.close()
        await browser.close()
