"""Durable storage: the messages table is the queue.

`MessageStore` is the whole storage interface the service needs; `SqlMessageStore` implements
it for SQLite and PostgreSQL, `testing.InMemoryMessageStore` for unit tests. Nothing above this
package imports SQLAlchemy.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from whatsapp_scheduler.core import campaigns, consent, contacts, keys, media, messages
from whatsapp_scheduler.core.catalogue import CatalogueTemplate
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.core.senders import Sender


@dataclasses.dataclass(frozen=True, slots=True)
class StoredSender:
    """A sender as kept in the `senders` table: its access token still encrypted
    (`store/tokens.py`), and left out of `repr`."""

    sender: Sender
    token_encrypted: str = dataclasses.field(repr=False)


#: What `MessageStore.update_sender` may change (the name is the sender's key: never changed).
SENDER_CHANGES = frozenset(
    {
        "phone_number_id",
        "waba_id",
        "portfolio",
        "messages_per_second",
        "pair_interval",
        "enabled",
        "quiet_hours",
        "messaging_limit",
        "token_encrypted",
    }
)


#: What `MessageStore.update_template` may change (Meta's template webhooks).
TEMPLATE_CHANGES = frozenset({"status", "category", "quality"})


class AddStatus(enum.StrEnum):
    CREATED = "created"
    EXISTING = "existing"  # same id, same content: a client's retry
    CONFLICT = "conflict"  # same id, other content


@dataclasses.dataclass(frozen=True, slots=True)
class AddResult:
    status: AddStatus
    message: messages.ScheduledMessage  # the stored one (for CONFLICT: the one already there)


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    items: list[messages.ScheduledMessage]
    total: int
    next_cursor: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed message; applied only if the claim is still ours.

    `status` is where the message goes (queued again, sent, failed). `attempt` is what is
    written to the attempts table, or None when nothing was sent (a deferral).
    """

    message_id: str
    worker: str
    status: messages.MessageStatus
    finished_at: datetime
    attempt: messages.AttemptOutcome | None
    started_at: datetime | None = None
    run_at: datetime | None = None  # for status QUEUED
    wamid: str | None = None
    wa_id: str | None = None
    error_code: int | None = None
    error_text: str | None = None
    http_status: int | None = None
    sent_as: messages.SentAs | None = None  # what the attempt asked Meta to deliver
    # False: the attempt row is written but not counted toward MAX_ATTEMPTS (a send that failed
    # during a Meta outage, dispatch/breaker.py)
    counts_attempt: bool = True
    reason: str | None = None  # the message's `status_reason` (e.g. `opted_out`, cancelled)
    category: str | None = None  # the category at send time (`messages.Attempt.category`)


@dataclasses.dataclass(frozen=True, slots=True)
class DueTally:
    """What became of the messages due in each of consecutive periods (the dashboard's chart):
    per period, the count of each status they have now; and the failed ones of all periods
    by Meta's error code (None: failed without one, e.g. expired)."""

    by_period: tuple[dict[str, int], ...]
    failures: dict[int | None, int]


@dataclasses.dataclass(frozen=True, slots=True)
class QueueStats:
    queued: int
    sending: int
    oldest_overdue: datetime | None  # run_at of the longest-waiting due message
    next_run_at: datetime | None


@dataclasses.dataclass(frozen=True, slots=True)
class Receipt:
    """A status reported by Meta for a message we sent (from a webhook)."""

    wamid: str
    status: messages.MessageStatus  # sent, delivered, read or failed
    occurred_at: datetime
    callback_data: str | None = None  # our message id, when Meta echoed it
    error_code: int | None = None
    error_text: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ReceiptCounts:
    applied: int = 0  # moved a message forward
    duplicate: int = 0  # seen before (Meta retries and repeats)
    stale: int = 0  # matched a message already further along (late or out of order)
    unmatched: int = 0  # no message of ours (yet): kept, applied once its send is recorded


class EventState(enum.StrEnum):
    PENDING = "pending"  # to deliver (due at next_attempt_at)
    DELIVERED = "delivered"
    DEAD = "dead"  # given up after the last attempt


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """A status event for the client app, from the outbox (see `events.py`)."""

    id: int
    message_id: str
    status: messages.MessageStatus
    body: str  # the exact JSON to sign and POST
    attempts: int  # deliveries tried before this one
    created_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class EventResult:
    """How one delivery ended: delivered, to retry at `retry_at`, or given up (dead)."""

    event_id: int
    state: EventState
    at: datetime
    retry_at: datetime | None = None  # for PENDING
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SessionKey:
    """The key a dashboard session signed in with."""

    name: str | None  # None: the environment's API_KEY


@dataclasses.dataclass(frozen=True, slots=True)
class ContactState:
    """What is known of a contact for one sender: their last inbound message (the 24-hour
    window) and their consent (docs/consent.md)."""

    last_inbound: datetime | None = None
    consent: consent.Consent = consent.NO_CONSENT_RECORD


@dataclasses.dataclass(frozen=True, slots=True)
class ContactPage:
    """A page of contacts (`wa_id`s in order) and the cursor of the next page (None: last)."""

    wa_ids: list[str]
    next_after: str | None


#: The columns of a queued message an edit may change (`MessageStore.edit_message`).
EDITABLE = (
    "recipient",
    "body",
    "template",
    "fallback_template",
    "content",
    "timezone",
    "local_date",
    "local_time",
    "due_at",
    "run_at",
    "content_hash",
    "sender",
    "category",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Edit:
    """One edit of a queued message: per field changed, {"from": old, "to": new} (JSON
    values, in the REST API's field names)."""

    message_id: str
    edited_at: datetime
    key_name: str | None  # the API key's name; None: the environment's API_KEY
    changes: Mapping[str, Mapping[str, object]]


class SeriesStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"  # deleted, or the rule has no more occurrences


@dataclasses.dataclass(frozen=True, slots=True)
class Series:
    """A recurring message (docs/series.md): its rule read in `timezone` from `dtstart`
    (naive local time). Its content is that of its occurrences (`messages.series_id`)."""

    id: str
    rule: str
    timezone: str
    dtstart: datetime  # naive: local wall-clock time in `timezone`
    status: SeriesStatus
    sender: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime


def receipt_sources(incoming: messages.MessageStatus) -> list[str]:
    """The current statuses from which a receipt `incoming` may move a message."""
    return [str(s) for s in messages.MessageStatus if messages.receipt_applies(s, incoming)]


class MessageStore(Protocol):
    """Durable messages. Every status change is one conditional update."""

    async def add(self, message: messages.ScheduledMessage) -> AddResult:
        """Store a new message, or report the one already stored under its id."""
        ...

    async def add_many(self, batch: Sequence[messages.ScheduledMessage]) -> list[AddResult]:
        """`add` for many messages in one transaction; results in input order. Ids are unique."""
        ...

    async def get(self, message_id: str) -> messages.ScheduledMessage | None:
        """The message with that id, or None."""
        ...

    async def attempts(self, message_id: str) -> list[messages.Attempt]:
        """Every recorded attempt of a message, oldest first."""
        ...

    async def list(self, query: MessageQuery) -> Page:
        """A page of the messages `query` asks for (see `core.query.MessageQuery`)."""
        ...

    async def get_many(self, ids: Sequence[str]) -> builtins.list[messages.ScheduledMessage]:
        """The messages with these ids, in the order asked; unknown ids are left out."""
        ...

    async def cancel(self, message_id: str, now: datetime) -> messages.ScheduledMessage | None:
        """Cancel a queued message. Returns it cancelled, or None if it was not queued."""
        ...

    async def claim_due(
        self,
        now: datetime,
        limit: int,
        worker: str,
        lease_until: datetime,
        *,
        senders: Collection[str] | None = None,
        exclude_senders: Collection[str] = (),
    ) -> builtins.list[messages.ScheduledMessage]:
        """Move up to `limit` queued messages with `run_at <= now` to `sending`, soonest first.

        `senders`: only messages of these senders (by name; the dispatcher claims per sender,
        so that one sender's pause or backlog never holds back another's); `exclude_senders`:
        none of these (the dispatcher's claim of messages naming a sender it does not know)."""
        ...

    async def record(self, outcomes: Sequence[Outcome]) -> int:
        """Apply outcomes whose claim (`status=sending`, `claimed_by=worker`) still holds.

        Returns how many applied; the others had lost their lease to another worker.
        """
        ...

    async def expired_leases(
        self, now: datetime, limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        """Messages still `sending` whose lease ended before `now` (their worker died)."""
        ...

    async def claimers(self) -> builtins.list[str]:
        """The workers holding `sending` claims (to ask which of them are dead)."""
        ...

    async def claims_of(
        self, workers: Sequence[str], limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        """Up to `limit` messages still `sending` under a claim of one of `workers`."""
        ...

    async def renew_leases(self, worker: str, ids: Sequence[str], lease_until: datetime) -> int:
        """Extend `worker`'s claims on `ids` (still `sending`, still its own) to `lease_until`;
        returns how many it still holds."""
        ...

    async def due_tally(
        self, bounds: Sequence[datetime], senders: Collection[str] | None = None
    ) -> DueTally:
        """Counts of the messages due in each period [bounds[i], bounds[i+1]) by status, and
        the failed ones by error code (only `senders`' messages, if given)."""
        ...

    async def stats(self, now: datetime) -> QueueStats:
        """Queue depth and the oldest overdue message, for /health and /metrics."""
        ...

    async def next_run_at(self, *, senders: Collection[str] | None = None) -> datetime | None:
        """The earliest `run_at` of a queued message (of one of `senders`, if given), for the
        dispatcher's wake-up."""
        ...

    async def apply_receipts(
        self, receipts: Sequence[Receipt], received_at: datetime
    ) -> ReceiptCounts:
        """Record status webhooks and move messages forward (never backwards), idempotently.

        A message is found by `wamid`, else by `callback_data` (our id). Every receipt is kept;
        one that matches no message yet is applied when that message's send is recorded.
        """
        ...

    async def book_contacts(
        self, portfolio: str, wa_ids: Sequence[str], limit: int, now: datetime
    ) -> dict[str, datetime | None]:
        """The daily messaging limit (docs/limits.md, `store/sql_limits.py`): book each contact
        about to get a template outside their 24-hour window against `portfolio`'s `limit`
        unique contacts in a moving 24 h. Per contact: None (booked, or already within 24 h:
        it may go), or when a slot frees (refused). Correct with several processes."""
        ...

    async def marketing_sent(
        self, sender: str, recipients: Sequence[str], since: datetime
    ) -> dict[str, builtins.list[datetime]]:
        """MARKETING_FREQUENCY_CAP (docs/limits.md): when `sender` sent each of `recipients` a
        message of category MARKETING after `since` (their `sent_at`, oldest first); only
        recipients with one are keys."""
        ...

    async def marketing_recent(
        self, sender: str, recipients: Sequence[str], since: datetime
    ) -> tuple[dict[str, builtins.list[datetime]], dict[str, builtins.list[tuple[datetime, str]]]]:
        """MARKETING_FREQUENCY_CAP in one read (docs/limits.md): `marketing_sent`'s answer,
        and `sender`'s MARKETING messages to each of `recipients` being sent now (status
        `sending`, by this or another process), as (claimed_at, id), oldest claim first."""
        ...

    async def retry_marketing_limited(
        self, wamids: Sequence[str], run_at: datetime, now: datetime
    ) -> builtins.list[str]:
        """Meta's 131049 as a `failed` status (docs/limits.md): each message sent as one of
        `wamids`, now `failed` with 131049 for the first time (one such receipt of its own),
        goes back to `queued` at `run_at` with `status_reason` `marketing_limit`: one more try.
        Returns their ids; a second 131049 leaves the message `failed`."""
        ...

    async def record_inbound(
        self, contacts: Sequence[tuple[str, datetime]], phone_number_id: str = ""
    ) -> None:
        """Remember the latest inbound message time per contact (`wa_id`, time) written to the
        business number `phone_number_id` (the webhook's `metadata.phone_number_id`; '' when
        unknown: counted for the default sender's number)."""
        ...

    async def last_inbound(
        self, wa_id: str, phone_number_ids: Sequence[str] = ("",)
    ) -> datetime | None:
        """When the contact last wrote to one of these business numbers, if ever: their
        24-hour window with that sender (the default sender reads its number and '')."""
        ...

    async def last_inbound_many(
        self, wa_ids: Sequence[str], phone_number_ids: Sequence[str] = ("",)
    ) -> dict[str, datetime]:
        """`last_inbound` for many contacts in one read; contacts never seen are left out."""
        ...

    async def contacts_many(
        self, wa_ids: Sequence[str], phone_number_ids: Sequence[str] = ("",)
    ) -> dict[str, ContactState]:
        """The 24-hour window and consent of many contacts with one sender (whose rows are
        kept under `phone_number_ids`), in one read; contacts with neither are left out. The
        consent is that of the number whose row changed last."""
        ...

    async def record_consent(
        self,
        changes: Sequence[consent.ConsentChange],
        phone_number_id: str,
        senders: Collection[str],
        now: datetime,
    ) -> builtins.list[int]:
        """Record consent changes with the business number `phone_number_id`, each with its
        history row, and cancel (`status_reason` `opted_out`) the queued messages of `senders`
        to each contact opting out that the opt-out covers, in the same transaction: one
        UPDATE per opt-out. Returns the count cancelled per change."""
        ...

    async def consent_history(
        self, wa_id: str, phone_number_ids: Sequence[str], limit: int
    ) -> builtins.list[consent.ConsentEvent]:
        """The latest `limit` consent changes of a contact with these numbers, newest first."""
        ...

    async def list_contacts(
        self,
        phone_number_ids: Sequence[str],
        opted_out: bool | None,
        after: str | None,
        limit: int,
    ) -> ContactPage:
        """Contacts known to a sender (they wrote to, or have a consent row under, one of
        `phone_number_ids`) in `wa_id` order after `after`; `opted_out` True: only those with
        an opt-out (of anything) there, False: only the others, None: all."""
        ...

    # -- the address book (docs/contacts.md) ------------------------------------------------

    async def upsert_profiles(
        self, sender: str, changes: Sequence[contacts.Change], now: datetime
    ) -> tuple[int, int]:
        """Create or update contacts of `sender` in one transaction, each setting only its
        given fields (a phone given twice: the last wins); returns (created, updated)."""
        ...

    async def get_profile(self, sender: str, phone: str) -> contacts.Profile | None:
        """The contact `phone` (E.164) of `sender`'s address book, or None."""
        ...

    async def get_profiles(self, sender: str, phones: Sequence[str]) -> dict[str, contacts.Profile]:
        """The profiles of these numbers that `sender`'s address book holds."""
        ...

    async def has_profiles(self, sender: str) -> bool:
        """Whether `sender`'s address book holds any contact (one index probe)."""
        ...

    async def delete_profile(self, sender: str, phone: str) -> bool:
        """Remove a contact's profile (its window and consent stay); False: there was none."""
        ...

    async def list_profiles(
        self,
        sender: str,
        numbers: Sequence[str],
        *,
        label: str | None = None,
        attributes: Mapping[str, str] | None = None,
        text: str | None = None,
        opted_out: bool | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> ContactPage:
        """A page of `sender`'s contacts in `wa_id` order after `after`. With `label`,
        `attributes` ({key: value as `contacts.attribute_text` writes it}) or `text` (in the
        name, or digits in the number) only address-book contacts; without, also those known
        only by a window or consent row under `numbers`. `opted_out` as `list_contacts`."""
        ...

    async def audience_profiles(
        self,
        sender: str,
        labels_any: Collection[str] | None,
        attributes: Mapping[str, str] | None,
    ) -> builtins.list[contacts.Profile]:
        """`sender`'s contacts with any of `labels_any` (None: any) and all of `attributes`,
        in number order: a campaign's audience."""
        ...

    async def audience_overview(
        self,
        sender: str,
        labels_any: Collection[str] | None,
        attributes: Mapping[str, str] | None,
        phones: Sequence[str],
        sample: int,
    ) -> tuple[int, builtins.list[contacts.Profile]]:
        """How many recipients an audience has (the contacts `audience_profiles` would give,
        plus the numbers of `phones` (E.164, distinct) not among them), counted in SQL, and
        the first `sample` profiles of the address book among them in number order (the
        dashboard's live count and preview; nothing else is loaded)."""
        ...

    # -- campaigns (docs/campaigns.md) -------------------------------------------------------

    async def create_campaign(
        self, campaign: campaigns.Campaign, batch: Sequence[messages.ScheduledMessage]
    ) -> int:
        """The campaign and its messages in one transaction; returns the messages inserted."""
        ...

    def stores_campaign_rows(self) -> bool:
        """Whether `create_campaign_parts` writes the columns without building the messages
        (else a caller with the messages at hand gives them to `create_campaign`)."""
        ...

    async def create_campaign_parts(
        self, produce: campaigns.Produce
    ) -> tuple[campaigns.Campaign, int]:
        """The campaign `produce` returns and the parts it gives, as `create_campaign` of
        their messages (`Rows.built()`; nothing without a part): (the campaign, the messages
        inserted)."""
        ...

    async def get_campaign(self, campaign_id: str) -> campaigns.Campaign | None: ...

    async def list_campaigns(
        self, senders: Sequence[str] | None, after: tuple[datetime, str] | None, limit: int
    ) -> builtins.list[campaigns.Campaign]:
        """Newest first (created_at, id), of `senders` if given, after the keyset `after`."""
        ...

    async def campaign_counts(self, campaign_id: str) -> campaigns.Counts:
        """The funnel of a campaign's messages: kept by the database as they change (SQL:
        the tallies and deltas of revision 0021), never a count of its rows."""
        ...

    async def fold_campaign_tallies(self) -> int:
        """Fold the funnel's pending changes into its tallies (a timed job); how many."""
        ...

    async def campaign_replied(
        self, campaign_id: str, message_ids: Sequence[str]
    ) -> dict[str, datetime]:
        """When each of these messages of the campaign was first answered (those that were)."""
        ...

    async def record_replies(
        self,
        replies: Sequence[tuple[str, datetime]],
        senders: Sequence[str] | None,
        window: timedelta,
    ) -> int:
        """Count inbound messages (`phone` in E.164, time) as replies: each answers the latest
        campaign message sent to that number (by one of `senders`; None: any sender) at most
        `window` before it, and a message is counted once (revision 0024); how many new."""
        ...

    async def campaign_messages(
        self,
        campaign_id: str,
        statuses: Sequence[messages.MessageStatus],
        after: str | None,
        limit: int,
    ) -> builtins.list[messages.ScheduledMessage]:
        """A campaign's messages in id order after `after`, with one of `statuses` (all if
        empty)."""
        ...

    async def set_campaign_state(
        self, campaign_id: str, action: campaigns.Action, now: datetime
    ) -> int:
        """Pause, resume or cancel all the campaign's messages that can be, in one UPDATE;
        returns how many changed."""
        ...

    async def claim_events(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> builtins.list[Event]:
        """Up to `limit` pending events due by `now`, oldest first, leased until `lease_until`.

        Status events are written only by a store built with `events_enabled=True`, in the
        same transaction as the status change they report.
        """
        ...

    async def finish_events(self, results: Sequence[EventResult]) -> None:
        """Record delivery results: delivered, retry later (attempts + 1), or dead."""
        ...

    async def start_session(
        self, id_hash: str, now: datetime, expires_at: datetime, key_name: str | None = None
    ) -> None:
        """Record a signed-in dashboard session (and forget the ones expired by `now`);
        `key_name` is the key it signed in with (None: the environment's API_KEY)."""
        ...

    async def session_active(self, id_hash: str, now: datetime) -> bool:
        """Whether that session exists and has not expired."""
        ...

    async def end_session(self, id_hash: str) -> None:
        """Forget that session (sign-out); nothing happens if it is not there."""
        ...

    async def add_sender(self, sender: Sender, token_encrypted: str, now: datetime) -> Sender:
        """Store a new sender (created and updated at `now`); returns it as stored. Raises
        `SenderExists` (field `name` or `phone_number_id`) when either is taken."""
        ...

    async def list_senders(self) -> builtins.list[StoredSender]:
        """Every sender in the table, by name."""
        ...

    async def get_sender(self, name: str) -> StoredSender | None:
        """The sender with that name, or None."""
        ...

    async def update_sender(
        self, name: str, changes: Mapping[str, object], now: datetime
    ) -> Sender | None:
        """Change some fields (keys of `SENDER_CHANGES`); returns the sender as now stored, or
        None when there is none of that name. Raises `SenderExists` for a phone_number_id
        another sender has."""
        ...

    async def remove_sender(self, name: str) -> bool:
        """Delete the sender; False when there is none of that name. Refuses with
        `SenderInUse` while it has messages queued or sending (one transaction: a message
        claimed meanwhile cannot slip between the check and the delete)."""
        ...

    async def session_key(self, id_hash: str, now: datetime) -> SessionKey | None:
        """The active session's key (`SessionKey.name` None: the environment's API_KEY), or
        None when the session does not exist or has expired."""
        ...

    async def create_key(self, key: keys.ApiKey, key_hash: str) -> None:
        """Store a new API key by its hash. Raises Conflict for a name (or hash) in use, and
        ValidationFailed (field `senders`) naming a sender that does not exist."""
        ...

    async def find_key(self, key_hash: str) -> keys.ApiKey | None:
        """The key with that hash, revoked or not (one read of a unique index)."""
        ...

    async def get_key(self, name: str) -> keys.ApiKey | None:
        """The key with that name, revoked or not."""
        ...

    async def list_keys(self) -> builtins.list[keys.ApiKey]:
        """Every key, revoked ones too, by name."""
        ...

    async def revoke_key(self, name: str, now: datetime) -> keys.ApiKey | None:
        """Revoke a key (at `now`, or keep an earlier revocation) and end its dashboard
        sessions; None if there is no key of that name."""
        ...

    async def touch_key(self, name: str, now: datetime) -> None:
        """Set `last_used_at = now` unless it was set less than `keys.TOUCH_INTERVAL` ago."""
        ...

    async def replace_templates(self, waba_id: str, templates: Sequence[CatalogueTemplate]) -> int:
        """Make `templates` the whole catalogue of `waba_id` (a sync): insert or update each
        by (name, language), delete the WABA's others; one transaction. Returns how many."""
        ...

    async def update_template(
        self, waba_id: str, name: str, language: str, changes: Mapping[str, str], now: datetime
    ) -> CatalogueTemplate | None:
        """Change some fields (keys of `TEMPLATE_CHANGES`) of one template (a webhook), with
        `updated_at = now`; the template as now stored, or None when it is not in the table."""
        ...

    async def list_templates(self, waba_id: str | None = None) -> builtins.list[CatalogueTemplate]:
        """The synced templates (of `waba_id`, or of every WABA), by WABA, name, language."""
        ...

    async def edit_message(
        self,
        edited: messages.ScheduledMessage,
        changes: Mapping[str, Mapping[str, object]],
        key_name: str | None,
        now: datetime,
    ) -> messages.ScheduledMessage | None:
        """Give the queued message `edited.id` the `EDITABLE` fields of `edited` (and
        `updated_at = now`) and record the edit, in one transaction: one conditional UPDATE
        (`status = queued`), so a message the dispatcher claimed is never changed. Returns it
        as now stored, or None when it is not queued (or not there)."""
        ...

    async def edits(self, message_id: str) -> builtins.list[Edit]:
        """The edits of a message, oldest first."""
        ...

    async def add_series(self, series: Series, first: messages.ScheduledMessage) -> AddResult:
        """Store a new series and its first occurrence in one transaction. A series id in use:
        EXISTING when its first occurrence is `first` (same content), else CONFLICT (nothing
        stored)."""
        ...

    async def get_series(self, series_id: str) -> Series | None:
        """The series with that id, or None."""
        ...

    async def series_occurrences(
        self, series_id: str, limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        """The series' occurrence rows, the latest `limit` by due time, newest first."""
        ...

    async def change_series(
        self,
        series_id: str,
        expected: Collection[SeriesStatus],
        status: SeriesStatus,
        now: datetime,
        *,
        rule: str | None = None,
        dtstart: datetime | None = None,
        cancel_reason: str | None = None,
        occurrence: messages.ScheduledMessage | None = None,
    ) -> Series | None:
        """In one transaction: move the series from one of `expected` to `status` (with a new
        `rule` / `dtstart` if given); with `cancel_reason`, cancel its queued occurrences
        (their `status_reason`) except one with `occurrence`'s id; with `occurrence`, make it
        the queued occurrence (inserted, or its queued or cancelled row of that id given its
        content and queued again; Conflict, nothing changed, when that row is being sent or
        was sent). None when the series is not in one of `expected`."""
        ...

    # -- uploaded files (docs/media.md) ----------------------------------------------------

    async def begin_media(self, file: media.MediaFile) -> None:
        """Record an upload that has begun (not `complete`: never used until `finish_media`)."""
        ...

    async def put_media_chunk(self, media_id: str, seq: int, data: bytes) -> None:
        """Store chunk `seq` (0, 1, ...) of an upload; one short transaction each."""
        ...

    async def finish_media(self, media_id: str, size: int, sha256: str) -> media.MediaFile | None:
        """Mark an upload complete with its size and digest; the file, or None if not begun."""
        ...

    async def get_media(self, media_id: str) -> media.MediaFile | None:
        """A complete upload, or None."""
        ...

    async def media_chunk(self, media_id: str, seq: int) -> bytes | None:
        """Chunk `seq` of a file's bytes, or None past its last one."""
        ...

    async def media_in_use(self, media_id: str) -> int:
        """How many queued, sending or paused messages send the file."""
        ...

    async def delete_media(self, media_id: str) -> media.MediaFile | None:
        """Remove a file, its bytes in the database and Meta's ids of it; the file as it was
        (its `location`: bytes in an object store are the caller's to remove), None when it
        was not there."""
        ...

    async def expired_media(
        self, used_before: datetime, begun_before: datetime, limit: int
    ) -> builtins.list[str]:
        """Files to remove (MEDIA_RETENTION): complete ones created before `used_before` that
        no message sends unless it is finished (sent, delivered, read, failed, cancelled) and
        last changed before `used_before`; and uploads never completed, begun before
        `begun_before`. At most `limit` ids."""
        ...

    async def due_media(self, until: datetime, limit: int) -> builtins.list[tuple[str, str]]:
        """(file id, sender name) of the queued messages due by `until` that send a file of
        ours, each pair once, at most `limit` (what to upload to Meta ahead of the send)."""
        ...

    async def meta_media_id(self, media_id: str, phone_number_id: str, now: datetime) -> str | None:
        """Meta's id of the file for that number while it has not expired, or None."""
        ...

    async def save_meta_media_id(
        self, media_id: str, phone_number_id: str, meta_id: str, expires_at: datetime
    ) -> None:
        """Remember Meta's id of the file for that number (replacing an older one)."""
        ...

    async def drop_meta_media_id(self, media_id: str, phone_number_id: str) -> None:
        """Forget Meta's id of the file for that number (Meta no longer knows it)."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...
