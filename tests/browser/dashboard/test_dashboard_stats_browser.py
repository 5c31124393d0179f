"""The home page's chart in Debian's Chromium against `serve --sandbox`: Chart.js loads from
the package (no network, no CSP refusal), and as a message goes from queued to sent and read
the chart follows without a reload."""

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
KEY = "browser-stats-key-0123456789abcdef"

#: The last bar of each dataset (today), by status, as the chart holds it now.
TODAY_JS = """() => Object.fromEntries(window.__statsChart.data.datasets.map(
  (d, i) => [window.__statsChart.data.datasets[i].label, d.data[d.data.length - 1]]))"""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve_sandbox(tmp_path, KEY) as running:
        yield running


@pytest.mark.timeout(150)
@needs_chromium
async def test_the_chart_follows_a_message_from_queued_to_read(service: Service) -> None:
    from playwright.async_api import async_playwright, expect

    due = datetime.now(UTC) + timedelta(seconds=20)
    body = {"id": "chart-1", "alici": "+905551234567", "tarih": due.date().isoformat(),
            "saat": due.strftime("%H:%M:%S"), "timezone": "UTC", "mesaj": "Merhaba"}  # fmt: skip
    made = httpx.post(service.url + "/schedule", json=body, headers={"X-API-Key": KEY}, timeout=30)
    assert made.status_code == 200, made.text
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(locale="en-US")).new_page()
        refused = watch_csp(page)
        await page.goto(service.url + "/signin")
        await page.fill("input[name=api_key]", KEY)
        await page.click("button[type=submit]")
        await expect(page.locator("#stats-chart")).to_be_visible()
        await page.wait_for_function("() => window.__statsChart !== undefined")
        assert await page.evaluate(TODAY_JS) == {"queued": 1}
        # Sent at its due time; the stand-in then reports delivered and read. The page asks
        # again every 10 s: no reload.
        deadline = asyncio.get_running_loop().time() + 120  # only against a hang
        while (today := await page.evaluate(TODAY_JS)).get("read") != 1:
            assert asyncio.get_running_loop().time() < deadline, today
            await asyncio.sleep(0.5)
        assert today.get("queued", 0) == 0
        await expect(page.locator('#stats-rows tr:last-child td[data-status="read"]')).to_have_text(
            "1"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "stats-chart.png"))
        await browser.close()
    assert refused == []
