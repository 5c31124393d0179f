"""the key a dashboard session signed in with

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 16:30:00

`dashboard_sessions.key_name`: the API key (by name) a session signed in with; NULL is the
environment's API_KEY (and every session signed in before this revision). Revoking a key ends
its sessions. 0013 is another branch's revision: when both are merged, this one revises 0013.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("dashboard_sessions", sa.Column("key_name", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("dashboard_sessions", "key_name")  # SQLite >= 3.35 drops columns in place
