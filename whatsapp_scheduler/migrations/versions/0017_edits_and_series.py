"""edits of queued messages, recurring series

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 08:00:00

`message_edits`: every edit of a queued message (what changed, when, by which key).
`series`: a recurring message's rule, time zone, start and state; `messages.series_id` names
the series an occurrence belongs to (docs/series.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_edits",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_name", sa.String(length=64), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_edits")),
    )
    op.create_index("ix_message_edits_message_id", "message_edits", ["message_id"], unique=False)
    op.create_table(
        "series",
        sa.Column("id", sa.String(length=112), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("dtstart", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
    )
    # Plain ALTER TABLE (no batch copy on SQLite: that would drop 0003's count triggers).
    op.add_column("messages", sa.Column("series_id", sa.String(length=128), nullable=True))
    op.create_index("ix_messages_series_id", "messages", ["series_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_messages_series_id", table_name="messages")
    op.drop_column("messages", "series_id")  # SQLite >= 3.35 drops columns in place
    op.drop_table("series")
    op.drop_index("ix_message_edits_message_id", table_name="message_edits")
    op.drop_table("message_edits")
