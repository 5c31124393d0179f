"""per-sender claims, and the 24-hour window per business number

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 17:00:00

`ix_messages_status_sender_run_at`: the dispatcher claims each sender's due rows on its own
(`claim_due(senders=[name])`), so one sender's backlog or pause never holds back another's.

`contacts` is keyed by (phone_number_id, wa_id): a 24-hour window is between a contact and one
business number. The rows before this revision have no number: they keep phone_number_id ''
(the default sender's number, the environment's PHONE_NUMBER_ID), which the window check of
the default sender reads beside its own number. `contacts` is rebuilt on SQLite (a batch copy;
it has no triggers), altered in place on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_status_sender_run_at",
        "messages",
        ["status", "sender", "run_at"],
        unique=False,
    )
    with op.batch_alter_table("contacts", recreate="auto") as batch:
        batch.add_column(
            sa.Column("phone_number_id", sa.String(length=32), nullable=False, server_default="")
        )
        batch.drop_constraint("pk_contacts", type_="primary")
        batch.create_primary_key("pk_contacts", ["phone_number_id", "wa_id"])


def downgrade() -> None:
    # Back to one row per contact: the latest inbound time over every number.
    op.execute(
        "DELETE FROM contacts WHERE EXISTS (SELECT 1 FROM contacts AS c2 "
        "WHERE c2.wa_id = contacts.wa_id AND (c2.last_inbound_at > contacts.last_inbound_at "
        "OR (c2.last_inbound_at = contacts.last_inbound_at "
        "AND c2.phone_number_id < contacts.phone_number_id)))"
    )
    with op.batch_alter_table("contacts", recreate="auto") as batch:
        batch.drop_constraint("pk_contacts", type_="primary")
        batch.drop_column("phone_number_id")
        batch.create_primary_key("pk_contacts", ["wa_id"])
    op.drop_index("ix_messages_status_sender_run_at", table_name="messages")
