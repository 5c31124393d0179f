"""Uploaded files: media, their chunks, Meta's ids per number; messages.media_id

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 18:30:00

`media` (one row per uploaded file; `location` set when its bytes are in an object store),
`media_chunks` (its bytes, 256 KB a row) and
`media_uploads` (Meta's id of a file per phone number, with its expiry); `messages.media_id`,
the file of ours a message sends (docs/media.md). No message names a file of ours before this
revision (`med_` ids did not exist), so the column starts NULL everywhere. Downgrade drops the
files: a queued message naming one would then be sent with an id Meta does not know (131053):
send or cancel them first.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("mime", sa.String(128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("location", sa.String(1024), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_media"),
    )
    op.create_index("ix_media_created_at", "media", ["created_at"])
    op.create_table(
        "media_chunks",
        sa.Column("media_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("media_id", "seq", name="pk_media_chunks"),
    )
    op.create_table(
        "media_uploads",
        sa.Column("media_id", sa.String(64), nullable=False),
        sa.Column("phone_number_id", sa.String(32), nullable=False),
        sa.Column("meta_id", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("media_id", "phone_number_id", name="pk_media_uploads"),
    )
    op.add_column("messages", sa.Column("media_id", sa.String(64), nullable=True))
    op.create_index("ix_messages_media_id", "messages", ["media_id"])


def downgrade() -> None:
    op.drop_index("ix_messages_media_id", table_name="messages")
    op.drop_column("messages", "media_id")
    op.drop_table("media_uploads")
    op.drop_table("media_chunks")
    op.drop_index("ix_media_created_at", table_name="media")
    op.drop_table("media")
