"""SQLite: no `ix_messages_series_id`; a series' occurrences are a range of the primary key

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 04:10:00

An occurrence's id is `<series id>@YYYYMMDDTHHMMSS`. In SQLite's binary text order the ids
that start with `<series id>@` are exactly those from `<series id>@` up to, not including,
`<series id>A` (`@` is 0x40, `A` 0x41): the queries of a series' occurrences read that range
of the primary key's index and keep `series_id = ?` as a filter (`store.sql_series`). The
index of `series_id` is dropped there: each new occurrence, inserted in the claim's
transaction at its series' place in that index (a different page for each), kept an entry
the claim paid for. PostgreSQL keeps the index: its text order is the database's collation,
in which such a range is not a prefix's. Downgrade builds it again on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_messages_series_id", table_name="messages")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_messages_series_id", "messages", ["series_id"], unique=False)
