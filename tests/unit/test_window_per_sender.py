"""Issue #15: a 24-hour window is between a contact and one business number, at schedule
time (the service reads the sender's numbers) as at send time (tests/integration/dispatch)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from whatsapp_scheduler import service, testing
from whatsapp_scheduler.core import errors, senders, window
from whatsapp_scheduler.dispatch.senders import StaticSenders, WindowNumbers
from whatsapp_scheduler.whatsapp import webhooks

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DEFAULT_ID, BRANCH_ID = "106540352242922", "106540352242923"


def source() -> StaticSenders:
    return StaticSenders(
        [
            senders.SenderCredentials(senders.Sender("default", DEFAULT_ID), "t1"),
            senders.SenderCredentials(senders.Sender("branch", BRANCH_ID), "t2"),
            senders.SenderCredentials(senders.Sender("off", "1", enabled=False), "t3"),
        ]
    )


async def test_window_numbers_of_each_sender():
    numbers = WindowNumbers(source())
    assert await numbers.numbers("default") == (DEFAULT_ID, "")
    assert await numbers.numbers("branch") == (BRANCH_ID,)
    assert await numbers.numbers("off") == ("1",)  # disabled: still its own number
    assert await numbers.numbers("nobody") == ()


async def test_the_source_is_asked_again_after_the_ttl():
    now = [0.0]
    src = source()
    numbers = WindowNumbers(src, ttl=5.0, clock=lambda: now[0])
    assert await numbers.numbers("late") == ()
    src.senders.append(senders.SenderCredentials(senders.Sender("late", "7"), "t"))
    assert await numbers.numbers("late") == ()  # cached
    now[0] = 5.0
    assert await numbers.numbers("late") == ("7",)


async def test_an_inbound_message_opens_the_window_with_its_number_only():
    memory = testing.InMemoryMessageStore()
    clock = testing.FrozenClock(NOW)
    svc = service.SchedulerService(
        memory,
        clock,
        default_timezone="UTC",
        default_region="TR",
        window_policy=window.WindowPolicy.FAIL,
        window_numbers=WindowNumbers(source()),
    )
    inbound = {"from": "905551234567", "id": "wamid.IN", "timestamp": str(int(NOW.timestamp()))}
    payload = {
        "entry": [
            {
                "changes": [
                    {
                        "value": {
                            "metadata": {"phone_number_id": BRANCH_ID},
                            "messages": [{**inbound, "type": "text"}],
                        }
                    }
                ]
            }
        ]
    }
    await svc.apply_webhook(webhooks.parse(payload, NOW))
    request = service.ScheduleRequest("+905551234567", "2026-03-01", "10:00", "Merhaba", "m1")
    built = svc.build(request, NOW)
    due = NOW + timedelta(hours=1)
    assert built.due_at == due
    branch, default = built.evolve(sender="branch"), built.evolve(sender="default")
    answers = await svc._window_warnings([branch, default])
    assert answers[0] == []  # open with `branch`
    refusal = answers[1]
    assert isinstance(refusal, errors.ValidationFailed)  # closed with `default`
    assert refusal.field == "mesaj"
    assert "24-hour window" in refusal.rule
