"""The campaign and media indexes of `messages` hold only the rows that have one

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 23:55:00

`ix_messages_campaign_id_status_id`, `ix_messages_campaign_id_id`,
`ix_messages_campaign_id_sent_at` and `ix_messages_media_id` become partial indexes (`WHERE
campaign_id IS NOT NULL`, `WHERE media_id IS NOT NULL`; SQLite and PostgreSQL alike). Every
query that reads them asks for one campaign or one file (`campaign_id = ?`, `media_id = ?`,
`media_id IS NOT NULL`), which implies the condition, so each still uses its index; a message
of no campaign and no file (most of them) no longer has four entries there. Such an entry was
kept in place on every insert, and on every change of status or sent time: a series' next
occurrence, inserted in the claim's transaction at a place of its id among the NULL entries
of `(campaign_id, id)` and `(campaign_id, status, id)`, cost the claim a page of each
(bench/RESULTS.md, issue 20). The indexes are built again from the table (on a large
PostgreSQL table: a write lock on `messages` while they are). Downgrade restores the full
indexes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: name -> (columns, the column the partial index requires)
_INDEXES = {
    "ix_messages_campaign_id_status_id": (["campaign_id", "status", "id"], "campaign_id"),
    "ix_messages_campaign_id_id": (["campaign_id", "id"], "campaign_id"),
    "ix_messages_campaign_id_sent_at": (["campaign_id", "sent_at"], "campaign_id"),
    "ix_messages_media_id": (["media_id"], "media_id"),
}


def upgrade() -> None:
    for name, (columns, required) in _INDEXES.items():
        where = sa.text(f"{required} IS NOT NULL")
        op.drop_index(name, table_name="messages")
        op.create_index(
            name, "messages", columns, unique=False, sqlite_where=where, postgresql_where=where
        )


def downgrade() -> None:
    for name, (columns, _required) in _INDEXES.items():
        op.drop_index(name, table_name="messages")
        op.create_index(name, "messages", columns, unique=False)
