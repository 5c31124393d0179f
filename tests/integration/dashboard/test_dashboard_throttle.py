"""Failed sign-ins are throttled per client address and in total, over real HTTP.

Clients connect from different loopback addresses (127.0.0.2, 127.0.0.3, ...: Linux routes all of
127/8 to lo), so the server sees real, different peer addresses; time moves on the app's
injectable clock."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY
from tests.integration.conftest import ServedApp
from tests.integration.dashboard.conftest import CSRF
from whatsapp_scheduler import testing
from whatsapp_scheduler.store import sql
from whatsapp_scheduler.web import app as app_mod

PER_ADDRESS = 3
TOTAL = 7
WINDOW = 600.0


class Browser:
    """A cookie-keeping client connecting from one loopback address."""

    def __init__(self, url: str, address: str) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        self.client = httpx.AsyncClient(base_url=url, transport=transport, timeout=10)

    async def sign_in(self, key: str) -> httpx.Response:
        form = await self.client.get("/signin")
        token = CSRF.search(form.text)
        assert token is not None
        return await self.client.post("/signin", data={"api_key": key, "csrf": token[1]})


@pytest.fixture
async def site(make_settings: Any, clock: Any, sqlite_url: str) -> AsyncIterator[Any]:
    message_store = sql.SqlMessageStore.from_url(sqlite_url)
    settings = make_settings(
        database_url=sqlite_url,
        signin_failures_per_address=PER_ADDRESS,
        signin_failures_total=TOTAL,
        signin_window_seconds=WINDOW,
    )
    browsers: list[Browser] = []
    async with ServedApp(app_mod.create_app(settings, store=message_store, clock=clock)) as served:

        def browser(address: str) -> Browser:
            browsers.append(Browser(served.url, address))
            return browsers[-1]

        try:
            yield browser
        finally:
            for b in browsers:
                await b.client.aclose()
    await message_store.close()


async def test_wrong_keys_lock_out_that_address_even_for_the_right_key(site, clock, caplog):
    caplog.set_level(logging.WARNING, logger="whatsapp_scheduler.web.routes.dashboard_auth")
    guesser, other = site("127.0.0.2"), site("127.0.0.3")
    for _ in range(PER_ADDRESS):
        assert (await guesser.sign_in("x" * 30)).status_code == 401
    refused = await guesser.sign_in(API_KEY)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= WINDOW
    assert "Too many wrong keys" in refused.text
    assert (await guesser.client.get("/")).status_code == 303  # not signed in
    # Another address is not affected.
    assert (await other.sign_in(API_KEY)).status_code == 303
    # The log names the address, never the key tried.
    lines = [r.getMessage() for r in caplog.records]
    assert any("127.0.0.2" in line and "wrong API key" in line for line in lines)
    assert any("127.0.0.2" in line and "throttled" in line for line in lines)
    assert not any("x" * 30 in line or API_KEY in line for line in lines)
    # Still refused just before the window ends; fine once the first failure has left it.
    clock.advance(int(refused.headers["retry-after"]) - 2)
    assert (await guesser.sign_in(API_KEY)).status_code == 429
    clock.advance(2)
    assert (await guesser.sign_in(API_KEY)).status_code == 303


async def test_failures_from_all_addresses_together_lock_everyone_out(site, clock):
    addresses = [f"127.0.0.{n}" for n in range(10, 20)]
    failures = 0
    for address in addresses:  # PER_ADDRESS - 1 each: no address reaches its own limit
        for _ in range(PER_ADDRESS - 1):
            if failures == TOTAL:
                break
            assert (await site(address).sign_in("wrong-" * 5)).status_code == 401
            failures += 1
    assert failures == TOTAL
    fresh = site("127.0.0.40")
    refused = await fresh.sign_in(API_KEY)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) <= WINDOW
    clock.advance(WINDOW)
    assert (await fresh.sign_in(API_KEY)).status_code == 303


async def test_a_right_key_clears_its_address_count(site):
    browser = site("127.0.0.5")
    for _ in range(PER_ADDRESS - 1):
        assert (await browser.sign_in("y" * 30)).status_code == 401
    assert (await browser.sign_in(API_KEY)).status_code == 303
    again = site("127.0.0.5")
    for _ in range(PER_ADDRESS - 1):
        assert (await again.sign_in("y" * 30)).status_code == 401
    assert (await again.sign_in(API_KEY)).status_code == 303


def test_the_throttle_forgets_stale_addresses():
    from whatsapp_scheduler.web import throttle

    limiter = throttle.SignInThrottle(per_address=2, total=1000, window_seconds=10)
    clock = testing.FrozenClock()
    for n in range(5):
        limiter.failed(f"10.0.0.{n}", clock.now().timestamp())
    limiter.failed("10.0.0.9", clock.now().timestamp())
    limiter.failed("10.0.0.9", clock.now().timestamp())
    assert limiter.retry_after("10.0.0.9", clock.now().timestamp()) == 10
    assert limiter.retry_after("10.0.0.1", clock.now().timestamp()) is None
    clock.advance(10)
    assert limiter.retry_after("10.0.0.9", clock.now().timestamp()) is None
    assert len(limiter._by_address) == 0
