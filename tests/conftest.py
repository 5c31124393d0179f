"""Fixtures shared by every level: clock, settings and message factories."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from whatsapp_scheduler import service, settings, testing
from whatsapp_scheduler.core import messages


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`pg_restart` tests stop and start the machine's shared PostgreSQL cluster, which other
    tests (and other people's runs) use: they run only when asked for by marker (`-m
    pg_restart`) or in CI's full run (CI=true)."""
    if os.environ.get("CI") or "pg_restart" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="restarts the shared PostgreSQL: select with -m pg_restart")
    for item in items:
        if "pg_restart" in item.keywords:
            item.add_marker(skip)


API_KEY = "test-api-key-0123456789abcdef"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

#: The type of the `make_message` fixture, for annotating the helpers that take it.
MakeMessage = Callable[..., messages.ScheduledMessage]


@pytest.fixture
def clock() -> testing.FrozenClock:
    return testing.FrozenClock(START)


@pytest.fixture
def make_settings(tmp_path: Any) -> Callable[..., settings.Settings]:
    def factory(**overrides: Any) -> settings.Settings:
        values: dict[str, Any] = {
            "api_key": API_KEY,
            "database_url": f"sqlite:///{tmp_path / 'test.db'}",
            "sandbox": True,
            "_env_file": None,
        }
        values.update(overrides)
        return settings.Settings(**values)

    return factory


@pytest.fixture
def make_message() -> MakeMessage:
    """`testing.make_message` with a fresh id per call (m000000, m000001, ...) and these defaults:
    due five minutes after START, created and updated at START, Europe/Istanbul, the service's content hash.
    Any field of `ScheduledMessage` can be overridden."""
    counter = iter(range(1_000_000))

    def factory(**overrides: Any) -> messages.ScheduledMessage:
        number = next(counter)
        message_id = overrides.pop("id", f"m{number:06d}")
        due = overrides.pop("due_at", START + timedelta(minutes=5))
        body = overrides.pop("body", f"message {number}")
        recipient = overrides.pop("recipient", "+905551234567")
        values: dict[str, Any] = {
            "timezone": "Europe/Istanbul",
            "content_hash": service.content_hash(recipient, due, body, None),
            "created_at": START,
            "updated_at": START,
        }
        values.update(overrides)
        return testing.make_message(message_id, due, recipient=recipient, body=body, **values)

    return factory
