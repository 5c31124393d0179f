"""Retry and cancel-an-import in Debian's Chromium against `serve --sandbox`, the person's
path through the buttons: a failed message's Retry (double-clicked) makes one new message
that each page links to; an imported file's still-queued messages cancelled from its page."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import Service
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serve_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
KEY = "browser-retry-key-0123456789abcdef"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve_sandbox(tmp_path, KEY) as running:
        yield running


def _ids(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as db:
        return sorted(row[0] for row in db.execute("SELECT id FROM messages"))


async def _sign_in(page: Any, service: Service) -> None:
    await page.goto(service.url + "/signin")
    await page.fill("input[name=api_key]", KEY)
    await page.click("button[type=submit]")
    await page.wait_for_url(service.url + "/")


@pytest.mark.timeout(120)
@needs_chromium
async def test_retry_a_failed_message_double_clicked_makes_one(
    service: Service, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright, expect

    later = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    body = {"id": "fails", "alici": "+905551234567", "tarih": later, "saat": "10:00",
            "mesaj": "Siparişiniz hazır"}  # fmt: skip
    made = httpx.post(service.url + "/schedule", json=body, headers={"X-API-Key": KEY}, timeout=30)
    assert made.status_code == 200, made.text
    with sqlite3.connect(tmp_path / "acceptance.db") as db:  # as the dispatcher leaves it
        db.execute(
            "UPDATE messages SET status = 'failed', attempts = 5, last_error_code = 131000,"
            " last_error_text = 'Something went wrong', failed_at = updated_at WHERE id = 'fails'"
        )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(locale="tr-TR")).new_page()
        await _sign_in(page, service)
        await page.goto(service.url + "/message/fails")
        await page.locator("#retry-message").click()
        await expect(page.locator("#retry-help")).to_contain_text("fails:retry1")
        await expect(page.locator("#retry-now")).to_be_checked()
        await page.locator("#retry-confirm").dblclick()
        await page.wait_for_url("**/message/fails:retry1?retried=1")
        await expect(page.locator("#retried")).to_contain_text("Yeni bir mesaj olarak zamanlandı.")
        await expect(page.locator("#retry-of")).to_have_text("fails")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "retry-made.png"))
        await page.locator("#retry-of").click()
        await expect(page.locator('[data-retry="fails:retry1"]')).to_be_visible()
        await expect(page.locator(".status").first).to_have_attribute("data-status", "failed")
        await browser.close()
    assert _ids(tmp_path / "acceptance.db") == ["fails", "fails:retry1"]


@pytest.mark.timeout(120)
@needs_chromium
async def test_cancel_a_whole_import_from_its_page(service: Service) -> None:
    from playwright.async_api import FilePayload, async_playwright, expect

    later = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    rows = ["recipient,date,time,text"] + [
        f"+9055512345{i:02d},{later},10:{i:02d},Hatırlatma {i}" for i in range(4)
    ]
    alone = {"id": "alone", "alici": "+905551230000", "tarih": later, "saat": "11:00",
             "mesaj": "Tek başına"}  # fmt: skip
    made = httpx.post(service.url + "/schedule", json=alone, headers={"X-API-Key": KEY}, timeout=30)
    assert made.status_code == 200, made.text
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(locale="en-US")).new_page()
        await _sign_in(page, service)
        await page.goto(service.url + "/import")
        await page.set_input_files(
            "#file",
            FilePayload(name="list.csv", mimeType="text/csv", buffer="\n".join(rows).encode()),
        )
        await page.click("#upload button[type=submit]")
        await expect(page.locator("#valid-count")).to_have_text("4")
        await page.locator("#store").click()
        await expect(page.locator("#summary")).to_contain_text("Stored 4")
        await page.locator("#this-import a").click()
        await expect(page.locator('#import-counts [data-status="queued"]')).to_have_attribute(
            "data-count", "4"
        )
        await page.locator("#import-cancel").click()
        await expect(page.locator("#import-question")).to_contain_text("These 4 messages")
        await page.locator("#import-confirm").click()
        await expect(page.locator("#import-cancelled")).to_have_text("Cancelled 4.")
        await expect(page.locator('#import-counts [data-status="cancelled"]')).to_have_attribute(
            "data-count", "4"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "import-cancelled.png"))
        await page.goto(service.url + "/")
        await expect(page.locator("tr[data-id]")).to_have_count(1)  # only "alone" is left
        # Its time left in words as the page ticks it (not "2d 21h"): Babel's on the server,
        # Intl.RelativeTimeFormat with the same rounding in the page.
        left = page.locator('tr[data-id="alone"] .left')
        await expect(left).to_have_text(re.compile(r"^in [23] days$"))
        await browser.close()
