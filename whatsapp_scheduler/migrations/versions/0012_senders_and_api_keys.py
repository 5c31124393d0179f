"""senders (business numbers), scoped API keys, and who sends and created each message

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 16:00:00

`senders`: the business numbers kept in the database (the environment's PHONE_NUMBER_ID is the
sender `default` and has no row); `token_encrypted` is the access token encrypted with
SECRET_KEY (Fernet). `api_keys`: keys made with `whatsapp-scheduler keys create`; only the
SHA-256 of a key is stored. `messages.sender` names the sender of a message (rows before this
revision were sent by the only number there was: `default`); `messages.created_by` names the
key that created it (NULL: the environment's API_KEY, or before this revision).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "senders",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("phone_number_id", sa.String(length=32), nullable=False),
        sa.Column("waba_id", sa.String(length=32), nullable=True),
        sa.Column("portfolio", sa.String(length=32), nullable=True),
        sa.Column("token_encrypted", sa.Text(), nullable=False),
        sa.Column("messages_per_second", sa.Float(), nullable=True),
        sa.Column("pair_interval", sa.Float(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_senders")),
        sa.UniqueConstraint("phone_number_id", name=op.f("uq_senders_phone_number_id")),
    )
    op.create_table(
        "api_keys",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("senders", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    # Plain ALTER TABLE (no batch copy on SQLite: that would drop 0003's count triggers).
    op.add_column(
        "messages",
        sa.Column("sender", sa.String(length=32), nullable=False, server_default="default"),
    )
    op.add_column("messages", sa.Column("created_by", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_messages_sender_due_at_id", "messages", ["sender", "due_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_messages_sender_due_at_id", table_name="messages")
    op.drop_column("messages", "created_by")  # SQLite >= 3.35 drops columns in place
    op.drop_column("messages", "sender")
    op.drop_table("api_keys")
    op.drop_table("senders")
