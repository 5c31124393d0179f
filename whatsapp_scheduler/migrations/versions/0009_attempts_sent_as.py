"""what each attempt asked Meta to deliver: the text, the template or the fallback template

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 08:30:00

Under WINDOW_POLICY=template a text whose 24-hour window is closed goes out as its fallback
template; `GET /status` and the dashboard now say so. Attempts recorded before this revision
have no value (null: unknown). A plain ADD COLUMN: no table is rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("sent_as", sa.String(length=24), nullable=True))


def downgrade() -> None:
    op.drop_column("attempts", "sent_as")
