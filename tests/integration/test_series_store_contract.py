"""Edits and series, on every MessageStore: in-memory, SQLite file, PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import START

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
