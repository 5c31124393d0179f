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

from tests import media_files
from tests.conftest import START
from tests.integration.conftest import _admin, _with_database, postgres_server_url
from whatsapp_scheduler import store
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.core.senders import Sender
from whatsapp_scheduler.store import sql, tables, transfer

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
    assert counts == {t.name: (0, 0, 0) for t in transfer.TABLES} | {
        "messages": (10, 10, 10),
        "attempts": (4, 4, 4),
        "receipts": (3, 3, 3),
        "contacts": (2, 2, 2),
        "senders": (1, 1, 1),
    }
    again = transfer.copy_database(sqlite_url, empty_postgres_url, batch_size=4)
    assert [r.written for r in again] == [0] * len(
        transfer.TABLES
    )  # resumable: nothing written twice

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


def test_every_table_is_copied_or_left_out_for_a_stated_reason():
    """A new table must be added to `transfer.TABLES` (or to `NOT_COPIED`, with why): else a
    move to PostgreSQL would silently lose what it holds."""
    from whatsapp_scheduler.store import tables

    copied = {t.name for t in transfer.TABLES}
    assert copied.isdisjoint(transfer.NOT_COPIED)
    assert set(tables.metadata.tables) == copied | set(transfer.NOT_COPIED)


def _rows(url: str) -> dict[str, list[dict[str, object]]]:
    """Every copied table's rows, ordered by primary key."""
    import sqlalchemy as sa

    from whatsapp_scheduler.store import engine as engine_mod

    engine = engine_mod.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [
                    dict(r)
                    for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns)).mappings()
                ]
                for t in transfer.TABLES
            }
    finally:
        engine.dispose()


async def test_what_the_service_knows_arrives_row_for_row(
    make_settings, clock, sqlite_url, empty_postgres_url, make_message
):
    """Series, edits, keys, consent and its history, the address book, campaigns, templates,
    the limit's bookings and the outbox: made through the API (and the store where no endpoint
    writes them), copied, and every row equal on PostgreSQL; a second copy writes nothing."""
    from tests.integration.conftest import served_api
    from whatsapp_scheduler.core.catalogue import CatalogueTemplate
    from whatsapp_scheduler.store import migrate

    await asyncio.to_thread(migrate.upgrade, sqlite_url)
    settings = make_settings(database_url=sqlite_url)
    async with served_api(settings, clock, sqlite_url) as api:
        weekly = {
            "id": "weekly",
            "alici": "+905551234567",
            "tarih": "2026-03-02",
            "saat": "09:00",
            "mesaj": "Haftalık",
            "tekrar": "FREQ=WEEKLY;COUNT=5",
        }
        assert (await api.post("/schedule", json=weekly)).status_code == 200
        one = {"id": "one", "alici": "+905551234568", "tarih": "2026-03-02", "saat": "10:00"}
        assert (await api.post("/schedule", json=one | {"mesaj": "Tek"})).status_code == 200
        assert (await api.patch("/schedule/one", json={"saat": "11:00"})).status_code == 200
        contacts = [
            {"phone": "+905551110001", "name": "Ayşe", "labels": ["vip", "x"]},
            {"phone": "+905551110002", "attributes": {"city": "İzmir"}},
        ]
        assert (await api.post("/contacts", json={"contacts": contacts})).status_code == 200
        consent = await api.put("/contacts/+905551110002/consent", json={"consent": "opted_out"})
        assert consent.status_code == 200, consent.text
        campaign = {
            "name": "c1",
            "mesaj": "Merhaba {{name|}}",
            "audience": {"labels": ["vip"]},
            "tarih": "2026-03-03",
            "saat": "09:00",
        }
        made = await api.post("/campaigns", json=campaign)
        assert made.status_code in (200, 201), made.text
        from whatsapp_scheduler.core import campaigns

        paused = await api.store.set_campaign_state(
            made.json()["id"], campaigns.Action.PAUSE, START
        )
        assert paused == 1  # a change of the funnel not yet folded (campaign_tally_deltas)
        # A reply to it (campaign_replies): its message sent, then the contact's answer.
        with api.store._engine.begin() as conn:
            conn.execute(
                tables.messages.update()
                .where(tables.messages.c.campaign_id == made.json()["id"])
                .values(status="sent", sent_at=START)
            )
        replies = [("+905551110001", START + timedelta(minutes=5))]
        assert await api.store.record_replies(replies, None, timedelta(hours=72)) == 1
        assert (await api.post("/keys", json={"name": "app", "scope": "write"})).status_code == 201
        await api.store.replace_templates(
            "waba1",
            [
                CatalogueTemplate(
                    waba_id="waba1",
                    name="randevu",
                    language="tr",
                    status="APPROVED",
                    category="UTILITY",
                    parameter_format="POSITIONAL",
                    components=({"type": "BODY", "text": "Saat {{1}}"},),
                    updated_at=START,
                )
            ],
        )
        await api.store.book_contacts("number:1", ["905551234567"], 250, START)
        data = media_files.pdf(size=600 * 1024)  # three chunks
        uploaded = await api.post("/media", files={"file": ("f.pdf", data, "application/pdf")})
        assert uploaded.status_code == 201, uploaded.text
        media_id = uploaded.json()["id"]
        await api.store.save_meta_media_id(media_id, "1", "4490709327384033", START)
    await _seed(sqlite_url, make_message)  # attempts, receipts, windows, a sender
    evented = sql.SqlMessageStore.from_url(sqlite_url, events_enabled=True)
    await evented.cancel("one", START)  # a status event in the outbox
    await evented.close()
    before = _rows(sqlite_url)
    empty = [name for name, rows in before.items() if not rows]
    assert empty == [], f"the test seeds nothing into {empty}"
    transfer.copy_database(sqlite_url, empty_postgres_url, batch_size=1)  # paging exercised
    assert _rows(empty_postgres_url) == before
    again = transfer.copy_database(sqlite_url, empty_postgres_url, batch_size=2)
    assert [r.written for r in again] == [0] * len(transfer.TABLES)
