"""`whatsapp-scheduler db copy`: move a database's messages into another (SQLite -> PostgreSQL).

Copies every table that holds what the service knows (`TABLES`: the messages and their
attempts, receipts and edits, series, senders, API keys, the 24-hour windows, consent and its
history, the address book and its labels, campaigns, the template catalogue, the messaging
limit's bookings, the status events' outbox and the uploaded files) in keyset-ordered batches (by primary key),
each batch one transaction on the target with `ON CONFLICT DO NOTHING` (the windows keep the
later inbound time), so the copy is idempotent: run it again after an interruption and it fills in what is
missing. Row ids are kept (attempts and receipts too); PostgreSQL identity sequences are moved
past the copied ids afterwards. The target is migrated to head first; the source must already
be at head (`db upgrade` it), so both have the same columns. Finally every table's count is
compared: the target must hold at least the source's rows (exactly as many when it was empty).

Not copied (`NOT_COPIED`, each with its reason): dashboard sign-ins (sign in again), the
fleet's running state (rate buckets, pair gaps, workers) and SQLite's trigger-kept status
counts (the target's own triggers count the copied messages). A test fails when a table is in
neither list, so a new table cannot be forgotten here.

Stop the service that writes to the source first: rows written during the copy may be missed
(run the copy again), and a row copied while `sending` is recovered by the lease reaper there.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from whatsapp_scheduler.core import errors
from whatsapp_scheduler.store import engine as engine_mod
from whatsapp_scheduler.store import migrate, tables, urls

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 2000
#: The tables copied, in copy order; each is paged by its primary key (keyset paging).
TABLES: list[sa.Table] = [
    tables.messages,
    tables.attempts,
    tables.receipts,
    tables.message_edits,
    tables.series,
    tables.contacts,
    # Tokens stay encrypted as they are: the target is read with the same SECRET_KEY.
    tables.senders,
    tables.api_keys,  # key hashes only, as stored
    tables.consents,
    tables.consent_events,
    tables.contact_book,
    tables.contact_labels,
    tables.campaigns,
    tables.campaign_tallies,  # the funnel (inserts fire no trigger: copied as they are)
    tables.campaign_tally_deltas,
    tables.campaign_replies,
    tables.templates,
    tables.limit_contacts,
    tables.events,
    tables.media,  # uploaded files (a row each), their bytes and Meta's ids of them
    tables.media_chunks,
    tables.media_uploads,
]
#: Rows per batch where a row is large: a file chunk is 256 KB, so 8 are 2 MB in memory.
_BATCH_OF = {"media_chunks": 8}
#: Tables left out on purpose, and why (see the module docstring).
NOT_COPIED: dict[str, str] = {
    "dashboard_sessions": "sign-ins are per database: users sign in again",
    "rate_limits": "the running fleet's rate buckets",
    "pair_gaps": "the running fleet's per-recipient gaps",
    "workers": "the running fleet's heartbeats",
    "status_counts": "kept by the target's own triggers as the messages are copied",
}
#: Tables whose integer ids are copied as they are: their identity sequences move past them.
_IDENTITY_TABLES = (
    "attempts",
    "receipts",
    "message_edits",
    "consent_events",
    "events",
    "campaign_tally_deltas",
)


@dataclasses.dataclass(frozen=True, slots=True)
class TableCopy:
    """What happened to one table: rows read, rows newly written, and both final counts."""

    table: str
    read: int
    written: int
    source_count: int
    target_count: int

    @property
    def ok(self) -> bool:
        return self.target_count >= self.source_count


def source_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()


def copy_database(
    source_url: str,
    target_url: str,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> list[TableCopy]:
    """Copy every table from `source_url` into `target_url` (see the module docstring).

    `progress(table, rows_read_so_far)` is called after each batch. Raises ConfigurationError
    for an unusable pair of databases and StoreError when the counts do not match.
    """
    if urls.normalize_url(source_url) == urls.normalize_url(target_url):
        raise errors.ConfigurationError("--from and --to are the same database")
    try:
        results = _copy_all(source_url, target_url, batch_size, progress)
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0]
        raise errors.StoreError(f"database error: {reason}") from exc
    bad = [r for r in results if not r.ok]
    if bad:
        detail = ", ".join(f"{r.table}: {r.target_count} < {r.source_count}" for r in bad)
        raise errors.StoreError(f"copy incomplete ({detail}); run it again")
    return results


def _copy_all(
    source_url: str,
    target_url: str,
    batch_size: int,
    progress: Callable[[str, int], None] | None,
) -> list[TableCopy]:
    source = engine_mod.create_engine(source_url)
    try:
        revision, head = source_revision(source), head_revision()
        if revision != head:
            raise errors.ConfigurationError(
                f"the source database is at revision {revision}, not {head}: "
                "run `whatsapp-scheduler db upgrade` on it first"
            )
        migrate.upgrade(target_url)
        target = engine_mod.create_engine(target_url)
        try:
            results = [_copy_table(source, target, table, batch_size, progress) for table in TABLES]
            if target.dialect.name == "postgresql":
                _advance_identities(target)
        finally:
            target.dispose()
    finally:
        source.dispose()
    return results


def _copy_table(
    source: Engine,
    target: Engine,
    table: sa.Table,
    batch_size: int,
    progress: Callable[[str, int], None] | None,
) -> TableCopy:
    keys = list(table.primary_key.columns)
    insert = _insert(target, table)
    batch_size = min(batch_size, _BATCH_OF.get(table.name, batch_size))
    read = written = 0
    last: tuple[Any, ...] | None = None
    while True:
        query = sa.select(table).order_by(*keys).limit(batch_size)
        if last is not None and len(keys) == 1:
            query = query.where(keys[0] > last[0])
        elif last is not None:  # row values: (a, b) > (x, y), also on SQLite >= 3.15
            bound = [sa.literal(value, key.type) for key, value in zip(keys, last, strict=True)]
            query = query.where(sa.tuple_(*keys) > sa.tuple_(*bound))
        with source.connect() as conn:
            rows = [dict(row) for row in conn.execute(query).mappings()]
        if not rows:
            break
        with target.begin() as conn:
            written += len(conn.execute(insert, rows).all())
        read += len(rows)
        last = tuple(rows[-1][k.name] for k in keys)
        if progress is not None:
            progress(table.name, read)
    counts = []
    for engine in (source, target):
        with engine.connect() as conn:
            counts.append(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    logger.info("copied table", extra={"table": table.name, "read": read, "written": written})
    return TableCopy(table.name, read, written, counts[0], counts[1])


def _insert(target: Engine, table: sa.Table) -> Any:
    """INSERT ... ON CONFLICT for the target's dialect, returning the key of each new row."""
    module = postgresql if target.dialect.name == "postgresql" else sqlite
    stmt = module.insert(table)
    pk = list(table.primary_key.columns)
    if table is tables.contacts:
        stmt = stmt.on_conflict_do_update(
            index_elements=["phone_number_id", "wa_id"],
            set_={"last_inbound_at": stmt.excluded.last_inbound_at},
            where=table.c.last_inbound_at < stmt.excluded.last_inbound_at,
        )
    else:
        stmt = stmt.on_conflict_do_nothing()
    return stmt.returning(*pk)


def _advance_identities(target: Engine) -> None:
    """Explicit ids were inserted: move each identity sequence past the largest one."""
    with target.begin() as conn:
        for name in _IDENTITY_TABLES:
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT COALESCE(max(id), 0) + 1 FROM {name}), false)"
            )
