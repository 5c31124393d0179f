"""The dispatcher: claim due rows with a lease, send them under the rate limits, record outcomes.

It sequences store, limiter, sender and policy and holds no SQL or HTTP. Lifecycle::

    start()  reap expired leases, start APScheduler (wake-up, safety poll, reaper), run the loop
    loop     claim a batch of due rows (lease) -> one task per message, at most
             `send_concurrency` at once -> expired? paused? pair gap? -> wait for a throughput
             token -> send -> outcome -> batched into `store.record` by `outcomes.OutcomeWriter`
             -> when nothing is due, re-arm the wake-up job at the next `run_at`; sleep
    nudge()  a new message due before the planned wake-up wakes or re-arms the loop at once
    stop()   stop claiming; release claimed-but-unsent rows (deferral); let sends in progress
             finish for `shutdown_grace_seconds`; the rest are cancelled and recorded ambiguous

`run(burst=True)` drains what is due (no APScheduler) and returns.

Crash window: an outcome is durable once `store.record` has committed; a message is only
"done" (its in-flight slot freed) after that. A crash between Meta's 200 and that commit
leaves the row `sending` under a lease; the reaper later treats it as ambiguous and, with
RESEND_AMBIGUOUS=true, sends it again (at-least-once). The window is the flush delay
(a few ms) plus the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from whatsapp_scheduler import settings, store
from whatsapp_scheduler import whatsapp as whatsapp_mod
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.dispatch import metrics as metrics_mod
from whatsapp_scheduler.dispatch import outcomes, ratelimit, retries, sharedlimit
from whatsapp_scheduler.dispatch import pauses as pauses_mod
from whatsapp_scheduler.dispatch import window_gate as window_gate_mod
from whatsapp_scheduler.whatsapp import errorcodes

logger = logging.getLogger(__name__)

Status = messages.MessageStatus
SentAs = messages.SentAs

#: After a 130429 (`errorcodes.THROUGHPUT_CODE`) without retry-after, hold the whole number
#: this long.
THROTTLE_PAUSE_SECONDS = 1.0
WAKE_JOB = "dispatch-wake"


class State(enum.StrEnum):
    IDLE = "idle"  # built, not started
    RUNNING = "running"
    PAUSED = "paused"  # shown by health() while a number is paused after an account error
    STOPPED = "stopped"


class Phase(enum.Enum):
    WAITING = 1  # claimed, not sent yet (checks, rate-limit token)
    SENDING = 2  # request may be on the wire
    RECORDING = 3  # outcome known, waiting for the commit


def _default(name: str) -> Any:
    """The default of a `Settings` field: the dispatcher's defaults are the service's."""
    return settings.Settings.model_fields[name].default


@dataclasses.dataclass(frozen=True, slots=True)
class DispatchConfig:
    """The dispatcher's knobs (`bootstrap.dispatch_config` reads them from `Settings`)."""

    send_concurrency: int = _default("send_concurrency")
    claim_batch_size: int = _default("claim_batch_size")
    lease_seconds: float = _default("lease_seconds")
    max_lateness: timedelta = _default("max_lateness")  # noqa: RUF009 (immutable)
    safety_poll_seconds: float = _default("safety_poll_seconds")
    shutdown_grace_seconds: float = _default("shutdown_grace_seconds")
    reap_interval_seconds: float = 30.0
    messages_per_second: float = _default("messages_per_second")
    flush_delay_seconds: float = 0.002
    flush_max_batch: int = 500

    def claim_limit(self) -> int:
        """Rows per claim: a batch, but never more than a quarter lease's worth of sending."""
        quarter_lease = int(self.messages_per_second * self.lease_seconds / 4)
        return max(1, min(self.claim_batch_size, max(self.send_concurrency, quarter_lease)))


def new_worker_id() -> str:
    """Unique per process start: host, pid and a random suffix."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # <= 64 chars


class Dispatcher:
    """Sends due messages; see the module docstring. Build it with `bootstrap.build_dispatcher`."""

    def __init__(
        self,
        *,
        message_store: store.MessageStore,
        sender: whatsapp_mod.MessageSender,
        phone_number_id: str,
        clock: clock_mod.Clock,
        config: DispatchConfig,
        policy: retries.RetryPolicy,
        limiter: ratelimit.RateLimiter,
        window_gate: window_gate_mod.WindowGate | None = None,
        metrics: metrics_mod.DispatchMetrics | None = None,
        worker_id: str | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        shared_limiter: sharedlimit.SharedRateLimit | None = None,
    ) -> None:
        self.store = message_store
        self.sender = sender
        self.phone_number_id = phone_number_id
        self.clock = clock
        self.config = config
        self.policy = policy
        self.limiter = limiter
        self.window_gate = window_gate  # WINDOW_POLICY at send time (window_gate.py)
        self.metrics = metrics or metrics_mod.DispatchMetrics()
        self.worker_id = worker_id or new_worker_id()
        self._on_close = on_close
        self.shared_limiter = shared_limiter  # fleet-wide rate and pair gap (PostgreSQL/Redis)
        self._stop_hooks: list[Callable[[], Awaitable[None]]] = []
        self.tally = outcomes.Tally(self.worker_id, self.metrics)
        self._writer = outcomes.OutcomeWriter(
            message_store, config.flush_delay_seconds, config.flush_max_batch
        )
        self._state = State.IDLE
        self._stopping = False
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._slots = asyncio.Semaphore(config.send_concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._phase: dict[str, Phase] = {}
        self._unsent: list[messages.ScheduledMessage] = []
        self._interrupted: list[tuple[messages.ScheduledMessage, datetime, SentAs | None]] = []
        self._sending_as: dict[str, SentAs] = {}  # what each send on the wire asked for
        self.pauses = pauses_mod.Pauses(self.metrics)
        self._scheduler: AsyncIOScheduler | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_wake: datetime | None = None
        self._nudged: datetime | None = None
        self._job_tasks: set[asyncio.Future[Any]] = set()

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover expired leases, start the timed jobs and the dispatch loop; returns at once."""
        if self._state != State.IDLE:
            raise RuntimeError(f"dispatcher is {self._state}, cannot start")
        self._loop = asyncio.get_running_loop()
        self._state = State.RUNNING
        logger.info("dispatcher starting", extra={"worker": self.worker_id})
        await self._reap_logged()
        await self._update_depth()
        self._scheduler = self._build_scheduler()
        self._scheduler.start()
        self._loop_task = asyncio.create_task(self._run_loop(), name="dispatch-loop")

    async def run(self, *, burst: bool = False) -> None:
        """Dispatch until `stop()`; with `burst`, send what is due now and return."""
        if not burst:
            await self.start()
            await self._stopped.wait()
            return
        if self._state != State.IDLE:
            raise RuntimeError(f"dispatcher is {self._state}, cannot run")
        self._loop = asyncio.get_running_loop()
        self._state = State.RUNNING
        await self._reap_logged()
        while not self._stopping:
            claimed = await self._drain()
            await self._wait_tasks()
            await self._writer.close()
            if claimed == 0:
                break
        await self._update_depth()
        if not self._stopping:
            self._state = State.IDLE  # may run again, or be stopped to close the session

    async def stop(self) -> None:
        """Graceful stop; idempotent. Closes the HTTP session if the dispatcher owns it."""
        if self._state == State.STOPPED:
            return
        self._stopping = True
        self._wake.set()
        if self._job_tasks:  # a reaper run or safety poll in progress: let it finish
            await asyncio.gather(*self._job_tasks, return_exceptions=True)
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # APScheduler shuts down in a loop callback
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        await self._finish_tasks()
        await self._release_leftovers()
        await self._writer.close()
        if self._on_close is not None:
            await self._on_close()
        for hook in self._stop_hooks:
            await hook()
        if self.shared_limiter is not None:
            await self.shared_limiter.close()
        self._state = State.STOPPED
        self._stopped.set()
        logger.info("dispatcher stopped", extra={"worker": self.worker_id, **self.tally.counts})

    def add_stop_hook(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Await `hook()` at the end of `stop()` (e.g. to stop a NOTIFY listener)."""
        self._stop_hooks.append(hook)

    async def __aenter__(self) -> Dispatcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _build_scheduler(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(timezone=UTC, event_loop=self._loop)
        defaults = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
        scheduler.add_job(
            self._safety_poll,
            IntervalTrigger(seconds=self.config.safety_poll_seconds, timezone=UTC),
            id="dispatch-safety-poll",
            **defaults,
        )
        scheduler.add_job(
            self._reap_logged,
            IntervalTrigger(seconds=self.config.reap_interval_seconds, timezone=UTC),
            id="dispatch-lease-reaper",
            **defaults,
        )
        return scheduler

    # -- waking -----------------------------------------------------------------------------

    def nudge(self, run_at: datetime) -> None:
        """A message was stored with this `run_at`: wake now or earlier than planned if needed.

        Synchronous; safe to call from the event loop or from another thread.
        """
        if self._state != State.RUNNING or self._stopping:
            return
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._nudge(run_at)
        else:
            loop.call_soon_threadsafe(self._nudge, run_at)

    def _nudge(self, run_at: datetime) -> None:
        if self._nudged is None or run_at < self._nudged:
            self._nudged = run_at  # seen by a _plan_wake that is reading the store right now
        if self._next_wake is not None and run_at >= self._next_wake:
            return
        if run_at <= self.clock.now():
            self._wake.set()
        else:
            self._arm(run_at)

    def _arm(self, when: datetime | None) -> None:
        """Re-arm the single wake-up job at `when` (None: only the safety poll wakes us)."""
        self._next_wake = when
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running:
            return
        if when is None:
            if scheduler.get_job(WAKE_JOB) is not None:
                scheduler.remove_job(WAKE_JOB)
            return
        scheduler.add_job(
            self._wake_job,
            DateTrigger(run_date=when, timezone=UTC),
            id=WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1000,  # a re-armed job must never be skipped as "still running"
        )

    async def _wake_job(self) -> None:
        self._next_wake = None
        self._wake.set()

    async def _safety_poll(self) -> None:
        if self._stopping:
            return
        self._wake.set()
        await self._tracked(self._update_depth())

    async def _update_depth(self) -> None:
        try:
            stats = await self.store.stats(self.clock.now())
        except errors.StoreError:
            logger.warning("queue stats unavailable")
            return
        self.metrics.queue_depth.labels("queued").set(stats.queued)
        self.metrics.queue_depth.labels("sending").set(stats.sending)

    async def _run_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._drain()
                await self._plan_wake()
            except errors.StoreError:
                logger.exception("dispatch loop: store failed; retrying at the next wake-up")
                self._arm(self.clock.now() + timedelta(seconds=1))
            await self._wake.wait()

    async def _plan_wake(self) -> None:
        """Arm the wake-up at the next due row (or the end of a pause); wake now if overdue."""
        self._nudged = None
        next_run = await self.store.next_run_at()
        if self._nudged is not None and (next_run is None or self._nudged < next_run):
            next_run = self._nudged  # a retry or a new message committed while we were reading
        now = self.clock.now()
        pause = self._active_pause(now)
        if pause is not None and next_run is not None:
            next_run = max(next_run, pause.until)
        if next_run is not None and next_run <= now:
            self._wake.set()
            return
        self._arm(next_run)

    # -- claiming ---------------------------------------------------------------------------

    async def _drain(self) -> int:
        """Claim and start due messages until none is due; returns how many were claimed."""
        total = 0
        limit = self.config.claim_limit()
        while not self._stopping:
            now = self.clock.now()
            if self._active_pause(now) is not None:
                break
            lease = retries.lease_until(now, self.config.lease_seconds)
            batch = await self.store.claim_due(now, limit, self.worker_id, lease)
            total += len(batch)
            if self.window_gate is not None:
                await self.window_gate.prepare(batch)  # one contacts read per batch, or none
            await self._start_all(batch)
            if len(batch) < limit:
                break
        return total

    async def _start_all(self, batch: Sequence[messages.ScheduledMessage]) -> None:
        """One task per message, waiting for a free slot before each."""
        pending = list(batch)
        try:
            while pending:
                await self._slots.acquire()
                if self._stopping:
                    self._slots.release()
                    break
                message = pending.pop(0)
                self._phase[message.id] = Phase.WAITING
                self._tasks[message.id] = asyncio.create_task(self._handle(message))
                self.metrics.in_flight.set(len(self._tasks))
        finally:
            self._unsent.extend(pending)  # claimed, never started: released by stop()

    async def _wait_tasks(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    # -- one message ------------------------------------------------------------------------

    async def _handle(self, message: messages.ScheduledMessage) -> None:
        try:
            try:
                outcome = await self._attempt(message)
            except asyncio.CancelledError:
                if self._phase.get(message.id) == Phase.SENDING:
                    sent_as = self._sending_as.get(message.id)
                    self._interrupted.append((message, self.clock.now(), sent_as))
                else:
                    self._unsent.append(message)
                raise
            finally:
                self._slots.release()
            self._phase[message.id] = Phase.RECORDING
            try:
                await self._writer.submit(outcome)
            except errors.StoreError:
                logger.error(
                    "outcome not recorded; the lease will expire and the reaper takes over",
                    extra=message.log_context(),
                )
            else:
                if outcome.status == Status.QUEUED and outcome.run_at is not None:
                    self._nudge(outcome.run_at)  # a retry may be due before the planned wake
        finally:
            self._tasks.pop(message.id, None)
            self._phase.pop(message.id, None)
            self._sending_as.pop(message.id, None)
            self.metrics.in_flight.set(len(self._tasks))

    async def _attempt(self, message: messages.ScheduledMessage) -> store.Outcome:
        """Decide, wait, send; returns the outcome to record."""
        now = self.clock.now()
        if retries.is_expired(message.due_at, now, self.config.max_lateness):
            return self.tally.expired(message, now, self.config.max_lateness)
        sent_as = SentAs.TEXT if message.template is None else SentAs.TEMPLATE
        if self.window_gate is not None:
            verdict = self.window_gate.check(message, now)
            if verdict.failure is not None:
                return self.tally.window_closed(message, now, verdict.failure)
            if verdict.fallback:  # WINDOW_POLICY=template: its fallback template instead
                message, sent_as = verdict.message, SentAs.FALLBACK_TEMPLATE
        pause = self._active_pause(now)
        if pause is not None:
            return self.tally.deferral(message, now, pause.until, "paused")
        booked = now
        allowed = self.limiter.pairs.reserve(message.recipient, booked)
        if allowed is not None:
            return self.tally.deferral(message, now, allowed, "pair_gap")
        await self._wait_for_token()
        now = self.clock.now()
        pause = self._active_pause(now)
        if pause is not None:
            self.limiter.pairs.release(message.recipient, booked)
            return self.tally.deferral(message, now, pause.until, "paused")
        wait = await self._reserve_shared_pair(message)
        if wait is not None:  # another process sent to this recipient within PAIR_INTERVAL
            self.limiter.pairs.release(message.recipient, booked)
            now = self.clock.now()
            return self.tally.deferral(message, now, now + timedelta(seconds=wait), "pair_gap")
        return await self._send(message, sent_as)

    async def _wait_for_token(self) -> None:
        loop = asyncio.get_running_loop()
        at = self.limiter.reserve(self.phone_number_id, loop.time())
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if self.shared_limiter is not None:  # and a slot of the fleet's rate (sharedlimit.py)
            await self.shared_limiter.acquire(self.phone_number_id)

    async def _reserve_shared_pair(self, message: messages.ScheduledMessage) -> float | None:
        """The fleet-wide gap per recipient: None if booked (or not shared), else the wait.

        Booked after the throughput token, just before the send, so that the gap Meta sees is
        the gap booked; a refusal (rare: two processes, one recipient) costs that token.
        """
        if self.shared_limiter is None or not self.limiter.pairs.enabled:
            return None
        key = f"{self.phone_number_id}:{message.recipient}"
        interval = self.limiter.pairs.interval.total_seconds()
        return await self.shared_limiter.reserve_pair(key, interval)

    async def _send(
        self, message: messages.ScheduledMessage, sent_as: messages.SentAs
    ) -> store.Outcome:
        self._phase[message.id] = Phase.SENDING
        self._sending_as[message.id] = sent_as
        loop = asyncio.get_running_loop()
        started = self.clock.now()
        t0 = loop.time()
        try:
            receipt = await self.sender.send(message)
        except errors.SendError as exc:
            latency = loop.time() - t0
            self.metrics.latency.observe(latency)
            return self._failed_attempt(message, exc, started, latency, sent_as)
        except Exception as exc:  # a bug in a sender must not lose the message
            logger.exception("sender raised an unexpected error", extra=message.log_context())
            error = errors.AmbiguousFailure(f"unexpected sender error: {type(exc).__name__}")
            return self._failed_attempt(message, error, started, loop.time() - t0, sent_as)
        latency = loop.time() - t0
        self.metrics.latency.observe(latency)
        return self._sent(message, receipt, started, latency, sent_as)

    # -- outcomes (built and counted by `self.tally`) ---------------------------------------

    def _sent(
        self,
        message: messages.ScheduledMessage,
        receipt: whatsapp_mod.SendReceipt,
        started: datetime,
        latency: float,
        sent_as: messages.SentAs,
    ) -> store.Outcome:
        self.limiter.pairs.note_sent(message.recipient, started)
        self.limiter.bucket(self.phone_number_id).recover()
        return self.tally.sent(message, receipt, started, latency, self.clock.now(), sent_as)

    def _failed_attempt(
        self,
        message: messages.ScheduledMessage,
        error: errors.SendError,
        started: datetime,
        latency: float,
        sent_as: messages.SentAs | None = None,
    ) -> store.Outcome:
        now = self.clock.now()
        decision = self.policy.decide(error, message.attempts, now)
        throttled = error.code == errorcodes.THROUGHPUT_CODE
        if throttled or (isinstance(error, errors.RateLimited) and error.code is None):
            self._throttle(error)
        if decision.action == retries.Action.PAUSE:
            assert decision.run_at is not None
            self._pause(error, decision.run_at)
            self.limiter.pairs.release(message.recipient, started)
        return self.tally.attempt_failed(message, error, decision, started, latency, now, sent_as)

    def _throttle(self, error: errors.SendError) -> None:
        wait = getattr(error, "retry_after", None) or THROTTLE_PAUSE_SECONDS
        loop = asyncio.get_running_loop()
        self.limiter.bucket(self.phone_number_id).slow_down(loop.time(), wait)
        logger.warning("throughput limit hit: slowing down", extra={"pause_seconds": wait})

    # -- pauses -----------------------------------------------------------------------------

    def _pause(self, error: errors.SendError, until: datetime) -> None:
        if self.pauses.start(self.phone_number_id, error, until):
            self._arm(until)

    def _active_pause(self, now: datetime) -> pauses_mod.Pause | None:
        return self.pauses.active(self.phone_number_id, now)

    # -- leases and shutdown ----------------------------------------------------------------

    async def reap(self) -> int:
        """Recover messages whose lease expired (their worker died); returns how many."""
        now = self.clock.now()
        expired = await self.store.expired_leases(now, self.config.claim_batch_size)
        outcomes = []
        for message in expired:
            if message.claimed_by is None or message.id in self._tasks:
                continue
            decision = retries.reap_decision(message, now, self.policy)
            outcomes.append(self.tally.reaped(message, decision, now))
        applied = await self.store.record(outcomes) if outcomes else 0
        if applied:
            self.tally.count_reaped(applied)
            self._wake.set()
        return applied

    async def _reap_logged(self) -> None:
        if self._stopping:
            return
        try:
            await self._tracked(self.reap())
        except errors.StoreError:
            logger.exception("lease reaper failed")

    async def _tracked(self, work: Awaitable[Any]) -> None:
        """Run a timed job's work so that stop() can wait for it instead of cancelling it."""
        task = asyncio.ensure_future(work)
        self._job_tasks.add(task)
        try:
            await asyncio.shield(task)
        finally:
            self._job_tasks.discard(task)

    async def _finish_tasks(self) -> None:
        """Cancel unsent work, give sends in progress the grace period, cancel the rest."""
        for message_id, task in list(self._tasks.items()):
            if self._phase.get(message_id) == Phase.WAITING:
                task.cancel()
        tasks = list(self._tasks.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.config.shutdown_grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _release_leftovers(self) -> None:
        """Unsent claims go back to `queued` (not counted); cut-off sends are ambiguous."""
        now = self.clock.now()
        outcomes = []
        for message in self._unsent:
            outcomes.append(self.tally.deferral(message, now, message.run_at, "shutdown"))
        for message, started, sent_as in self._interrupted:
            error = errors.AmbiguousFailure("send cut off by shutdown")
            outcomes.append(self._failed_attempt(message, error, started, 0.0, sent_as))
        self._unsent.clear()
        self._interrupted.clear()
        if outcomes:
            await self.store.record(outcomes)

    # -- reporting --------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """JSON-able state for /health: running/paused/stopped, pauses, counters, last error."""
        now = self.clock.now()
        pauses = self.pauses.as_json(now)
        state = self._state
        if state != State.STOPPED and pauses:
            state = State.PAUSED
        return {
            "state": str(state),
            "worker": self.worker_id,
            "paused": pauses,
            "in_flight": len(self._tasks),
            "next_wake_at": self._next_wake.isoformat() if self._next_wake else None,
            **self.tally.counts,
            "last_error": self.tally.last_error,
        }


def render_metrics(dispatcher: Dispatcher) -> bytes:
    """Prometheus text for a /metrics route (content type: `metrics.CONTENT_TYPE`)."""
    return dispatcher.metrics.render()
