"""`server.tune_gc`: long-lived objects frozen out of the collector, rarer young collections."""

from __future__ import annotations

import gc

from whatsapp_scheduler import server


def test_tune_gc_freezes_what_exists_and_raises_the_young_threshold():
    before = gc.get_threshold()
    try:
        server.tune_gc()
        assert gc.get_threshold()[0] == server.GC_YOUNG_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() > 1000  # the imported modules and their objects
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
