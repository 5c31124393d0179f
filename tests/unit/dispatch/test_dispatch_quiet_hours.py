"""The dispatcher's send-time quiet-hours check (docs/limits.md): a message claimed inside
its zone's quiet hours goes back to `queued` at their end with `status_reason` `quiet_hours`,
no attempt spent and nothing asked of Meta; at the end it is sent and the reason cleared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import contacts, messages, quiet

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


async def test_at_send_time_quiet_hours_are_those_of_the_contacts_zone(
    clock, memory_store, sender, make_dispatcher
):
    """At 02:00 UTC it is 05:00 in Istanbul but 22:00 in New York: a message in the Istanbul
    zone to a contact who lives in New York waits for 09:00 there; one to a number without
    a contact zone waits for 09:00 in Istanbul; after 06:00 UTC only the New York one waits."""
    small_hours = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)
    clock.set(small_hours)
    await memory_store.upsert_profiles(
        "default",
        [_contact_change("+12125550100", "America/New_York")],
        small_hours,
    )
    await memory_store.add_many(
        [
            testing.make_message(
                "to-ny", small_hours, recipient="+12125550100", timezone="Europe/Istanbul"
            ),
            testing.make_message(
                "to-ist", small_hours, recipient="+905550000002", timezone="Europe/Istanbul"
            ),
        ]
    )
    d = make_dispatcher(quiet_hours=NIGHT, max_lateness=timedelta(hours=12))
    await d.run(burst=True)
    assert sender.calls == []
    ny_morning = datetime(2026, 6, 2, 13, 0, tzinfo=UTC)  # 09:00 EDT
    assert memory_store.rows["to-ny"].run_at == ny_morning
    assert memory_store.rows["to-ist"].run_at == MORNING
    clock.set(MORNING + timedelta(minutes=1))
    await d.run(burst=True)
    assert [c.id for c in sender.calls] == ["to-ist"]
    clock.set(ny_morning + timedelta(minutes=1))
    await d.run(burst=True)
    assert [c.id for c in sender.calls] == ["to-ist", "to-ny"]
    await d.stop()


def _contact_change(phone: str, zone: str) -> contacts.Change:
    return contacts.Change(phone=phone, values={"timezone": zone})
