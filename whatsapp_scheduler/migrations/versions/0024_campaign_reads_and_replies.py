"""A campaign's funnel: how long after the send each message was read, and its replies

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 14:30:00

The funnel's `detail` of a `read` message becomes the bucket of its time to read: the whole
seconds from `sent_at` to `read_at` (the difference of the two times' whole Unix seconds) put
in a ladder of bounds about 10 % apart, from 1 s to 30 days, as its lower bound ('' when either
time is missing). The triggers of revision 0021 are replaced by the same ones with this detail
(and on SQLite they also fire on a change of `sent_at` or `read_at`), so the funnel keeps ~150
counters of reads by time, whatever the campaign's size, and its median time to read is read
from them (docs/campaigns.md, "The funnel"). On PostgreSQL the ladder is the IMMUTABLE function
`campaign_read_bucket(bigint)`.

`campaign_replies`: one row per campaign message its recipient answered (an inbound message
from that contact to that sender within the reply window after the send); the first reply of
a message appends a `replied` delta to the tallies. The upgrade counts the tallies again from
the messages (the read buckets are new), and starts with no replies. Downgrade restores
revision 0021's triggers and counts, and drops the replies.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "campaign_tally_deltas (campaign_id, status, detail, delta)"


def _bounds() -> list[int]:
    """The ladder (core/campaigns.py's READ_BOUNDS, written out here so that this revision
    never changes with the application's code)."""
    found = list(range(0, 11))
    while found[-1] < 30 * 86400:
        found.append(max(found[-1] + 1, round(found[-1] * 1.1)))
    return found


def _ladder(seconds: str) -> str:
    """The bucket of `seconds` (an SQL integer expression, evaluated once per WHEN)."""
    bounds = _bounds()
    whens = " ".join(
        f"WHEN {seconds} < {bounds[i + 1]} THEN '{bounds[i]}'" for i in range(len(bounds) - 1)
    )
    return f"CASE {whens} ELSE '{bounds[-1]}' END"


def _read_seconds(row: str, dialect: str) -> str:
    if dialect == "sqlite":
        return (
            f"(CAST(strftime('%s', {row}.read_at) AS INTEGER) - "
            f"CAST(strftime('%s', {row}.sent_at) AS INTEGER))"
        )
    return (
        f"(floor(extract(epoch FROM {row}.read_at))::bigint - "
        f"floor(extract(epoch FROM {row}.sent_at))::bigint)"
    )


def _read_detail(row: str, dialect: str) -> str:
    if dialect == "sqlite":
        # A scalar subquery: the seconds are computed once, not once per step of the ladder.
        bucket = f"(SELECT {_ladder('s')} FROM (SELECT {_read_seconds(row, dialect)} AS s))"
    else:
        bucket = f"campaign_read_bucket({_read_seconds(row, dialect)})"
    return f"(CASE WHEN {row}.read_at IS NULL OR {row}.sent_at IS NULL THEN '' ELSE {bucket} END)"


def detail(row: str, dialect: str, reads: bool = True) -> str:
    code = (
        f"CAST({row}.last_error_code AS TEXT)"
        if dialect == "sqlite"
        else (f"{row}.last_error_code::text")
    )
    read = f"WHEN {row}.status = 'read' THEN {_read_detail(row, dialect)} " if reads else ""
    return (
        f"(CASE WHEN {row}.status = 'failed' THEN COALESCE({code}, '') "
        f"WHEN {row}.status = 'cancelled' THEN COALESCE({row}.status_reason, '') "
        f"{read}ELSE '' END)"
    )


def _sqlite_triggers(reads: bool) -> list[str]:
    old, new = detail("OLD", "sqlite", reads), detail("NEW", "sqlite", reads)
    add_new = (
        f"INSERT INTO {_COLUMNS} SELECT NEW.campaign_id, NEW.status, {new}, 1 "
        "WHERE NEW.campaign_id IS NOT NULL;"
    )
    drop_old = (
        f"INSERT INTO {_COLUMNS} SELECT OLD.campaign_id, OLD.status, {old}, -1 "
        "WHERE OLD.campaign_id IS NOT NULL;"
    )
    columns = "status, last_error_code, status_reason, campaign_id"
    if reads:
        columns += ", sent_at, read_at"
    return [
        "CREATE TRIGGER campaign_tally_update "
        f"AFTER UPDATE OF {columns} ON messages "
        "WHEN (OLD.campaign_id IS NOT NULL OR NEW.campaign_id IS NOT NULL) AND "
        f"(OLD.campaign_id IS NOT NEW.campaign_id OR OLD.status IS NOT NEW.status OR {old} IS NOT {new}) "
        f"BEGIN {drop_old} {add_new} END",
        "CREATE TRIGGER campaign_tally_delete AFTER DELETE ON messages "
        f"WHEN OLD.campaign_id IS NOT NULL BEGIN {drop_old} END",
    ]


def _postgres_statements(reads: bool) -> list[str]:
    old, new = detail("OLD", "postgresql", reads), detail("NEW", "postgresql", reads)
    made = []
    if reads:
        made.append(
            "CREATE FUNCTION campaign_read_bucket(seconds bigint) RETURNS text "
            f"LANGUAGE sql IMMUTABLE AS $$ SELECT {_ladder('seconds')} $$"
        )
    return [
        *made,
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


def _drop_triggers(dialect: str) -> None:
    for name in ("update", "delete"):
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS campaign_tally_{name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS campaign_tally_{name} ON messages")
    if dialect != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS campaign_tally()")
        op.execute("DROP FUNCTION IF EXISTS campaign_read_bucket(bigint)")


def _recount(dialect: str, reads: bool) -> None:
    """The tallies counted again from the messages (the deltas are in them)."""
    op.execute("DELETE FROM campaign_tally_deltas")
    op.execute("DELETE FROM campaign_tallies")
    split = detail("messages", dialect, reads)
    op.execute(
        "INSERT INTO campaign_tallies (campaign_id, status, detail, n) "
        f"SELECT campaign_id, status, {split}, count(*) FROM messages "
        f"WHERE campaign_id IS NOT NULL GROUP BY campaign_id, status, {split}"
    )


def _install(dialect: str, reads: bool) -> None:
    _drop_triggers(dialect)
    statements = _sqlite_triggers(reads) if dialect == "sqlite" else _postgres_statements(reads)
    for statement in statements:
        op.execute(statement)
    _recount(dialect, reads)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "campaign_replies",
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_campaign_replies")),
    )
    op.create_index("ix_campaign_replies_campaign_id", "campaign_replies", ["campaign_id"])
    _install(dialect, reads=True)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _install(dialect, reads=False)
    op.drop_index("ix_campaign_replies_campaign_id", table_name="campaign_replies")
    op.drop_table("campaign_replies")
