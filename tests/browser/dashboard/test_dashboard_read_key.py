"""The dashboard in Debian's Chromium, signed in with read-scope keys, against a real
`whatsapp-scheduler serve --sandbox` (senders `default` and `branch`): the lists work; no
compose, import or cancel is offered, and going there anyway is refused with a page that says
why, in English and in Turkish; a key limited to one sender sees only that sender's messages."""

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

KEY = "browser-read-key-admin-0123456789"
ZONE = "Europe/Istanbul"
REFUSED_EN = "The key you signed in with cannot do this: it needs the write scope."
REFUSED_TR = "Giriş yaptığınız anahtar bunu yapamaz: write yetkisi gerekiyor."


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with serve_sandbox(tmp_path, KEY) as running:
        yield running


def make_keys_and_messages(service: Service) -> tuple[str, str]:
    """A read key for every sender, a read key for `branch` only; one message of each sender."""
    later = datetime.now(ZoneInfo(ZONE)) + timedelta(hours=3)
    with httpx.Client(base_url=service.url, headers={"X-API-Key": KEY}, timeout=10) as api:
        made = []
        for body in ({"name": "board", "scope": "read"},
                     {"name": "branch-board", "scope": "read", "senders": ["branch"]}):  # fmt: skip
            answer = api.post("/keys", json=body)
            assert answer.status_code == 201, answer.text
            made.append(str(answer.json()["key"]))
        for message_id, sender in (("shop-1", "default"), ("branch-1", "branch")):
            answer = api.post(
                "/schedule",
                json={"id": message_id, "alici": "+905551234567", "mesaj": f"from {sender}",
                      "tarih": later.strftime("%Y-%m-%d"), "saat": later.strftime("%H:%M"),
                      "timezone": ZONE, "gonderen": sender},
            )  # fmt: skip
            assert answer.status_code == 200, answer.text
    return made[0], made[1]


async def sign_in(page, service: Service, key: str) -> None:
    from playwright.async_api import expect

    await page.goto(service.url + "/")
    await page.fill("input[name=api_key]", key)
    await page.click("button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Upcoming messages")


@pytest.mark.timeout(120)
@needs_chromium
async def test_read_keys_see_and_cannot_change(service: Service) -> None:
    from playwright.async_api import async_playwright, expect

    board, branch_board = make_keys_and_messages(service)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(timezone_id=ZONE, locale="en-US")
        page = await context.new_page()
        refused = watch_csp(page)
        await sign_in(page, service, board)

        # The lists work: both senders' messages, each with its page.
        for message_id in ("shop-1", "branch-1"):
            await expect(page.locator(f'tr[data-id="{message_id}"]')).to_be_visible()
        # Nothing to change is offered: no Compose or Import in the menu, no Cancel anywhere.
        nav = page.locator("header nav")
        await expect(nav.locator("a", has_text="Upcoming")).to_be_visible()
        await expect(nav.locator("a", has_text="Compose")).to_have_count(0)
        await expect(nav.locator("a", has_text="Import")).to_have_count(0)
        await expect(page.locator("a.cancel")).to_have_count(0)
        await page.click('tr[data-id="shop-1"] td a')
        await expect(page.locator(".timeline")).to_be_visible()
        await expect(page.locator("a.cancel")).to_have_count(0)
        await page.goto(service.url + "/history")
        await expect(page.locator("h1")).to_be_visible()

        # An old link to a form: refused with a page of the dashboard saying why (its menu
        # stays), in the language chosen.
        for path in ("/compose", "/import", "/message/shop-1/cancel"):
            answer = await page.goto(service.url + path)
            assert answer is not None
            assert answer.status == 403
            await expect(page.locator("#refused")).to_have_text(REFUSED_EN)
            await expect(nav.locator("a", has_text="History")).to_be_visible()
        await page.click("a.lang")  # Türkçe
        await page.goto(service.url + "/compose")
        await expect(page.locator("#refused")).to_have_text(REFUSED_TR)
        await page.goto(service.url + "/")
        await expect(page.locator('tr[data-id="shop-1"]')).to_be_visible()  # still signed in
        assert refused == []
        await context.close()

        # A read key for one sender: only that sender's messages, the other's are not there.
        context = await browser.new_context(timezone_id=ZONE, locale="en-US")
        page = await context.new_page()
        await sign_in(page, service, branch_board)
        await expect(page.locator('tr[data-id="branch-1"]')).to_be_visible()
        await expect(page.locator('tr[data-id="shop-1"]')).to_have_count(0)
        other = await page.goto(service.url + "/message/shop-1")
        assert other is not None
        assert other.status == 404  # to this key, the other sender's messages do not exist
        own = await page.goto(service.url + "/message/branch-1")
        assert own is not None
        assert own.status == 200
        await context.close()
        await browser.close()
