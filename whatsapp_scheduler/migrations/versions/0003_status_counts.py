"""status counts kept by triggers (SQLite)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 03:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUMP = (
    "INSERT INTO status_counts (status, n) VALUES ({col}.status, 1) "
    "ON CONFLICT (status) DO UPDATE SET n = n + 1;"
)
_DROP = "UPDATE status_counts SET n = n - 1 WHERE status = OLD.status;"

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN {_BUMP.format(col='NEW')} END",
    "CREATE TRIGGER messages_count_update AFTER UPDATE OF status ON messages "
    f"WHEN OLD.status != NEW.status BEGIN {_DROP} {_BUMP.format(col='NEW')} END",
    f"CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN {_DROP} END",
]


def upgrade() -> None:
    op.create_table(
        "status_counts",
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("status", name=op.f("pk_status_counts")),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "INSERT INTO status_counts (status, n) "
            "SELECT status, count(*) FROM messages GROUP BY status"
        )
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS messages_count_{name}")
    op.drop_table("status_counts")
