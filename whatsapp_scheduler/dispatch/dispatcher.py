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

`run(burst=True)` drains what is due (no APScheduler) and returns; it claims again as soon as a
sender's slots have room, as the loop does.

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
import dataclasses
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from whatsapp_scheduler import store
from whatsapp_scheduler import whatsapp as whatsapp_mod
from whatsapp_scheduler.core import catalogue, errors, messages, quiet
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import limits as limits_mod
from whatsapp_scheduler.core import senders as senders_mod
from whatsapp_scheduler.dispatch import attempts, outcomes, ratelimit, retries, sharedlimit
from whatsapp_scheduler.dispatch import breaker as breaker_mod
from whatsapp_scheduler.dispatch import config as config_mod
from whatsapp_scheduler.dispatch import consent_gate as consent_gate_mod
from whatsapp_scheduler.dispatch import contact_zones as contact_zones_mod
from whatsapp_scheduler.dispatch import limit_gate as limit_gate_mod
from whatsapp_scheduler.dispatch import liveness as liveness_mod
from whatsapp_scheduler.dispatch import metrics as metrics_mod
from whatsapp_scheduler.dispatch import pauses as pauses_mod
from whatsapp_scheduler.dispatch import senders as sources_mod
from whatsapp_scheduler.dispatch import template_gate as template_gate_mod
from whatsapp_scheduler.dispatch import wakeup as wakeup_mod
from whatsapp_scheduler.dispatch import window_gate as window_gate_mod

logger = logging.getLogger(__name__)

#: A failed outcome commit is tried again after this, doubling up to the max (seconds).
COMMIT_RETRY_FIRST = 0.2
COMMIT_RETRY_MAX = 5.0
#: A message naming a sender the dispatcher does not know reloads the senders at most this
#: often (seconds); the safety poll reloads them anyway.
RELOAD_MIN_SECONDS = 1.0

#: Builds the Cloud API sender of one sender's credentials (over the dispatcher's session).
Connect = Callable[[senders_mod.SenderCredentials], whatsapp_mod.MessageSender]

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


class Lane:
    """One sender's share of the dispatcher: its send path and its own send slots.

    Each sender has `send_concurrency` slots and claims its own rows (`claim_due(senders=
    [name])`), so a sender whose messages wait (its rate, a pause, an outage) never takes
    another sender's slots or claims."""

    def __init__(
        self,
        path: attempts.SendPath,
        concurrency: int,
        fingerprint: tuple[str, str, float, float] | None,
    ) -> None:
        self.path = path
        self.slots = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        self.backlog = 0  # claimed by this dispatcher and not finished (waiting or sending)
        self.full = False  # skipped by a claim for its backlog: its next finish wakes the loop
        self.fingerprint = fingerprint  # what the path was built from (reloads compare it)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def window_numbers(self) -> tuple[str, ...]:
        """Whose 24-hour windows its messages use: its number's, and for the default sender
        also those recorded without a number ('': before revision 0013)."""
        number = self.path.phone_number_id
        if self.name == senders_mod.DEFAULT_SENDER_NAME:
            return (number, "")
        return (number,)

    def room(self) -> bool:
        """Claim for this sender only while fewer than `concurrency` of its claims are open
        (so it holds at most `concurrency - 1 + claim_limit` claims)."""
        return self.backlog < self.concurrency


class Dispatcher:
    """Sends due messages; see the module docstring. Build it with `bootstrap.build_dispatcher`."""

    def __init__(
        self,
        *,
        message_store: store.MessageStore,
        sender: whatsapp_mod.MessageSender | None = None,
        phone_number_id: str | None = None,
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
        senders: sources_mod.SenderSource | None = None,
        connect: Connect | None = None,
        template_statuses: template_gate_mod.TemplateStatuses | None = None,
    ) -> None:
        """`sender` + `phone_number_id`: the sender `default` (fixed). `senders` + `connect`:
        every sender of the source (reloaded, see `reload_senders`), each sent through
        `connect(credentials)`; a fixed `default` wins over the source's. `limiter` gives the
        default rate and pair gap (a sender's own `messages_per_second`/`pair_interval` win)."""
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
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._phase: dict[str, Phase] = {}
        self._unsent: list[messages.ScheduledMessage] = []
        # Claimed by this dispatcher, waiting for a send slot (no task yet): alive, not reapable.
        self._awaiting_slot: set[str] = set()
        self._interrupted: list[
            tuple[attempts.SendPath, messages.ScheduledMessage, datetime, SentAs | None]
        ] = []
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
        self._window_gate = window_gate
        self._consent_gate = consent_gate_mod.ConsentGate(message_store)  # docs/consent.md
        self._contact_zones = contact_zones_mod.ContactZones(message_store)  # quiet hours
        # MESSAGING_LIMIT, or a sender's own, per portfolio (docs/limits.md)
        self._limit_gate = limit_gate_mod.MessagingLimitGate(message_store)
        self._frequency_gate = (
            limit_gate_mod.FrequencyGate(message_store, config.frequency_cap)
            if config.frequency_cap is not None
            else None
        )
        self._template_gate = (  # Meta's template status at send time (docs/templates.md)
            template_gate_mod.TemplateGate(template_statuses)
            if template_statuses is not None
            else None
        )
        self._shared = shared_limiter
        self._base_limiter = limiter
        self._policy = policy
        self.breaker = breaker_mod.Breaker(config.breaker, self.metrics)  # Meta outages
        self.source = senders
        self._connect = connect
        self._lanes: dict[str, Lane] = {}
        self._disabled: set[str] = set()  # senders the source has, disabled
        self._reloaded_at: float | None = None  # loop time of the last successful reload
        self._reload_failed = False
        self._reload_lock = asyncio.Lock()
        self._leftovers_due = True  # claim messages of unknown senders at the next drain
        self._fixed_default = sender is not None
        if sender is not None:
            path = self._new_path(
                senders_mod.DEFAULT_SENDER_NAME, sender, phone_number_id or "default", limiter
            )
            self._lanes[path.name] = Lane(path, config.send_concurrency, None)
        self._loop_task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()  # set when the last message task finishes
        self._job_tasks: set[asyncio.Future[Any]] = set()
        #: MESSAGING_LIMIT=graph: phone_number_id -> the tier Meta last answered (None:
        #: unlimited), and sender name -> its own `messaging_limit` (which wins).
        self._graph_limits: dict[str, int | None] = {}
        self._own_limits: dict[str, str | None] = {}

    def _new_path(
        self,
        name: str,
        sender: whatsapp_mod.MessageSender,
        phone_number_id: str,
        limiter: ratelimit.RateLimiter,
    ) -> attempts.SendPath:
        if self._shared is not None:
            self._shared.set_rate(phone_number_id, limiter.messages_per_second)
        self.metrics.sent.labels(catalogue.SERVICE, name)  # exported (0) before its first send
        path = attempts.SendPath(
            name=name,
            sender=sender,
            phone_number_id=phone_number_id,
            clock=self.clock,
            max_lateness=self.config.max_lateness,
            policy=self._policy,
            limiter=limiter,
            shared_limiter=self._shared,
            window_gate=self._window_gate,
            consent_gate=self._consent_gate,
            template_gate=self._template_gate,
            pauses=self.pauses,
            tally=self.tally,
            metrics=self.metrics,
            on_sending=self._mark_sending,
            on_pause=self.wakeup.arm,
            breaker=self.breaker,
            quiet_hours=self.config.quiet_hours,
            limit_gate=self._limit_gate,
            frequency_gate=self._frequency_gate,
            contact_zones=self._contact_zones,
        )
        path.messaging_limit = self.config.messaging_limit
        return path

    @property
    def path(self) -> attempts.SendPath:
        """The default sender's send path (or the first sender's, without a default)."""
        lane = self._lanes.get(senders_mod.DEFAULT_SENDER_NAME)
        if lane is None:
            if not self._lanes:
                raise RuntimeError("the dispatcher has no sender (reload_senders first)")
            lane = next(iter(self._lanes.values()))
        return lane.path

    @property
    def paths(self) -> dict[str, attempts.SendPath]:
        """Every enabled sender's send path, by sender name."""
        return {name: lane.path for name, lane in self._lanes.items()}

    @property
    def phone_number_id(self) -> str:
        """The business number of the default sender."""
        return self.path.phone_number_id

    # -- senders ----------------------------------------------------------------------------

    async def reload_senders(self) -> bool:
        """Ask the source for its senders; build a new path for an added sender or one whose
        number, token, rate or pair gap changed (a rotated token is used from the next send;
        sends on the wire finish with the old one), drop removed and disabled ones. Pauses and
        breakers are kept by number. On a source error the senders known stay; False."""
        if self.source is None or self._connect is None:
            return True
        async with self._reload_lock:
            try:
                found = await self.source.all()
            except Exception:  # the registry is away: keep sending from what is known
                logger.exception("senders not reloaded; keeping the senders known")
                self._reload_failed = True
                return False
            self._reload_failed = False
            self._reloaded_at = asyncio.get_running_loop().time()
            self._apply_senders(found)
            return True

    def _apply_senders(self, found: Sequence[senders_mod.SenderCredentials]) -> None:
        base = self._base_limiter
        default_pair = base.pairs.interval.total_seconds()
        seen: set[str] = set()
        self._disabled = set()
        for credentials in found:
            sender = credentials.sender
            if self._fixed_default and sender.name == senders_mod.DEFAULT_SENDER_NAME:
                seen.add(sender.name)
                continue
            if not sender.enabled:
                self._disabled.add(sender.name)
                continue
            seen.add(sender.name)
            own_quiet = quiet.effective(self.config.quiet_hours, sender.quiet_hours)
            self._own_limits[sender.name] = sender.messaging_limit
            own_limit = self._limit_of(sender.phone_number_id, sender.messaging_limit)
            rate = sender.messages_per_second or base.messages_per_second
            pair = default_pair if sender.pair_interval is None else sender.pair_interval
            fingerprint = (sender.phone_number_id, credentials.access_token, rate, pair)
            lane = self._lanes.get(sender.name)
            portfolio = f"portfolio:{sender.portfolio}" if sender.portfolio else None
            if lane is not None and lane.fingerprint == fingerprint:
                lane.path.quiet_hours = own_quiet
                lane.path.messaging_limit = own_limit
                lane.path.portfolio = portfolio or lane.path.portfolio
                continue
            kept = lane is not None and lane.fingerprint is not None
            if lane is not None and lane.fingerprint is not None:
                number, _, *limits = lane.fingerprint
                kept = number == sender.phone_number_id and limits == [rate, pair]
            if lane is not None and kept:
                limiter = lane.path.limiter  # a rotated token keeps the bucket and pair gaps
            else:
                limiter = ratelimit.RateLimiter(rate, pair, base.burst)
            assert self._connect is not None
            path = self._new_path(
                sender.name, self._connect(credentials), sender.phone_number_id, limiter
            )
            path.quiet_hours = own_quiet
            path.messaging_limit = own_limit
            path.portfolio = portfolio or path.portfolio
            if lane is None:
                self._lanes[sender.name] = Lane(path, self.config.send_concurrency, fingerprint)
                logger.info("sender added", extra={"sender": sender.name})
            else:
                lane.path, lane.fingerprint = path, fingerprint
                logger.info("sender changed", extra={"sender": sender.name})
        for name in [n for n in self._lanes if n not in seen]:
            del self._lanes[name]  # claims in progress finish on the path they hold
            logger.info("sender removed or disabled", extra={"sender": name})

    def _limit_of(self, phone_number_id: str, own: str | None) -> int | None:
        """A sender's daily messaging limit: its own, else (MESSAGING_LIMIT=graph) its
        number's tier as Meta last answered, else MESSAGING_LIMIT."""
        if own is None and phone_number_id in self._graph_limits:
            return self._graph_limits[phone_number_id]
        return limits_mod.effective(self.config.messaging_limit, own)

    def sender_objects(self) -> dict[str, whatsapp_mod.MessageSender]:
        """Each sender's name and the object that sends its messages."""
        return {name: lane.path.sender for name, lane in self._lanes.items()}

    async def refresh_messaging_limits(self) -> int:
        """MESSAGING_LIMIT=graph (docs/limits.md): ask Meta each sender's current tier
        (`GET /{phone_number_id}?fields=whatsapp_business_manager_messaging_limit`) and book
        against it from now on; a sender with its own `messaging_limit` keeps that. A number
        whose tier cannot be read keeps the last one read (or MESSAGING_LIMIT's 250 until the
        first). Returns how many were read; run hourly (Meta moves a tier up within 6 h)."""
        read = 0
        for name, lane in list(self._lanes.items()):
            ask = getattr(lane.path.sender, "messaging_limit", None)
            if ask is None:  # a sender without a Graph API (a test's fake)
                continue
            try:
                tier = await ask()
            except errors.SendError as exc:
                logger.warning(
                    "messaging limit not read from Meta; keeping the one known",
                    extra={"sender": name, "reason": str(exc)},
                )
                continue
            read += 1
            number = lane.path.phone_number_id
            if self._graph_limits.get(number, 0) != tier:
                logger.info(
                    "messaging limit read from Meta",
                    extra={"sender": name, "limit": "unlimited" if tier is None else tier},
                )
            self._graph_limits[number] = tier
            lane.path.messaging_limit = self._limit_of(number, self._own_limits.get(name))
        return read

    async def refresh_messaging_limits_logged(self) -> None:
        """`refresh_messaging_limits` as a timed job: an error is logged, never raised."""
        try:
            await self.refresh_messaging_limits()
        except Exception:
            logger.exception("messaging limits not refreshed")

    @property
    def limiter(self) -> ratelimit.RateLimiter:
        """The default sender's throughput bucket and pair gaps (`attempts.SendPath`)."""
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
        self._shared = value
        for lane in self._lanes.values():
            lane.path.shared_limiter = value
            if value is not None:
                value.set_rate(lane.path.phone_number_id, lane.path.limiter.messages_per_second)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover expired leases, start the timed jobs and the dispatch loop; returns at once."""
        if self._state != State.IDLE:
            raise RuntimeError(f"dispatcher is {self._state}, cannot start")
        self.wakeup.bind(asyncio.get_running_loop())
        self._state = State.RUNNING
        logger.info("dispatcher starting", extra={"worker": self.worker_id})
        await self.liveness.start()
        await self.reload_senders()
        self._leftovers_due = True
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
        await self.reload_senders()
        await self._reap_logged()
        await self._burst()
        await self._update_depth()
        if not self._stopping:
            self._state = State.IDLE  # may run again, or be stopped to close the session

    async def _burst(self) -> None:
        """Drain until a drain claims nothing and every message claimed has its outcome.

        A sender claims again as soon as its slots have room (`_handle` wakes the loop's
        event, as in the running loop), not once every message of the last claim is done:
        waiting for all of them left its slots idle while the next batch was read, a gap
        after every batch."""
        event = self.wakeup.event
        while not self._stopping:
            if not self._tasks:
                self._leftovers_due = True  # as at start: once per idle moment
            event.clear()
            claimed = await self._drain()
            if not self._tasks:
                await self._writer.close()
                if claimed == 0:
                    return
                continue
            self._idle.clear()
            room = asyncio.ensure_future(event.wait())
            idle = asyncio.ensure_future(self._idle.wait())
            try:
                await asyncio.wait((room, idle), return_when=asyncio.FIRST_COMPLETED)
            finally:
                room.cancel()
                idle.cancel()
        await self._wait_tasks()
        await self._writer.close()

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

    def add_timed_job(
        self,
        job_id: str,
        seconds: float,
        work: Callable[[], Awaitable[None]],
        *,
        at_start: bool = False,
    ) -> None:
        """Run `work()` every `seconds` beside the safety poll and the reaper (first at start
        with `at_start`), while this dispatcher runs; stop() waits for a run in progress.
        Call before `start()`."""

        async def job() -> None:
            if not self._stopping:
                await self._tracked(work())

        self.wakeup.extra_jobs.append((job_id, seconds, job, at_start))

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
        await self._tracked(self.reload_senders())  # an added sender, a rotated token
        self._leftovers_due = True  # messages naming a sender not known before
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
            await asyncio.sleep(0)  # a wake-up already set never starves the sends

    async def _plan_wake(self) -> None:
        """Arm the wake-up at the next due row of a sender that may send (or the end of a
        pause or an outage's probe); wake now if overdue. A sender whose claims fill its slots
        wakes the loop when one finishes (`_handle`)."""
        self.wakeup.begin_plan()
        now = self.clock.now()
        candidates: list[datetime] = []
        for lane in list(self._lanes.values()):
            if lane.full:
                continue  # its next finish wakes the loop (`_handle`), also for a probe
            held = lane.path.held_until(now)  # an account pause, or the breaker (an outage)
            if held is not None:
                candidates.append(held)
            else:
                next_run = await self.store.next_run_at(senders=[lane.name])
                if next_run is not None:
                    candidates.append(next_run)
        nudged = self.wakeup.nudged
        if nudged is not None:
            candidates.append(nudged)  # a retry or a new message committed while we read
        next_run = min(candidates, default=None)
        if next_run is not None and next_run <= now:
            self.wakeup.wake()
            return
        self.wakeup.arm(next_run)

    # -- claiming ---------------------------------------------------------------------------

    async def _drain(self) -> int:
        """Claim and start due messages, per sender, until none is due or every sender's slots
        are taken; returns how many were claimed."""
        total = 0
        if self._leftovers_due and not self._stopping:
            self._leftovers_due = False
            total += await self._claim_leftovers()
        while not self._stopping:
            more = False
            for lane in list(self._lanes.values()):
                if self._stopping:
                    break
                if not lane.room():
                    lane.full = True
                    continue
                now = self.clock.now()
                claim_limit = self._claim_limit(lane)
                limit = lane.path.claim_limit(now, claim_limit)  # 0: paused / held, 1: probe
                if limit == 0:
                    continue
                lease = retries.lease_until(now, self.config.lease_seconds)
                batch = await self.store.claim_due(
                    now, limit, self.worker_id, lease, senders=[lane.name]
                )
                total += len(batch)
                await self._start_all(lane, batch)
                more = more or len(batch) == limit
            if not more:
                break
        return total

    def _claim_limit(self, lane: Lane) -> int:
        """Rows per claim for this sender: a batch, but no more than a quarter lease's worth
        of sending at its own rate."""
        rate = lane.path.limiter.messages_per_second
        if rate == self.config.messages_per_second:
            return self.config.claim_limit()
        return dataclasses.replace(self.config, messages_per_second=rate).claim_limit()

    async def _claim_leftovers(self) -> int:
        """Messages naming a sender without a lane (unknown, disabled, or added since the last
        reload): reload the senders once, start those now known, fail the others."""
        total = 0
        limit = self.config.claim_limit()
        while not self._stopping:
            now = self.clock.now()
            lease = retries.lease_until(now, self.config.lease_seconds)
            batch = await self.store.claim_due(
                now, limit, self.worker_id, lease, exclude_senders=list(self._lanes)
            )
            if not batch:
                break
            total += len(batch)
            await self._reload_if_stale()
            failed: list[store.Outcome] = []
            by_lane: dict[str, list[messages.ScheduledMessage]] = {}
            for message in batch:
                if message.sender in self._lanes:
                    by_lane.setdefault(message.sender, []).append(message)
                elif self._reload_failed:  # the registry is away: try again later, no attempt
                    later = now + timedelta(seconds=RELOAD_MIN_SECONDS * 5)
                    failed.append(self.tally.deferral(message, now, later, "sender_unknown"))
                else:
                    failed.append(self._unknown_sender(message, now))
            if failed:
                await self.store.record(failed)
            for name, messages_of in by_lane.items():
                await self._start_all(self._lanes[name], messages_of)
            if len(batch) < limit:
                break
        return total

    def _unknown_sender(self, message: messages.ScheduledMessage, now: datetime) -> store.Outcome:
        """A message whose sender is unknown or disabled when it is due: failed, not sent."""
        state = "disabled" if message.sender in self._disabled else "not registered"
        text = f"sender '{message.sender}' is {state}: nothing was sent"
        return self.tally.failed_unsent(
            message, now, "sender_unknown", messages.AttemptOutcome.FAILED, text
        )

    async def _reload_if_stale(self) -> None:
        loop_now = asyncio.get_running_loop().time()
        last = self._reloaded_at
        if self._reload_failed or last is None or loop_now - last >= RELOAD_MIN_SECONDS:
            await self.reload_senders()

    async def _start_all(self, lane: Lane, batch: Sequence[messages.ScheduledMessage]) -> None:
        """One task per message; each waits for a free slot of its sender's lane."""
        if not batch:
            return
        if lane.path.template_gate is not None:  # Meta's template status now (template_gate.py)
            await lane.path.template_gate.prepare(batch)
            # Meta may have re-categorised a template since it was scheduled (utility ->
            # marketing): the checks below (consent, the marketing cap) and the attempt's
            # record use today's.
            batch = lane.path.template_gate.recategorised(batch)
        states = None  # the batch's contacts as the consent check read them
        if lane.path.consent_gate is not None:  # opted out since the claim (consent_gate.py)
            states = await lane.path.consent_gate.prepare(batch, lane.window_numbers)
        path = lane.path
        if path.quiet_hours is not None and path.contact_zones is not None:  # their nights
            await path.contact_zones.prepare(path.name, batch)
        if path.frequency_gate is not None:  # MARKETING_FREQUENCY_CAP (limit_gate.py)
            at = self.clock.now()
            await path.frequency_gate.prepare(batch, at, lambda m: path.goes_now(m, at))
        if path.limit_gate is not None and path.messaging_limit is not None:  # limit_gate.py
            now = self.clock.now()
            await path.limit_gate.prepare(
                batch,
                lane.window_numbers,
                path.portfolio,
                path.messaging_limit,
                now,
                lambda m: path.goes_now(m, now),
                known=states,
            )
        gate = lane.path.window_gate  # WINDOW_POLICY at send time (window_gate.py)
        if gate is not None:
            await gate.prepare(batch, lane.window_numbers)  # one read per batch, or none
        for message in batch:
            if self._stopping:
                self._unsent.append(message)  # claimed, never started: released by stop()
                continue
            lane.backlog += 1
            self._awaiting_slot.add(message.id)
            self._phase[message.id] = Phase.WAITING
            self._tasks[message.id] = asyncio.create_task(self._handle(lane, message))
        self.metrics.in_flight.set(len(self._tasks))

    async def _wait_tasks(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    # -- one message ------------------------------------------------------------------------

    async def _handle(self, lane: Lane, message: messages.ScheduledMessage) -> None:
        """One message from its checks to its committed outcome. Its send slot is freed only
        after the commit: at most `send_concurrency` messages per sender are ever sent but not
        recorded, which bounds what a crash can make the reaper send twice."""
        acquired = False
        try:
            try:
                await lane.slots.acquire()
                acquired = True
                self._awaiting_slot.discard(message.id)
                outcome = await lane.path.attempt(message)
            except asyncio.CancelledError:
                if self._phase.get(message.id) == Phase.SENDING:
                    sent_as = self._sending_as.get(message.id)
                    self._interrupted.append((lane.path, message, self.clock.now(), sent_as))
                else:
                    self._unsent.append(message)
                raise
            self._phase[message.id] = Phase.RECORDING
            committed = await self._commit(outcome, message)
            if committed and outcome.status == Status.QUEUED and outcome.run_at is not None:
                self.wakeup.nudge_here(outcome.run_at)  # may be due before the planned wake
        finally:
            if acquired:
                lane.slots.release()
            lane.backlog -= 1
            if lane.full and lane.room():
                lane.full = False
                self.wakeup.wake()  # claim more for this sender
            self._awaiting_slot.discard(message.id)
            self._tasks.pop(message.id, None)
            if not self._tasks:
                self._idle.set()  # `_burst` waits for this or for room
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
        for path, message, started, sent_as in self._interrupted:
            error = errors.AmbiguousFailure("send cut off by shutdown")
            outcomes.append(path.failed_attempt(message, error, started, 0.0, sent_as))
        self._awaiting_slot.difference_update(m.id for m in self._unsent)
        self._unsent.clear()
        self._interrupted.clear()
        if outcomes:
            await self.store.record(outcomes)

    # -- reporting --------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """JSON-able state for /health: running/paused/stopped, pauses (of every sender),
        counters, last error, the default sender's `limit`, and `senders`: each sender's
        number, state, pauses, breaker and limit."""
        now = self.clock.now()
        pauses = self.pauses.as_json(now) + self.breaker.as_json(now)
        state = self._state
        next_wake = self.wakeup.next_wake
        if state != State.STOPPED and pauses:
            state = State.PAUSED
        senders: dict[str, Any] = {}
        for name, lane in self._lanes.items():
            number = lane.path.phone_number_id
            own = [p for p in pauses if p.get("phone_number_id") == number]
            sender_state = self._state
            if sender_state != State.STOPPED and own:
                sender_state = State.PAUSED
            senders[name] = {
                "phone_number_id": number,
                "state": str(sender_state),
                "paused": own,
                "breaker": str(self.breaker.state(number)),
                "in_flight": lane.backlog,
                "limit": lane.path.limit_health(),
            }
        return {
            "state": str(state),
            "worker": self.worker_id,
            "paused": pauses,
            "in_flight": len(self._tasks),
            "next_wake_at": next_wake.isoformat() if next_wake else None,
            **self.tally.counts,
            "last_error": self.tally.last_error,
            "limit": self.path.limit_health() if self._lanes else None,
            "senders": senders,
            "senders_disabled": sorted(self._disabled),
        }


def render_metrics(dispatcher: Dispatcher) -> bytes:
    """Prometheus text for a /metrics route (content type: `metrics.CONTENT_TYPE`)."""
    return dispatcher.metrics.render()
