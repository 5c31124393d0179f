"""The collector's pause around a campaign's build (service/gcpause.py): nested and
concurrent pauses resume it once, at the last; one disabled by someone else stays so."""

from __future__ import annotations

import gc

import pytest

from whatsapp_scheduler.service import gcpause


@pytest.fixture(autouse=True)
def _collector_restored():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_nested_pauses_resume_the_collector_at_the_last():
    gc.enable()
    with gcpause.paused():
        assert not gc.isenabled()
        with gcpause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_a_failure_inside_still_resumes_it():
    gc.enable()
    with pytest.raises(ValueError, match="bad row"), gcpause.paused():
        raise ValueError("bad row")
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    with gcpause.paused():
        pass
    assert not gc.isenabled()
