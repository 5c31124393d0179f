"""The README's first experience, in a real browser: `serve --sandbox`, schedule a message
through the REST API, and watch it arrive in the sandbox inbox with its ticks advancing."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.acceptance.conftest import BIN, Service, base_env, free_port
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium, watch_csp

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(120)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@needs_chromium
async def test_a_message_scheduled_through_the_api_arrives_in_the_inbox(tmp_path):
    from playwright.async_api import async_playwright, expect

    port = free_port()
    service = Service(
        [str(BIN), "serve", "--sandbox", "--port", str(port)], base_env(tmp_path), port, tmp_path
    )
    try:
        for _ in range(400):
            banner = service.output()
            if "Sandbox inbox" in banner and "API key for this run" in banner:
                break
            assert service.process.poll() is None, banner
            await asyncio.sleep(0.05)
        inbox_found = re.search(r"Sandbox inbox \(.*\): (\S+)", banner)
        key_found = re.search(r"API key for this run .*: (\S+)", banner)
        assert inbox_found is not None, banner
        assert key_found is not None, banner
        inbox, key = inbox_found.group(1), key_found.group(1)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1100, "height": 720})
            refused = watch_csp(page)
            await page.goto(inbox)
            await expect(page.locator("#live")).to_have_text("live")
            now = datetime.now(ZoneInfo("Europe/Istanbul"))
            body = {
                "id": "browser-e2e",
                "alici": "+905551234567",
                "tarih": now.date().isoformat(),
                "saat": now.strftime("%H:%M:%S"),  # to the minute: up to 59 s past already
                "mesaj": "Randevunuz yarın 10:00'da",
            }
            async with httpx.AsyncClient(base_url=service.url, headers={"X-API-Key": key}) as api:
                assert (await api.post("/schedule", json=body)).status_code == 200
                bubble = page.locator(".bubble", has_text="Randevunuz yarın 10:00'da")
                await expect(bubble).to_have_count(1, timeout=10_000)
                tick = bubble.locator(".tick")
                await expect(tick).to_have_attribute("data-status", "read", timeout=40_000)
                status = (await api.get("/status/browser-e2e")).json()
            assert status["status"] == "read"
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "sandbox-e2e-inbox.png"), full_page=True)
            assert refused == []
            await browser.close()
    finally:
        assert service.stop() == 0
