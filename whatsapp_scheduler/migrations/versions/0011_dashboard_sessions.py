"""dashboard sessions that sign-out ends

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:10:00

A signed-in dashboard cookie names a row here (by the SHA-256 of its random id); signing out
deletes it, so the old cookie is refused at once instead of working for its 12 hours. Cookies
signed before this revision name no row: those browsers sign in again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_dashboard_sessions")),
    )


def downgrade() -> None:
    op.drop_table("dashboard_sessions")
