"""Wake idle dispatchers in every process when a message is stored (LISTEN/NOTIFY; SQLite's
data_version).

The store announces new rows inside the inserting transaction::

    SELECT pg_notify('whatsapp_scheduler_due', '<earliest run_at, ISO 8601>')

PostgreSQL delivers a notification only when that transaction commits, so a listener never
hears of a row it cannot yet read. `DueListener` holds one autocommit psycopg 3 connection per
process, runs `LISTEN`, and hands each payload to a callback (the dispatcher's `nudge`). If the
connection drops it reconnects with capped exponential back-off; notifications sent meanwhile
are lost, so after every (re)connect it calls the callback with "now", which makes the
dispatcher look at the table once. The safety poll still covers anything else.

SQLite has no NOTIFY. In one `serve` process the API nudges its dispatcher directly; a
`worker` beside `serve --no-dispatcher` would wait for its safety poll to see what the API
process stored. `SqliteDueWatcher` closes that gap: `PRAGMA data_version` on a connection of
its own changes whenever any other connection commits to the file; it is read every
`SQLITE_POLL_SECONDS` in a `worker` (every second in `serve`, for a process standing by beside
it: standby.py), and each change costs one index read of the earliest queued `run_at`, handed
to the same callback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sqlite3
import urllib.parse
from collections.abc import Awaitable, Callable
from datetime import datetime

from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.store import urls

logger = logging.getLogger(__name__)

#: The channel the store notifies on and every listener listens to.
CHANNEL = "whatsapp_scheduler_due"
#: Reconnect back-off: first wait, growth factor, cap (seconds).
BACKOFF_FIRST = 0.2
BACKOFF_FACTOR = 2.0
BACKOFF_MAX = 10.0
#: How often `SqliteDueWatcher` looks for commits by other connections (seconds).
SQLITE_POLL_SECONDS = 0.05


def parse_payload(payload: str) -> datetime | None:
    """The run_at announced in a notification, or None if it is not an aware ISO datetime."""
    try:
        value = datetime.fromisoformat(payload)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


class _Watch:
    """A background task that `start` begins (idempotent) and `stop` cancels and awaits."""

    name = "due-watch"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start in a background task; returns at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop and close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        raise NotImplementedError


class DueListener(_Watch):
    """`LISTEN whatsapp_scheduler_due` on its own connection; calls `on_due(run_at)` per NOTIFY.

    `on_due` must be cheap and synchronous (`Dispatcher.nudge` is). Use::

        listener = DueListener(database_url, dispatcher.nudge)
        await listener.start()      # returns at once; connects in the background
        ...
        await listener.stop()
    """

    name = "due-listener"

    def __init__(
        self,
        database_url: str,
        on_due: Callable[[datetime], None],
        *,
        clock: clock_mod.Clock | None = None,
        channel: str = CHANNEL,
    ) -> None:
        super().__init__()
        self._conninfo = urls.libpq_url(database_url)
        self._on_due = on_due
        self._clock = clock or clock_mod.SystemClock()
        self._channel = channel
        self.connected = asyncio.Event()
        self.connects = 0  # successful (re)connections, for tests and health

    async def stop(self) -> None:
        await super().stop()
        self.connected.clear()

    async def _run(self) -> None:
        import psycopg  # only PostgreSQL deployments import the driver's async side

        delay = BACKOFF_FIRST
        while True:
            connects = self.connects
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as exc:
                self.connected.clear()
                logger.warning(
                    "due listener: connection lost or refused (%s); retrying in %.1f s",
                    type(exc).__name__,
                    delay,
                )
            else:  # the server ended the notification stream (connection closed)
                self.connected.clear()
                logger.warning("due listener: connection closed; retrying in %.1f s", delay)
            if self.connects > connects:  # it had worked: start the back-off afresh
                delay = BACKOFF_FIRST
            await asyncio.sleep(delay)
            delay = min(BACKOFF_MAX, delay * BACKOFF_FACTOR)

    async def _listen(self) -> None:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name="whatsapp-scheduler-listener"
        )
        async with conn:
            await conn.execute(f'LISTEN "{self._channel}"')
            self.connects += 1
            self.connected.set()
            logger.info("due listener: listening for new messages (LISTEN %s)", self._channel)
            self._on_due(self._clock.now())  # anything announced while we were away
            async for notify in conn.notifies():
                run_at = parse_payload(notify.payload)
                if run_at is None:
                    logger.warning("due listener: ignored a payload that is not a datetime")
                    continue
                self._on_due(run_at)


class SqliteDueWatcher(_Watch):
    """Calls `on_due(earliest queued run_at)` after any commit to a SQLite file (see above).

    `earliest` reads that time (`SqlMessageStore.next_run_at`); `on_due` must be cheap and
    synchronous (`Dispatcher.nudge`). Started and stopped like `DueListener`.
    """

    name = "sqlite-due-watcher"

    def __init__(
        self,
        path: str,
        on_due: Callable[[datetime], None],
        earliest: Callable[[], Awaitable[datetime | None]],
        *,
        interval: float = SQLITE_POLL_SECONDS,
    ) -> None:
        super().__init__()
        self._path = path
        self._on_due = on_due
        self._earliest = earliest
        self._interval = interval
        self.changes = 0  # commits noticed (several between two looks count once), for tests

    async def _run(self) -> None:
        from whatsapp_scheduler.core import errors

        loop = asyncio.get_running_loop()
        # One thread for every call on the connection, its close included: a close never
        # overlaps a read still running when the task is cancelled.
        thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sqlite-watch")
        conn: sqlite3.Connection | None = None
        seen: int | None = None
        failing = False
        try:
            while True:
                try:
                    if conn is None:
                        conn = await loop.run_in_executor(thread, self._connect)
                        logger.info("due watcher: watching the SQLite file for new messages")
                    version = await loop.run_in_executor(thread, _data_version, conn)
                    if version != seen:
                        self.changes += seen is not None
                        seen = version
                        run_at = await self._earliest()
                        if run_at is not None:
                            self._on_due(run_at)
                    failing = False
                except (sqlite3.Error, errors.StoreError) as exc:
                    if not failing:  # once per failing spell; the safety poll still runs
                        logger.warning("sqlite due watcher: %s; retrying", type(exc).__name__)
                    failing = True
                    seen = None  # look again once it works
                await asyncio.sleep(self._interval)
        finally:
            if conn is not None:
                thread.submit(conn.close)
            thread.shutdown(wait=False)

    def _connect(self) -> sqlite3.Connection:
        # mode=rw: never creates the file (it only reads); one worker thread at a time uses it.
        uri = "file:" + urllib.parse.quote(os.path.abspath(self._path)) + "?mode=rw"
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=1.0)


def _data_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA data_version").fetchone()
    return int(row[0])
