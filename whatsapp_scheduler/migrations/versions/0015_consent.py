"""consent per contact and business number, its history, and why a message is cancelled

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 12:00:00

`consents`: a contact's standing opt-outs with one business number (everything / marketing
only, each with since when and its source) and Meta's last 131026 for the number.
`consent_events`: every change, with the number of queued messages it cancelled.
`messages.category`: the template's category when known at schedule time (a marketing-only
opt-out cancels MARKETING ones); `messages.status_reason`: why (e.g. `opted_out`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("phone_number_id", sa.String(length=32), nullable=False),
        sa.Column("wa_id", sa.String(length=32), nullable=False),
        sa.Column("all_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("all_out_source", sa.String(length=24), nullable=True),
        sa.Column("marketing_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("marketing_out_source", sa.String(length=24), nullable=True),
        sa.Column("undeliverable_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone_number_id", "wa_id", name=op.f("pk_consents")),
    )
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("phone_number_id", sa.String(length=32), nullable=False),
        sa.Column("wa_id", sa.String(length=32), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    op.create_index(
        "ix_consent_events_phone_number_id_wa_id_id",
        "consent_events",
        ["phone_number_id", "wa_id", "id"],
        unique=False,
    )
    # Plain ALTER TABLE (no batch copy on SQLite: that would drop 0003's count triggers).
    op.add_column("messages", sa.Column("category", sa.String(length=16), nullable=True))
    op.add_column("messages", sa.Column("status_reason", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "status_reason")  # SQLite >= 3.35 drops columns in place
    op.drop_column("messages", "category")
    op.drop_index("ix_consent_events_phone_number_id_wa_id_id", table_name="consent_events")
    op.drop_table("consent_events")
    op.drop_table("consents")
