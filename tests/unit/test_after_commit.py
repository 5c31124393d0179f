"""Nothing after the commit can turn a stored message into an error answer (issue 13, part 5):
the client would retry, and a message without an id would be stored twice."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import START
from whatsapp_scheduler import service, testing


def _failing_nudge(run_at: datetime) -> None:
    raise RuntimeError("the dispatcher's nudge failed")


@pytest.fixture
def svc() -> service.SchedulerService:
    scheduler = service.SchedulerService(
        testing.InMemoryMessageStore(),
        testing.FrozenClock(START),
        default_timezone="Europe/Istanbul",
        default_region="TR",
    )
    scheduler.set_scheduled_hook(_failing_nudge)
    return scheduler


def _request(message_id: str | None) -> service.ScheduleRequest:
    return service.ScheduleRequest("+905551234567", "2026-03-02", "09:30", "Merhaba", message_id)


async def test_a_failing_nudge_after_the_commit_still_answers_the_stored_message(svc, caplog):
    result = await svc.schedule(_request(None))
    assert (await svc.get(result.message.id)).body == "Merhaba"
    items = await svc.schedule_many([_request("b1"), _request("b2")])
    assert [item.error for item in items] == [None, None]
    assert "nudge" in caplog.text
