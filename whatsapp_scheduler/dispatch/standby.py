"""One dispatcher per SQLite file: a second process's dispatcher stands by and takes over.

On SQLite nothing is shared between processes but the file: two dispatchers on one database
would each keep their own MESSAGES_PER_SECOND and PAIR_INTERVAL, so together they could send
twice as fast as Meta allows (claims stay exactly-once). The supported set-ups have one
dispatcher (`serve`, or `serve --no-dispatcher` + one `worker`); this module makes sure of it
when a second one is started anyway (a second `serve` on another port, a restart that overlaps
the old process):

- The dispatcher holds an `flock` on `<database file>-dispatcher.lock` (with its pid inside).
- A dispatcher that finds the lock taken stands by: its process serves the API as usual,
  `/health` says `"state": "standby"` with the active pid, and every `STANDBY_POLL_SECONDS` it
  tries the lock again. When the active process stops or dies, the kernel drops its lock and
  the standby takes over. Holding the lock proves that every earlier holder is gone, so its
  start recovers their claims at once (`LockLiveness`), without waiting for their leases.
- `dispatch --burst` refuses to run beside an active dispatcher (one line, exit 2).

With REDIS_URL set the rate and the pair gap are shared, so several dispatchers on one SQLite
file are allowed and no lock is taken; on PostgreSQL dispatchers are meant to run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Collection
from typing import Any

from whatsapp_scheduler import settings
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.dispatch import dispatcher as dispatcher_mod
from whatsapp_scheduler.store import urls

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

#: How often a standing-by dispatcher tries to take over (seconds).
STANDBY_POLL_SECONDS = 1.0
_NO_LOCK = -1  # "held" without a lock file (it could not be created)


class DispatchLock:
    """The `flock` that makes a process the one dispatcher of a SQLite file."""

    def __init__(self, database_path: str) -> None:
        self.path = os.path.abspath(database_path) + "-dispatcher.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    @property
    def unguarded(self) -> bool:
        """Held without a lock file (it could not be created): no proof of anything."""
        return self._fd == _NO_LOCK

    def try_acquire(self) -> bool:
        """Take the lock if it is free (never waits); True if this process holds it now."""
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only directory: run as before, without the guard
            logger.warning(
                "cannot create %s (%s): not guarding against a second dispatcher",
                self.path,
                exc.strerror,
            )
            self._fd = _NO_LOCK
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        with contextlib.suppress(OSError):  # the pid is for messages only
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> int | None:
        """The pid written by the process holding the lock, if it can be read."""
        try:
            with open(self.path, encoding="ascii") as file:
                return int(file.read().strip())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and fd != _NO_LOCK:
            os.close(fd)  # drops the flock


class LockLiveness:
    """`liveness.Liveness` of the one dispatcher of a SQLite file: while this process holds
    the file's `flock`, every other worker with claims on the file is dead (it held the lock
    before, and the kernel dropped it when its process ended)."""

    check_seconds: float | None = None  # nobody else can claim while we hold the lock

    def __init__(self, lock: DispatchLock) -> None:
        self.lock = lock

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def dead(self, workers: Collection[str]) -> set[str]:
        really_held = self.lock.held and not self.lock.unguarded
        return set(workers) if really_held else set()

    async def forget_settled(self) -> None:
        return None


def lock_for(config: settings.Settings) -> DispatchLock | None:
    """The lock a dispatcher on this database must hold, or None where several may run."""
    path = urls.sqlite_path(config.database_url)
    if path is None or config.redis_url or fcntl is None:
        return None
    return DispatchLock(path)


class StandbyDispatcher:
    """A dispatcher that starts only while this process holds the `DispatchLock`."""

    def __init__(
        self,
        dispatcher: dispatcher_mod.Dispatcher,
        lock: DispatchLock,
        *,
        poll_seconds: float = STANDBY_POLL_SECONDS,
    ) -> None:
        self.dispatcher = dispatcher
        self.lock = lock
        # The lock holder knows its predecessors are dead: their claims are recovered at its
        # start, not when their leases expire.
        dispatcher.liveness = LockLiveness(lock)
        self._poll = poll_seconds
        self._waiting: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self) -> None:
        """Start dispatching now if the lock is free, else stand by (returns at once)."""
        if self.lock.try_acquire():
            await self.dispatcher.start()
            return
        logger.warning(
            "another process (pid %s) sends from this SQLite database; this one stands by "
            "and takes over when that one stops",
            self.lock.holder(),
        )
        self._waiting = asyncio.create_task(self._take_over(), name="dispatcher-standby")

    async def _take_over(self) -> None:
        # Another process holds the lock: nothing in this one to wait on but the clock.
        while not self.lock.try_acquire():  # noqa: ASYNC110
            await asyncio.sleep(self._poll)
        if self._stopped:
            self.lock.release()
            return
        logger.warning("the other dispatcher stopped: this process sends from now on")
        await self.dispatcher.start()

    async def stop(self) -> None:
        self._stopped = True
        if self._waiting is not None:
            self._waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._waiting
        try:
            await self.dispatcher.stop()
        finally:
            self.lock.release()

    def nudge(self, run_at: Any) -> None:
        self.dispatcher.nudge(run_at)  # ignored by a dispatcher that is not running

    def health(self) -> dict[str, Any]:
        health = self.dispatcher.health()
        if not self.lock.held and not self._stopped:
            health["state"] = "standby"
            health["active_pid"] = self.lock.holder()
        return health


def refuse_if_taken(lock: DispatchLock | None) -> None:
    """For `dispatch --burst`: one line and exit 2 if a dispatcher is running on the file."""
    if lock is not None and not lock.try_acquire():
        raise errors.ConfigurationError(
            f"a dispatcher (pid {lock.holder()}) is already running on this SQLite database; "
            "it sends what is due"
        )
