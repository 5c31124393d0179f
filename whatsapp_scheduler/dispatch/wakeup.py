"""When the dispatch loop runs next: now (`wake`), at a time (`arm`), or at the safety poll.

One APScheduler job (`WAKE_JOB`) is kept armed at the next due `run_at`; a new message due
earlier re-arms it (`nudge`), one due now sets the loop's event at once. Two interval jobs run
beside it: the safety poll (wakes the loop even if a nudge was missed, and refreshes the queue
depth) and the lease reaper (which also asks which workers died), and, with `on_renew`, a third
one renews the leases of this dispatcher's own claims. The dispatcher owns the work those jobs
do; this module owns the timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from whatsapp_scheduler.core import clock as clock_mod

WAKE_JOB = "dispatch-wake"


class WakeUp:
    """The loop's event and its single armed wake-up job."""

    def __init__(
        self,
        clock: clock_mod.Clock,
        *,
        accepting: Callable[[], bool],
        safety_poll_seconds: float,
        reap_interval_seconds: float,
        on_safety_poll: Callable[[], Awaitable[None]],
        on_reap: Callable[[], Awaitable[None]],
        on_renew: Callable[[], Awaitable[None]] | None = None,
        renew_interval_seconds: float = 20.0,
    ) -> None:
        self.clock = clock
        self.event = asyncio.Event()
        self._accepting = accepting  # False before start and once stopping: nudges are ignored
        self._safety_poll_seconds = safety_poll_seconds
        self._reap_interval_seconds = reap_interval_seconds
        self._on_safety_poll = on_safety_poll
        self._on_reap = on_reap
        self._on_renew = on_renew
        self._renew_interval_seconds = renew_interval_seconds
        self._scheduler: AsyncIOScheduler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.next_wake: datetime | None = None  # when the armed job fires (None: not armed)
        self.nudged: datetime | None = None  # the earliest run_at nudged since `begin_plan`
        #: More interval jobs (id, seconds, work, first run at start), e.g. the template sync.
        self.extra_jobs: list[tuple[str, float, Callable[[], Awaitable[None]], bool]] = []

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop that `nudge` from another thread hands its work to."""
        self._loop = loop

    @property
    def reap_interval_seconds(self) -> float:
        return self._reap_interval_seconds

    @reap_interval_seconds.setter
    def reap_interval_seconds(self, value: float) -> None:
        """Before `start_jobs` (e.g. shorter, to ask often which workers died)."""
        self._reap_interval_seconds = value

    def start_jobs(self) -> None:
        """Start APScheduler with the safety poll and the reaper (and, once armed, the wake)."""
        scheduler = AsyncIOScheduler(timezone=UTC, event_loop=self._loop)
        defaults = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}
        scheduler.add_job(
            self._on_safety_poll,
            IntervalTrigger(seconds=self._safety_poll_seconds, timezone=UTC),
            id="dispatch-safety-poll",
            **defaults,
        )
        scheduler.add_job(
            self._on_reap,
            IntervalTrigger(seconds=self._reap_interval_seconds, timezone=UTC),
            id="dispatch-lease-reaper",
            **defaults,
        )
        if self._on_renew is not None:
            scheduler.add_job(
                self._on_renew,
                IntervalTrigger(seconds=self._renew_interval_seconds, timezone=UTC),
                id="dispatch-lease-renewal",
                **defaults,
            )
        for job_id, seconds, work, at_start in self.extra_jobs:
            first = {"next_run_time": datetime.now(UTC)} if at_start else {}
            scheduler.add_job(
                work,
                IntervalTrigger(seconds=seconds, timezone=UTC),
                id=job_id,
                **defaults,
                **first,
            )
        self._scheduler = scheduler
        scheduler.start()

    async def stop_jobs(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # APScheduler shuts down in a loop callback

    def wake(self) -> None:
        """Run the loop now."""
        self.event.set()

    def nudge(self, run_at: datetime) -> None:
        """A message was stored with this `run_at`: wake now or earlier than planned if needed.

        Synchronous; safe to call from the event loop or from another thread.
        """
        if not self._accepting():
            return
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.nudge_here(run_at)
        else:
            loop.call_soon_threadsafe(self.nudge_here, run_at)

    def nudge_here(self, run_at: datetime) -> None:
        """`nudge` on the loop's own thread."""
        if self.nudged is None or run_at < self.nudged:
            self.nudged = run_at  # seen by a plan that is reading the store right now
        if self.next_wake is not None and run_at >= self.next_wake:
            return
        if run_at <= self.clock.now():
            self.event.set()
        else:
            self.arm(run_at)

    def begin_plan(self) -> None:
        """A plan reads the next due time now: nudges from here on are remembered."""
        self.nudged = None

    def arm(self, when: datetime | None) -> None:
        """Re-arm the single wake-up job at `when` (None: only the safety poll wakes us)."""
        self.next_wake = when
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running:
            return
        if when is None:
            if scheduler.get_job(WAKE_JOB) is not None:
                scheduler.remove_job(WAKE_JOB)
            return
        scheduler.add_job(
            self._fire,
            DateTrigger(run_date=when, timezone=UTC),
            id=WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1000,  # a re-armed job must never be skipped as "still running"
        )

    async def _fire(self) -> None:
        self.next_wake = None
        self.event.set()
