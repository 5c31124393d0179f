"""cheaper status_counts triggers (SQLite): plain UPDATE instead of an upsert per row

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 05:40:00

The upsert in 0003's triggers (`INSERT ... ON CONFLICT DO UPDATE`) cost ~17 µs per inserted
row, half of a row's whole insert into `messages` (bench/RESULTS.md). An `INSERT OR IGNORE` of
a zero row followed by a plain `UPDATE` keeps the counts exact for any status, known or not,
at ~3 µs.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUMP = (
    "INSERT OR IGNORE INTO status_counts (status, n) VALUES (NEW.status, 0); "
    "UPDATE status_counts SET n = n + 1 WHERE status = NEW.status;"
)
_DROP = "UPDATE status_counts SET n = n - 1 WHERE status = OLD.status;"

TRIGGERS = {
    "insert": f"AFTER INSERT ON messages BEGIN {_BUMP} END",
    "update": f"AFTER UPDATE OF status ON messages WHEN OLD.status != NEW.status "
    f"BEGIN {_DROP} {_BUMP} END",
    "delete": f"AFTER DELETE ON messages BEGIN {_DROP} END",
}

# 0003's bodies, restored by downgrade.
_OLD_BUMP = (
    "INSERT INTO status_counts (status, n) VALUES (NEW.status, 1) "
    "ON CONFLICT (status) DO UPDATE SET n = n + 1;"
)
_OLD_TRIGGERS = {
    "insert": f"AFTER INSERT ON messages BEGIN {_OLD_BUMP} END",
    "update": f"AFTER UPDATE OF status ON messages WHEN OLD.status != NEW.status "
    f"BEGIN {_DROP} {_OLD_BUMP} END",
}


def _replace(triggers: dict[str, str]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # status_counts is kept on SQLite only
    for name, body in triggers.items():
        op.execute(f"DROP TRIGGER IF EXISTS messages_count_{name}")
        op.execute(f"CREATE TRIGGER messages_count_{name} {body}")


def upgrade() -> None:
    _replace(TRIGGERS)


def downgrade() -> None:
    _replace(_OLD_TRIGGERS)
