"""131049 answered to the send itself (Meta's per-user marketing limit, docs/limits.md): the
message waits 24 h (`status_reason` `marketing_limit`), gets one more try, then fails."""

from __future__ import annotations

from datetime import timedelta

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import errors, messages

Status = messages.MessageStatus
AO = messages.AttemptOutcome


def _limited() -> errors.PermanentFailure:
    return errors.PermanentFailure("(#131049) healthy ecosystem engagement", code=131049)


async def test_one_more_try_after_24_hours_then_failed(
    clock, memory_store, sender, make_dispatcher
):
    start = clock.now()
    await memory_store.add_many([testing.make_message("mk", start)])
    sender.fail_message("mk", _limited())
    d = make_dispatcher()
    await d.run(burst=True)
    row = memory_store.rows["mk"]
    assert (row.status, row.status_reason) == (Status.QUEUED, "marketing_limit")
    assert row.run_at == start + timedelta(hours=24)
    assert row.attempts == 1
    clock.advance(timedelta(hours=23, minutes=59))
    await d.run(burst=True)
    assert sender.sends_for("mk") == 1  # not before the 24 h
    clock.advance(timedelta(minutes=1))
    await d.run(burst=True)  # MAX_LATENESS (24 h) counts from the wait's end: not expired
    row = memory_store.rows["mk"]
    assert (row.status, row.last_error_code, row.status_reason) == (Status.FAILED, 131049, None)
    assert [a.outcome for a in await memory_store.attempts("mk")] == [AO.RETRY, AO.FAILED]
    assert sender.sends_for("mk") == 2
    await d.stop()


async def test_the_second_try_can_go_through(clock, memory_store, sender, make_dispatcher):
    await memory_store.add_many([testing.make_message("mk", clock.now())])
    sender.fail_next(1, _limited())
    d = make_dispatcher()
    await d.run(burst=True)
    clock.advance(timedelta(hours=24))
    await d.run(burst=True)
    row = memory_store.rows["mk"]
    assert (row.status, row.status_reason) == (Status.SENT, None)
    await d.stop()
