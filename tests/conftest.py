"""Fixtures shared by every level: clock, settings and message factories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from whatsapp_scheduler import service, settings, testing
from whatsapp_scheduler.core import messages

API_KEY = "test-api-key-0123456789"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


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
def make_message() -> Callable[..., messages.ScheduledMessage]:
    counter = iter(range(1_000_000))

    def factory(**overrides: Any) -> messages.ScheduledMessage:
        number = next(counter)
        due = overrides.pop("due_at", START + timedelta(minutes=5))
        body = overrides.pop("body", f"message {number}")
        recipient = overrides.pop("recipient", "+905551234567")
        values: dict[str, Any] = {
            "id": f"m{number:06d}",
            "recipient": recipient,
            "due_at": due,
            "run_at": overrides.pop("run_at", due),
            "timezone": "Europe/Istanbul",
            "local_date": due.date().isoformat(),
            "local_time": due.strftime("%H:%M"),
            "content_hash": service.content_hash(recipient, due, body, None),
            "created_at": START,
            "updated_at": START,
            "body": body,
        }
        values.update(overrides)
        return messages.ScheduledMessage(**values)

    return factory
