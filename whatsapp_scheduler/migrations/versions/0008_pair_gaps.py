"""fleet-wide per-recipient gap (PAIR_INTERVAL across instances)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 08:10:00

One row per (business number, recipient) messaged within the last PAIR_INTERVAL: `tat`, in
epoch seconds of the database's clock, is when the next message to that recipient may go out.
`sharedlimit.PostgresRateLimit` books it and prunes rows whose time has passed (the index on
`tat` serves the prune). Unused on SQLite (one process keeps the gap in memory).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pair_gaps",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("tat", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pair_gaps")),
    )
    op.create_index(op.f("ix_pair_gaps_tat"), "pair_gaps", ["tat"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pair_gaps_tat"), table_name="pair_gaps")
    op.drop_table("pair_gaps")
