"""live dispatchers: a worker's death is known at once, not when its leases expire

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:30:00

On PostgreSQL each dispatcher registers here and holds a session-level advisory lock for its
life (`store/workers.py`); another dispatcher that finds the lock free knows the owner died and
recovers its claims at once. A new table: nothing is rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("lock_key", sa.BigInteger(), nullable=False),
        sa.Column("server_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_workers")),
    )


def downgrade() -> None:
    op.drop_table("workers")
