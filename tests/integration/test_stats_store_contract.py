"""`due_tally` on every store (memory, SQLite, PostgreSQL): the messages due in each period by
their status now, the failed ones by Meta's code, bounded by the periods and by senders."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import START, MakeMessage
from whatsapp_scheduler.core.messages import MessageStatus as S

DAY = timedelta(days=1)


async def test_due_tally_counts_each_period_by_status_and_failures_by_code(
    any_store, make_message: MakeMessage
):
    bounds = [START, START + DAY, START + 2 * DAY]
    rows = [
        make_message(due_at=START + timedelta(hours=1), status=S.SENT),
        make_message(due_at=START + timedelta(hours=2), status=S.READ),
        make_message(due_at=START + timedelta(hours=3), status=S.READ),
        make_message(due_at=START + DAY - timedelta(microseconds=1), status=S.FAILED,
                     last_error_code=131026),
        make_message(due_at=START + DAY, status=S.FAILED, last_error_code=131026),  # next day
        make_message(due_at=START + DAY + timedelta(hours=5), status=S.FAILED),  # no code
        make_message(due_at=START + DAY + timedelta(hours=6), status=S.QUEUED, sender="ankara"),
        make_message(due_at=START - timedelta(seconds=1), status=S.SENT),  # before the range
        make_message(due_at=START + 2 * DAY, status=S.SENT),  # after it
    ]  # fmt: skip
    await any_store.add_many(rows)
    tally = await any_store.due_tally(bounds)
    assert tally.by_period == (
        {"sent": 1, "read": 2, "failed": 1},
        {"failed": 2, "queued": 1},
    )
    assert tally.failures == {131026: 2, None: 1}
    only_ankara = await any_store.due_tally(bounds, senders={"ankara"})
    assert only_ankara.by_period == ({}, {"queued": 1})
    assert only_ankara.failures == {}
    assert (await any_store.due_tally([START])).by_period == ()
