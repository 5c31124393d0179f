"""Edits and series, on every MessageStore: in-memory, SQLite file, PostgreSQL."""
# ruff: noqa: DTZ001 - a series' local wall-clock times are naive on purpose (core/recurrence.py)

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.conftest import START
from whatsapp_scheduler import store
from whatsapp_scheduler.core import errors, recurrence
from whatsapp_scheduler.core.messages import MessageStatus as S

LEASE = START + timedelta(hours=1)


async def test_an_edit_of_a_queued_message_changes_it_and_is_recorded(any_store, make_message):
    message = make_message()
    await any_store.add(message)
    edited = message.evolve(body="new text", due_at=message.due_at + timedelta(hours=1))
    edited = edited.evolve(run_at=edited.due_at, local_time="13:05")
    changes = {"mesaj": {"from": message.body, "to": "new text"}}
    stored = await any_store.edit_message(edited, changes, "shop-key", START)
    assert stored is not None
    assert (stored.body, stored.due_at, stored.run_at, stored.local_time) == (
        "new text",
        edited.due_at,
        edited.due_at,
        "13:05",
    )
    assert await any_store.get(message.id) == stored
    (edit,) = await any_store.edits(message.id)
    assert (edit.key_name, edit.edited_at, dict(edit.changes)) == ("shop-key", START, changes)


async def test_an_edit_after_the_claim_changes_nothing(any_store, make_message):
    """The service read the message queued; the dispatcher claimed it before the edit's
    UPDATE: the edit's condition (status = queued) fails, nothing changes, no edit row."""
    message = make_message(due_at=START, run_at=START)
    await any_store.add(message)
    (claimed,) = await any_store.claim_due(START, 10, "w1", LEASE)
    result = await any_store.edit_message(message.evolve(body="too late"), {}, None, START)
    assert result is None
    assert await any_store.get(message.id) == claimed
    assert await any_store.edits(message.id) == []


def _series(series_id: str = "s1", rule: str = "FREQ=DAILY;COUNT=3") -> store.Series:
    return store.Series(
        id=series_id,
        rule=rule,
        timezone="Europe/Istanbul",
        dtstart=datetime(2026, 3, 1, 12, 0),  # START in Istanbul
        status=store.SeriesStatus.ACTIVE,
        sender="default",
        created_by="k1",
        created_at=START,
        updated_at=START,
    )


def _first(make_message, series_id: str = "s1"):
    local = datetime(2026, 3, 1, 12, 0)
    return make_message(
        id=recurrence.occurrence_id(series_id, local),
        due_at=START,
        run_at=START,
        local_date="2026-03-01",
        local_time="12:00",
        series_id=series_id,
    )


async def test_series_are_stored_and_continued_by_the_claim(any_store, make_message):
    first = _first(make_message)
    assert (await any_store.add_series(_series(), first)).status == store.AddStatus.CREATED
    assert (await any_store.add_series(_series(), first)).status == store.AddStatus.EXISTING
    assert await any_store.get_series("s1") == _series()
    ids = []
    for day in range(3):
        (claimed,) = await any_store.claim_due(START + timedelta(days=day), 10, "w1", LEASE)
        ids.append(claimed.id)
    assert ids == ["s1@20260301T120000", "s1@20260302T120000", "s1@20260303T120000"]
    rows = await any_store.series_occurrences("s1", 10)
    assert [m.id for m in rows] == list(reversed(ids))  # newest first; COUNT=3: no fourth
    assert {m.status for m in rows} == {S.SENDING}
    assert (await any_store.get_series("s1")).status == store.SeriesStatus.ENDED


async def test_pausing_cancels_the_queued_occurrence_and_stops_the_series(any_store, make_message):
    first = _first(make_message)
    await any_store.add_series(_series(), first)
    paused = await any_store.change_series(
        "s1", [store.SeriesStatus.ACTIVE], store.SeriesStatus.PAUSED, START, cancel_reason="p"
    )
    assert paused is not None
    assert paused.status == store.SeriesStatus.PAUSED
    stored = await any_store.get(first.id)
    assert (stored.status, stored.status_reason) == (S.CANCELLED, "p")
    assert await any_store.claim_due(START + timedelta(days=5), 10, "w1", LEASE) == []
    again = await any_store.change_series(
        "s1", [store.SeriesStatus.ACTIVE], store.SeriesStatus.PAUSED, START, cancel_reason="p"
    )
    assert again is None  # not active: nothing changed
    resumed = await any_store.change_series(
        "s1", [store.SeriesStatus.PAUSED], store.SeriesStatus.ACTIVE, START, occurrence=first
    )
    assert resumed is not None
    assert (await any_store.get(first.id)).status == S.QUEUED


async def test_a_series_reads_and_cancels_only_its_own_occurrences(any_store, make_message):
    """Ids that begin as the series' occurrences' do but are not theirs: a single message's
    `s1@x` and another series' `s1@2@...` (SQLite reads a series by the range of ids from
    `s1@`, the rows' series id decides)."""
    first = _first(make_message)
    await any_store.add_series(_series(), first)
    await any_store.add_series(_series("s1@2"), _first(make_message, "s1@2"))
    await any_store.add(make_message(id="s1@x", due_at=START, run_at=START))
    await any_store.change_series(
        "s1", [store.SeriesStatus.ACTIVE], store.SeriesStatus.PAUSED, START, cancel_reason="p"
    )
    statuses = {m: (await any_store.get(m)).status for m in ("s1@x", "s1@2@20260301T120000")}
    assert statuses == {"s1@x": S.QUEUED, "s1@2@20260301T120000": S.QUEUED}


async def test_a_series_history_holds_only_its_own_occurrences(any_store, make_message):
    first = _first(make_message)
    await any_store.add_series(_series(), first)
    await any_store.add_series(_series("s1@2"), _first(make_message, "s1@2"))
    await any_store.add(make_message(id="s1@x", due_at=START, run_at=START))
    assert [m.id for m in await any_store.series_occurrences("s1", 10)] == [first.id]


async def test_an_occurrence_being_sent_is_not_replaced(any_store, make_message):
    """A series edit whose queued occurrence was claimed meanwhile changes nothing (409): the
    claim has made its successor, which the edit must not cancel."""
    first = _first(make_message)
    await any_store.add_series(_series(), first)
    await any_store.claim_due(START, 10, "w1", LEASE)
    before = await any_store.series_occurrences("s1", 10)
    with pytest.raises(errors.Conflict):
        await any_store.change_series(
            "s1",
            [store.SeriesStatus.ACTIVE],
            store.SeriesStatus.ACTIVE,
            START,
            rule="FREQ=DAILY;COUNT=5",
            cancel_reason="series_edited",
            occurrence=first.evolve(body="new"),
        )
    assert await any_store.series_occurrences("s1", 10) == before
    assert await any_store.get_series("s1") == _series()


async def test_the_next_occurrence_copies_the_claimed_ones_content(any_store, make_message):
    """The claim's successor is the claimed occurrence's content at the rule's next time, as
    `recurrence.next_occurrence` makes it (the SQL stores copy the claimed row inside the
    database: each copied column checked, and the file a document sends still counted)."""
    document = {"type": "document", "document": {"id": "med_abc123", "filename": "a.pdf"}}
    template = {"name": "reminder", "language": {"code": "tr"}, "components": []}
    fallback = {"name": "fallback", "language": {"code": "tr"}}
    firsts = [
        _first(make_message, "s1").evolve(
            body=None, content=document, fallback_template=fallback, sender="shop"
        ),
        _first(make_message, "s2").evolve(
            body=None, template=template, category="UTILITY", created_by="k2", recipient="+1202"
        ),
    ]
    for first in firsts:
        await any_store.add_series(_series(first.series_id or ""), first)
    claimed = await any_store.claim_due(START, 10, "w1", LEASE)
    assert sorted(m.id for m in claimed) == sorted(m.id for m in firsts)
    for message in claimed:
        expected = recurrence.next_occurrence(message, _series().rule, _series().dtstart, START)
        assert expected is not None
        assert expected.id == f"{message.series_id}@20260302T120000"
        assert await any_store.get(expected.id) == expected
    assert await any_store.media_in_use("med_abc123") == 2  # the claimed one and its successor
