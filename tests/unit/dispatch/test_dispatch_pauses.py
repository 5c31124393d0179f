"""Account-level pauses: longest pause wins, ends by itself, shown on /health and the gauge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from whatsapp_scheduler.core import errors
from whatsapp_scheduler.dispatch import metrics, pauses

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = errors.AccountFailure("Error validating access token", code=190)
BLOCKED = errors.AccountFailure("Account blocked", code=368)


def _gauge(registry: metrics.DispatchMetrics, number: str) -> str:
    prefix = f'whatsapp_scheduler_sender_paused{{phone_number_id="{number}"}} '
    lines = registry.render().decode().splitlines()
    return next(line.removeprefix(prefix) for line in lines if line.startswith(prefix))


def test_a_longer_pause_replaces_a_shorter_one_but_never_the_reverse() -> None:
    book = pauses.Pauses(metrics.DispatchMetrics())
    assert book.start("111", TOKEN, T0 + timedelta(minutes=5)) is True
    assert book.start("111", BLOCKED, T0 + timedelta(minutes=1)) is False
    pause = book.active("111", T0)
    assert pause is not None
    assert (pause.code, pause.until) == (190, T0 + timedelta(minutes=5))
    assert book.start("111", BLOCKED, T0 + timedelta(minutes=10)) is True
    pause = book.active("111", T0)
    assert pause is not None
    assert (pause.code, pause.reason) == (368, "Account blocked")


def test_a_pause_ends_at_its_time_and_clears_the_gauge() -> None:
    registry = metrics.DispatchMetrics()
    book = pauses.Pauses(registry)
    book.start("111", TOKEN, T0 + timedelta(minutes=5))
    assert _gauge(registry, "111") == "1.0"
    assert book.active("111", T0 + timedelta(minutes=4, seconds=59)) is not None
    assert book.active("111", T0 + timedelta(minutes=5)) is None
    assert _gauge(registry, "111") == "0.0"
    assert book.as_json(T0) == []


def test_numbers_pause_independently_and_health_lists_running_pauses() -> None:
    book = pauses.Pauses(metrics.DispatchMetrics())
    book.start("111", TOKEN, T0 + timedelta(minutes=5))
    assert book.active("222", T0) is None
    assert book.as_json(T0) == [
        {
            "phone_number_id": "111",
            "kind": "account",
            "code": 190,
            "reason": "Error validating access token",
            "until": "2026-03-01T12:05:00+00:00",
        }
    ]
    assert book.as_json(T0 + timedelta(minutes=6)) == []
