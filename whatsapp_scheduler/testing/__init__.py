"""Test doubles shipped with the package: a frozen clock, an in-memory message store, a fake
Cloud API sender and `make_message`.

`InMemoryMessageStore` follows the same contract as `SqlMessageStore`; the store contract suite
in tests/integration runs against both, which keeps this fake honest. `FakeSender` implements
`whatsapp.MessageSender`: it records every call and can fail the next N calls with a given
error, answer "rate limited" with a retry-after, hang, or fail every send of one message id.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import hashlib
import itertools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from whatsapp_scheduler import store
from whatsapp_scheduler import whatsapp as whatsapp_mod
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.store import cursors, outbox, transitions

Status = messages.MessageStatus


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


class InMemoryMessageStore:
    """A `MessageStore` in a dict, for unit tests and demos. Not shared between processes."""

    def __init__(self, *, events_enabled: bool = False) -> None:
        self.rows: dict[str, messages.ScheduledMessage] = {}
        self.attempt_rows: list[messages.Attempt] = []
        self.receipts: dict[tuple[str, str], tuple[store.Receipt, str | None]] = {}
        self.contacts: dict[str, datetime] = {}
        self.events_enabled = events_enabled
        self.events: list[OutboxEvent] = []

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
        self._emit(outbox.event_row(message_id, Status.CANCELLED, now, now, previous="queued"))
        return cancelled

    async def claim_due(
        self, now: datetime, limit: int, worker: str, lease_until: datetime
    ) -> builtins.list[messages.ScheduledMessage]:
        due = sorted(
            (m for m in self.rows.values() if m.status == Status.QUEUED and m.run_at <= now),
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
        return claimed

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
                        previous=current.status,
                        wamid=outcome.wamid,
                        error_code=outcome.error_code,
                        error_text=outcome.error_text,
                        sent_as=outcome.sent_as,
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

    async def next_run_at(self) -> datetime | None:
        return min(
            (m.run_at for m in self.rows.values() if m.status == Status.QUEUED), default=None
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
        if not messages.receipt_applies(target.status, receipt.status):
            return "stale", target.id
        changes: dict[str, object] = {
            "status": receipt.status,
            "updated_at": at,
            "wamid": target.wamid or receipt.wamid,
        }
        when = receipt.occurred_at
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
                previous=target.status,
                wamid=receipt.wamid,
                error_code=receipt.error_code,
                error_text=receipt.error_text,
            )
        )
        return "applied", target.id

    async def record_inbound(self, contacts: Sequence[tuple[str, datetime]]) -> None:
        for wa_id, at in contacts:
            self.contacts[wa_id] = max(at, self.contacts.get(wa_id, at))

    async def last_inbound(self, wa_id: str) -> datetime | None:
        return self.contacts.get(wa_id)

    async def last_inbound_many(self, wa_ids: Sequence[str]) -> dict[str, datetime]:
        return {w: self.contacts[w] for w in wa_ids if w in self.contacts}

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


# -- a fake Cloud API sender (the dispatcher's tests) -------------------------------------

ErrorFactory = Callable[[], errors.SendError]


@dataclasses.dataclass
class _Fault:
    error: ErrorFactory | None = None
    hang: float | None = None  # seconds; math.inf = until cancelled
    hang_forever: bool = False


class FakeSender:
    """A `MessageSender` that answers from a script instead of the network."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.calls: list[messages.ScheduledMessage] = []
        self.sent: list[messages.ScheduledMessage] = []
        self.call_times: list[float] = []
        self._script: deque[_Fault] = deque()
        self._per_message: dict[str, ErrorFactory] = {}
        self._ids = itertools.count(1)

    # -- knobs ----------------------------------------------------------------------------

    def fail_next(self, count: int, error: errors.SendError | ErrorFactory) -> None:
        """The next `count` calls raise `error` (a fresh copy each time if a factory)."""
        factory = error if callable(error) else _copier(error)
        self._script.extend(_Fault(error=factory) for _ in range(count))

    def rate_limit_next(
        self, count: int, *, retry_after: float | None = None, code: int = 130429
    ) -> None:
        """The next `count` calls answer 429 / `code` with an optional retry-after."""
        self.fail_next(
            count,
            lambda: errors.RateLimited(
                f"(#{code}) rate limit", code=code, http_status=429, retry_after=retry_after
            ),
        )

    def hang_next(self, count: int, seconds: float | None = None) -> None:
        """The next `count` calls hang: for `seconds` then time out (ambiguous), or forever."""
        self._script.extend(
            _Fault(hang=seconds, hang_forever=seconds is None) for _ in range(count)
        )

    def fail_message(self, message_id: str, error: errors.SendError | ErrorFactory) -> None:
        """Every send of `message_id` raises `error`."""
        self._per_message[message_id] = error if callable(error) else _copier(error)

    # -- MessageSender --------------------------------------------------------------------

    async def send(self, message: messages.ScheduledMessage) -> whatsapp_mod.SendReceipt:
        """Record the call, apply the next scripted fault, else return a receipt."""
        self.calls.append(message)
        self.call_times.append(asyncio.get_running_loop().time())
        fault = self._script.popleft() if self._script else None
        if self.latency:
            await asyncio.sleep(self.latency)
        if fault is not None and fault.hang_forever:
            await asyncio.Event().wait()
        if fault is not None and fault.hang is not None:
            await asyncio.sleep(fault.hang)
            raise errors.AmbiguousFailure("timed out after sending")
        if fault is not None and fault.error is not None:
            raise fault.error()
        per_message = self._per_message.get(message.id)
        if per_message is not None:
            raise per_message()
        self.sent.append(message)
        return whatsapp_mod.SendReceipt(
            wamid=f"wamid.fake{next(self._ids)}", wa_id=message.recipient.lstrip("+")
        )

    def sends_for(self, message_id: str) -> int:
        """How many calls asked to send `message_id` (including failed ones)."""
        return sum(1 for m in self.calls if m.id == message_id)


def _copier(error: errors.SendError) -> ErrorFactory:
    def make() -> errors.SendError:
        if isinstance(error, errors.RateLimited):
            return errors.RateLimited(
                error.message,
                code=error.code,
                http_status=error.http_status,
                retry_after=error.retry_after,
            )
        return type(error)(error.message, code=error.code, http_status=error.http_status)

    return make


def make_message(
    message_id: str,
    due_at: datetime,
    *,
    recipient: str = "+905551112233",
    body: str | None = "hello",
    template: Mapping[str, Any] | None = None,
    timezone: str = "UTC",
    run_at: datetime | None = None,
    created_at: datetime | None = None,
    content_hash: str | None = None,
    **changes: Any,
) -> messages.ScheduledMessage:
    """A queued message due at `due_at`, with consistent bookkeeping fields.

    `run_at` defaults to `due_at`, `created_at` (and `updated_at`) too; the local date and time
    are `due_at`'s; `content_hash` defaults to a digest of id, recipient, due time and body.
    Any other field of `ScheduledMessage` can be given in `changes`.
    """
    if template is not None:
        body = None
    if content_hash is None:
        content_hash = hashlib.sha256(f"{message_id}{recipient}{due_at}{body}".encode()).hexdigest()
    created = due_at if created_at is None else created_at
    fields: dict[str, Any] = {
        "id": message_id,
        "recipient": recipient,
        "due_at": due_at,
        "run_at": due_at if run_at is None else run_at,
        "timezone": timezone,
        "local_date": due_at.date().isoformat(),
        "local_time": due_at.strftime("%H:%M"),
        "content_hash": content_hash,
        "created_at": created,
        "updated_at": created,
        "body": body,
        "template": template,
    }
    fields.update(changes)
    return messages.ScheduledMessage(**fields)
