"""Which other workers are known dead, so that their claims are recovered at once.

A claim's lease expiring is the slow proof that its worker died (LEASE_SECONDS, 60 s). Where
a worker's death is known sooner, the dispatcher's reaper takes its claims as soon as it is:

- `NoLiveness`: nothing known; only leases expire (SQLite beside REDIS_URL, tests).
- `standby.LockLiveness`: the one dispatcher of a SQLite file holds the file's `flock`; every
  other worker with claims on the file held it before and is gone (the kernel drops the lock
  when its process dies).
- `store.workers.WorkerRegistry` on PostgreSQL: each worker holds an advisory lock for its
  life; a worker whose lock is free is dead.

What happens to the claims (the webhook grace, then a resend) is the dispatcher's rule
(`Dispatcher.reap`, `retries.reap_decision`).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol


class Liveness(Protocol):
    """What a dispatcher asks about the workers holding claims."""

    #: How often to ask (seconds); None: at start and with the lease reaper only.
    check_seconds: float | None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def dead(self, workers: Collection[str]) -> set[str]:
        """Which of `workers` (never this worker) are known dead."""
        ...

    async def forget_settled(self) -> None:
        """The claims of the dead that were asked about are recovered: forget what is done."""
        ...


class NoLiveness:
    """No worker is known dead: claims are recovered when their lease expires."""

    check_seconds: float | None = None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def dead(self, workers: Collection[str]) -> set[str]:
        return set()

    async def forget_settled(self) -> None:
        return None
