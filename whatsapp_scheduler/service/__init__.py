"""Use cases shared by the REST API, the dashboard and the CLI: schedule, list, cancel, status.

The service validates a request into a `ScheduledMessage`, stores it, and nudges the dispatcher
when the new message is due before the dispatcher's next wake-up. It holds no SQL and no HTTP.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from whatsapp_scheduler import store
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors, localtime, messages, recipients, templates, window
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.whatsapp import webhooks

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096  # Meta's limit for text.body (whatsapp-cloud-api.md §2.2)
ID_PATTERN = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
MAX_BATCH = 1000


# Not frozen: made once per message of a batch, and a frozen dataclass's __init__ costs ~4x
# (object.__setattr__ per field). Nothing changes a request after it is made.
@dataclasses.dataclass(slots=True)
class ScheduleRequest:
    """A request to schedule one message, in the seed's field names."""

    alici: str
    tarih: str
    saat: str
    mesaj: str | None = None
    id: str | None = None
    olusturmaTarihi: str | None = None
    timezone: str | None = None
    template: Mapping[str, Any] | None = None
    fallback_template: Mapping[str, Any] | None = None


@dataclasses.dataclass(slots=True)  # not frozen: one per message of a batch, as above
class BatchItem:
    """The answer for one message of a batch: stored (created or a repeat), or refused."""

    index: int
    id: str | None
    result: store.AddResult | None
    error: errors.SchedulerError | None
    warnings: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class StatusReport:
    message: messages.ScheduledMessage
    attempts: list[messages.Attempt]


def content_hash(
    recipient: str,
    due_at: datetime,
    body: str | None,
    template: Mapping[str, Any] | None,
    fallback_template: Mapping[str, Any] | None = None,
) -> str:
    """What makes two requests under one id "the same message" (a safe client retry)."""
    if template is None and fallback_template is None and body is not None:
        # A text: the same bytes as the general case below, written out (3x cheaper).
        payload = (
            f"[{_json_str(recipient)}, {_json_str(due_at.isoformat())}, {_json_str(body)}, null]"
        )
        return hashlib.sha256(payload.encode()).hexdigest()
    parts: list[Any] = [recipient, due_at.isoformat(), body, template]
    if fallback_template is not None:  # left out when absent: older hashes stay valid
        parts.append(fallback_template)
    return hashlib.sha256(_HASH_JSON.encode(parts).encode()).hexdigest()


# What `json.dumps(parts, sort_keys=True, ensure_ascii=False)` uses, made once: building an
# encoder per call was a third of the hash's cost. Changing the output would make stored
# hashes disagree with a client's safe retry.
_HASH_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
_json_str: Callable[[str], str] = json.encoder.encode_basestring


class SchedulerService:
    """The rules for scheduling, listing and cancelling messages."""

    def __init__(
        self,
        message_store: store.MessageStore,
        clock: clock_mod.Clock,
        *,
        default_timezone: str,
        default_region: str,
        on_scheduled: Callable[[datetime], None] | None = None,
        window_policy: window.WindowPolicy = window.WindowPolicy.SEND,
    ) -> None:
        self.store = message_store
        self.clock = clock
        self.default_timezone = default_timezone
        self.default_region = default_region
        self._on_scheduled = on_scheduled
        self.window_policy = window_policy

    def set_scheduled_hook(self, hook: Callable[[datetime], None] | None) -> None:
        """Call `hook(run_at)` after each newly stored message (the dispatcher's nudge)."""
        self._on_scheduled = hook

    def build(self, request: ScheduleRequest, now: datetime) -> messages.ScheduledMessage:
        """Validate `request` into a message ready to store; raises ValidationFailed."""
        message_id = _check_id(request.id) if request.id is not None else uuid.uuid4().hex
        recipient = recipients.normalize(request.alici, self.default_region)
        zone = request.timezone if request.timezone is not None else self.default_timezone
        due_at = localtime.resolve_due_time(request.tarih, request.saat, zone, now)
        body = _check_body(request.mesaj) if request.template is None else None
        if request.template is not None and request.mesaj is not None:
            raise errors.ValidationFailed("mesaj", "give either mesaj or template, not both")
        if request.template is None and body is None:
            raise errors.ValidationFailed("mesaj", "is required (or a template)")
        template = None
        if request.template is not None:
            template = templates.normalize(request.template, "template")
        fallback = None
        if request.fallback_template is not None:
            if template is not None:
                raise errors.ValidationFailed(
                    "fallback_template", "only a text (mesaj) can have a fallback template"
                )
            fallback = templates.normalize(request.fallback_template, "fallback_template")
        if request.olusturmaTarihi is not None:
            if len(request.olusturmaTarihi) > 64:
                raise errors.ValidationFailed("olusturmaTarihi", "must be at most 64 characters")
            _check_storable("olusturmaTarihi", request.olusturmaTarihi)
        for name, value in (("template", template), ("fallback_template", fallback)):
            if value is not None:
                for text in _strings(value):
                    _check_storable(name, text)
        return messages.ScheduledMessage(
            id=message_id,
            recipient=recipient,
            due_at=due_at,
            run_at=due_at,
            timezone=zone,
            tarih=request.tarih,
            saat=request.saat,
            content_hash=content_hash(recipient, due_at, body, template, fallback),
            created_at=now,
            updated_at=now,
            body=body,
            template=template,
            client_created=request.olusturmaTarihi,
            fallback_template=fallback,
        )

    async def schedule(self, request: ScheduleRequest) -> store.AddResult:
        """Store one message. Raises ValidationFailed, or Conflict for a reused id."""
        result, _ = await self.schedule_with_warnings(request)
        return result

    async def schedule_with_warnings(
        self, request: ScheduleRequest
    ) -> tuple[store.AddResult, list[str]]:
        """`schedule`, plus warnings about the message (e.g. `window_closed: ...`)."""
        now = self.clock.now()
        message = self.build(request, now)
        (warnings,) = await self._window_warnings([message])
        if isinstance(warnings, errors.ValidationFailed):
            raise warnings
        result = await self.store.add(message)
        self._after_add([result])
        if result.status == store.AddStatus.CONFLICT:
            raise errors.Conflict(
                f"id: {result.message.id!r} is already used by a different message"
            )
        return result, warnings

    async def _window_warnings(
        self, batch: Sequence[messages.ScheduledMessage]
    ) -> list[list[str] | errors.ValidationFailed]:
        """Per message: the 24-hour window warnings, or the refusal under WINDOW_POLICY.

        One read of the contacts table for the whole batch (texts only; templates pass).
        """
        texts = [m for m in batch if m.template is None]
        seen = (
            await self.store.last_inbound_many([window.wa_id(m.recipient) for m in texts])
            if texts
            else {}
        )
        answers: list[list[str] | errors.ValidationFailed] = []
        for message in batch:
            last_inbound = seen.get(window.wa_id(message.recipient))
            if message.fallback_template is None:  # the usual case: its answer is cached
                refusal, notes = _window_answer(
                    self.window_policy, message.template is not None, last_inbound, message.due_at
                )
            else:
                refusal, notes = _window_decision(
                    self.window_policy,
                    message.template is not None,
                    last_inbound,
                    message.due_at,
                    templates.describe(message.fallback_template),
                )
            answers.append(
                errors.ValidationFailed("mesaj", refusal) if refusal is not None else list(notes)
            )
        return answers

    async def schedule_many(self, requests: Sequence[ScheduleRequest]) -> list[BatchItem]:
        """Validate each request on its own and store the valid ones in one transaction."""
        if len(requests) > MAX_BATCH:
            raise errors.ValidationFailed("messages", f"at most {MAX_BATCH} per batch")
        now = self.clock.now()
        items: list[BatchItem | None] = [None] * len(requests)
        valid: list[tuple[int, messages.ScheduledMessage]] = []
        first_seen: dict[str, messages.ScheduledMessage] = {}
        for index, request in enumerate(requests):
            try:
                message = self.build(request, now)
            except errors.ValidationFailed as exc:
                items[index] = BatchItem(index, request.id, None, exc)
                continue
            earlier = first_seen.get(message.id)
            if earlier is not None and earlier.content_hash != message.content_hash:
                conflict = errors.Conflict(
                    f"id: {message.id!r} appears twice with different content"
                )
                items[index] = BatchItem(index, message.id, None, conflict)
                continue
            first_seen.setdefault(message.id, message)
            valid.append((index, message))
        checked = await self._window_warnings([m for _, m in valid])
        warnings_for: dict[int, tuple[str, ...]] = {}
        passed: list[tuple[int, messages.ScheduledMessage]] = []
        for (index, message), answer in zip(valid, checked, strict=True):
            if isinstance(answer, errors.ValidationFailed):
                items[index] = BatchItem(index, message.id, None, answer)
                continue
            warnings_for[index] = tuple(answer)
            passed.append((index, message))
        valid = passed
        unique = list({m.id: m for _, m in reversed(valid)}.values())
        stored = {r.message.id: r for r in await self.store.add_many(unique)}
        for index, message in valid:
            result = stored[message.id]
            if result.status == store.AddStatus.CONFLICT:
                conflict = errors.Conflict(
                    f"id: {message.id!r} is already used by a different message"
                )
                items[index] = BatchItem(index, message.id, None, conflict)
            else:
                items[index] = BatchItem(
                    index, message.id, result, None, warnings_for.get(index, ())
                )
        self._after_add(list(stored.values()))
        return [item for item in items if item is not None]

    def _after_add(self, results: Sequence[store.AddResult]) -> None:
        created = [r.message.run_at for r in results if r.status == store.AddStatus.CREATED]
        if created and self._on_scheduled is not None:
            self._on_scheduled(min(created))

    async def get(self, message_id: str) -> messages.ScheduledMessage:
        message = await self.store.get(message_id)
        if message is None:
            raise errors.NotFound(f"id: no message with id {message_id!r}")
        return message

    async def status(self, message_id: str) -> StatusReport:
        message = await self.get(message_id)
        return StatusReport(message, await self.store.attempts(message_id))

    async def cancel(self, message_id: str) -> messages.ScheduledMessage:
        """Cancel a queued message; the row stays, with status `cancelled`."""
        cancelled = await self.store.cancel(message_id, self.clock.now())
        if cancelled is not None:
            logger.info("message cancelled", extra=cancelled.log_context())
            return cancelled
        current = await self.get(message_id)
        if current.status == messages.MessageStatus.CANCELLED:
            return current  # cancelling twice is harmless
        raise errors.Conflict(
            f"id: message {message_id!r} is {current.status} and can no longer be cancelled"
        )

    async def apply_webhook(self, delivery: webhooks.Delivery) -> store.ReceiptCounts:
        """Apply Meta's status receipts and remember inbound messages (24-hour windows)."""
        if delivery.inbound:
            await self.store.record_inbound([(m.wa_id, m.timestamp) for m in delivery.inbound])
        receipts = [
            store.Receipt(
                wamid=u.wamid,
                status=u.status,
                occurred_at=u.timestamp,
                callback_data=u.callback_data,
                error_code=u.error_code,
                error_text=u.error_text,
            )
            for u in delivery.statuses
        ]
        counts = await self.store.apply_receipts(receipts, self.clock.now())
        if receipts:
            logger.info(
                "status webhook applied",
                extra={
                    "applied": counts.applied,
                    "duplicate": counts.duplicate,
                    "stale": counts.stale,
                    "unmatched": counts.unmatched,
                },
            )
        return counts

    async def list(self, query: MessageQuery) -> store.Page:
        """A page of the messages `query` asks for."""
        return await self.store.list(query)

    async def get_many(self, ids: Sequence[str]) -> builtins.list[messages.ScheduledMessage]:
        """The messages with these ids (unknown ones left out): the dashboard's live view."""
        return await self.store.get_many(ids)


def _window_decision(
    policy: window.WindowPolicy,
    is_template: bool,
    last_inbound: datetime | None,
    at: datetime,
    fallback_label: str | None,
) -> tuple[str | None, tuple[str, ...]]:
    """(the refusal's rule, or None; the warnings) for one message under `policy`."""
    decision = window.decide(
        policy,
        is_template=is_template,
        has_fallback=fallback_label is not None,
        last_inbound=last_inbound,
        at=at,
    )
    if decision.action == window.Action.FAIL and decision.window_closed:
        return window.refusal(decision), ()
    note = window.warning(decision, fallback_label)
    return None, (note,) if note is not None else ()


@functools.lru_cache(maxsize=4096)
def _window_answer(
    policy: window.WindowPolicy, is_template: bool, last_inbound: datetime | None, at: datetime
) -> tuple[str | None, tuple[str, ...]]:
    """`_window_decision` without a fallback template, cached: a batch's messages, and a
    shop's reminders, share a few due times and mostly contacts who never wrote."""
    return _window_decision(policy, is_template, last_inbound, at, None)


def _check_id(value: str) -> str:
    if not ID_PATTERN.match(value):
        raise errors.ValidationFailed(
            "id", "must be 1-128 characters of letters, digits and . _ : @ -"
        )
    return value


def _check_body(text: str | None) -> str | None:
    if text is None:
        return None
    if not text.strip():
        raise errors.ValidationFailed("mesaj", "must not be empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise errors.ValidationFailed(
            "mesaj", f"is {len(text)} characters; WhatsApp allows at most {MAX_TEXT_LENGTH}"
        )
    _check_storable("mesaj", text)
    return text


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _check_storable(field: str, text: str) -> None:
    """Text a database can keep: PostgreSQL refuses NUL in text, and half of a UTF-16
    surrogate pair (JSON allows `"\\ud83d"` alone) is not Unicode that any database stores."""
    if "\x00" in text:
        raise errors.ValidationFailed(field, "must not contain the NUL character (\\u0000)")
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            raise errors.ValidationFailed(
                field, "must be valid Unicode text (it holds half of a surrogate pair)"
            ) from exc
