"""Quiet hours

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 08:00:00

`messages.quiet_hours`: false for a message sent at the time asked even inside quiet hours
(a one-time code); NULL keeps them. `senders.messaging_limit`: its portfolio's daily messaging limit (NULL: MESSAGING_LIMIT).
`senders.quiet_hours`: a sender's own window
(`HH:MM-HH:MM`, or `off`); NULL: the QUIET_HOURS setting (docs/limits.md). Two nullable
columns: nothing to copy, nothing lost on downgrade but the overrides. `limit_contacts`: the
contacts each business portfolio reached with a template outside their 24-hour window, for the
daily messaging limit (MESSAGING_LIMIT); a new table, nothing lost on downgrade but the last
24 h of bookings.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE (no batch copy on SQLite: that would drop 0003's count triggers).
    op.add_column("messages", sa.Column("quiet_hours", sa.Boolean(), nullable=True))
    op.add_column("senders", sa.Column("quiet_hours", sa.String(length=16), nullable=True))
    op.add_column("senders", sa.Column("messaging_limit", sa.String(length=16), nullable=True))
    op.create_table(
        "limit_contacts",
        sa.Column("portfolio", sa.String(length=64), nullable=False),
        sa.Column("wa_id", sa.String(length=32), nullable=False),
        sa.Column("reached_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("portfolio", "wa_id", name=op.f("pk_limit_contacts")),
    )
    op.create_index(
        "ix_limit_contacts_portfolio_reached_at",
        "limit_contacts",
        ["portfolio", "reached_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_limit_contacts_portfolio_reached_at", table_name="limit_contacts")
    op.drop_table("limit_contacts")
    op.drop_column("senders", "messaging_limit")
    op.drop_column("senders", "quiet_hours")  # SQLite >= 3.35 drops columns in place
    op.drop_column("messages", "quiet_hours")
