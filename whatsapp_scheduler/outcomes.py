"""Batched, durable recording of the dispatcher's outcomes.

Sends finish one by one; writing each outcome in its own transaction would cost a store round
trip per message. `OutcomeWriter` gathers the outcomes that finish within a few milliseconds
into one `store.record` call, and each sender waits until its outcome is committed: a message
is only "done" once its outcome is durable (see the crash window in dispatcher.py).
"""

from __future__ import annotations

import asyncio
import logging

from whatsapp_scheduler import errors, store

logger = logging.getLogger(__name__)


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
