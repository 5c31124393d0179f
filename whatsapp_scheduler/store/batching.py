"""`Batcher`: calls that arrive while one is running share the next run (group commit, group
read). Used by the SQL store for adds and for the 24-hour-window contact lookups."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
Result = TypeVar("Result")


class Batcher(Generic[T, Result]):
    """Calls that arrive while one is running share the next run.

    `run` takes the items of a group and returns one result per item, in order. A lone call
    runs at once; under load, N concurrent calls cost a few round trips instead of N.
    """

    def __init__(self, run: Callable[[list[T]], Awaitable[list[Result]]]) -> None:
        self._run = run
        self._pending: list[tuple[T, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                try:
                    results = await self._run([item for item, _ in group])
                except Exception as exc:  # every caller in the group gets the error
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(group, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flusher = None
