"""Pause the cyclic garbage collector while a request builds very many objects at once.

A campaign of 100,000 recipients makes some 100,000 profiles, rendered contents and messages
that all live until the INSERT. Each object allocated counts towards CPython's collection
thresholds, and a full collection walks every live object: with a growing heap of survivors,
collection after collection walked the same hundreds of thousands of objects, and the
collector took about a third of the campaign's creation (bench/RESULTS.md, "Campaigns (issue
19) — `bench/bench_campaign.py`").
Nothing here is a reference cycle that must be freed early, so the collector is paused for
the build and runs normally after. This is process-wide (CPython has one collector): other
requests served meanwhile still free their objects by reference counting; only cycles wait.
Nested or concurrent pauses are counted, so the collector resumes when the last one ends,
and it is left alone if something else had disabled it. No library does this (CPython's
`gc.freeze()` is for start-up, not for a burst of new objects).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_holds = 0
_resume = False  # whether the collector was enabled when the first pause began


@contextlib.contextmanager
def paused() -> Iterator[None]:
    global _holds, _resume
    with _lock:
        if _holds == 0:
            _resume = gc.isenabled()
            gc.disable()
        _holds += 1
    try:
        yield
    finally:
        with _lock:
            _holds -= 1
            if _holds == 0 and _resume:
                gc.enable()
