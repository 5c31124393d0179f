"""The dispatcher: claim due rows with a lease, send them under the rate limits, record outcomes.

It sequences store, limiter, sender and policy and holds no SQL or HTTP. Lifecycle::

    start()  recover dead workers' claims and expired leases, start APScheduler (wake-up,
             safety poll, reaper, lease renewal), run the loop
    loop     claim a batch of due rows (lease) -> one task per message, at most
             `send_concurrency` at once -> expired? paused? pair gap? -> wait for a throughput
             token -> send -> outcome -> batched into `store.record` by `outcomes.OutcomeWriter`
             -> when nothing is due, re-arm the wake-up job at the next `run_at`; sleep
    nudge()  a new message due before the planned wake-up wakes or re-arms the loop at once
    stop()   stop claiming; release claimed-but-unsent rows (deferral); let sends in progress
             finish for `shutdown_grace_seconds`; the rest are cancelled and recorded ambiguous

`run(burst=True)` drains what is due (no APScheduler) and returns.

Crash window: an outcome is durable once `store.record` has committed; a message is only
"done" (its in-flight slot freed) after that, and a commit that fails (the database is away)
is retried while the slot stays taken. A crash between Meta's 200 and that commit leaves the
row `sending` under a lease; the reaper treats it as ambiguous: queued again after the grace
for a status webhook (RESEND_GRACE_SECONDS with APP_SECRET set; a `sent` status carrying our
id settles it with no second request), then, with RESEND_AMBIGUOUS=true, sent again. The
window is the flush delay (a few ms) plus the commit.

Leases: a live dispatcher renews the leases of its claims every third of a lease, so a lease
that expires is a dead or hung worker's. A dead worker's claims are recovered as soon as its
death is known (`liveness`: the SQLite file's lock, PostgreSQL advisory locks), before their
leases expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from whatsapp_scheduler import store
from whatsapp_scheduler import whatsapp as whatsapp_mod
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.dispatch import attempts, outcomes, ratelimit, retries, sharedlimit
from whatsapp_scheduler.dispatch import breaker as breaker_mod
from whatsapp_scheduler.dispatch import config as config_mod
from whatsapp_scheduler.dispatch import liveness as liveness_mod
from whatsapp_scheduler.dispatch import metrics as metrics_mod
from whatsapp_scheduler.dispatch import pauses as pauses_mod
from whatsapp_scheduler.dispatch import wakeup as wakeup_mod
from whatsapp_scheduler.dispatch import window_gate as window_gate_mod

logger = logging.getLogger(__name__)

#: A failed outcome commit is tried again after this, doubling up to the max (seconds).
COMMIT_RETRY_FIRST = 0.2
COMMIT_RETRY_MAX = 5.0

Status = messages.MessageStatus
SentAs = messages.SentAs


class State(enum.StrEnum):
    IDLE = "idle"  # built, not started
    RUNNING = "running"
    PAUSED = "paused"  # shown by health() while a number is paused (account error, outage)
    STOPPED = "stopped"


class Phase(enum.Enum):
    WAITING = 1  # claimed, not sent yet (checks, rate-limit token)
    SENDING = 2  # request may be on the wire
    RECORDING = 3  # outcome known, waiting for the commit


class Dispatcher:
    """Sends due messages; see the module docstring. Build it with `bootstrap.build_dispatcher`."""

    def __init__(
        self,
        *,
        message_store: store.MessageStore,
        sender: whatsapp_mod.MessageSender,
        phone_number_id: str,
        clock: clock_mod.Clock,
        config: config_mod.DispatchConfig,
        policy: retries.RetryPolicy,
        limiter: ratelimit.RateLimiter,
        window_gate: window_gate_mod.WindowGate | None = None,
        metrics: metrics_mod.DispatchMetrics | None = None,
        worker_id: str | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        shared_limiter: sharedlimit.SharedRateLimit | None = None,
        liveness: liveness_mod.Liveness | None = None,
    ) -> None:
        self.store = message_store
        self.clock = clock
        self.config = config
        self.policy = policy
        self.metrics = metrics or metrics_mod.DispatchMetrics()
        self.worker_id = worker_id or config_mod.new_worker_id()
        #: Which other workers are known dead (standby.py sets the SQLite lock's).
        self.liveness: liveness_mod.Liveness = liveness or liveness_mod.NoLiveness()
        self._on_close = on_close
        self._stop_hooks: list[Callable[[], Awaitable[None]]] = []
        self.tally = outcomes.Tally(self.worker_id, self.metrics)
        self._writer = outcomes.OutcomeWriter(
            message_store, config.flush_delay_seconds, config.flush_max_batch
        )
        self._state = State.IDLE
        self._stopping = False
        self._stopped = asyncio.Event()
        self._slots = asyncio.Semaphore(config.send_concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._phase: dict[str, Phase] = {}
        self._unsent: list[messages.ScheduledMessage] = []
        # Claimed by this dispatcher, waiting for a send slot (no task yet): alive, not reapable.
        self._awaiting_slot: set[str] = set()
        self._interrupted: list[tuple[messages.ScheduledMessage, datetime, SentAs | None]] = []
        self._sending_as: dict[str, SentAs] = {}  # what each send on the wire asked for
        self.pauses = pauses_mod.Pauses(self.metrics)
        self.wakeup = wakeup_mod.WakeUp(
            clock,
            accepting=lambda: self._state == State.RUNNING and not self._stopping,
            safety_poll_seconds=config.safety_poll_seconds,
            reap_interval_seconds=config.reap_interval_seconds,
            on_safety_poll=self._safety_poll,
            on_reap=self._reap_logged,
            on_renew=self._renew_logged,
            renew_interval_seconds=config.renew_interval_seconds,
        )
        self.path = attempts.SendPath(
            sender=sender,
            phone_number_id=phone_number_id,
            clock=clock,
            max_lateness=config.max_lateness,
            policy=policy,
            limiter=limiter,
            shared_limiter=shared_limiter,
            window_gate=window_gate,
            pauses=self.pauses,
            tally=self.tally,
            metrics=self.metrics,
            on_sending=self._mark_sending,
            on_pause=self.wakeup.arm,
            breaker=breaker_mod.Breaker(config.breaker, self.metrics),  # Meta outages
        )
        self._loop_task: asyncio.Task[None] | None = None
        self._job_tasks: set[asyncio.Future[Any]] = set()

    @property
    def phone_number_id(self) -> str:
        """The business number this dispatcher sends from."""
        return self.path.phone_number_id

    @property
    def limiter(self) -> ratelimit.RateLimiter:
        """This process's throughput bucket and pair gaps (`attempts.SendPath` uses them)."""
        return self.path.limiter

    @limiter.setter
    def limiter(self, value: ratelimit.RateLimiter) -> None:
        self.path.limiter = value

    @property
    def shared_limiter(self) -> sharedlimit.SharedRateLimit | None:
        """The fleet-wide rate and pair gap (PostgreSQL or Redis), if the fleet shares them."""
        return self.path.shared_limiter

    @shared_limiter.setter
    def shared_limiter(self, value: sharedlimit.SharedRateLimit | None) -> None:
        self.path.shared_limiter = value

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover expired leases, start the timed jobs and the dispatch loop; returns at once."""
        if self._state != State.IDLE:
            raise RuntimeError(f"dispatcher is {self._state}, cannot start")
        self.wakeup.bind(asyncio.get_running_loop())
        self._state = State.RUNNING
        logger.info("dispatcher starting", extra={"worker": self.worker_id})
        await self.liveness.start()
        check = self.liveness.check_seconds
        if check is not None:  # ask which peers died more often than leases are reaped
            self.wakeup.reap_interval_seconds = min(self.wakeup.reap_interval_seconds, check)
        await self._reap_logged()
        await self._update_depth()
        self.wakeup.start_jobs()
        self._loop_task = asyncio.create_task(self._run_loop(), name="dispatch-loop")

    async def run(self, *, burst: bool = False) -> None:
        """Dispatch until `stop()`; with `burst`, send what is due now and return."""
        if not burst:
            await self.start()
            await self._stopped.wait()
            return
        if self._state != State.IDLE:
            raise RuntimeError(f"dispatcher is {self._state}, cannot run")
        self.wakeup.bind(asyncio.get_running_loop())
        self._state = State.RUNNING
        await self.liveness.start()
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
        self.wakeup.wake()
        if self._job_tasks:  # a reaper run or safety poll in progress: let it finish
            await asyncio.gather(*self._job_tasks, return_exceptions=True)
        await self.wakeup.stop_jobs()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        await self._finish_tasks()
        await self._release_leftovers()
        await self._writer.close()
        await self.liveness.stop()
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

    # -- waking (timing in `wakeup.WakeUp`) ------------------------------------------------

    def nudge(self, run_at: datetime) -> None:
        """A message was stored with this `run_at`: wake now or earlier than planned if needed.

        Synchronous; safe to call from the event loop or from another thread.
        """
        self.wakeup.nudge(run_at)

    async def _safety_poll(self) -> None:
        if self._stopping:
            return
        self.wakeup.wake()
        await self._tracked(self._update_depth())

    async def _update_depth(self) -> None:
        """Queue depth and how overdue the queue is, for /metrics (at start and every poll)."""
        now = self.clock.now()
        try:
            stats = await self.store.stats(now)
        except errors.StoreError:
            logger.warning("queue stats unavailable")
            return
        self.metrics.queue_depth.labels("queued").set(stats.queued)
        self.metrics.queue_depth.labels("sending").set(stats.sending)
        overdue = stats.oldest_overdue
        self.metrics.queue_overdue.set((now - overdue).total_seconds() if overdue else 0.0)

    async def _run_loop(self) -> None:
        event = self.wakeup.event
        while not self._stopping:
            event.clear()
            try:
                await self._drain()
                await self._plan_wake()
            except errors.StoreError:
                logger.exception("dispatch loop: store failed; retrying at the next wake-up")
                self.wakeup.arm(self.clock.now() + timedelta(seconds=1))
            await event.wait()

    async def _plan_wake(self) -> None:
        """Arm the wake-up at the next due row (or the end of a pause); wake now if overdue."""
        self.wakeup.begin_plan()
        next_run = await self.store.next_run_at()
        nudged = self.wakeup.nudged
        if nudged is not None and (next_run is None or nudged < next_run):
            next_run = nudged  # a retry or a new message committed while we were reading
        now = self.clock.now()
        held = self.path.held_until(now)  # an account pause, or the breaker (a Meta outage)
        if held is not None and next_run is not None:
            next_run = max(next_run, held)
        if next_run is not None and next_run <= now:
            self.wakeup.wake()
            return
        self.wakeup.arm(next_run)

    # -- claiming ---------------------------------------------------------------------------

    async def _drain(self) -> int:
        """Claim and start due messages until none is due; returns how many were claimed."""
        total = 0
        while not self._stopping:
            now = self.clock.now()
            limit = self.path.claim_limit(now, self.config.claim_limit())  # 0: paused / held
            if limit == 0:
                break
            lease = retries.lease_until(now, self.config.lease_seconds)
            batch = await self.store.claim_due(now, limit, self.worker_id, lease)
            total += len(batch)
            gate = self.path.window_gate  # WINDOW_POLICY at send time (window_gate.py)
            if gate is not None:
                await gate.prepare(batch)  # one contacts read per batch, or none
            await self._start_all(batch)
            if len(batch) < limit:
                break
        return total

    async def _start_all(self, batch: Sequence[messages.ScheduledMessage]) -> None:
        """One task per message, waiting for a free slot before each."""
        pending = list(batch)
        self._awaiting_slot.update(m.id for m in pending)
        try:
            while pending:
                await self._slots.acquire()
                if self._stopping:
                    self._slots.release()
                    break
                message = pending.pop(0)
                self._awaiting_slot.discard(message.id)
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
        """One message from its checks to its committed outcome. Its send slot is freed only
        after the commit: at most `send_concurrency` messages are ever sent but not recorded,
        which bounds what a crash can make the reaper send twice."""
        try:
            try:
                outcome = await self.path.attempt(message)
            except asyncio.CancelledError:
                if self._phase.get(message.id) == Phase.SENDING:
                    sent_as = self._sending_as.get(message.id)
                    self._interrupted.append((message, self.clock.now(), sent_as))
                else:
                    self._unsent.append(message)
                raise
            self._phase[message.id] = Phase.RECORDING
            committed = await self._commit(outcome, message)
            if committed and outcome.status == Status.QUEUED and outcome.run_at is not None:
                self.wakeup.nudge_here(outcome.run_at)  # may be due before the planned wake
        finally:
            self._slots.release()
            self._tasks.pop(message.id, None)
            self._phase.pop(message.id, None)
            self._sending_as.pop(message.id, None)
            self.metrics.in_flight.set(len(self._tasks))

    async def _commit(self, outcome: store.Outcome, message: messages.ScheduledMessage) -> bool:
        """Record `outcome`; while the database is away, try again (the slot stays taken and
        the lease is renewed once it is back), so a sent message is not resent for an outage.
        Gives up only when stopping: then the lease expires and the reaper takes over."""
        wait = COMMIT_RETRY_FIRST
        while True:
            try:
                await self._writer.submit(outcome)
                return True
            except errors.StoreError:
                if self._stopping:
                    logger.error(
                        "outcome not recorded; the lease will expire and the reaper takes over",
                        extra=message.log_context(),
                    )
                    return False
                logger.warning(
                    "outcome not recorded yet; retrying in %.1f s",
                    wait,
                    extra=message.log_context(),
                )
            await asyncio.sleep(wait)
            wait = min(COMMIT_RETRY_MAX, wait * 2)

    def _mark_sending(self, message_id: str, sent_as: SentAs) -> None:
        """The request may be on the wire: a shutdown now records it ambiguous."""
        self._phase[message_id] = Phase.SENDING
        self._sending_as[message_id] = sent_as

    # -- leases and shutdown ----------------------------------------------------------------

    async def reap(self) -> int:
        """Recover the claims of workers known dead (at once), then messages whose lease
        expired (their worker died or hung); returns how many."""
        limit = self.config.claim_batch_size
        applied = 0
        if not isinstance(self.liveness, liveness_mod.NoLiveness):
            others = [w for w in await self.store.claimers() if w != self.worker_id]
            dead = await self.liveness.dead(others) if others else set()
            while dead:
                claims = await self.store.claims_of(sorted(dead), limit)
                recovered = await self._requeue(claims, retries.WORKER_DIED_TEXT)
                applied += recovered
                if len(claims) < limit or recovered == 0:
                    await self.liveness.forget_settled()
                    break
        expired = await self.store.expired_leases(self.clock.now(), limit)
        applied += await self._requeue(expired, retries.LEASE_EXPIRED_TEXT)
        if applied:
            self.wakeup.wake()
        return applied

    async def _requeue(self, claims: Sequence[messages.ScheduledMessage], text: str) -> int:
        """Dead or expired claims: ambiguous (queued after the grace, or failed)."""
        now = self.clock.now()
        outcomes = []
        for message in claims:
            # Our own claims still being worked on are not a dead worker's: a message in a
            # task, or waiting for a send slot (its lease may pass when sends are slow).
            mine = message.id in self._tasks or message.id in self._awaiting_slot
            if message.claimed_by is None or mine:
                continue
            decision = retries.reap_decision(message, now, self.policy, text)
            outcomes.append(self.tally.reaped(message, decision, now))
        applied = await self.store.record(outcomes) if outcomes else 0
        if applied:
            self.tally.count_reaped(applied)
        return applied

    async def renew_leases(self) -> int:
        """Extend the leases of this dispatcher's live claims; returns how many it holds."""
        ids = [*self._tasks, *self._awaiting_slot]
        if not ids:
            return 0
        until = retries.lease_until(self.clock.now(), self.config.lease_seconds)
        return await self.store.renew_leases(self.worker_id, ids, until)

    async def _renew_logged(self) -> None:
        if self._stopping:
            return
        try:
            await self._tracked(self.renew_leases())
        except errors.StoreError:
            logger.warning("lease renewal failed; retrying at the next renewal")

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
            outcomes.append(self.path.failed_attempt(message, error, started, 0.0, sent_as))
        self._awaiting_slot.difference_update(m.id for m in self._unsent)
        self._unsent.clear()
        self._interrupted.clear()
        if outcomes:
            await self.store.record(outcomes)

    # -- reporting --------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """JSON-able state for /health: running/paused/stopped, pauses, counters, last error."""
        now = self.clock.now()
        pauses = self.pauses.as_json(now) + self.path.breaker.as_json(now)
        state = self._state
        next_wake = self.wakeup.next_wake
        if state != State.STOPPED and pauses:
            state = State.PAUSED
        return {
            "state": str(state),
            "worker": self.worker_id,
            "paused": pauses,
            "in_flight": len(self._tasks),
            "next_wake_at": next_wake.isoformat() if next_wake else None,
            **self.tally.counts,
            "last_error": self.tally.last_error,
            "limit": self.path.limit_health(),
        }


def render_metrics(dispatcher: Dispatcher) -> bytes:
    """Prometheus text for a /metrics route (content type: `metrics.CONTENT_TYPE`)."""
    return dispatcher.metrics.render()
