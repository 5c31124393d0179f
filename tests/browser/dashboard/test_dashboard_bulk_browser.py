"""Bulk cancel in Debian's Chromium against `serve --sandbox`: "select all" ticks the page's
rows, "Cancel selected" asks first, and confirming cancels them (both languages' words are
checked elsewhere; this is the person's path through the buttons)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.acceptance.conftest import Service
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium, serve_sandbox

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
KEY = "browser-bulk-key-0123456789abcdef"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve_sandbox(tmp_path, KEY) as running:
        yield running


@pytest.mark.timeout(120)
@needs_chromium
async def test_select_all_then_cancel_selected_cancels_the_page(service: Service) -> None:
    from playwright.async_api import async_playwright, expect

    headers = {"X-API-Key": KEY}
    later = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    for i in range(3):
        body = {"id": f"bulk-{i}", "alici": "+905551234567", "tarih": later, "saat": f"10:0{i}",
                "mesaj": f"Hatırlatma {i}"}  # fmt: skip
        made = httpx.post(service.url + "/schedule", json=body, headers=headers, timeout=30)
        assert made.status_code == 200, made.text
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(locale="tr-TR")).new_page()
        await page.goto(service.url + "/signin")
        await page.fill("input[name=api_key]", KEY)
        await page.click("button[type=submit]")
        await expect(page.locator("#select-all")).to_be_visible()
        # One row by hand: "select all" shows the mixed state; then all of them.
        await page.locator('input[name=id][value="bulk-1"]').check()
        assert await page.locator("#select-all").evaluate("e => e.indeterminate")
        await page.locator("#select-all").check()
        for i in range(3):
            await expect(page.locator(f'input[name=id][value="bulk-{i}"]')).to_be_checked()
        await page.locator("#bulk-cancel").click()
        await expect(page.locator("#bulk-question")).to_contain_text("Bu 3 mesaj gönderilmeyecek")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "bulk-cancel-confirm.png"))
        await page.locator("#bulk-confirm").click()
        await expect(page.locator("#bulk-done")).to_contain_text("3 mesaj iptal edildi.")
        await expect(page.locator("input[name=id]")).to_have_count(0)
        await browser.close()
    for i in range(3):
        status = httpx.get(f"{service.url}/status/bulk-{i}", headers=headers, timeout=30)
        assert status.json()["status"] == "cancelled"
