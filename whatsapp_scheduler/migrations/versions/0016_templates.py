"""Meta's template catalogue

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 10:00:00

`templates`: the templates of each WhatsApp Business Account, synced from Meta's
`GET /{WABA-ID}/message_templates` and updated by the template webhooks (docs/templates.md),
keyed by (waba_id, name, language). A new table: nothing to copy, nothing lost on downgrade
but what the next sync brings back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("waba_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("template_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("parameter_format", sa.String(length=16), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("quality", sa.String(length=16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("waba_id", "name", "language", name="pk_templates"),
    )


def downgrade() -> None:
    op.drop_table("templates")
