"""Contacts (the address book) and campaigns

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 08:00:00

`contact_book`: a contact's profile per sender and number (name, language, time zone, labels,
attributes; docs/contacts.md), and `contact_labels`, one row per label for the label filter.
`campaigns` (docs/campaigns.md), and `messages.campaign_id` with two indexes: a campaign's
messages by status (pause, resume, cancel, the funnel) and in id order (its recipients).
New tables and a nullable column: nothing to copy. A downgrade drops them (the address book
and the campaigns are lost; their messages stay as plain messages, and the window and consent
of each number stay in `contacts` and `consents`). A message `paused` at downgrade would never
be sent by the older code: resume or cancel campaigns first.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_book",
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender", "phone", name="pk_contact_book"),
    )
    op.create_table(
        "contact_labels",
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("sender", "label", "phone", name="pk_contact_labels"),
    )

    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("shifted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
    )
    op.create_index(
        "ix_campaigns_sender_created_at", "campaigns", ["sender", "created_at"], unique=False
    )
    # Plain ALTER TABLE (no batch copy on SQLite: that would drop 0003's count triggers).
    op.add_column("messages", sa.Column("campaign_id", sa.String(length=32), nullable=True))
    op.create_index(
        "ix_messages_campaign_id_status_id",
        "messages",
        ["campaign_id", "status", "id"],
        unique=False,
    )
    op.create_index("ix_messages_campaign_id_id", "messages", ["campaign_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_messages_campaign_id_id", table_name="messages")
    op.drop_index("ix_messages_campaign_id_status_id", table_name="messages")
    op.drop_column("messages", "campaign_id")  # SQLite >= 3.35 drops columns in place
    op.drop_index("ix_campaigns_sender_created_at", table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_table("contact_labels")
    op.drop_table("contact_book")
