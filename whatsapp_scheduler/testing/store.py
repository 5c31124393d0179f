"""`InMemoryMessageStore`: the message store in a dict, for tests.

It follows the same contract as `SqlMessageStore`; the store contract suite in
tests/integration runs against both, which keeps this fake honest.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

from whatsapp_scheduler import store
from whatsapp_scheduler.core import (
    campaigns,
    consent,
    contacts,
    errors,
    keys,
    media,
    messages,
    recurrence,
)
from whatsapp_scheduler.core.catalogue import CatalogueTemplate
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.core.senders import DEFAULT_SENDER_NAME, Sender
from whatsapp_scheduler.store import cursors, outbox, sql_limits, sql_senders, transitions

Status = messages.MessageStatus


class InMemoryMessageStore:
    """A `MessageStore` in a dict, for unit tests and demos. Not shared between processes."""

    def __init__(self, *, events_enabled: bool = False) -> None:
        self.rows: dict[str, messages.ScheduledMessage] = {}
        self.attempt_rows: list[messages.Attempt] = []
        self.receipts: dict[tuple[str, str], tuple[store.Receipt, str | None]] = {}
        #: The daily messaging limit's bookings: portfolio -> contact -> when (docs/limits.md).
        self.limit_contacts: dict[str, dict[str, datetime]] = {}
        self.contacts: dict[tuple[str, str], datetime] = {}  # (phone_number_id, wa_id)
        self.sessions: dict[str, datetime] = {}  # dashboard session id hash -> expires at
        self.senders: dict[str, store.StoredSender] = {}
        self.session_keys: dict[str, str | None] = {}  # session id hash -> its key's name
        self.keys: dict[str, tuple[keys.ApiKey, str]] = {}  # name -> (key, its hash)
        self.events_enabled = events_enabled
        self.events: list[OutboxEvent] = []
        # (phone_number_id, wa_id) -> (consent, updated_at); the history, oldest first
        self.consents: dict[tuple[str, str], tuple[consent.Consent, datetime]] = {}
        self.consent_events: list[tuple[str, str, consent.ConsentEvent]] = []
        self.templates: dict[tuple[str, str, str], CatalogueTemplate] = {}  # (waba, name, lang)
        self.edit_rows: list[store.Edit] = []
        self.series: dict[str, store.Series] = {}
        self.profiles: dict[tuple[str, str], contacts.Profile] = {}  # (sender, phone)
        self.campaigns: dict[str, campaigns.Campaign] = {}
        # message id -> (its campaign, when it was first answered)
        self.campaign_replies: dict[str, tuple[str, datetime]] = {}
        self.media: dict[str, tuple[media.MediaFile, bool]] = {}  # id -> (file, complete)
        self.media_chunks: dict[tuple[str, int], bytes] = {}
        self.meta_media: dict[tuple[str, str], tuple[str, datetime]] = {}  # (id, number)

    async def add(self, message: messages.ScheduledMessage) -> store.AddResult:
        (result,) = await self.add_many([message])
        return result

    async def add_many(self, batch: Sequence[messages.ScheduledMessage]) -> list[store.AddResult]:
        results = []
        for message in batch:
            stored = self.rows.get(message.id)
            if stored is None:
                self.rows[message.id] = message
                results.append(store.AddResult(store.AddStatus.CREATED, message))
            elif stored.content_hash == message.content_hash:
                results.append(store.AddResult(store.AddStatus.EXISTING, stored))
            else:
                results.append(store.AddResult(store.AddStatus.CONFLICT, stored))
        return results

    async def get(self, message_id: str) -> messages.ScheduledMessage | None:
        return self.rows.get(message_id)

    async def attempts(self, message_id: str) -> list[messages.Attempt]:
        return [a for a in self.attempt_rows if a.message_id == message_id]

    async def list(self, query: MessageQuery) -> store.Page:
        wanted = set(query.statuses)
        recipient, due_from, due_to = query.recipient, query.due_from, query.due_to
        newest_first, count_up_to, cursor, limit = (
            query.newest_first,
            query.count_up_to,
            query.cursor,
            query.limit,
        )
        rows = sorted(
            (
                m
                for m in self.rows.values()
                if (not wanted or m.status in wanted)
                and (recipient is None or m.recipient == recipient)
                and (query.senders is None or m.sender in query.senders)
                and (due_from is None or m.due_at >= due_from)
                and (due_to is None or m.due_at < due_to)
            ),
            key=lambda m: (m.due_at, m.id),
            reverse=newest_first,
        )
        total = len(rows) if count_up_to is None else min(len(rows), count_up_to)
        if cursor:
            after = cursors.decode_cursor(cursor)
            if newest_first:
                rows = [m for m in rows if (m.due_at, m.id) < after]
            else:
                rows = [m for m in rows if (m.due_at, m.id) > after]
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = cursors.encode_cursor(items[-1].due_at, items[-1].id)
        return store.Page(items=items, total=total, next_cursor=next_cursor)

    async def get_many(self, ids: Sequence[str]) -> builtins.list[messages.ScheduledMessage]:
        return [self.rows[i] for i in dict.fromkeys(ids) if i in self.rows]

    async def cancel(self, message_id: str, now: datetime) -> messages.ScheduledMessage | None:
        current = self.rows.get(message_id)
        if current is None or current.status != Status.QUEUED:
            return None
        cancelled = current.evolve(status=Status.CANCELLED, cancelled_at=now, updated_at=now)
        self.rows[message_id] = cancelled
        self._emit(
            outbox.event_row(
                message_id,
                Status.CANCELLED,
                now,
                now,
                gonderen=current.sender,
                previous="queued",
                category=current.category,
            )
        )
        return cancelled

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
        def wanted(m: messages.ScheduledMessage) -> bool:
            if senders is not None and m.sender not in senders:
                return False
            return m.sender not in exclude_senders

        due = sorted(
            (
                m
                for m in self.rows.values()
                if m.status == Status.QUEUED and m.run_at <= now and wanted(m)
            ),
            key=lambda m: (m.run_at, m.id),
        )[:limit]
        claimed = []
        for message in due:
            taken = message.evolve(
                status=Status.SENDING,
                claimed_by=worker,
                lease_until=lease_until,
                claimed_at=now,
                updated_at=now,
            )
            self.rows[message.id] = taken
            claimed.append(taken)
        self._continue_series(claimed, now)
        return claimed

    def _continue_series(self, claimed: Sequence[messages.ScheduledMessage], now: datetime) -> None:
        """The next occurrence of each claimed one of an active series (see sql_series.py)."""
        for message in claimed:
            series = self.series.get(message.series_id or "")
            if series is None or series.status != store.SeriesStatus.ACTIVE:
                continue
            after = recurrence.next_occurrence(message, series.rule, series.dtstart, now)
            if after is None:
                self.series[series.id] = dataclasses.replace(
                    series, status=store.SeriesStatus.ENDED, updated_at=now
                )
            else:
                self.rows.setdefault(after.id, after)

    async def edit_message(
        self,
        edited: messages.ScheduledMessage,
        changes: Mapping[str, Mapping[str, object]],
        key_name: str | None,
        now: datetime,
    ) -> messages.ScheduledMessage | None:
        current = self.rows.get(edited.id)
        if current is None or current.status != Status.QUEUED:
            return None
        values = {field: getattr(edited, field) for field in store.EDITABLE}
        updated = current.evolve(**values, updated_at=now)
        self.rows[edited.id] = updated
        self.edit_rows.append(store.Edit(edited.id, now, key_name, dict(changes)))
        return updated

    async def edits(self, message_id: str) -> builtins.list[store.Edit]:
        return [e for e in self.edit_rows if e.message_id == message_id]

    async def add_series(
        self, series: store.Series, first: messages.ScheduledMessage
    ) -> store.AddResult:
        stored = self.rows.get(first.id)
        if series.id in self.series or stored is not None:
            if stored is not None and series.id in self.series:
                same = stored.content_hash == first.content_hash
                status = store.AddStatus.EXISTING if same else store.AddStatus.CONFLICT
                return store.AddResult(status, stored)
            return store.AddResult(store.AddStatus.CONFLICT, stored or first)
        self.series[series.id] = series
        self.rows[first.id] = first
        return store.AddResult(store.AddStatus.CREATED, first)

    async def get_series(self, series_id: str) -> store.Series | None:
        return self.series.get(series_id)

    async def series_occurrences(
        self, series_id: str, limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        found = [m for m in self.rows.values() if m.series_id == series_id]
        found.sort(key=lambda m: (m.due_at, m.id), reverse=True)
        return found[:limit]

    async def change_series(
        self,
        series_id: str,
        expected: Collection[store.SeriesStatus],
        status: store.SeriesStatus,
        now: datetime,
        *,
        rule: str | None = None,
        dtstart: datetime | None = None,
        cancel_reason: str | None = None,
        occurrence: messages.ScheduledMessage | None = None,
    ) -> store.Series | None:
        series = self.series.get(series_id)
        if series is None or series.status not in expected:
            return None
        there = self.rows.get(occurrence.id) if occurrence is not None else None
        if there is not None and there.status not in (Status.QUEUED, Status.CANCELLED):
            raise errors.Conflict(f"id: occurrence {there.id!r} is being sent")
        series = dataclasses.replace(
            series,
            status=status,
            updated_at=now,
            rule=series.rule if rule is None else rule,
            dtstart=series.dtstart if dtstart is None else dtstart,
        )
        self.series[series_id] = series
        if cancel_reason is not None:
            for m in list(self.rows.values()):
                keep = occurrence is not None and m.id == occurrence.id
                if m.series_id == series_id and m.status == Status.QUEUED and not keep:
                    self.rows[m.id] = m.evolve(
                        status=Status.CANCELLED,
                        cancelled_at=now,
                        updated_at=now,
                        status_reason=cancel_reason,
                    )
        if occurrence is not None:
            current = self.rows.get(occurrence.id)
            if current is None:
                self.rows[occurrence.id] = occurrence
            else:
                values = {field: getattr(occurrence, field) for field in store.EDITABLE}
                self.rows[occurrence.id] = current.evolve(
                    **values,
                    status=Status.QUEUED,
                    updated_at=now,
                    cancelled_at=None,
                    status_reason=None,
                )
        return series

    async def record(self, outcomes: Sequence[store.Outcome]) -> int:
        applied = 0
        for outcome in outcomes:
            current = self.rows.get(outcome.message_id)
            allowed = _SENT_FROM if outcome.status == Status.SENT else {Status.SENDING}
            if (
                current is None
                or current.status not in allowed
                or current.claimed_by != outcome.worker
            ):
                continue
            applied += 1
            updated = _apply(current, outcome)
            if outcome.status == Status.SENT and current.status != Status.SENDING:
                updated = updated.evolve(status=current.status)  # a webhook got there first
            self.rows[current.id] = updated
            if updated.status != current.status and outcome.status in outbox.REPORTED:
                self._emit(
                    outbox.event_row(
                        current.id,
                        outcome.status,
                        outcome.finished_at,
                        outcome.finished_at,
                        gonderen=current.sender,
                        previous=current.status,
                        campaign_id=current.campaign_id,
                        wamid=outcome.wamid,
                        error_code=outcome.error_code,
                        error_text=outcome.error_text,
                        sent_as=outcome.sent_as,
                        category=outcome.category,
                    )
                )
            if outcome.status == Status.SENT and outcome.wamid:
                self._apply_kept(outcome.wamid, outcome.finished_at)
            if outcome.attempt is not None:
                self.attempt_rows.append(
                    messages.Attempt(
                        message_id=current.id,
                        number=max(self.rows[current.id].attempts, 1),
                        started_at=outcome.started_at or outcome.finished_at,
                        finished_at=outcome.finished_at,
                        outcome=outcome.attempt,
                        error_code=outcome.error_code,
                        error_text=outcome.error_text,
                        http_status=outcome.http_status,
                        worker=outcome.worker,
                        sent_as=outcome.sent_as,
                        category=outcome.category,
                    )
                )
        return applied

    async def expired_leases(
        self, now: datetime, limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        expired = [
            m
            for m in self.rows.values()
            if m.status == Status.SENDING and m.lease_until is not None and m.lease_until < now
        ]
        expired.sort(key=lambda m: m.lease_until or now)
        return expired[:limit]

    async def claimers(self) -> builtins.list[str]:
        held = {m.claimed_by for m in self.rows.values() if m.status == Status.SENDING}
        return sorted(w for w in held if w is not None)

    async def claims_of(
        self, workers: Sequence[str], limit: int
    ) -> builtins.list[messages.ScheduledMessage]:
        wanted = set(workers)
        found = [
            m for m in self.rows.values() if m.status == Status.SENDING and m.claimed_by in wanted
        ]
        found.sort(key=lambda m: (m.run_at, m.id))
        return found[:limit]

    async def renew_leases(self, worker: str, ids: Sequence[str], lease_until: datetime) -> int:
        renewed = 0
        for message_id in ids:
            row = self.rows.get(message_id)
            if row is not None and row.status == Status.SENDING and row.claimed_by == worker:
                self.rows[message_id] = dataclasses.replace(row, lease_until=lease_until)
                renewed += 1
        return renewed

    async def due_tally(
        self, bounds: Sequence[datetime], senders: Collection[str] | None = None
    ) -> store.DueTally:
        by_period: list[dict[str, int]] = [{} for _ in bounds[1:]]
        failures: dict[int | None, int] = {}
        for m in self.rows.values():
            if senders is not None and m.sender not in senders:
                continue
            index = next((i for i, b in enumerate(bounds[1:]) if m.due_at < b), None)
            if index is None or m.due_at < bounds[0]:
                continue
            counts = by_period[index]
            counts[str(m.status)] = counts.get(str(m.status), 0) + 1
            if m.status == Status.FAILED:
                failures[m.last_error_code] = failures.get(m.last_error_code, 0) + 1
        return store.DueTally(tuple(by_period), failures)

    async def stats(self, now: datetime) -> store.QueueStats:
        queued = [m for m in self.rows.values() if m.status == Status.QUEUED]
        sending = sum(1 for m in self.rows.values() if m.status == Status.SENDING)
        earliest = min((m.run_at for m in queued), default=None)
        return store.QueueStats(
            queued=len(queued),
            sending=sending,
            oldest_overdue=earliest if earliest is not None and earliest <= now else None,
            next_run_at=earliest,
        )

    async def next_run_at(self, *, senders: Collection[str] | None = None) -> datetime | None:
        return min(
            (
                m.run_at
                for m in self.rows.values()
                if m.status == Status.QUEUED and (senders is None or m.sender in senders)
            ),
            default=None,
        )

    async def apply_receipts(
        self, receipts: Sequence[store.Receipt], received_at: datetime
    ) -> store.ReceiptCounts:
        counts = {"applied": 0, "duplicate": 0, "stale": 0, "unmatched": 0}
        for receipt in receipts:
            key = (receipt.wamid, str(receipt.status))
            if key in self.receipts:
                counts["duplicate"] += 1
                continue
            result, message_id = self._apply_receipt(receipt, received_at)
            self.receipts[key] = (receipt, message_id)
            counts[result] += 1
        return store.ReceiptCounts(**counts)

    async def marketing_sent(
        self, sender: str, recipients: Sequence[str], since: datetime
    ) -> dict[str, builtins.list[datetime]]:
        found: dict[str, builtins.list[datetime]] = {}
        for m in sorted(self.rows.values(), key=lambda m: m.sent_at or since):
            if (
                m.recipient in recipients
                and m.sender == sender
                and m.category == consent.MARKETING
                and m.sent_at is not None
                and m.sent_at > since
            ):
                found.setdefault(m.recipient, []).append(m.sent_at)
        return found

    async def marketing_recent(
        self, sender: str, recipients: Sequence[str], since: datetime
    ) -> tuple[dict[str, builtins.list[datetime]], dict[str, builtins.list[tuple[datetime, str]]]]:
        found: dict[str, builtins.list[tuple[datetime, str]]] = {}
        for m in self.rows.values():
            if (
                m.recipient in recipients
                and m.sender == sender
                and m.category == consent.MARKETING
                and m.status == messages.MessageStatus.SENDING
                and m.claimed_at is not None
            ):
                found.setdefault(m.recipient, []).append((m.claimed_at, m.id))
        sent = await self.marketing_sent(sender, recipients, since)
        return sent, {r: sorted(v) for r, v in found.items()}

    async def book_contacts(
        self, portfolio: str, wa_ids: Sequence[str], limit: int, now: datetime
    ) -> dict[str, datetime | None]:
        since = now - sql_limits.WINDOW
        kept = self.limit_contacts.setdefault(portfolio, {})
        for wa_id in [w for w, at in kept.items() if at <= since]:
            del kept[wa_id]
        answers, new = sql_limits.book(dict(kept), wa_ids, limit, now)
        kept.update(dict.fromkeys(new, now))
        return answers

    async def retry_marketing_limited(
        self, wamids: Sequence[str], run_at: datetime, now: datetime
    ) -> builtins.list[str]:
        found = []
        for message in list(self.rows.values()):
            if (
                message.wamid not in wamids
                or message.status != Status.FAILED
                or message.last_error_code != 131049
            ):
                continue
            times = sum(
                1
                for receipt, owner in self.receipts.values()
                if owner == message.id and receipt.status == Status.FAILED
                and receipt.error_code == 131049
            )  # fmt: skip
            if times != 1:
                continue
            self.rows[message.id] = message.evolve(
                status=Status.QUEUED,
                run_at=run_at,
                status_reason="marketing_limit",
                failed_at=None,
                updated_at=now,
            )
            found.append(message.id)
        return found

    def _apply_kept(self, wamid: str, at: datetime) -> None:
        kept = [(k, r) for k, (r, mid) in self.receipts.items() if k[0] == wamid and mid is None]
        for key, receipt in sorted(kept, key=lambda item: item[1].occurred_at):
            _, message_id = self._apply_receipt(receipt, at)
            self.receipts[key] = (receipt, message_id)

    def _apply_receipt(self, receipt: store.Receipt, at: datetime) -> tuple[str, str | None]:
        target = next((m for m in self.rows.values() if m.wamid == receipt.wamid), None)
        if target is None and receipt.callback_data in self.rows:
            candidate = self.rows[receipt.callback_data]
            if candidate.wamid in (None, receipt.wamid):
                target = candidate
        if target is None:
            return "unmatched", None
        by_id = target.wamid is None  # matched by our id: the send is proven
        proof = by_id and messages.proves_ambiguous_send(
            target.status, target.attempts, receipt.status
        )
        if not proof and not messages.receipt_applies(target.status, receipt.status):
            return "stale", target.id
        changes: dict[str, object] = {
            "status": receipt.status,
            "updated_at": at,
            "wamid": target.wamid or receipt.wamid,
        }
        when = messages.receipt_time(receipt.occurred_at, target.sent_at, target.claimed_at)
        if by_id:
            changes["sent_at"] = target.sent_at or when
        if receipt.status == Status.DELIVERED:
            changes["delivered_at"] = when
        elif receipt.status == Status.READ:
            changes["read_at"] = when
            changes["delivered_at"] = target.delivered_at or when
        elif receipt.status == Status.FAILED:
            changes.update(
                failed_at=when,
                last_error_code=receipt.error_code,
                last_error_text=receipt.error_text,
            )
        self.rows[target.id] = dataclasses.replace(target, **changes)  # type: ignore[arg-type]
        self._emit(
            outbox.event_row(
                target.id,
                receipt.status,
                when,
                at,
                gonderen=target.sender,
                previous=target.status,
                campaign_id=target.campaign_id,
                wamid=receipt.wamid,
                category=target.category,
                error_code=receipt.error_code,
                error_text=receipt.error_text,
            )
        )
        return "applied", target.id

    async def record_inbound(
        self, contacts: Sequence[tuple[str, datetime]], phone_number_id: str = ""
    ) -> None:
        for wa_id, at in contacts:
            key = (phone_number_id, wa_id)
            self.contacts[key] = max(at, self.contacts.get(key, at))

    async def last_inbound(
        self, wa_id: str, phone_number_ids: Sequence[str] = ("",)
    ) -> datetime | None:
        return (await self.last_inbound_many([wa_id], phone_number_ids)).get(wa_id)

    async def last_inbound_many(
        self, wa_ids: Sequence[str], phone_number_ids: Sequence[str] = ("",)
    ) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for wa_id in wa_ids:
            times = [
                self.contacts[(n, wa_id)] for n in phone_number_ids if (n, wa_id) in self.contacts
            ]
            if times:
                found[wa_id] = max(times)
        return found

    async def contacts_many(
        self, wa_ids: Sequence[str], phone_number_ids: Sequence[str] = ("",)
    ) -> dict[str, store.ContactState]:
        inbound = await self.last_inbound_many(wa_ids, phone_number_ids)
        found: dict[str, store.ContactState] = {}
        for wa_id in wa_ids:
            rows = [
                self.consents[(n, wa_id)] for n in phone_number_ids if (n, wa_id) in self.consents
            ]
            if wa_id not in inbound and not rows:
                continue
            latest = max(rows, key=lambda r: r[1])[0] if rows else consent.NO_CONSENT_RECORD
            found[wa_id] = store.ContactState(inbound.get(wa_id), latest)
        return found

    async def record_consent(
        self,
        changes: Sequence[consent.ConsentChange],
        phone_number_id: str,
        senders: Collection[str],
        now: datetime,
    ) -> builtins.list[int]:
        counts = []
        for change in changes:
            key = (phone_number_id, change.wa_id)
            current = self.consents.get(key, (consent.NO_CONSENT_RECORD, now))[0]
            self.consents[key] = (consent.apply(current, change), now)
            cancelled = 0
            if change.change == consent.Change.OPTED_OUT:
                for message in list(self.rows.values()):
                    if (
                        message.status == Status.QUEUED
                        and message.recipient == "+" + change.wa_id
                        and message.sender in senders
                        and (
                            change.scope == consent.Scope.ALL
                            or message.category == consent.MARKETING
                        )
                    ):
                        self.rows[message.id] = message.evolve(
                            status=Status.CANCELLED,
                            status_reason="opted_out",
                            cancelled_at=now,
                            updated_at=now,
                        )
                        self._emit(
                            outbox.event_row(
                                message.id,
                                Status.CANCELLED,
                                now,
                                now,
                                gonderen=message.sender,
                                previous="queued",
                                category=message.category,
                            )
                        )
                        cancelled += 1
            event = consent.ConsentEvent(
                change=change.change,
                scope=change.scope,
                source=change.source,
                occurred_at=change.at,
                recorded_at=now,
                detail=change.detail[:200] if change.detail else None,
                cancelled=cancelled,
            )
            self.consent_events.append((phone_number_id, change.wa_id, event))
            counts.append(cancelled)
        return counts

    async def consent_history(
        self, wa_id: str, phone_number_ids: Sequence[str], limit: int
    ) -> builtins.list[consent.ConsentEvent]:
        found = [e for n, w, e in self.consent_events if w == wa_id and n in set(phone_number_ids)]
        return list(reversed(found))[:limit]

    async def list_contacts(
        self,
        phone_number_ids: Sequence[str],
        opted_out: bool | None,
        after: str | None,
        limit: int,
    ) -> store.ContactPage:
        numbers = set(phone_number_ids)
        out = {w for (n, w), (c, _) in self.consents.items() if n in numbers and c.opted_out}
        known = {w for n, w in self.contacts if n in numbers} | {
            w for n, w in self.consents if n in numbers
        }
        if opted_out is True:
            known = out
        elif opted_out is False:
            known -= out
        wa_ids = sorted(w for w in known if after is None or w > after)
        page = wa_ids[:limit]
        return store.ContactPage(page, page[-1] if len(wa_ids) > limit and page else None)

    # -- the address book ---------------------------------------------------------------

    async def has_profiles(self, sender: str) -> bool:
        return any(owner == sender for owner, _ in self.profiles)

    async def upsert_profiles(
        self, sender: str, changes: Sequence[contacts.Change], now: datetime
    ) -> tuple[int, int]:
        created = updated = 0
        for change in {c.phone: c for c in changes}.values():
            current = self.profiles.get((sender, change.phone))
            created, updated = (created + 1, updated) if current is None else (created, updated + 1)
            self.profiles[(sender, change.phone)] = contacts.apply(current, sender, change, now)
        return created, updated

    async def get_profile(self, sender: str, phone: str) -> contacts.Profile | None:
        return self.profiles.get((sender, phone))

    async def get_profiles(self, sender: str, phones: Sequence[str]) -> dict[str, contacts.Profile]:
        return {p: self.profiles[(sender, p)] for p in phones if (sender, p) in self.profiles}

    async def delete_profile(self, sender: str, phone: str) -> bool:
        return self.profiles.pop((sender, phone), None) is not None

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
    ) -> store.ContactPage:
        def matches(p: contacts.Profile) -> bool:
            if label is not None and label not in p.labels:
                return False
            for key, value in (attributes or {}).items():
                if contacts.attribute_text(p.attributes.get(key)) != value:
                    return False
            if text is not None:
                digits = "".join(ch for ch in text if ch.isdigit())
                in_name = p.name is not None and text.lower() in p.name.lower()
                whole = len(digits) == len(text.strip().lstrip("+").replace(" ", ""))
                if not in_name and not (digits and whole and digits in p.phone):
                    return False
            return True

        known = {p.phone[1:] for (s, _), p in self.profiles.items() if s == sender and matches(p)}
        if label is None and not attributes and text is None:
            page = await self.list_contacts(numbers, None, None, 1_000_000)
            known |= set(page.wa_ids)
        if opted_out is not None:
            out = set((await self.list_contacts(numbers, True, None, 1_000_000)).wa_ids)
            known = {w for w in known if (w in out) == opted_out}
        wa_ids = sorted(w for w in known if after is None or w > after)
        more = len(wa_ids) > limit
        wa_ids = wa_ids[:limit]
        return store.ContactPage(wa_ids, wa_ids[-1] if more and wa_ids else None)

    async def audience_profiles(
        self,
        sender: str,
        labels_any: Collection[str] | None,
        attributes: Mapping[str, str] | None,
    ) -> builtins.list[contacts.Profile]:
        found = []
        for (s, _), p in sorted(self.profiles.items()):
            if s != sender or (labels_any and not set(labels_any) & set(p.labels)):
                continue
            if all(
                contacts.attribute_text(p.attributes.get(k)) == v
                for k, v in (attributes or {}).items()
            ):
                found.append(p)
        return found

    async def audience_overview(
        self,
        sender: str,
        labels_any: Collection[str] | None,
        attributes: Mapping[str, str] | None,
        phones: Sequence[str],
        sample: int,
    ) -> tuple[int, builtins.list[contacts.Profile]]:
        matched: list[contacts.Profile] = []
        if labels_any or attributes:
            matched = await self.audience_profiles(sender, labels_any, attributes)
        inside = {p.phone for p in matched}
        extra = sorted(set(phones) - inside)
        book = [self.profiles[(sender, p)] for p in extra if (sender, p) in self.profiles]
        found = sorted([*matched, *book], key=lambda p: p.phone)[:sample]
        return len(inside) + len(extra), found

    # -- campaigns -----------------------------------------------------------------------

    async def create_campaign(
        self, campaign: campaigns.Campaign, batch: Sequence[messages.ScheduledMessage]
    ) -> int:
        self.campaigns[campaign.id] = campaign
        fresh = [m for m in batch if m.id not in self.rows]
        for m in fresh:
            self.rows[m.id] = m
        return len(fresh)

    def stores_campaign_rows(self) -> bool:
        return False  # keeps messages: the service gives them (`create_campaign`)

    async def create_campaign_parts(
        self, produce: campaigns.Produce
    ) -> tuple[campaigns.Campaign, int]:
        campaign, parts = campaigns.collect(produce)
        batch = [m for part in parts for m in part.built()]
        return campaign, (await self.create_campaign(campaign, batch) if batch else 0)

    async def get_campaign(self, campaign_id: str) -> campaigns.Campaign | None:
        return self.campaigns.get(campaign_id)

    async def list_campaigns(
        self, senders: Sequence[str] | None, after: tuple[datetime, str] | None, limit: int
    ) -> builtins.list[campaigns.Campaign]:
        ordered = sorted(self.campaigns.values(), key=lambda c: (c.created_at, c.id), reverse=True)
        return [
            c
            for c in ordered
            if (senders is None or c.sender in senders)
            and (after is None or (c.created_at, c.id) < after)
        ][:limit]

    async def fold_campaign_tallies(self) -> int:
        return 0  # counted from the rows on each read

    async def campaign_counts(self, campaign_id: str) -> campaigns.Counts:
        mine = [m for m in self.rows.values() if m.campaign_id == campaign_id]
        statuses: dict[str, int] = {}
        failed: dict[int | None, int] = {}
        reasons: dict[str | None, int] = {}
        read_after: dict[int, int] = {}
        for m in mine:
            statuses[str(m.status)] = statuses.get(str(m.status), 0) + 1
            if m.status == Status.FAILED:
                failed[m.last_error_code] = failed.get(m.last_error_code, 0) + 1
            if m.status == Status.CANCELLED:
                reasons[m.status_reason] = reasons.get(m.status_reason, 0) + 1
            seconds = campaigns.read_seconds(m.sent_at, m.read_at)
            if m.status == Status.READ and seconds is not None:
                bucket = campaigns.read_bucket(seconds)
                read_after[bucket] = read_after.get(bucket, 0) + 1
        sent = [m.sent_at for m in mine if m.sent_at is not None]
        return campaigns.Counts(
            statuses,
            failed,
            reasons,
            min(sent) if sent else None,
            max(sent) if sent else None,
            read_after=read_after,
            replies=sum(1 for c, _ in self.campaign_replies.values() if c == campaign_id),
        )

    async def record_replies(
        self,
        replies: Sequence[tuple[str, datetime]],
        senders: Sequence[str] | None,
        window: timedelta,
    ) -> int:
        counted = 0
        for phone, at in replies:
            answered = [
                m
                for m in self.rows.values()
                if m.recipient == phone
                and m.campaign_id is not None
                and m.sent_at is not None
                and at - window <= m.sent_at <= at
                and (senders is None or m.sender in senders)
            ]
            if not answered:
                continue
            latest = max(answered, key=lambda m: m.sent_at or at)
            if latest.id not in self.campaign_replies and latest.campaign_id is not None:
                self.campaign_replies[latest.id] = (latest.campaign_id, at)
                counted += 1
        return counted

    async def campaign_replied(
        self, campaign_id: str, message_ids: Sequence[str]
    ) -> dict[str, datetime]:
        return {
            i: self.campaign_replies[i][1]
            for i in message_ids
            if i in self.campaign_replies and self.campaign_replies[i][0] == campaign_id
        }

    async def campaign_messages(
        self,
        campaign_id: str,
        statuses: Sequence[messages.MessageStatus],
        after: str | None,
        limit: int,
    ) -> builtins.list[messages.ScheduledMessage]:
        return sorted(
            (
                m
                for m in self.rows.values()
                if m.campaign_id == campaign_id
                and (not statuses or m.status in statuses)
                and (after is None or m.id > after)
            ),
            key=lambda m: m.id,
        )[:limit]

    async def set_campaign_state(
        self, campaign_id: str, action: campaigns.Action, now: datetime
    ) -> int:
        extra: dict[str, object] = {}
        if action == campaigns.Action.PAUSE:
            source, target = {Status.QUEUED}, Status.PAUSED
        elif action == campaigns.Action.RESUME:
            source, target = {Status.PAUSED}, Status.QUEUED
        else:
            source, target = {Status.QUEUED, Status.PAUSED}, Status.CANCELLED
            extra = {"status_reason": "campaign_cancelled", "cancelled_at": now}
        count = 0
        for key, m in list(self.rows.items()):
            if m.campaign_id == campaign_id and m.status in source:
                self.rows[key] = m.evolve(status=target, updated_at=now, **extra)
                count += 1
                if target == Status.CANCELLED:
                    self._emit(
                        outbox.event_row(
                            m.id, Status.CANCELLED, now, now, gonderen=m.sender,
                            previous=None, campaign_id=campaign_id,
                        )
                    )  # fmt: skip
        current = self.campaigns.get(campaign_id)
        if current is not None:
            changes: dict[str, datetime | None] = (
                {"paused_at": now}
                if action == campaigns.Action.PAUSE
                else {"paused_at": None}
                if action == campaigns.Action.RESUME
                else {"cancelled_at": now}
            )
            self.campaigns[campaign_id] = dataclasses.replace(current, **changes)  # type: ignore[arg-type]
        return count

    def _emit(self, row: dict[str, object]) -> None:
        if self.events_enabled:
            self.events.append(OutboxEvent(id=len(self.events) + 1, **row))  # type: ignore[arg-type]

    async def claim_events(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> builtins.list[store.Event]:
        pending = str(store.EventState.PENDING)
        due = [e for e in self.events if e.state == pending and e.next_attempt_at <= now]
        due.sort(key=lambda e: (e.next_attempt_at, e.id))
        claimed = []
        for event in sorted(due[:limit], key=lambda e: e.id):
            event.next_attempt_at = lease_until
            claimed.append(
                store.Event(
                    id=event.id,
                    message_id=event.message_id,
                    status=Status(event.status),
                    body=event.body,
                    attempts=event.attempts,
                    created_at=event.created_at,
                )
            )
        return claimed

    async def finish_events(self, results: Sequence[store.EventResult]) -> None:
        by_id = {e.id: e for e in self.events}
        for result in results:
            event = by_id.get(result.event_id)
            if event is None or event.state != str(store.EventState.PENDING):
                continue
            event.attempts += 1
            event.last_error = result.error
            if result.state == store.EventState.PENDING:
                event.next_attempt_at = result.retry_at or result.at
            else:
                event.state = str(result.state)
                event.finished_at = result.at

    async def start_session(
        self, id_hash: str, now: datetime, expires_at: datetime, key_name: str | None = None
    ) -> None:
        self.sessions = {k: v for k, v in self.sessions.items() if v > now}
        self.session_keys = {k: v for k, v in self.session_keys.items() if k in self.sessions}
        self.sessions[id_hash] = expires_at
        self.session_keys[id_hash] = key_name

    async def session_active(self, id_hash: str, now: datetime) -> bool:
        expires = self.sessions.get(id_hash)
        return expires is not None and expires > now

    async def session_key(self, id_hash: str, now: datetime) -> store.SessionKey | None:
        if not await self.session_active(id_hash, now):
            return None
        return store.SessionKey(self.session_keys.get(id_hash))

    async def end_session(self, id_hash: str) -> None:
        self.sessions.pop(id_hash, None)
        self.session_keys.pop(id_hash, None)

    async def create_key(self, key: keys.ApiKey, key_hash: str) -> None:
        if key.senders is not None:
            known = {DEFAULT_SENDER_NAME, *self.senders}  # the environment's and those added
            missing = sorted(key.senders - known)
            if missing:
                raise errors.ValidationFailed(
                    "senders", "no sender named {items}", items=", ".join(repr(n) for n in missing)
                )
        if key.name in self.keys or any(h == key_hash for _, h in self.keys.values()):
            raise errors.Conflict(f"name: a key named {key.name!r} already exists")
        self.keys[key.name] = (key, key_hash)

    async def find_key(self, key_hash: str) -> keys.ApiKey | None:
        return next((k for k, h in self.keys.values() if h == key_hash), None)

    async def get_key(self, name: str) -> keys.ApiKey | None:
        entry = self.keys.get(name)
        return entry[0] if entry is not None else None

    async def list_keys(self) -> builtins.list[keys.ApiKey]:
        return [self.keys[name][0] for name in sorted(self.keys)]

    async def revoke_key(self, name: str, now: datetime) -> keys.ApiKey | None:
        entry = self.keys.get(name)
        if entry is None:
            return None
        key, key_hash = entry
        if key.revoked_at is None:
            key = dataclasses.replace(key, revoked_at=now)
            self.keys[name] = (key, key_hash)
        for id_hash in [h for h, n in self.session_keys.items() if n == name]:
            await self.end_session(id_hash)
        return key

    async def touch_key(self, name: str, now: datetime) -> None:
        entry = self.keys.get(name)
        if entry is not None and entry[0].needs_touch(now):
            self.keys[name] = (dataclasses.replace(entry[0], last_used_at=now), entry[1])

    async def add_sender(self, sender: Sender, token_encrypted: str, now: datetime) -> Sender:
        self._refuse_taken(sender.name, sender.phone_number_id)
        stored = sender.evolve(created_at=now, updated_at=now, from_environment=False)
        self.senders[sender.name] = store.StoredSender(stored, token_encrypted)
        return stored

    def _refuse_taken(self, name: str | None, phone_number_id: str | None) -> None:
        if name is not None and name in self.senders:
            raise errors.SenderExists("name", name)
        for other in self.senders.values():
            if other.sender.phone_number_id == phone_number_id and other.sender.name != name:
                raise errors.SenderExists("phone_number_id", phone_number_id)

    async def list_senders(self) -> builtins.list[store.StoredSender]:
        return [self.senders[name] for name in sorted(self.senders)]

    async def get_sender(self, name: str) -> store.StoredSender | None:
        return self.senders.get(name)

    async def update_sender(
        self, name: str, changes: Mapping[str, object], now: datetime
    ) -> Sender | None:
        unknown = set(changes) - store.SENDER_CHANGES
        if unknown:
            raise ValueError(f"not a sender field: {', '.join(sorted(unknown))}")
        current = self.senders.get(name)
        if current is None:
            return None
        phone = changes.get("phone_number_id")
        if isinstance(phone, str):
            for other in self.senders.values():
                if other.sender.phone_number_id == phone and other.sender.name != name:
                    raise errors.SenderExists("phone_number_id", phone)
        fields = {k: v for k, v in changes.items() if k != "token_encrypted"}
        token = changes.get("token_encrypted", current.token_encrypted)
        assert isinstance(token, str)
        sender = current.sender.evolve(**fields, updated_at=now)
        self.senders[name] = store.StoredSender(sender, token)
        return sender

    async def remove_sender(self, name: str) -> bool:
        if name not in self.senders:
            return False
        waiting = sum(
            1
            for m in self.rows.values()
            if m.sender == name and m.status in (Status.QUEUED, Status.SENDING)
        )
        if waiting:
            raise errors.SenderInUse(sql_senders.in_use_message(name, waiting))
        del self.senders[name]
        return True

    async def replace_templates(self, waba_id: str, templates: Sequence[CatalogueTemplate]) -> int:
        unique = {t.key: t for t in templates if t.waba_id == waba_id}
        self.templates = {k: t for k, t in self.templates.items() if k[0] != waba_id}
        for (name, language), template in unique.items():
            self.templates[(waba_id, name, language)] = template
        return len(unique)

    async def update_template(
        self, waba_id: str, name: str, language: str, changes: Mapping[str, str], now: datetime
    ) -> CatalogueTemplate | None:
        unknown = set(changes) - store.TEMPLATE_CHANGES
        if unknown:
            raise errors.ValidationFailed(sorted(unknown)[0], "cannot be changed by a webhook")
        current = self.templates.get((waba_id, name, language))
        if current is None:
            return None
        updated = dataclasses.replace(current, **changes, updated_at=now)  # type: ignore[arg-type]
        self.templates[(waba_id, name, language)] = updated
        return updated

    async def list_templates(self, waba_id: str | None = None) -> builtins.list[CatalogueTemplate]:
        return [t for k, t in sorted(self.templates.items()) if waba_id is None or k[0] == waba_id]

    # -- uploaded files ----------------------------------------------------------------------

    async def begin_media(self, file: media.MediaFile) -> None:
        self.media[file.id] = (file, False)

    async def put_media_chunk(self, media_id: str, seq: int, data: bytes) -> None:
        if (media_id, seq) in self.media_chunks:
            raise errors.StoreError("duplicate chunk")
        self.media_chunks[(media_id, seq)] = bytes(data)

    async def finish_media(self, media_id: str, size: int, sha256: str) -> media.MediaFile | None:
        found = self.media.get(media_id)
        if found is None:
            return None
        file = dataclasses.replace(found[0], size=size, sha256=sha256)
        self.media[media_id] = (file, True)
        return file

    async def get_media(self, media_id: str) -> media.MediaFile | None:
        found = self.media.get(media_id)
        return found[0] if found is not None and found[1] else None

    async def media_chunk(self, media_id: str, seq: int) -> bytes | None:
        return self.media_chunks.get((media_id, seq))

    def _senders_of(self, media_id: str) -> builtins.list[messages.ScheduledMessage]:
        return [
            m for m in self.rows.values() if media.referenced_id(m.content, m.template) == media_id
        ]

    async def media_in_use(self, media_id: str) -> int:
        done = messages.DONE_STATUSES
        return sum(1 for m in self._senders_of(media_id) if m.status not in done)

    async def delete_media(self, media_id: str) -> media.MediaFile | None:
        found = self.media.pop(media_id, None)
        if found is None:
            return None
        for chunk in [k for k in self.media_chunks if k[0] == media_id]:
            del self.media_chunks[chunk]
        for upload in [k for k in self.meta_media if k[0] == media_id]:
            del self.meta_media[upload]
        return found[0]

    async def expired_media(
        self, used_before: datetime, begun_before: datetime, limit: int
    ) -> builtins.list[str]:
        found = []
        for file, complete in sorted(self.media.values(), key=lambda f: f[0].created_at):
            if not complete:
                if file.created_at < begun_before:
                    found.append(file.id)
                continue
            needed = any(
                m.status not in messages.DONE_STATUSES or m.updated_at >= used_before
                for m in self._senders_of(file.id)
            )
            if file.created_at < used_before and not needed:
                found.append(file.id)
        return found[:limit]

    async def due_media(self, until: datetime, limit: int) -> builtins.list[tuple[str, str]]:
        found: dict[tuple[str, str], None] = {}
        for m in self.rows.values():
            ours = media.referenced_id(m.content, m.template)
            if ours is not None and m.status == messages.MessageStatus.QUEUED and m.run_at <= until:
                found[(ours, m.sender)] = None
        return list(found)[:limit]

    async def meta_media_id(self, media_id: str, phone_number_id: str, now: datetime) -> str | None:
        found = self.meta_media.get((media_id, phone_number_id))
        return found[0] if found is not None and found[1] > now else None

    async def save_meta_media_id(
        self, media_id: str, phone_number_id: str, meta_id: str, expires_at: datetime
    ) -> None:
        self.meta_media[(media_id, phone_number_id)] = (meta_id, expires_at)

    async def drop_meta_media_id(self, media_id: str, phone_number_id: str) -> None:
        self.meta_media.pop((media_id, phone_number_id), None)

    async def close(self) -> None:
        return None


@dataclasses.dataclass
class OutboxEvent:
    """One row of the in-memory outbox (the `events` table's columns)."""

    id: int
    message_id: str
    status: str
    body: str
    state: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    finished_at: datetime | None = None
    last_error: str | None = None


_SENT_FROM = {Status.SENDING, Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED}


def _apply(current: messages.ScheduledMessage, outcome: store.Outcome) -> messages.ScheduledMessage:
    if outcome.status not in transitions.OUTCOME_STATUSES:
        raise errors.StoreError(f"an outcome cannot move a message to {outcome.status}")
    changes = transitions.outcome_changes(outcome)
    if "attempts" in changes:
        changes["attempts"] = current.attempts + 1
    return dataclasses.replace(current, **changes)
