"""Fakes for the edges a test cannot reach: a frozen clock, a Cloud API sender, and
`make_message`, the one factory of test messages.

`FakeSender` implements `whatsapp.MessageSender`: it records every call and can fail the next N
calls with a given error, answer "rate limited" with a retry-after, hang, or fail every send of
one message id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from whatsapp_scheduler import whatsapp as whatsapp_mod
from whatsapp_scheduler.core import errors, messages


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

    def clear_faults(self) -> None:
        """Forget every scripted and per-message fault: from now on every send succeeds."""
        self._script.clear()
        self._per_message.clear()

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
