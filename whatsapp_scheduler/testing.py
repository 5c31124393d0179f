"""Test doubles shipped with the package: a frozen clock and an in-memory message store.

`InMemoryMessageStore` follows the same contract as `SqlMessageStore`; the store contract suite
in tests/integration runs against both, which keeps this fake honest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from whatsapp_scheduler import errors, messages, store
from whatsapp_scheduler.store import sql

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

    def __init__(self) -> None:
        self.rows: dict[str, messages.ScheduledMessage] = {}
        self.attempt_rows: list[messages.Attempt] = []

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

    async def list(
        self,
        statuses: Sequence[messages.MessageStatus],
        limit: int,
        cursor: str | None = None,
    ) -> store.Page:
        wanted = set(statuses)
        rows = sorted(
            (m for m in self.rows.values() if not wanted or m.status in wanted),
            key=lambda m: (m.due_at, m.id),
        )
        total = len(rows)
        if cursor:
            after = sql.decode_cursor(cursor)
            rows = [m for m in rows if (m.due_at, m.id) > after]
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            next_cursor = sql.encode_cursor(items[-1].due_at, items[-1].id)
        return store.Page(items=items, total=total, next_cursor=next_cursor)

    async def cancel(self, message_id: str, now: datetime) -> messages.ScheduledMessage | None:
        current = self.rows.get(message_id)
        if current is None or current.status != Status.QUEUED:
            return None
        cancelled = current.evolve(status=Status.CANCELLED, cancelled_at=now, updated_at=now)
        self.rows[message_id] = cancelled
        return cancelled

    async def claim_due(
        self, now: datetime, limit: int, worker: str, lease_until: datetime
    ) -> list[messages.ScheduledMessage]:
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
            if (
                current is None
                or current.status != Status.SENDING
                or current.claimed_by != outcome.worker
            ):
                continue
            applied += 1
            self.rows[current.id] = _apply(current, outcome)
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
                    )
                )
        return applied

    async def expired_leases(self, now: datetime, limit: int) -> list[messages.ScheduledMessage]:
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

    async def close(self) -> None:
        return None


def _apply(current: messages.ScheduledMessage, outcome: store.Outcome) -> messages.ScheduledMessage:
    at = outcome.finished_at
    changes: dict[str, object] = {
        "status": outcome.status,
        "updated_at": at,
        "claimed_by": None,
        "lease_until": None,
    }
    if outcome.attempt is not None and outcome.attempt != messages.AttemptOutcome.EXPIRED:
        changes["attempts"] = current.attempts + 1
    if outcome.error_code is not None or outcome.error_text is not None:
        changes["last_error_code"] = outcome.error_code
        changes["last_error_text"] = outcome.error_text
    if outcome.status == Status.QUEUED:
        changes["run_at"] = outcome.run_at or at
    elif outcome.status == Status.SENT:
        changes.update(sent_at=at, wamid=outcome.wamid, wa_id=outcome.wa_id)
    elif outcome.status == Status.FAILED:
        changes["failed_at"] = at
    elif outcome.status not in {Status.QUEUED, Status.SENT, Status.FAILED}:
        raise errors.StoreError(f"an outcome cannot move a message to {outcome.status}")
    return dataclasses.replace(current, **changes)  # type: ignore[arg-type]
