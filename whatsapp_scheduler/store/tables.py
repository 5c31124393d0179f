"""The single schema declaration (SQLAlchemy Core). Alembic revisions are written against it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Index and constraint names are explicit so migrations and `alembic check` stay stable.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


#: SQLAlchemy's SQLite `DATETIME` storage format (`sqlalchemy.dialects.sqlite.DATETIME`).
_SQLITE_TIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend.

    PostgreSQL stores `timestamptz`. SQLite has no time zones: values are stored as naive UTC
    text (which sorts correctly) and given back their UTC tzinfo on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, `process_bind_param` and the SQLite type's own text format in one step
        (a third of the cost; the dispatcher binds several times per message). The text is
        SQLAlchemy's `DATETIME` storage format, character for character (a unit test holds
        it equal to the two steps)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the store; use aware UTC")
            if value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            return _SQLITE_TIME % (
                value.year,
                value.month,
                value.day,
                value.hour,
                value.minute,
                value.second,
                value.microsecond,
            )

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class Unreadable:
    """A stored value its column's type cannot read: on SQLite any text fits any column, so a
    row written into the file by hand (or by an old version) can hold `due_at='garbage'`.
    `LenientUtcDateTime` answers this marker instead of raising in the middle of a fetch (which lost every row of the read, and failed every list, page
    and claim that met the row); the readers of `messages` and `attempts` then skip the row or
    settle it, naming the column (`rows.py`, `sql.py`). PostgreSQL's types cannot hold such
    values. (A JSON column's unreadable text is read as `engine.UNREADABLE_JSON` instead.)"""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def __repr__(self) -> str:
        return f"Unreadable({str(self.raw)[:40]!r})"


def _lenient(strict: Any) -> Any:
    """`strict` (a result processor) answering `Unreadable` for a value it cannot read."""
    if strict is None:
        return None

    def process(value: Any) -> Any:
        try:
            return strict(value)
        except (ValueError, TypeError, OverflowError):
            return Unreadable(value)

    return process


class LenientUtcDateTime(UtcDateTime):
    """`UtcDateTime` that reads an unparseable stored text as `Unreadable` (see there).

    `result_processor` is overridden, against SQLAlchemy's advice to implement only
    `process_result_value`, because the parse that fails is the dialect's own (SQLite's
    `str_to_datetime`), which runs before `process_result_value` is called."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        return _lenient(super().result_processor(dialect, coltype))


def _partial(column: str) -> dict[str, Any]:
    """An index of the rows whose `column` is not NULL, on either backend."""
    where = sa.text(f"{column} IS NOT NULL")
    return {"sqlite_where": where, "postgresql_where": where}


def only_on(dialect: str, index: sa.Index) -> sa.Index:
    """`index`, made only on `dialect`: `ddl_if` for `create_all`'s DDL, and `info` for the
    migrations' check of these tables against a database (`migrations/env.py`), which does
    not read `ddl_if`."""
    index.info[ONLY_ON] = dialect
    return index.ddl_if(dialect=dialect)


#: The `info` key of an index that exists on one backend only (`only_on`).
ONLY_ON = "only_on"


_IN_CAMPAIGN = _partial("campaign_id")
_WITH_MEDIA = _partial("media_id")

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("recipient", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=True),
    sa.Column("template", sa.JSON, nullable=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    # The seed's wire names stay the column names (`MESSAGE_FIELDS`): the local date and
    # time as the client sent them.
    sa.Column("tarih", sa.String(64), nullable=False),
    sa.Column("saat", sa.String(16), nullable=False),
    sa.Column("client_created", sa.String(64), nullable=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("due_at", LenientUtcDateTime, nullable=False),
    sa.Column("run_at", LenientUtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("wamid", sa.String(128), nullable=True),
    sa.Column("wa_id", sa.String(32), nullable=True),
    sa.Column("last_error_code", sa.Integer, nullable=True),
    sa.Column("last_error_text", sa.Text, nullable=True),
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("lease_until", LenientUtcDateTime, nullable=True),
    sa.Column("claimed_at", LenientUtcDateTime, nullable=True),
    sa.Column("created_at", LenientUtcDateTime, nullable=False),
    sa.Column("updated_at", LenientUtcDateTime, nullable=False),
    sa.Column("sent_at", LenientUtcDateTime, nullable=True),
    sa.Column("delivered_at", LenientUtcDateTime, nullable=True),
    sa.Column("read_at", LenientUtcDateTime, nullable=True),
    sa.Column("failed_at", LenientUtcDateTime, nullable=True),
    sa.Column("cancelled_at", LenientUtcDateTime, nullable=True),
    # Sent instead of the text when its 24-hour window is closed (WINDOW_POLICY=template; 0005).
    sa.Column("fallback_template", sa.JSON, nullable=True),
    # Another type than text or template (revision 0022; docs/message-types.md): Meta's shape,
    # {"type": T, T: {...}}; NULL for a text (body) or a template.
    sa.Column("content", sa.JSON, nullable=True),
    # The sender (business number) that sends it, by name (`core.senders`; revision 0012), and
    # the API key that created it (NULL: the environment's API_KEY).
    sa.Column("sender", sa.String(32), nullable=False, server_default="default"),
    sa.Column("created_by", sa.String(64), nullable=True),
    # Revision 0015 (docs/consent.md): the template's category when known at schedule time
    # (MARKETING, UTILITY, AUTHENTICATION; NULL: a text, or not known), which a marketing-only
    # opt-out cancels by; and why the status is what it is (e.g. `opted_out` for cancelled).
    sa.Column("category", sa.String(16), nullable=True),
    sa.Column("status_reason", sa.String(32), nullable=True),
    # Revision 0019 (docs/limits.md): false for a message that ignores quiet hours (a one-time
    # code); NULL (the default) keeps them.
    sa.Column("quiet_hours", sa.Boolean, nullable=True),
    # Revision 0017 (docs/series.md): the series an occurrence belongs to (NULL: a single
    # message). The occurrence's id is `<series id>@YYYYMMDDTHHMMSS` (its nominal local time).
    sa.Column("series_id", sa.String(128), nullable=True),
    # Revision 0018 (docs/campaigns.md): the campaign the message belongs to (NULL: none).
    sa.Column("campaign_id", sa.String(32), nullable=True),
    # Revision 0023 (docs/media.md): the uploaded file of ours (`media.id`) the message sends,
    # derived from `content` or `template` on every write (store/rows.py); NULL: none. What
    # keeps a file from MEDIA_RETENTION's clean-up.
    sa.Column("media_id", sa.String(64), nullable=True),
    # "queued and due, soonest first" for the dispatcher's claim, and the expired-lease scan.
    sa.Index("ix_messages_status_run_at", "status", "run_at"),
    # Listing by status in due order (GET /schedule) with keyset paging on (due_at, id).
    sa.Index("ix_messages_status_due_at_id", "status", "due_at", "id"),
    sa.Index("ix_messages_due_at_id", "due_at", "id"),
    # The dashboard's history filtered by recipient, in due order (keyset on due_at, id).
    sa.Index("ix_messages_recipient_due_at_id", "recipient", "due_at", "id"),
    sa.Index("ix_messages_wamid", "wamid"),
    # Listing one sender's messages in due order (GET /schedule?gonderen=..., scoped keys).
    sa.Index("ix_messages_sender_due_at_id", "sender", "due_at", "id"),
    # The dispatcher's claim and wake-up per sender (revision 0013).
    sa.Index("ix_messages_status_sender_run_at", "status", "sender", "run_at"),
    # A series' occurrences (its queued one, its history). PostgreSQL only (revision 0026):
    # an occurrence's id is `<series id>@<stamp>`, so on SQLite (binary text order) a series'
    # occurrences are one range of the primary key's index (`occurrence_range`), and a new
    # occurrence, inserted by the claim, keeps one index entry fewer. PostgreSQL's text order
    # follows the database's collation, where that range is not a prefix's: it keeps this.
    only_on("postgresql", sa.Index("ix_messages_series_id", "series_id")),
    # A campaign's messages: pause / resume / cancel and the funnel's counts by status, its
    # recipients by status in id order (revision 0018), and all of them in id order.
    # Partial (revision 0025): only the rows of a campaign, or with a file of ours; every
    # query of them names one (`campaign_id = ?`), so most messages have no entry to keep.
    sa.Index("ix_messages_campaign_id_status_id", "campaign_id", "status", "id", **_IN_CAMPAIGN),
    sa.Index("ix_messages_campaign_id_id", "campaign_id", "id", **_IN_CAMPAIGN),
    # A campaign's first and last send without a scan (revision 0021).
    sa.Index("ix_messages_campaign_id_sent_at", "campaign_id", "sent_at", **_IN_CAMPAIGN),
    sa.Index("ix_messages_media_id", "media_id", **_WITH_MEDIA),
)

# Every edit of a queued message (revision 0017; docs/edits.md): what changed (a JSON object
# of field -> {"from": ..., "to": ...}), when, and the API key's name (NULL: API_KEY).
message_edits = sa.Table(
    "message_edits",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("message_id", sa.String(128), nullable=False),
    sa.Column("edited_at", UtcDateTime, nullable=False),
    sa.Column("key_name", sa.String(64), nullable=True),
    sa.Column("changes", sa.JSON, nullable=False),
    sa.Index("ix_message_edits_message_id", "message_id"),
)

# Recurring messages (revision 0017; docs/series.md): the RFC 5545 rule (`tekrar`) read in
# `timezone` from `dtstart` (naive local ISO text), and its state: `active`, `paused` or
# `ended`. The content lives in the occurrence rows (`messages.series_id`): the next occurrence
# is made from the one claimed, in the claim's transaction.
series = sa.Table(
    "series",
    metadata,
    sa.Column("id", sa.String(112), primary_key=True),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("dtstart", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("sender", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("message_id", sa.String(128), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("started_at", LenientUtcDateTime, nullable=False),
    sa.Column("finished_at", LenientUtcDateTime, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("error_text", sa.Text, nullable=True),
    sa.Column("http_status", sa.Integer, nullable=True),
    sa.Column("worker", sa.String(64), nullable=True),
    sa.Column("sent_as", sa.String(24), nullable=True),  # messages.SentAs (revision 0009)
    sa.Column("category", sa.String(32), nullable=True),  # at send time (revision 0020)
    sa.Index("ix_attempts_message_id", "message_id"),
)

# Every status webhook received, matched or not: the receipts history, and the de-duplication
# key for Meta's repeated deliveries (one row per wamid and status).
receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("wamid", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message_id", sa.String(128), nullable=True),  # ours, when matched
    sa.Column("callback_data", sa.String(128), nullable=True),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("error_text", sa.Text, nullable=True),
    sa.UniqueConstraint("wamid", "status", name="uq_receipts_wamid_status"),
    sa.Index("ix_receipts_message_id", "message_id"),
)

# The last time each contact wrote to us: their 24-hour customer service window.
# The business numbers kept in the database (revision 0012; `core.senders.Sender`). The
# environment's PHONE_NUMBER_ID is the sender `default` and has no row here. The access token
# is stored encrypted with SECRET_KEY (Fernet), never in clear.
senders = sa.Table(
    "senders",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("phone_number_id", sa.String(32), nullable=False, unique=True),
    sa.Column("waba_id", sa.String(32), nullable=True),
    sa.Column("portfolio", sa.String(32), nullable=True),
    sa.Column("token_encrypted", sa.Text, nullable=False),
    sa.Column("messages_per_second", sa.Float, nullable=True),
    sa.Column("pair_interval", sa.Float, nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # Revision 0019: its own quiet hours (`HH:MM-HH:MM`, or `off`); NULL: QUIET_HOURS.
    sa.Column("quiet_hours", sa.String(16), nullable=True),
    # Revision 0019: its portfolio's daily messaging limit (`2000`, `unlimited`); NULL: the
    # MESSAGING_LIMIT setting.
    sa.Column("messaging_limit", sa.String(16), nullable=True),
)

# The daily messaging limit (revision 0019, docs/limits.md): each contact reached with a template
# outside their 24-hour window, per business portfolio (or number), and when; a row older than
# 24 h no longer counts (and is deleted by the next booking of that portfolio).
limit_contacts = sa.Table(
    "limit_contacts",
    metadata,
    sa.Column("portfolio", sa.String(64), primary_key=True),
    sa.Column("wa_id", sa.String(32), primary_key=True),
    sa.Column("reached_at", UtcDateTime, nullable=False),
    sa.Index("ix_limit_contacts_portfolio_reached_at", "portfolio", "reached_at"),
)

# API keys made with `keys create` (revision 0012): only the SHA-256 of a key is stored.
# `scope` is a `core.senders.Scope`; `senders` the sender names the key is limited to (NULL:
# all). A revoked key keeps its row (`revoked_at`) so that messages still name their creator.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scope", sa.String(8), nullable=False),
    sa.Column("senders", sa.JSON, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
)

#: Signed-in dashboard sessions (web/sessions.py): the cookie names one by a random id, and only
#: its SHA-256 is stored. Signing out deletes the row, so the cookie stops working at once.
dashboard_sessions = sa.Table(
    "dashboard_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    # The API key it signed in with, by name (revision 0014; NULL: the environment's API_KEY).
    # Revoking the key deletes its sessions; every request also checks the key.
    sa.Column("key_name", sa.String(64), nullable=True),
)

# The 24-hour window is between a contact and one business number (revision 0013): the latest
# inbound message per (phone_number_id, wa_id). `phone_number_id` '' (`UNKNOWN_NUMBER`) holds
# what was recorded before 0013, or from a webhook without `metadata.phone_number_id`: it
# counts for the default sender's number (the environment's PHONE_NUMBER_ID).
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("phone_number_id", sa.String(32), primary_key=True, server_default=""),
    sa.Column("wa_id", sa.String(32), primary_key=True),
    sa.Column("last_inbound_at", UtcDateTime, nullable=False),
)
UNKNOWN_NUMBER = ""

# A contact's consent with one business number (revision 0015; core/consent.py): opted out of
# everything (`all_out_*`) and of marketing only (`marketing_out_*`), each with since when and
# its source; `undeliverable_at`, Meta's last 131026 for the number. A contact without a row
# has opted out of nothing. Kept apart from `contacts`: a consent can exist before any inbound.
consents = sa.Table(
    "consents",
    metadata,
    sa.Column("phone_number_id", sa.String(32), primary_key=True),
    sa.Column("wa_id", sa.String(32), primary_key=True),
    sa.Column("all_out_at", UtcDateTime, nullable=True),
    sa.Column("all_out_source", sa.String(24), nullable=True),
    sa.Column("marketing_out_at", UtcDateTime, nullable=True),
    sa.Column("marketing_out_source", sa.String(24), nullable=True),
    sa.Column("undeliverable_at", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Every consent change, in the order recorded (revision 0015): what changed, when (Meta's time
# or the request's), from what source, and how many queued messages the change cancelled.
consent_events = sa.Table(
    "consent_events",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("phone_number_id", sa.String(32), nullable=False),
    sa.Column("wa_id", sa.String(32), nullable=False),
    sa.Column("change", sa.String(16), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("source", sa.String(24), nullable=False),
    sa.Column("detail", sa.String(200), nullable=True),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("cancelled", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_consent_events_phone_number_id_wa_id_id", "phone_number_id", "wa_id", "id"),
)

# The outbox of status events for the client app (STATUS_WEBHOOK_URL; revision 0005): written
# in the same transaction as the status change, delivered and retried by `events.EventDeliverer`.
# `state` pending -> delivered | dead; a pending row is due at `next_attempt_at`, which a
# deliverer's claim pushes forward by a lease (a crashed deliverer's rows come due again).
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("message_id", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the exact JSON that is signed and sent
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Index("ix_events_state_next_attempt_at", "state", "next_attempt_at"),
)

# Messages per status, kept exact by triggers on SQLite (revision 0003), so queue depth and
# X-Total-Count cost one indexed read instead of counting a million rows. Unused on PostgreSQL,
# where concurrent writers would contend (and could deadlock) on these few rows.
status_counts = sa.Table(
    "status_counts",
    metadata,
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
)

# The fleet-wide throughput limit per business number (revision 0006), used on PostgreSQL by
# `sharedlimit.PostgresRateLimit`: GCRA state, `tat` = the theoretical arrival time of the next
# free send slot in epoch seconds of the database's clock. Unused on SQLite (one process).
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("tat", sa.Double, nullable=False),
)

# The fleet-wide gap per recipient (revision 0008), used on PostgreSQL by
# `sharedlimit.PostgresRateLimit.reserve_pair`: key "<phone_number_id>:<recipient>", `tat` =
# when the next message to that recipient may go out, in epoch seconds of the database's clock.
pair_gaps = sa.Table(
    "pair_gaps",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("tat", sa.Double, nullable=False),
    sa.Index("ix_pair_gaps_tat", "tat"),
)

# Live dispatchers on PostgreSQL (revision 0010), used by `workers.WorkerRegistry`: each holds
# the session-level advisory lock `lock_key` for its life, taken under the server start
# `server_started_at`. A row of this server whose lock is free is a dead worker's. Unused on
# SQLite (one dispatcher per file, standby.py).
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("worker_id", sa.String(64), primary_key=True),
    sa.Column("lock_key", sa.BigInteger, nullable=False),
    sa.Column("server_started_at", UtcDateTime, nullable=False),
    sa.Column("registered_at", UtcDateTime, nullable=False),
)


# Meta's template catalogue per WhatsApp Business Account (revision 0016; docs/templates.md):
# synced from GET /{WABA-ID}/message_templates (`templates sync`, TEMPLATE_SYNC_SECONDS) and
# updated at once by the template webhooks. `components` is Meta's JSON as listed.
templates = sa.Table(
    "templates",
    metadata,
    sa.Column("waba_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("language", sa.String(16), primary_key=True),
    sa.Column("template_id", sa.String(32), nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("parameter_format", sa.String(16), nullable=False),
    sa.Column("components", sa.JSON, nullable=False),
    sa.Column("quality", sa.String(16), nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# A sender's address book (revision 0018; core/contacts.py, docs/contacts.md): a contact's
# profile per sender name and number (E.164 with '+'). `labels` is the sorted list as given
# back; `contact_labels` holds the same labels one per row, for the label filter's index.
# The window and consent of the number stay in `contacts` and `consents`.
contact_book = sa.Table(
    "contact_book",
    metadata,
    sa.Column("sender", sa.String(32), primary_key=True),
    sa.Column("phone", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(256), nullable=True),
    sa.Column("language", sa.String(16), nullable=True),
    sa.Column("timezone", sa.String(64), nullable=True),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

contact_labels = sa.Table(
    "contact_labels",
    metadata,
    sa.Column("sender", sa.String(32), primary_key=True),
    sa.Column("label", sa.String(64), primary_key=True),
    sa.Column("phone", sa.String(32), primary_key=True),
)

# Campaigns (revision 0018; docs/campaigns.md): one template or text to an audience of
# contacts, each recipient a row of `messages` with `campaign_id`. `spec` is the request as
# validated (content, audience, time); the status follows the messages (`paused_at`,
# `cancelled_at` record the last pause and the cancel).
campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sender", sa.String(32), nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("recipients", sa.Integer, nullable=False),
    sa.Column("refused", sa.Integer, nullable=False),
    sa.Column("shifted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("first_due_at", UtcDateTime, nullable=True),
    sa.Column("last_due_at", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("paused_at", UtcDateTime, nullable=True),
    sa.Column("cancelled_at", UtcDateTime, nullable=True),
    sa.Index("ix_campaigns_sender_created_at", "sender", "created_at"),
)

# A campaign's funnel (revision 0021; docs/campaigns.md, "The funnel"): triggers on `messages`
# append -1/+1 per change of a campaign message's status (and `detail`: Meta's error code of a
# failed one, the reason of a cancelled one) to `campaign_tally_deltas`; the dispatcher folds
# them into `campaign_tallies` (`fold_campaign_tallies`). Funnel = tallies + unfolded deltas.
campaign_tallies = sa.Table(
    "campaign_tallies",
    metadata,
    sa.Column("campaign_id", sa.String(32), primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("detail", sa.String(64), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)

campaign_tally_deltas = sa.Table(
    "campaign_tally_deltas",
    metadata,
    sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
    sa.Column("campaign_id", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("detail", sa.String(64), nullable=False),
    sa.Column("delta", sa.Integer, nullable=False),
    sa.Index("ix_campaign_tally_deltas_campaign_id", "campaign_id"),
)

# Replies (revision 0024): a campaign message its recipient answered (an inbound message from
# the contact to that sender within the reply window after the send), once; the first reply
# appends a `replied` delta (core/campaigns.py, REPLIED).
campaign_replies = sa.Table(
    "campaign_replies",
    metadata,
    sa.Column("message_id", sa.String(128), primary_key=True),
    sa.Column("campaign_id", sa.String(32), nullable=False),
    sa.Column("replied_at", UtcDateTime, nullable=False),
    sa.Index("ix_campaign_replies_campaign_id", "campaign_id"),
)

# Uploaded files (revision 0023; core/media.py, docs/media.md): one row per file, its bytes in
# `media_chunks` (CHUNK_BYTES each, in order of `seq`), so that one backup holds everything and
# several instances share the files. `complete` is set once every chunk is in: an upload cut
# off midway is never used, and the clean-up removes it. `media_uploads` caches Meta's id of a
# file per business number (Meta's ids expire after 30 days).
media = sa.Table(
    "media",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("mime", sa.String(128), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(256), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(64), nullable=True),
    sa.Column("complete", sa.Boolean, nullable=False),
    # NULL: the bytes are in `media_chunks`; else the object store's URL (MEDIA_URL=s3://).
    sa.Column("location", sa.String(1024), nullable=True),
    sa.Index("ix_media_created_at", "created_at"),
)

media_chunks = sa.Table(
    "media_chunks",
    metadata,
    sa.Column("media_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

media_uploads = sa.Table(
    "media_uploads",
    metadata,
    sa.Column("media_id", sa.String(64), primary_key=True),
    sa.Column("phone_number_id", sa.String(32), primary_key=True),
    sa.Column("meta_id", sa.String(128), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)

#: Bytes per row of `media_chunks`: a 100 MB document is 400 rows, each written in its own
#: short transaction (the dispatcher's writes go in between) and read one at a time.
CHUNK_BYTES = 256 * 1024

#: Columns of `messages` whose `ScheduledMessage` field has another name.
MESSAGE_FIELDS = {"tarih": "local_date", "saat": "local_time"}


def message_field(column: str) -> str:
    """The `ScheduledMessage` field stored in `messages.<column>`."""
    return MESSAGE_FIELDS.get(column, column)


#: Keys per `IN (...)` list: SQLite caps the bound parameters of a statement; stay well below.
IN_CHUNK = 500
