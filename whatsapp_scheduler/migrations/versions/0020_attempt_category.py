"""The category of each attempt, at send time

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 08:00:00

`attempts.category`: what Meta bills the send as (SERVICE for a text, else the template's
MARKETING, UTILITY or AUTHENTICATION as the synced catalogue held it at send time: Meta may
have re-categorised the template since the message was scheduled; docs/templates.md). Rows of
earlier attempts keep null (unknown). Downgrade drops the column and with it only that record.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("category", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("attempts", "category")  # SQLite >= 3.35 drops columns in place
