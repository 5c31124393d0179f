"""The dispatcher's outcomes: built and counted (`Tally`), then recorded in batches (`OutcomeWriter`).

Every message the dispatcher claims ends in one `store.Outcome`: sent, a retry, a deferral, a
failure before or after a request to Meta, or a reaped lease. `Tally` builds it and counts it
where an operator looks: the counters on /health, the Prometheus metrics, one log line. It
decides nothing: the retry policy (`scheduling`) and the dispatcher's checks do.

Sends finish one by one; writing each outcome in its own transaction would cost a store round
trip per message. `OutcomeWriter` gathers the outcomes that finish within a few milliseconds
into one `store.record` call, and each sender waits until its outcome is committed: a message
is only "done" once its outcome is durable (see the crash window in dispatcher.py).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from whatsapp_scheduler import store
from whatsapp_scheduler import whatsapp as whatsapp_mod
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.dispatch import metrics as metrics_mod
from whatsapp_scheduler.dispatch import retries

logger = logging.getLogger(__name__)

Status = messages.MessageStatus
Attempt = messages.AttemptOutcome


class Tally:
    """Builds each outcome the dispatcher records, and counts and logs it."""

    def __init__(self, worker_id: str, metrics: metrics_mod.DispatchMetrics) -> None:
        self.worker_id = worker_id
        self.metrics = metrics
        self.counts = {"sent": 0, "failed": 0, "retried": 0, "deferred": 0, "reaped": 0}
        self.last_error: dict[str, Any] | None = None
        # Each (sender, category)'s children of the two metrics every sent message updates:
        # `labels()` looks the child up under a lock, once per key is enough.
        self._sent_children: dict[tuple[str, str | None], tuple[Any, Any]] = {}

    def sent(
        self,
        message: messages.ScheduledMessage,
        receipt: whatsapp_mod.SendReceipt,
        started: datetime,
        latency: float,
        now: datetime,
        sent_as: messages.SentAs | None = None,
        category: str | None = None,
    ) -> store.Outcome:
        """Meta accepted it (HTTP 200 with a wamid); `category` as it was sent."""
        self.counts["sent"] += 1
        key = (message.sender, category)
        children = self._sent_children.get(key)
        if children is None:
            children = (
                self.metrics.sent.labels(metrics_mod.category_label(category), message.sender),
                self.metrics.lateness.labels(message.sender),
            )
            self._sent_children[key] = children
        sent, lateness = children
        sent.inc()
        lateness.observe(max(0.0, (started - message.due_at).total_seconds()))
        _log_attempt(message, Attempt.SENT, None, latency, self.worker_id)
        return store.Outcome(
            message_id=message.id,
            worker=self.worker_id,
            status=Status.SENT,
            finished_at=now,
            attempt=Attempt.SENT,
            started_at=started,
            wamid=receipt.wamid,
            wa_id=receipt.wa_id,
            http_status=receipt.http_status,
            sent_as=sent_as,
            category=category,
        )

    def attempt_failed(
        self,
        message: messages.ScheduledMessage,
        error: errors.SendError,
        decision: retries.RetryDecision,
        started: datetime,
        latency: float,
        now: datetime,
        sent_as: messages.SentAs | None = None,
        category: str | None = None,
    ) -> store.Outcome:
        """A request to Meta failed (or may have): retried, paused or failed, per `decision`."""
        self.last_error = {
            "code": error.code,
            "kind": type(error).__name__,
            "text": error.message,
            "at": now.isoformat(),
        }
        if decision.action == retries.Action.PAUSE:
            self.count_deferral("paused", message.sender)
            status = Status.QUEUED
        elif decision.action == retries.Action.RETRY:
            self.counts["retried"] += 1
            self.metrics.retried.labels(metrics_mod.code_label(error.code), message.sender).inc()
            status = Status.QUEUED
        else:
            self.counts["failed"] += 1
            self.metrics.failed.labels(_failure_label(error), message.sender).inc()
            status = Status.FAILED
        _log_attempt(
            message, decision.attempt or decision.action, error.code, latency, self.worker_id
        )
        return store.Outcome(
            message_id=message.id,
            worker=self.worker_id,
            status=status,
            finished_at=now,
            attempt=decision.attempt,
            started_at=started,
            run_at=decision.run_at,
            error_code=error.code,
            error_text=decision.error_text,
            http_status=error.http_status,
            sent_as=sent_as,
            counts_attempt=decision.counts_attempt,
            category=category,
            reason=decision.reason,
        )

    def expired(
        self, message: messages.ScheduledMessage, now: datetime, max_lateness: timedelta
    ) -> store.Outcome:
        """Later than MAX_LATENESS: failed, never sent."""
        text = retries.expired_text(message.due_at, max_lateness)
        return self.failed_unsent(message, now, "expired", Attempt.EXPIRED, text)

    def window_closed(
        self, message: messages.ScheduledMessage, now: datetime, text: str
    ) -> store.Outcome:
        """WINDOW_POLICY=fail (or template without a fallback): failed, nothing sent to Meta."""
        return self.failed_unsent(message, now, "window_closed", Attempt.FAILED, text)

    def opted_out(
        self, message: messages.ScheduledMessage, now: datetime, text: str
    ) -> store.Outcome:
        """Its recipient opted out after it was claimed: cancelled (`opted_out`), not sent."""
        logger.info("not sent: opted_out", extra=message.log_context())
        return store.Outcome(
            message_id=message.id,
            worker=self.worker_id,
            status=Status.CANCELLED,
            finished_at=now,
            attempt=None,
            error_text=text,
            reason="opted_out",
        )

    def failed_unsent(
        self,
        message: messages.ScheduledMessage,
        now: datetime,
        label: str,
        attempt: messages.AttemptOutcome,
        text: str,
    ) -> store.Outcome:
        """A message that fails here, before any request to Meta."""
        self.counts["failed"] += 1
        self.metrics.failed.labels(label, message.sender).inc()
        logger.warning(
            "not sent: %s", label, extra={**message.log_context(), "outcome": str(attempt)}
        )
        return store.Outcome(
            message_id=message.id,
            worker=self.worker_id,
            status=Status.FAILED,
            finished_at=now,
            attempt=attempt,
            started_at=now,
            error_text=text,
        )

    def deferral(
        self,
        message: messages.ScheduledMessage,
        now: datetime,
        run_at: datetime,
        reason: str,
        *,
        keep_reason: bool = False,
    ) -> store.Outcome:
        """Back to `queued` at `run_at` with no attempt counted (pair gap, pause, outage,
        shutdown). `keep_reason`: `reason` becomes its `status_reason` (quiet hours and
        Meta's limits, which /status shows with the new time)."""
        self.count_deferral(reason, message.sender)
        logger.debug("deferred", extra={**message.log_context(), "reason": reason})
        return store.Outcome(
            message_id=message.id,
            worker=self.worker_id,
            status=Status.QUEUED,
            finished_at=now,
            attempt=None,
            run_at=run_at,
            reason=reason if keep_reason else None,
        )

    def count_deferral(self, reason: str, sender: str) -> None:
        self.counts["deferred"] += 1
        self.metrics.deferred.labels(reason, sender).inc()

    def reaped(
        self,
        message: messages.ScheduledMessage,
        decision: retries.RetryDecision,
        now: datetime,
    ) -> store.Outcome:
        """A lease that expired under a dead worker: requeued or failed, per `decision`."""
        retry = decision.action == retries.Action.RETRY
        logger.warning(
            "lease expired: %s",
            "requeued (may be sent twice)" if retry else "failed (may have been sent)",
            extra={**message.log_context(), "dead_worker": message.claimed_by},
        )
        return store.Outcome(
            message_id=message.id,
            worker=message.claimed_by or "",
            status=Status.QUEUED if retry else Status.FAILED,
            finished_at=now,
            attempt=decision.attempt,
            started_at=message.claimed_at,
            run_at=decision.run_at,
            error_text=decision.error_text,
        )

    def count_reaped(self, applied: int) -> None:
        self.counts["reaped"] += applied
        self.metrics.reaped.inc(applied)


def _failure_label(error: errors.SendError) -> str:
    if error.code is None and isinstance(error, errors.AmbiguousFailure):
        return "ambiguous"
    return metrics_mod.code_label(error.code)


def _log_attempt(
    message: messages.ScheduledMessage,
    outcome: str,
    code: int | None,
    latency: float,
    worker: str,
) -> None:
    """One line per attempt: ids, outcome, code, latency. Never the body or the token."""
    if not logger.isEnabledFor(logging.INFO):
        return
    logger.info(
        "send attempt: %s",
        outcome,
        extra={
            **message.log_context(),
            "outcome": str(outcome),
            "code": code,
            "latency_ms": round(latency * 1000, 1),
            "worker": worker,
        },
    )


class OutcomeWriter:
    """Batches outcomes into `store.record` calls; `submit` returns once its batch committed."""

    def __init__(self, message_store: store.MessageStore, delay: float, max_batch: int) -> None:
        self._store = message_store
        self._delay = delay
        self._max_batch = max_batch
        self._pending: list[tuple[store.Outcome, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, outcome: store.Outcome) -> None:
        """Queue `outcome` and wait until it is committed (raises StoreError if it never is)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((outcome, future))
        if self._task is None:
            self._task = asyncio.create_task(self._flush_soon())
        await future

    async def close(self) -> None:
        """Write whatever is pending."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _flush_soon(self) -> None:
        try:
            await asyncio.sleep(self._delay)
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._write(batch)
        finally:
            self._task = None

    async def _write(self, batch: list[tuple[store.Outcome, asyncio.Future[None]]]) -> None:
        outcomes = [outcome for outcome, _ in batch]
        failure: BaseException | None = None
        for attempt in range(3):
            try:
                await self._store.record(outcomes)
                failure = None
                break
            except errors.StoreError as exc:
                failure = exc
                logger.warning("recording outcomes failed (try %d of 3)", attempt + 1)
                await asyncio.sleep(0.05 * (attempt + 1))
        for _, future in batch:
            if future.done():
                continue
            if failure is None:
                future.set_result(None)
            else:
                future.set_exception(failure)
