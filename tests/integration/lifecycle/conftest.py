"""Fixtures for issue #5's end-to-end tests: the app served on loopback (real SQLite file), the
sandbox stand-in on loopback posting signed webhooks back to it, and the real dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import API_KEY
from tests.integration.conftest import ServedApp
from whatsapp_scheduler import bootstrap, settings
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.dispatch import retries
from whatsapp_scheduler.sandbox import StandIn, StandInConfig, StatusDelays
from whatsapp_scheduler.store import migrate, sql
from whatsapp_scheduler.web import app as app_mod

TOKEN = "lifecycle-token"
NUMBER_ID = "106540352242922"
APP_SECRET = "lifecycle-app-secret"
ZONE = "Europe/Istanbul"


class OffsetClock:
    """The system clock moved by `offset`: a dispatcher running hours later."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def due_now(**extra: Any) -> dict[str, Any]:
    """`tarih`/`saat` (with seconds) for one second ago, local time: due at once."""
    local = (datetime.now(UTC) - timedelta(seconds=1)).astimezone(ZoneInfo(ZONE))
    return {"tarih": local.date().isoformat(), "saat": local.strftime("%H:%M:%S"), **extra}


@dataclasses.dataclass
class Live:
    client: httpx.AsyncClient
    store: sql.SqlMessageStore
    standin: StandIn
    settings: settings.Settings

    async def dispatch(self, clock: Any = None) -> None:
        """Send what is due (burst), with the dispatcher's own clock if given."""
        policy = retries.RetryPolicy(max_attempts=3, base_seconds=0.02, cap_seconds=0.1)
        d = await bootstrap.build_dispatcher(self.settings, self.store, clock, policy=policy)
        try:
            await d.run(burst=True)
        finally:
            await d.stop()

    async def wait_status(
        self, message_id: str, status: str, within: float = 30.0
    ) -> dict[str, Any]:
        """Poll GET /status/{id} until it reports `status`; returns the body. The deadline
        only guards against a hang: generous for a loaded machine, free while passing."""
        deadline = time.monotonic() + within
        while True:
            body = (await self.client.get(f"/status/{message_id}")).json()
            if body.get("status") == status:
                return body  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise AssertionError(f"{message_id}: {body.get('status')}, not {status}")
            await asyncio.sleep(0.05)

    def cli(self, *argv: str) -> tuple[int, str, str]:
        """Run one `whatsapp-scheduler` client command against this service (call it in a
        thread: it is blocking): (exit code, stdout, stderr)."""
        import io

        from whatsapp_scheduler import cli
        from whatsapp_scheduler.cli import client as cli_client

        out, err = io.StringIO(), io.StringIO()
        url = str(self.client.base_url)
        args = cli._parser().parse_args([*argv, "--url", url, "--api-key", API_KEY])
        return cli_client.run(args, out, err), out.getvalue(), err.getvalue()

    async def wait_contact(self, wa_id: str, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while await self.store.last_inbound(wa_id, [NUMBER_ID]) is None:  # the number written to
            if time.monotonic() > deadline:
                raise AssertionError(f"inbound from {wa_id} never recorded")
            await asyncio.sleep(0.02)


LiveFactory = Callable[..., contextlib.AbstractAsyncContextManager[Live]]


@pytest.fixture
def live(tmp_path: Path) -> LiveFactory:
    """`async with live(window_policy=..., window_check=..., **settings) as env:`"""
    counter = iter(range(1000))

    @contextlib.asynccontextmanager
    async def factory(
        *, window_check: str = "off", events: bool = False, **overrides: Any
    ) -> AsyncIterator[Live]:
        url = f"sqlite:///{tmp_path / f'live{next(counter)}.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        config = StandInConfig.unlimited(
            access_token=TOKEN,
            phone_number_id=NUMBER_ID,
            app_secret=APP_SECRET,
            window_check=window_check,
            status_delays=StatusDelays(sent=0.02, delivered=0.05, read=0.05),
            webhook_retry_base=0.05,
        )
        message_store = sql.SqlMessageStore.from_url(url, events_enabled=events)
        async with StandIn(config) as standin:
            values: dict[str, Any] = {
                "api_key": API_KEY,
                "database_url": url,
                "sandbox": True,
                "access_token": TOKEN,
                "phone_number_id": NUMBER_ID,
                "app_secret": APP_SECRET,
                "webhook_verify_token": "verify",
                "graph_api_url": standin.url,
                "timezone": ZONE,
                "messages_per_second": 1000,
                "pair_interval": 0,
                "max_lateness": timedelta(hours=72),
                "request_timeout_seconds": 2.0,
            }
            config_ = settings.Settings(_env_file=None, **(values | overrides))
            app = app_mod.create_app(config_, store=message_store)
            async with (
                ServedApp(app) as served,
                httpx.AsyncClient(
                    base_url=served.url, headers={"X-API-Key": API_KEY}, timeout=10
                ) as client,
            ):
                standin.set_webhooks(url=f"{served.url}/webhook")
                yield Live(client, message_store, standin, config_)
        await message_store.close()

    return factory


Status = messages.MessageStatus
