"""Fixtures for dispatcher integration tests: the stand-in on loopback and a SQLite file store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from whatsapp_scheduler import settings
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.dispatch import retries
from whatsapp_scheduler.sandbox import StandIn, StandInConfig
from whatsapp_scheduler.store import migrate, sql

TOKEN = "dispatch-test-token"
NUMBER_ID = "106540352242922"
FINAL = {messages.MessageStatus.SENT, messages.MessageStatus.FAILED}


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    server = StandIn(
        StandInConfig.unlimited(access_token=TOKEN, phone_number_id=NUMBER_ID, seed=1234)
    )
    await server.start(host="127.0.0.1", port=0)
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[sql.SqlMessageStore]:
    url = f"sqlite:///{tmp_path / 'dispatch.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    message_store = sql.SqlMessageStore.from_url(url)
    try:
        yield message_store
    finally:
        await message_store.close()


@pytest.fixture
def make_settings(standin: StandIn) -> Callable[..., settings.Settings]:
    def make(**overrides: Any) -> settings.Settings:
        values: dict[str, Any] = {
            "access_token": TOKEN,
            "phone_number_id": NUMBER_ID,
            "graph_api_url": standin.url,
            "messages_per_second": 1000,
            "pair_interval": 0,
            "request_timeout_seconds": 2.0,
            "connect_timeout_seconds": 1.0,
            "shutdown_grace_seconds": 1.0,
            "safety_poll_seconds": 5.0,
        }
        return settings.Settings(_env_file=None, **(values | overrides))

    return make


def fast_policy(**overrides: Any) -> retries.RetryPolicy:
    """Back-off in tens of milliseconds, so retries happen within a test."""
    values: dict[str, Any] = {
        "max_attempts": 30,
        "base_seconds": 0.02,
        "cap_seconds": 0.3,
        "throttle_base_seconds": 0.05,
        "account_pause_seconds": 1.0,
    }
    return retries.RetryPolicy(**(values | overrides))


async def wait_final(
    message_store: Any, ids: Sequence[str], within: float = 30.0
) -> list[messages.ScheduledMessage]:
    """Poll until every message is sent or failed; returns them in `ids` order.

    `within` is only a deadline against a hang: generous, because a loaded 2-core CI machine
    can be several times slower than a developer's; it costs nothing when the test passes.
    Tests that assert how fast something happened measure it from the records instead."""
    deadline = time.monotonic() + within
    while True:
        rows = [await message_store.get(i) for i in ids]
        if all(r is not None and r.status in FINAL for r in rows):
            return rows
        if time.monotonic() > deadline:
            pending = [r.id for r in rows if r is not None and r.status not in FINAL]
            raise AssertionError(f"{len(pending)} messages not final: {pending[:5]}")
        await asyncio.sleep(0.05)


@pytest.fixture(name="fast_policy")
def fast_policy_fixture() -> Callable[..., retries.RetryPolicy]:
    return fast_policy


@pytest.fixture(name="wait_final")
def wait_final_fixture() -> Callable[..., Any]:
    return wait_final
