"""`db copy`: a SQLite database's messages, attempts, receipts and contacts into PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import START
from tests.integration.conftest import _admin, _with_database, postgres_server_url
from whatsapp_scheduler import store
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.core.senders import Sender
from whatsapp_scheduler.store import sql, transfer

pytestmark = pytest.mark.postgres
Status = messages.MessageStatus
BIN = Path(sys.executable).parent / "whatsapp-scheduler"


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A brand-new PostgreSQL database without any table (db copy must migrate it)."""
    server = postgres_server_url()
    name = f"wsched_copy_{uuid.uuid4().hex[:8]}"
    with _admin(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server, name)
    finally:
        with _admin(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _seed(url: str, make_message) -> list[str]:
    source = sql.SqlMessageStore.from_url(url)
    batch = [make_message(due_at=START - timedelta(minutes=1)) for _ in range(7)]
    batch += [make_message(due_at=START + timedelta(days=1)) for _ in range(3)]
    await source.add_many(batch)
    claimed = await source.claim_due(START, 4, "w1", START + timedelta(minutes=1))
    outcomes = [
        store.Outcome(
            message_id=m.id,
            worker="w1",
            status=Status.SENT,
            finished_at=START,
            attempt=messages.AttemptOutcome.SENT,
            started_at=START,
            wamid=f"wamid.{m.id}",
            wa_id="905551234567",
        )
        for m in claimed
    ]
    await source.record(outcomes)
    receipts = [
        store.Receipt(wamid=f"wamid.{m.id}", status=Status.DELIVERED, occurred_at=START)
        for m in claimed[:2]
    ]
    receipts.append(store.Receipt(wamid="wamid.unknown", status=Status.READ, occurred_at=START))
    await source.apply_receipts(receipts, START)
    await source.record_inbound([("905551234567", START), ("905559999999", START)])
    await source.add_sender(Sender(name="shop", phone_number_id="1001"), "enc-token", START)
    await source.close()
    return [m.id for m in batch]


async def test_copy_moves_everything_is_idempotent_and_keeps_the_target_usable(
    sqlite_url, empty_postgres_url, make_message
):
    ids = await _seed(sqlite_url, make_message)
    first = transfer.copy_database(sqlite_url, empty_postgres_url, batch_size=3)
    counts = {r.table: (r.written, r.source_count, r.target_count) for r in first}
    assert counts == {
        "messages": (10, 10, 10),
        "attempts": (4, 4, 4),
        "receipts": (3, 3, 3),
        "contacts": (2, 2, 2),
        "senders": (1, 1, 1),
    }
    again = transfer.copy_database(sqlite_url, empty_postgres_url, batch_size=4)
    assert [r.written for r in again] == [0, 0, 0, 0, 0]  # resumable: nothing written twice

    source = sql.SqlMessageStore.from_url(sqlite_url)
    target = sql.SqlMessageStore.from_url(empty_postgres_url)
    try:
        assert await target.get_many(ids) == await source.get_many(ids)
        for message_id in ids:
            assert await target.attempts(message_id) == await source.attempts(message_id)
        assert await target.last_inbound("905559999999") == START
        # Senders keep their encrypted token as it was (the same SECRET_KEY reads it).
        assert await target.list_senders() == await source.list_senders()
        # The target works on: new attempts get fresh ids, a kept receipt is still matched.
        claimed = await target.claim_due(START, 10, "w2", START + timedelta(minutes=1))
        assert len(claimed) == 3
        applied = await target.record(
            [
                store.Outcome(
                    message_id=m.id,
                    worker="w2",
                    status=Status.SENT,
                    finished_at=START,
                    attempt=messages.AttemptOutcome.SENT,
                    wamid="wamid.unknown" if i == 0 else f"wamid.{m.id}",
                )
                for i, m in enumerate(claimed)
            ]
        )
        assert applied == 3
        copied = await target.get(claimed[0].id)
        assert copied is not None
        assert copied.status == Status.READ
    finally:
        await source.close()
        await target.close()


def test_copy_refuses_a_source_that_is_not_migrated(tmp_path, empty_postgres_url):
    with pytest.raises(errors.ConfigurationError, match="db upgrade"):
        transfer.copy_database(f"sqlite:///{tmp_path / 'old.db'}", empty_postgres_url)
    with pytest.raises(errors.ConfigurationError, match="same database"):
        transfer.copy_database(empty_postgres_url, empty_postgres_url)


async def test_db_copy_command(sqlite_url, empty_postgres_url, make_message):
    await _seed(sqlite_url, make_message)
    password_url = empty_postgres_url.replace("postgres@", "postgres:s3cret@")  # trust auth
    done = await asyncio.to_thread(
        subprocess.run,
        [str(BIN), "db", "copy", "--from", sqlite_url, "--to", password_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "copy complete; counts verified" in done.stdout
    assert "messages" in done.stdout
    assert "s3cret" not in done.stdout + done.stderr  # never shown
