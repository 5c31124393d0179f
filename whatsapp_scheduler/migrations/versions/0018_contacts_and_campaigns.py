"""Contacts (the address book) and campaigns

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-03 08:00:00

`contact_book`: a contact's profile per sender and number (name, language, time zone, labels,
attributes; docs/contacts.md), and `contact_labels`, one row per label for the label filter.
New tables: nothing to copy; a downgrade drops them (the address book is lost, the window and
consent of each number stay in `contacts` and `consents`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0016"
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


def downgrade() -> None:
    op.drop_table("contact_labels")
    op.drop_table("contact_book")
