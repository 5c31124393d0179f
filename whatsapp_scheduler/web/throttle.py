"""Failed dashboard sign-ins, counted per client address and in total (a sliding window).

After `per_address` wrong keys from one address within `window_seconds`, every sign-in from that
address is refused (429 with Retry-After), even with the right key, until the oldest of those
failures leaves the window. After `total` wrong keys from all addresses together, every address
is refused the same way: that bounds a guesser spread over many addresses, at the price that it
can lock the dashboard's sign-in for everyone for one window (the API is not affected: it takes
X-API-Key, never a form).

The counts live in this process's memory. With several `serve` processes behind a load
balancer each one keeps its own counts, so a guesser gets that many times the budget; with a
key of at least 24 random characters (settings.MIN_API_KEY_LENGTH) that still leaves guessing
hopeless. Hand-written rather than the `limits` package: its windows read the wall clock
themselves (`time.time()`), and ours must follow the app's injectable clock (`core/clock`), so
that tests move time instead of sleeping; what is needed is two deques.
"""

from __future__ import annotations

import collections
import math

#: Addresses remembered at most; past it the stalest are forgotten (a flood of addresses must
#: not grow memory without bound; the total still counts every failure).
MAX_ADDRESSES = 10_000


class SignInThrottle:
    """Counts failed sign-ins; `retry_after` says whether (and how long) to refuse one."""

    def __init__(self, *, per_address: int, total: int, window_seconds: float) -> None:
        self.per_address = per_address
        self.total = total
        self.window = window_seconds
        self._by_address: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )
        self._all: collections.deque[float] = collections.deque()

    def _forget_old(self, now: float) -> None:
        horizon = now - self.window
        while self._all and self._all[0] <= horizon:
            self._all.popleft()
        # Addresses are kept in the order of their latest failure: stale ones are at the front.
        while self._by_address:
            address, times = next(iter(self._by_address.items()))
            if times[-1] > horizon:
                break
            del self._by_address[address]

    def retry_after(self, address: str, now: float) -> int | None:
        """Seconds until `address` may try again, or None if it may try now."""
        self._forget_old(now)
        waits = [0.0]
        times = self._by_address.get(address)
        if times is not None and len(times) >= self.per_address:
            waits.append(times[-self.per_address] + self.window - now)  # <= 0 once it has left
        if len(self._all) >= self.total:
            waits.append(self._all[-self.total] + self.window - now)
        wait = max(waits)
        return max(1, math.ceil(wait)) if wait > 0 else None

    def failed(self, address: str, now: float) -> None:
        """Count one wrong key from `address`."""
        self._all.append(now)
        times = self._by_address.pop(address, None) or collections.deque()
        times.append(now)
        while len(times) > self.per_address:  # only the newest `per_address` can decide
            times.popleft()
        self._by_address[address] = times  # most recently failed last
        while len(self._by_address) > MAX_ADDRESSES:
            self._by_address.popitem(last=False)
        while len(self._all) > self.total:  # only the newest `total` can decide a refusal
            self._all.popleft()

    def succeeded(self, address: str) -> None:
        """A right key from `address`: its own count starts again (the total does not)."""
        self._by_address.pop(address, None)
