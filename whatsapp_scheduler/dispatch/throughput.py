"""The throughput turn of one send: the local booking, the fleet's slot, and the gate.

`SendPath.attempt` calls `Throughput.wait` before its last checks (sleeping until this
process's bucket, then the fleet's limit, give a slot), and `Throughput.go` right before the
send: `go` returns only when the send may start at that very moment, and the caller then
stamps and sends without awaiting anything in between, so the time checked is the time the
dispatcher records as the send's start (`attempts.started_at`).

`go` checks two things on the timer's reading (`ratelimit` and `sharedlimit` say why):

- the fleet's slot is not past its deadline (else the slot is given up and another taken);
- the number's gate (`RateLimiter.gate`, `TokenBucket.take`) lets a send start now: a task
  woken late by a busy loop, together with others, would otherwise send them all at once.

Sends the gate holds back queue on one lock (`gate_lock`, one per send path), so that only the
first of them sleeps until the gate opens, instead of all of them waking for each opening.
"""

from __future__ import annotations

import asyncio

from whatsapp_scheduler.dispatch import ratelimit, sharedlimit


class Throughput:
    """The limits one send passes, in order (see the module docstring)."""

    def __init__(
        self,
        limiter: ratelimit.RateLimiter,
        shared: sharedlimit.SharedRateLimit | None,
        key: str,
        gate_lock: asyncio.Lock,
        timer: sharedlimit.Timer | None = None,
    ) -> None:
        self.limiter = limiter
        self.shared = shared
        self.key = key
        self.gate_lock = gate_lock
        self.timer: sharedlimit.Timer = timer or sharedlimit.LoopTimer()

    async def wait(self) -> sharedlimit.Slot | None:
        """Sleep until this process's bucket gives a slot, then the fleet's limit (if any)."""
        at = self.limiter.reserve(self.key, self.timer.time())
        delay = at - self.timer.time()
        if delay > 0:
            await self.timer.sleep(delay)
        if self.shared is None:
            return None
        return await self.shared.acquire(self.key)

    async def go(self, slot: sharedlimit.Slot | None) -> None:
        """Return when a send may start now; the caller must start it without awaiting."""
        gate = self.limiter.gate(self.key)
        while True:
            now = self.timer.time()
            if slot is not None and now > slot.deadline:
                assert self.shared is not None
                self.shared.gave_up()
                slot = await self.shared.acquire(self.key)  # gave that one up: the next one
                continue
            if not self.gate_lock.locked() and gate.take(now) is None:
                return  # the usual case: nobody queued before us, and the gate is open
            async with self.gate_lock:
                while slot is None or self.timer.time() <= slot.deadline:
                    now = self.timer.time()
                    allowed = gate.take(now)
                    if allowed is None:
                        return
                    await self.timer.sleep(allowed - now)
            # the slot expired while queued: take the next one outside the queue
