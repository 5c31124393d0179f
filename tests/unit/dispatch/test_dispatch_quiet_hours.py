"""The dispatcher's send-time quiet-hours check (docs/limits.md): a message claimed inside
its zone's quiet hours goes back to `queued` at their end with `status_reason` `quiet_hours`,
no attempt spent and nothing asked of Meta; at the end it is sent and the reason cleared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import messages, quiet

Status = messages.MessageStatus
NIGHT = quiet.parse("21:00-09:00", "QUIET_HOURS")
LATE = datetime(2026, 6, 1, 19, 30, tzinfo=UTC)  # 22:30 in Istanbul, 15:30 in New York
MORNING = datetime(2026, 6, 2, 6, 0, tzinfo=UTC)  # 09:00 in Istanbul


def _deferred(d, reason: str) -> str:
    prefix = f'whatsapp_scheduler_messages_deferred_total{{reason="{reason}",sender="default"}} '
    lines = d.metrics.render().decode().splitlines()
    return next((ln.removeprefix(prefix) for ln in lines if ln.startswith(prefix)), "0")


async def test_a_message_claimed_inside_quiet_hours_waits_for_their_end(
    clock, memory_store, sender, make_dispatcher
):
    clock.set(LATE)
    await memory_store.add_many(
        [
            testing.make_message("night", LATE, timezone="Europe/Istanbul"),
            testing.make_message("ny", LATE, recipient="+12125550100", timezone="America/New_York"),
            testing.make_message("otp", LATE, recipient="+905550000001", quiet_hours=False),
        ]
    )
    d = make_dispatcher(quiet_hours=NIGHT, max_lateness=timedelta(hours=6))
    await d.run(burst=True)
    assert sorted(c.id for c in sender.calls) == ["ny", "otp"]
    row = memory_store.rows["night"]
    assert (row.status, row.status_reason, row.run_at) == (Status.QUEUED, "quiet_hours", MORNING)
    assert row.attempts == 0
    assert await memory_store.attempts("night") == []
    assert _deferred(d, "quiet_hours") == "1.0"
    # More than MAX_LATENESS (here 6 h) after it was due, but not late: lateness counts from
    # the quiet hours' end.
    clock.set(MORNING + timedelta(hours=1))
    await d.run(burst=True)
    row = memory_store.rows["night"]
    assert (row.status, row.status_reason) == (Status.SENT, None)
    await d.stop()


async def test_without_quiet_hours_nothing_waits(clock, memory_store, sender, make_dispatcher):
    clock.set(LATE)
    await memory_store.add_many([testing.make_message("night", LATE)])
    d = make_dispatcher()
    await d.run(burst=True)
    assert memory_store.rows["night"].status == Status.SENT
    await d.stop()
