"""RetryPolicy, lease and lateness rules: tables of errors, attempts and times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.dispatch import retries

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Action = retries.Action
AO = messages.AttemptOutcome


def policy(**overrides: object) -> retries.RetryPolicy:
    values: dict[str, object] = {"random": lambda: 1.0, "base_seconds": 2.0, "cap_seconds": 60.0}
    return retries.RetryPolicy(**(values | overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "attempts", "action", "outcome", "delay"),
    [
        (errors.TemporaryFailure("x", code=131000), 0, Action.RETRY, AO.RETRY, 2.0),
        (errors.TemporaryFailure("x", code=131000), 1, Action.RETRY, AO.RETRY, 4.0),
        (errors.TemporaryFailure("x", code=2), 3, Action.RETRY, AO.RETRY, 16.0),
        (errors.TemporaryFailure("x", code=2), 4, Action.FAIL, AO.RETRY, None),  # 5th attempt
        (errors.AmbiguousFailure("timeout"), 0, Action.RETRY, AO.AMBIGUOUS, 2.0),
        (errors.RateLimited("x", code=131056), 0, Action.RETRY, AO.RETRY, 1.0),  # 4^0
        (errors.RateLimited("x", code=131056), 2, Action.RETRY, AO.RETRY, 16.0),  # 4^2
        (errors.RateLimited("x", code=131056), 3, Action.RETRY, AO.RETRY, 60.0),  # capped
        (errors.RateLimited("x", code=130429), 0, Action.RETRY, AO.RETRY, 1.0),  # throttle base
        (errors.RateLimited("x", code=130429, retry_after=7.0), 0, Action.RETRY, AO.RETRY, 7.0),
        (
            errors.PermanentFailure("(#131026) undeliverable", code=131026),
            0,
            Action.FAIL,
            AO.FAILED,
            None,
        ),
        (errors.AccountFailure("(#190) token", code=190), 0, Action.PAUSE, None, 300.0),
        (errors.AccountFailure("(#190) token", code=190), 4, Action.PAUSE, None, 300.0),
    ],
)
def test_decisions(
    error: errors.SendError,
    attempts: int,
    action: retries.Action,
    outcome: messages.AttemptOutcome | None,
    delay: float | None,
) -> None:
    decision = policy().decide(error, attempts, NOW)
    assert decision.action == action
    assert decision.attempt == outcome
    assert decision.error_code == error.code
    if delay is None:
        assert decision.run_at is None
    else:
        assert decision.run_at == NOW + timedelta(seconds=delay)


def test_permanent_keeps_meta_code_and_text() -> None:
    error = errors.PermanentFailure("(#132001) Template name does not exist", code=132001)
    decision = policy().decide(error, 0, NOW)
    assert (decision.error_code, decision.error_text) == (132001, error.message)


def test_exhausted_attempts_say_so() -> None:
    decision = policy(max_attempts=2).decide(errors.TemporaryFailure("boom"), 1, NOW)
    assert decision.action == Action.FAIL
    assert decision.error_text == "attempts exhausted (2): boom"


def test_ambiguous_without_resend_fails_at_once() -> None:
    decision = policy(resend_ambiguous=False).decide(errors.AmbiguousFailure("timeout"), 0, NOW)
    assert decision.action == Action.FAIL
    assert decision.attempt == AO.AMBIGUOUS
    assert decision.error_text is not None
    assert decision.error_text.startswith("ambiguous: may have been sent")


@pytest.mark.parametrize(
    ("draw", "attempts", "expected"),
    [(0.0, 0, 0.0), (0.5, 0, 1.0), (0.5, 3, 8.0), (1.0, 10, 60.0)],
)
def test_full_jitter(draw: float, attempts: int, expected: float) -> None:
    assert policy(random=lambda: draw).backoff(attempts, 2.0) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("draw", "attempts", "expected"),
    [(0.0, 0, 2.0), (1.0, 0, 6.0), (1.0, 2, 12.0)],
)
def test_decorrelated_jitter(draw: float, attempts: int, expected: float) -> None:
    p = policy(random=lambda: draw, jitter=retries.Jitter.DECORRELATED)
    assert p.backoff(attempts, 2.0) == pytest.approx(min(60.0, expected))


def test_decorrelated_jitter_is_capped_and_at_least_base() -> None:
    p = policy(jitter=retries.Jitter.DECORRELATED)
    for attempts in range(12):
        assert 2.0 <= p.backoff(attempts, 2.0) <= 60.0


def test_lease_until() -> None:
    assert retries.lease_until(NOW, 60) == NOW + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("resend", "attempts", "action", "run_at"),
    [(True, 0, Action.RETRY, NOW), (True, 4, Action.FAIL, None), (False, 0, Action.FAIL, None)],
)
def test_reap_decision(
    resend: bool, attempts: int, action: retries.Action, run_at: datetime | None
) -> None:
    message = testing.make_message("m1", NOW - timedelta(minutes=5), attempts=attempts)
    decision = retries.reap_decision(message, NOW, policy(resend_ambiguous=resend))
    assert decision.action == action
    assert decision.attempt == AO.AMBIGUOUS
    assert decision.run_at == run_at


@pytest.mark.parametrize(
    ("late_by", "expired"),
    [
        (timedelta(0), False),
        (timedelta(hours=23, minutes=59), False),
        (timedelta(hours=24), False),
        (timedelta(hours=24, seconds=1), True),
        (timedelta(days=3), True),
    ],
)
def test_is_expired(late_by: timedelta, expired: bool) -> None:
    assert retries.is_expired(NOW - late_by, NOW, timedelta(hours=24)) is expired


def test_expired_text() -> None:
    due = NOW - timedelta(days=2)
    text = retries.expired_text(due, timedelta(hours=24))
    assert text == f"expired: due at {due.isoformat()}, more than MAX_LATENESS (24 h) late"
