"""A campaign's funnel kept by triggers, not counted per request

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 13:40:00

`campaign_tally_deltas`: every change of a campaign message's status (or of the detail the
funnel splits it by: Meta's error code of a failed one, the reason of a cancelled one) appends
-1 for what it was and +1 for what it is, by a trigger on `messages` (SQLite and PostgreSQL),
so no two writers ever update one counter row (no hot row, no lock order to get wrong); a
deleted message appends -1. Inserts have no trigger: `create_campaign`, the one place campaign
messages are inserted, adds its rows to the tallies in its own transaction (a trigger would
write a delta row per recipient).
`campaign_tallies`: the deltas folded in (`store/sql_campaigns.py`, `fold_campaign_tallies`, a
timed job of the dispatcher). A funnel is the tallies plus the deltas not yet folded: a few
index reads, whatever the campaign's size (docs/campaigns.md, "The funnel"). The upgrade fills
the tallies from the messages already there; the index on (campaign_id, sent_at) gives the
first and last send without scanning. Downgrade drops the triggers, the tables and the index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def detail(row: str, dialect: str) -> str:
    """The funnel's split of a status: Meta's code of a failed message, the reason of a
    cancelled one, else ''."""
    code = (
        f"CAST({row}.last_error_code AS TEXT)"
        if dialect == "sqlite"
        else (f"{row}.last_error_code::text")
    )
    return (
        f"(CASE WHEN {row}.status = 'failed' THEN COALESCE({code}, '') "
        f"WHEN {row}.status = 'cancelled' THEN COALESCE({row}.status_reason, '') ELSE '' END)"
    )


_COLUMNS = "campaign_tally_deltas (campaign_id, status, detail, delta)"


def _sqlite_triggers() -> list[str]:
    old, new = detail("OLD", "sqlite"), detail("NEW", "sqlite")
    add_new = (
        f"INSERT INTO {_COLUMNS} SELECT NEW.campaign_id, NEW.status, {new}, 1 "
        "WHERE NEW.campaign_id IS NOT NULL;"
    )
    drop_old = (
        f"INSERT INTO {_COLUMNS} SELECT OLD.campaign_id, OLD.status, {old}, -1 "
        "WHERE OLD.campaign_id IS NOT NULL;"
    )
    return [
        "CREATE TRIGGER campaign_tally_update "
        "AFTER UPDATE OF status, last_error_code, status_reason, campaign_id ON messages "
        "WHEN (OLD.campaign_id IS NOT NULL OR NEW.campaign_id IS NOT NULL) AND "
        f"(OLD.campaign_id IS NOT NEW.campaign_id OR OLD.status IS NOT NEW.status OR {old} IS NOT {new}) "
        f"BEGIN {drop_old} {add_new} END",
        "CREATE TRIGGER campaign_tally_delete AFTER DELETE ON messages "
        f"WHEN OLD.campaign_id IS NOT NULL BEGIN {drop_old} END",
    ]


def _postgres_statements() -> list[str]:
    old, new = detail("OLD", "postgresql"), detail("NEW", "postgresql")
    return [
        f"""CREATE FUNCTION campaign_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.campaign_id IS NOT NULL THEN
        INSERT INTO {_COLUMNS} VALUES (OLD.campaign_id, OLD.status, {old}, -1);
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.campaign_id IS NOT NULL THEN
        INSERT INTO {_COLUMNS} VALUES (NEW.campaign_id, NEW.status, {new}, 1);
    END IF;
    RETURN NULL;
END $$""",
        "CREATE TRIGGER campaign_tally_update AFTER UPDATE ON messages FOR EACH ROW "
        "WHEN ((OLD.campaign_id IS NOT NULL OR NEW.campaign_id IS NOT NULL) AND "
        "(OLD.campaign_id IS DISTINCT FROM NEW.campaign_id OR OLD.status IS DISTINCT FROM "
        f"NEW.status OR {old} IS DISTINCT FROM {new})) EXECUTE FUNCTION campaign_tally()",
        "CREATE TRIGGER campaign_tally_delete AFTER DELETE ON messages FOR EACH ROW "
        "WHEN (OLD.campaign_id IS NOT NULL) EXECUTE FUNCTION campaign_tally()",
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "campaign_tallies",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=64), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "campaign_id", "status", "detail", name=op.f("pk_campaign_tallies")
        ),
    )
    op.create_table(
        "campaign_tally_deltas",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=64), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_tally_deltas")),
    )
    op.create_index(
        "ix_campaign_tally_deltas_campaign_id", "campaign_tally_deltas", ["campaign_id"]
    )
    op.create_index("ix_messages_campaign_id_sent_at", "messages", ["campaign_id", "sent_at"])
    op.execute(
        "INSERT INTO campaign_tallies (campaign_id, status, detail, n) "
        f"SELECT campaign_id, status, {detail('messages', dialect)}, count(*) FROM messages "
        f"WHERE campaign_id IS NOT NULL GROUP BY campaign_id, status, {detail('messages', dialect)}"
    )
    statements = _sqlite_triggers() if dialect == "sqlite" else _postgres_statements()
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name in ("update", "delete"):
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS campaign_tally_{name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS campaign_tally_{name} ON messages")
    if dialect != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS campaign_tally()")
    op.drop_index("ix_messages_campaign_id_sent_at", table_name="messages")
    op.drop_index("ix_campaign_tally_deltas_campaign_id", table_name="campaign_tally_deltas")
    op.drop_table("campaign_tally_deltas")
    op.drop_table("campaign_tallies")
