"""The dispatcher's rules, as pure functions of `now`: retries, leases, lateness.

Retry rule (`RetryPolicy.decide`), by the `errors.SendError` a sender raised (which one, for
each of Meta's codes, is the class in `whatsapp/errorcodes.py`):

- `PermanentFailure`: failed at once, with Meta's code and text.
- `AccountFailure` (190, 368, 131031 ...): the phone number is paused for
  `account_pause_seconds`; the message goes back to `queued` at the end of the pause as a
  *deferral* (no attempt counted, so an expired token never burns `max_attempts`). The pause
  lives in the process only: after a restart the dispatcher tries again at once.
- `RateLimited` 131056 (pair rate, `errorcodes.RetryRule.PAIR_RATE`): retry after Meta's 4^x
  seconds, x = attempts so far.
- Other `RateLimited` (130429, 4, 80007 ...): retry after the server's retry-after if given,
  else a short jittered back-off (`throttle_base_seconds`).
- `AmbiguousFailure` (timeout, reset, 5xx without body: the message may have reached Meta):
  with `resend_ambiguous` (default) retry and record an AMBIGUOUS attempt (at-least-once: a
  duplicate is possible); without it, failed with "ambiguous: may have been sent". A send
  failure is an outage failure (below); a reaped lease is retried like a temporary failure.
- `TemporaryFailure`: retry with exponential back-off, full or decorrelated jitter, capped.
- 131049 (Meta's per-user marketing limit, `marketing_limit_decision`): one more try after
  24 h, then failed (a second 131049 ends it).
- Each retry counts one attempt; the attempt that reaches `max_attempts` fails the message.
- An outage failure (`TemporaryFailure` without a Graph code, i.e. a refused connection, a
  timeout or a 5xx without a body, or one of Meta's "service unavailable" codes; see
  `breaker.is_outage`) is decided by `decide_outage`: only the first failure of a streak
  counts an attempt, and the message stays where it was in the queue while the sender's
  circuit breaker (`dispatch/breaker.py`) holds the sending. During an outage only
  MAX_LATENESS ends a message.

Nothing sleeps through a back-off: a retry is the message back in `queued` with `run_at` set.

Lease rule: a claim holds the row for `lease_seconds` (`lease_until`). A send plus its wait for
a rate-limit token is far shorter (request timeout 15 s vs lease 60 s). A lease found expired
(`MessageStore.expired_leases`) means its worker died or hung mid-send: the message *may have
been sent*, so it is treated exactly like an ambiguous failure (`reap_decision`), never resent
silently. Releasing a claim that was never sent (shutdown, pause, pair gap) is a deferral.

Lateness rule: a claimed message whose `due_at` is more than `max_lateness` in the past is
failed with an EXPIRED attempt instead of being sent (`is_expired`); anything less late is
sent late. Nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
import enum
import random as random_mod
from collections.abc import Callable
from datetime import datetime, timedelta

from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.whatsapp import errorcodes

AMBIGUOUS_TEXT = "ambiguous: may have been sent"
LEASE_EXPIRED_TEXT = "lease expired mid-send: may have been sent"
WORKER_DIED_TEXT = "worker died mid-send: may have been sent"


class Action(enum.StrEnum):
    RETRY = "retry"  # back to queued at run_at, one attempt counted
    FAIL = "fail"  # failed for good
    PAUSE = "pause"  # account-level: pause the number, defer the message, no attempt counted


class Jitter(enum.StrEnum):
    FULL = "full"
    DECORRELATED = "decorrelated"


@dataclasses.dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do with a message after a failed attempt."""

    action: Action
    attempt: messages.AttemptOutcome | None  # what the attempts table gets; None = deferral
    run_at: datetime | None = None  # RETRY and PAUSE: when it may be claimed again
    error_code: int | None = None
    error_text: str | None = None
    counts_attempt: bool = True  # False: the attempt is recorded, not counted (an outage)
    reason: str | None = None  # the message's `status_reason` while it waits (131049)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Back-off and give-up rules; see the module docstring for the full table."""

    max_attempts: int = 5
    base_seconds: float = 2.0
    cap_seconds: float = 900.0
    throttle_base_seconds: float = 1.0
    account_pause_seconds: float = 300.0
    resend_ambiguous: bool = True
    #: An ambiguous message is resent no sooner than this: time for Meta's status webhook
    #: (carrying our id) to prove the send (`bootstrap.retry_policy`: RESEND_GRACE_SECONDS
    #: when webhooks are configured, else 0).
    ambiguous_grace_seconds: float = 0.0
    jitter: Jitter = Jitter.FULL
    random: Callable[[], float] = random_mod.random

    def decide(self, error: errors.SendError, attempts_before: int, now: datetime) -> RetryDecision:
        """The decision after `error` on attempt number `attempts_before + 1`."""
        text = error.message
        if isinstance(error, errors.PermanentFailure):
            return _fail(messages.AttemptOutcome.FAILED, error.code, text)
        if isinstance(error, errors.AccountFailure):
            until = now + timedelta(seconds=self.account_pause_seconds)
            return RetryDecision(Action.PAUSE, None, until, error.code, text)
        if isinstance(error, errors.AmbiguousFailure) and not self.resend_ambiguous:
            return _fail(
                messages.AttemptOutcome.AMBIGUOUS, error.code, f"{AMBIGUOUS_TEXT} ({text})"
            )
        outcome = (
            messages.AttemptOutcome.AMBIGUOUS
            if isinstance(error, errors.AmbiguousFailure)
            else messages.AttemptOutcome.RETRY
        )
        if attempts_before + 1 >= self.max_attempts:
            final = f"attempts exhausted ({self.max_attempts}): {text}"
            return _fail(outcome, error.code, final)
        delay = self.delay_seconds(error, attempts_before)
        if isinstance(error, errors.AmbiguousFailure):
            delay = max(delay, self.ambiguous_grace_seconds)
        return RetryDecision(
            Action.RETRY, outcome, now + timedelta(seconds=delay), error.code, text
        )

    def decide_outage(
        self,
        error: errors.SendError,
        message: messages.ScheduledMessage,
        counted: bool,
        now: datetime,
    ) -> RetryDecision:
        """The decision after an outage failure (`breaker.is_outage`): the message keeps its
        place in the queue (`run_at` unchanged: the sender's circuit breaker, not a per-message
        back-off, spaces the next tries) and its attempt counts only if `counted` (the first
        failure of a streak). An ambiguous failure without `resend_ambiguous` still fails: it
        may have been sent; with it and a webhook grace, it waits the grace."""
        if isinstance(error, errors.AmbiguousFailure) and not self.resend_ambiguous:
            return self.decide(error, message.attempts, now)
        outcome = (
            messages.AttemptOutcome.AMBIGUOUS
            if isinstance(error, errors.AmbiguousFailure)
            else messages.AttemptOutcome.RETRY
        )
        if counted and message.attempts + 1 >= self.max_attempts:
            final = f"attempts exhausted ({self.max_attempts}): {error.message}"
            return _fail(outcome, error.code, final)
        run_at = min(message.run_at, now)
        if isinstance(error, errors.AmbiguousFailure) and self.ambiguous_grace_seconds > 0:
            # Meta may have taken it (a timeout after the request went out): wait the grace
            # for a status webhook carrying our id before resending, as after a crash.
            run_at = now + timedelta(seconds=self.ambiguous_grace_seconds)
        return RetryDecision(
            Action.RETRY,
            outcome,
            run_at,
            error.code,
            error.message,
            counts_attempt=counted,
        )

    def delay_seconds(self, error: errors.SendError, attempts_before: int) -> float:
        """Seconds to wait before the next attempt (`attempts_before` = x, from 0)."""
        if isinstance(error, errors.RateLimited):
            if error.code == errorcodes.PAIR_RATE_CODE:
                return float(min(4**attempts_before, self.cap_seconds))  # Meta: 4^x s
            if error.retry_after is not None:
                return min(error.retry_after, self.cap_seconds)
            return self.backoff(attempts_before, self.throttle_base_seconds)
        return self.backoff(attempts_before, self.base_seconds)

    def backoff(self, attempts_before: int, base: float) -> float:
        """Exponential back-off with jitter, capped at `cap_seconds`."""
        ceiling = min(self.cap_seconds, base * 2.0**attempts_before)
        if self.jitter == Jitter.FULL:
            return self.random() * ceiling
        # Decorrelated jitter (AWS): uniform(base, 3 * previous), previous ~ base * 2^(x-1).
        previous = base * 2.0 ** max(attempts_before - 1, 0)
        return min(self.cap_seconds, base + self.random() * max(3 * previous - base, 0.0))


#: How long a message refused by Meta's per-user marketing limit (131049) waits.
MARKETING_LIMIT_WAIT = timedelta(hours=24)
MARKETING_LIMIT = "marketing_limit"


def marketing_limit_decision(
    error: errors.SendError, message: messages.ScheduledMessage, now: datetime
) -> RetryDecision:
    """131049 (Meta's per-user marketing limit): the first time, one more try after 24 h
    (`status_reason` `marketing_limit`); again after that, failed."""
    if message.last_error_code == errorcodes.MARKETING_LIMIT_CODE:
        text = f"{error.message} (again, after waiting {_human(MARKETING_LIMIT_WAIT)})"
        return _fail(messages.AttemptOutcome.FAILED, error.code, text)
    return RetryDecision(
        Action.RETRY,
        messages.AttemptOutcome.RETRY,
        now + MARKETING_LIMIT_WAIT,
        error.code,
        error.message,
        reason=MARKETING_LIMIT,
    )


def _fail(outcome: messages.AttemptOutcome, code: int | None, text: str) -> RetryDecision:
    return RetryDecision(Action.FAIL, outcome, None, code, text)


def lease_until(now: datetime, lease_seconds: float) -> datetime:
    """End of a claim taken at `now`."""
    return now + timedelta(seconds=lease_seconds)


def reap_decision(
    message: messages.ScheduledMessage,
    now: datetime,
    policy: RetryPolicy,
    text: str = LEASE_EXPIRED_TEXT,
) -> RetryDecision:
    """What to do with a message whose lease expired or whose worker died: the ambiguous
    rule, retried at once, or after the grace for a status webhook (`ambiguous_grace_seconds`)."""
    error = errors.AmbiguousFailure(text)
    decision = policy.decide(error, message.attempts, now)
    if decision.action == Action.RETRY:
        run_at = now + timedelta(seconds=policy.ambiguous_grace_seconds)
        return dataclasses.replace(decision, run_at=run_at)
    return decision


#: Deferral reasons whose new time is a due time of its own: MAX_LATENESS counts from it
#: (a message held through a night of quiet hours is not late when the night ends).
RESCHEDULED = frozenset({"quiet_hours", "messaging_limit", "marketing_limit", "frequency_cap"})


def lateness_base(message: messages.ScheduledMessage) -> datetime:
    """What MAX_LATENESS counts from: the due time, or the time a limit deferred it to."""
    if message.status_reason in RESCHEDULED and message.run_at > message.due_at:
        return message.run_at
    return message.due_at


def is_expired(due_at: datetime, now: datetime, max_lateness: timedelta) -> bool:
    """Whether a message due at `due_at` is too late to send at `now`."""
    return due_at < now - max_lateness


def expired_text(due_at: datetime, max_lateness: timedelta) -> str:
    """The error text of an expired message."""
    return (
        f"expired: due at {due_at.isoformat()}, more than MAX_LATENESS "
        f"({_human(max_lateness)}) late"
    )


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
