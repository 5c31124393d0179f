"""Worker liveness on PostgreSQL: which dispatchers are dead, known at once, not by leases.

Each dispatcher process keeps one autocommit psycopg 3 connection of its own and, on it, holds
a session-level advisory lock (`pg_try_advisory_lock(lock_key)`, a random key) for its life.
It records the key in the `workers` table (revision 0010) together with the server's start
time (`pg_postmaster_start_time()`). PostgreSQL drops a session's advisory locks when the
session ends, which a kill -9 of the process does at once (the kernel closes its socket). So
another dispatcher that can take a worker's lock knows its owner is gone:

    dead  =  its row is of this server start  AND  pg_try_advisory_xact_lock(lock_key)

The server start guards a restart of PostgreSQL: every session ends then and every lock is
free, but each live worker's row still names the old start until it has reconnected and
taken its lock again, so no live worker is taken for dead. (A worker whose liveness
connection alone is cut while its process lives is taken for dead: its claims are resent
after the webhook grace, as after a lost lease.) Nothing here decides what to do with a dead
worker's claims: the dispatcher does (`Dispatcher.reap`).

If the connection drops, the registry reconnects with capped exponential back-off and
registers again (a new key); meanwhile `dead` answers "none known" and leases still expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Collection
from typing import Any

from whatsapp_scheduler.store import notify, urls

logger = logging.getLogger(__name__)

#: How often the connection is checked, and how often a dispatcher asks which peers died.
CHECK_SECONDS = 2.0

_REGISTER = """
INSERT INTO workers (worker_id, lock_key, server_started_at, registered_at)
VALUES (%(worker)s, %(key)s, pg_postmaster_start_time(), now())
ON CONFLICT (worker_id) DO UPDATE SET lock_key = EXCLUDED.lock_key,
    server_started_at = EXCLUDED.server_started_at, registered_at = EXCLUDED.registered_at
"""
# The lock test is last in the AND chain, but the planner may evaluate it first: taking a
# live worker's lock for one statement then only fails, and a free one is released at once.
_DEAD = """
SELECT worker_id FROM workers
WHERE worker_id = ANY(%(workers)s) AND worker_id <> %(me)s
  AND server_started_at = pg_postmaster_start_time()
  AND pg_try_advisory_xact_lock(lock_key)
"""
# Rows of dead workers whose claims are all settled (or of a past server start).
_FORGET = """
DELETE FROM workers w
WHERE w.worker_id <> %(me)s
  AND NOT EXISTS (
      SELECT 1 FROM messages m WHERE m.status = 'sending' AND m.claimed_by = w.worker_id)
  AND pg_try_advisory_xact_lock(w.lock_key)
"""


class WorkerRegistry:
    """This process's advisory lock and its view of which other workers are dead.

    `start()` connects in the background (waits for the first registration up to
    `start_timeout` seconds); `dead(workers)` asks; `stop()` unregisters and closes.
    """

    check_seconds: float | None = CHECK_SECONDS

    def __init__(self, database_url: str, worker_id: str, *, start_timeout: float = 5.0) -> None:
        self._conninfo = urls.libpq_url(database_url)
        self.worker_id = worker_id
        self._start_timeout = start_timeout
        self._conn: Any = None  # psycopg.AsyncConnection while registered
        self._lock = asyncio.Lock()  # one statement at a time on the connection
        self._task: asyncio.Task[None] | None = None
        self.registered = asyncio.Event()
        self.registrations = 0  # successful (re)registrations, for tests

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="worker-registry")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.registered.wait(), self._start_timeout)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        conn, self._conn = self._conn, None
        self.registered.clear()
        if conn is not None:
            with contextlib.suppress(Exception):  # stopping: the session's end frees the lock
                await conn.execute(
                    "DELETE FROM workers WHERE worker_id = %(me)s", {"me": self.worker_id}
                )
            with contextlib.suppress(Exception):
                await conn.close()

    async def dead(self, workers: Collection[str]) -> set[str]:
        """Which of `workers` are known dead (empty while this one is not registered)."""
        if not workers or self._conn is None:
            return set()
        import psycopg

        try:
            async with self._lock:
                cursor = await self._conn.execute(
                    _DEAD, {"workers": list(workers), "me": self.worker_id}
                )
                return {row[0] for row in await cursor.fetchall()}
        except (psycopg.Error, OSError) as exc:
            logger.warning("worker registry: liveness query failed (%s)", type(exc).__name__)
            return set()

    async def forget_settled(self) -> None:
        """Drop the rows of dead workers that hold no claim any more (best effort)."""
        if self._conn is None:
            return
        import psycopg

        with contextlib.suppress(psycopg.Error, OSError):
            async with self._lock:
                await self._conn.execute(_FORGET, {"me": self.worker_id})

    async def _run(self) -> None:
        import psycopg

        delay = notify.BACKOFF_FIRST
        while True:
            try:
                await self._hold()
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as exc:
                logger.warning(
                    "worker registry: connection lost or refused (%s); retrying in %.1f s",
                    type(exc).__name__,
                    delay,
                )
            conn, self._conn = self._conn, None
            self.registered.clear()
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()
                delay = notify.BACKOFF_FIRST  # it had worked: start the back-off afresh
            await asyncio.sleep(delay)
            delay = min(notify.BACKOFF_MAX, delay * notify.BACKOFF_FACTOR)

    async def _hold(self) -> None:
        """Connect, take a lock of our own, register it; then check the connection until it
        fails (raises)."""
        import psycopg

        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name="whatsapp-scheduler-worker"
        )
        try:
            while True:  # a random 62-bit key: taken by another session only by a collision
                key = random.getrandbits(62) + 1
                cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (key,))
                row = await cursor.fetchone()
                if row is not None and row[0]:
                    break
            await conn.execute(_REGISTER, {"worker": self.worker_id, "key": key})
            await conn.execute(_FORGET, {"me": self.worker_id})
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        self.registrations += 1
        self.registered.set()
        logger.info("worker registry: registered (advisory lock held for this process's life)")
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            async with self._lock:
                await conn.execute("SELECT 1")
