"""Messages of other types than text and template

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 14:00:00

`messages.content`: an image, video, audio, document, sticker, location, contacts or
interactive message in Meta's shape, `{"type": T, T: {...}}` (docs/message-types.md); NULL for
a text (`body`) or a template. Downgrade drops the column, and with it those messages' content:
send or cancel them first (a row with neither body nor template is unreadable to older code).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("content", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "content")  # SQLite >= 3.35 drops columns in place
