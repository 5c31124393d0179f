"""The circuit breaker of each business number: a Meta outage pauses the sender, never fails
its messages.

An *outage failure* (`is_outage`) is a send that failed because Meta (or the way to it) is
down, not because of the message: a refused connection or connect timeout, a timeout or reset
after connecting, a 5xx without a Graph error body (all `TemporaryFailure` without a code), or
one of Meta's "service unavailable" codes (`errorcodes.RetryRule.OUTAGE`: 2, 131016, 133004).
Any other answer from Meta (a 200, a 4xx with a code, a rate limit) proves Meta is up.

States, per `phone_number_id` (so each sender has its own):

    CLOSED   sending freely. Outage failures in a row form a *streak*; any other answer
             ends it. The first failure of a streak counts an attempt (a lone blip is the
             message's own retry), the others do not. The failed message keeps its `run_at`
             (its place in due order) and is tried again at once while the breaker is closed.
             `threshold` outage failures in a row (from any messages) open the breaker.
    OPEN     nothing is sent or claimed until `probe_at` (`base_seconds` after opening);
             messages already claimed go back to `queued` unchanged (a deferral, no attempt).
    PROBING  `probe_at` passed: ONE row is claimed (the earliest due, so due order holds) and
             sent as the probe; messages claimed before the breaker opened are still held.
             Success (or any non-outage answer) closes the breaker: the queue drains in due
             order at the rate limit. An outage failure reopens it with the back-off doubled,
             capped at `cap_seconds` (5 s, 10 s, 20 s ... 300 s by default). The probe's
             attempt is recorded but not counted. A probe claim that never reaches Meta (too
             late for MAX_LATENESS, deferred by a pause or the pair gap) hands the probe to the
             next row (`settle`).

A message is therefore charged at most one attempt per streak, and during an outage only
MAX_LATENESS (`retries.is_expired`) ends it. A streak of one message may open the breaker too:
then the lone message waits on the probe back-off instead of spending its attempts in seconds.

The state lives in the process (like the account pauses of `pauses.py`). With several
processes on one PostgreSQL database each one trips, probes and closes its own breaker from
its own sends: each process spends at most one attempt of one message per streak, sends at most
one probe per back-off, and a process whose probe succeeded drains the queue (the others follow
at their next probe). Messages an open breaker releases keep their `run_at`, so another
process may claim them and fail them too: that process's failures count toward its own breaker,
not toward the messages' attempts, apart from the first of its streak.

Pure apart from logging and the metrics it updates; every method takes `now`. For operators:
docs/dispatcher.md, "Meta outages".
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from datetime import datetime, timedelta
from typing import Any

from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.dispatch import metrics as metrics_mod
from whatsapp_scheduler.whatsapp import errorcodes

logger = logging.getLogger(__name__)


class State(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    PROBING = "probing"


#: The value of the `sender_breaker_state` gauge for each state.
GAUGE = {State.CLOSED: 0, State.OPEN: 1, State.PROBING: 2}


def is_outage(error: errors.SendError) -> bool:
    """Whether `error` says Meta is unavailable (see the module docstring), not the message."""
    if not isinstance(error, errors.TemporaryFailure):
        return False  # rate limits, account and permanent errors: Meta answered
    return error.code is None or errorcodes.is_outage_code(error.code)


def failure_label(error: errors.SendError) -> str:
    """How an outage failure is named in the breaker's reason: `503`, `connection error` ..."""
    if error.http_status is not None:
        return str(error.http_status)
    if isinstance(error, errors.AmbiguousFailure):
        return "no answer"  # timeout, reset or disconnect after connecting
    return "connection error"


@dataclasses.dataclass(frozen=True, slots=True)
class BreakerConfig:
    """`threshold` outage failures in a row open the breaker; probes `base_seconds` after
    opening, doubling after each failed probe up to `cap_seconds`."""

    threshold: int = 5
    base_seconds: float = 5.0
    cap_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("breaker: threshold >= 1 and 0 < base_seconds <= cap_seconds")


@dataclasses.dataclass(frozen=True, slots=True)
class Failed:
    """What the breaker made of one outage failure."""

    counted: bool  # the message's attempt counts toward MAX_ATTEMPTS
    opened: bool  # this failure opened (or reopened) the breaker
    state: State


@dataclasses.dataclass(slots=True)
class _Sender:
    state: State = State.CLOSED
    streak: int = 0  # outage failures in a row
    labels: dict[str, int] = dataclasses.field(default_factory=dict)  # of the streak, in order
    last_code: int | None = None
    opened_at: datetime | None = None
    probe_at: datetime | None = None
    backoff: float = 0.0
    probe_id: str | None = None


class Breaker:
    """The breaker of every business number this process sends from."""

    def __init__(self, config: BreakerConfig, metrics: metrics_mod.DispatchMetrics) -> None:
        self.config = config
        self._metrics = metrics
        self._senders: dict[str, _Sender] = {}

    def watch(self, phone_number_id: str) -> None:
        """Export the number's gauge (0, closed) and counter before anything happens."""
        self._metrics.breaker_state.labels(phone_number_id).set(GAUGE[self.state(phone_number_id)])
        self._metrics.breaker_opened.labels(phone_number_id)

    def state(self, phone_number_id: str) -> State:
        sender = self._senders.get(phone_number_id)
        return State.CLOSED if sender is None else sender.state

    # -- before a claim and before a send ---------------------------------------------------

    def claim_limit(self, phone_number_id: str, now: datetime, limit: int) -> int:
        """How many due rows the dispatcher may claim now: all, none, or, once `probe_at` has
        passed, 1: the probe's claim (the breaker is then probing: nothing more is claimed)."""
        sender = self._senders.get(phone_number_id)
        if sender is None or sender.state == State.CLOSED:
            return limit
        if sender.state == State.OPEN and sender.probe_at is not None and now >= sender.probe_at:
            sender.state = State.PROBING
            sender.probe_id = None  # the row claimed next
            self._gauge(phone_number_id, sender)
            return 1
        return 0

    def admit(self, phone_number_id: str, message: messages.ScheduledMessage) -> bool:
        """Whether `message` may be sent now: always while closed; while probing, only the
        probe's claim (a row claimed since `probe_at`; rows claimed before are held)."""
        sender = self._senders.get(phone_number_id)
        if sender is None or sender.state == State.CLOSED:
            return True
        if sender.state == State.OPEN or not self._is_probe(sender, message):
            return False
        if sender.probe_id is None:
            sender.probe_id = message.id
            logger.info(
                "Meta unavailable: sending a probe",
                extra={"phone_number_id": phone_number_id, "message_id": message.id},
            )
        return True

    def settle(self, phone_number_id: str, message: messages.ScheduledMessage) -> None:
        """`message` is done in the send path. If it was the probe's claim and no answer or
        outage failure changed the state, it never reached Meta: the probe goes to the next
        row claimed (the breaker is open again, its probe time already passed)."""
        sender = self._senders.get(phone_number_id)
        if sender is not None and sender.state == State.PROBING and self._is_probe(sender, message):
            sender.state = State.OPEN
            sender.probe_id = None
            self._gauge(phone_number_id, sender)

    @staticmethod
    def _is_probe(sender: _Sender, message: messages.ScheduledMessage) -> bool:
        if sender.probe_id is not None:
            return sender.probe_id == message.id
        claimed = message.claimed_at
        return claimed is not None and sender.probe_at is not None and claimed >= sender.probe_at

    def held_until(self, phone_number_id: str, now: datetime) -> datetime | None:
        """None when closed; else when the dispatcher should look again (the probe time, or,
        while a probe is on the wire, a back-off later: its outcome wakes the loop sooner)."""
        sender = self._senders.get(phone_number_id)
        if sender is None or sender.state == State.CLOSED:
            return None
        assert sender.probe_at is not None
        if sender.state == State.OPEN:
            return sender.probe_at
        return max(sender.probe_at, now) + timedelta(seconds=self.config.base_seconds)

    # -- after a send ------------------------------------------------------------------------

    def failed(
        self, phone_number_id: str, message_id: str, error: errors.SendError, now: datetime
    ) -> Failed:
        """An outage failure (`is_outage(error)`) of a send from this number."""
        sender = self._senders.setdefault(phone_number_id, _Sender())
        sender.streak += 1
        label = failure_label(error)
        sender.labels[label] = sender.labels.get(label, 0) + 1
        sender.last_code = error.code
        counted = sender.state == State.CLOSED and sender.streak == 1
        if sender.state == State.CLOSED:
            if sender.streak < self.config.threshold:
                return Failed(counted, False, State.CLOSED)
            self._open(phone_number_id, sender, now, self.config.base_seconds)
            return Failed(counted, True, State.OPEN)
        if sender.state == State.PROBING and sender.probe_id == message_id:
            backoff = min(self.config.cap_seconds, sender.backoff * 2)
            self._open(phone_number_id, sender, now, backoff)
            return Failed(False, True, State.OPEN)
        return Failed(False, False, sender.state)  # sent before the breaker opened

    def answered(self, phone_number_id: str, now: datetime) -> bool:
        """Meta answered a send (a 200, or an error that is not an outage): the streak ends
        and an open breaker closes. True if the breaker was open (sending resumes)."""
        sender = self._senders.get(phone_number_id)
        if sender is None:
            return False
        was_open = sender.state != State.CLOSED
        if was_open:
            down = (now - sender.opened_at).total_seconds() if sender.opened_at else 0.0
            logger.warning(
                "Meta answered again: sending resumed",
                extra={
                    "phone_number_id": phone_number_id,
                    "failures": sender.streak,
                    "open_seconds": round(down, 1),
                },
            )
        del self._senders[phone_number_id]
        self._metrics.breaker_state.labels(phone_number_id).set(GAUGE[State.CLOSED])
        return was_open

    # -- reporting ---------------------------------------------------------------------------

    def reason(self, phone_number_id: str) -> str | None:
        """E.g. `Meta unavailable: connection error x5, 503 x2, next probe at 09:05:10+00:00`."""
        sender = self._senders.get(phone_number_id)
        if sender is None or sender.state == State.CLOSED or sender.probe_at is None:
            return None
        seen = ", ".join(f"{label} x{count}" for label, count in sender.labels.items())
        if sender.state == State.PROBING:
            return f"Meta unavailable: {seen}, probe in flight"
        return f"Meta unavailable: {seen}, next probe at {sender.probe_at.isoformat()}"

    def as_json(self, now: datetime) -> list[dict[str, Any]]:
        """Each open breaker, for /health's `paused` list (beside the account pauses)."""
        entries = []
        for phone_number_id, sender in self._senders.items():
            if sender.state == State.CLOSED or sender.probe_at is None:
                continue
            entries.append(
                {
                    "phone_number_id": phone_number_id,
                    "kind": "outage",
                    "code": sender.last_code,
                    "reason": self.reason(phone_number_id),
                    "until": sender.probe_at.isoformat(),
                    "state": str(sender.state),
                    "since": sender.opened_at.isoformat() if sender.opened_at else None,
                    "failures": sender.streak,
                    "next_probe_at": sender.probe_at.isoformat(),
                }
            )
        return entries

    def _open(self, phone_number_id: str, sender: _Sender, now: datetime, backoff: float) -> None:
        reopened = sender.opened_at is not None
        sender.state = State.OPEN
        sender.opened_at = sender.opened_at or now
        sender.backoff = backoff
        sender.probe_at = now + timedelta(seconds=backoff)
        sender.probe_id = None
        self._metrics.breaker_opened.labels(phone_number_id).inc()
        self._gauge(phone_number_id, sender)
        extra = {
            "phone_number_id": phone_number_id,
            "failures": sender.streak,
            "next_probe_at": sender.probe_at.isoformat(),
        }
        if reopened:
            logger.warning("Meta still unavailable: probe failed", extra=extra)
        else:
            logger.error("Meta unavailable: sending paused", extra=extra)

    def _gauge(self, phone_number_id: str, sender: _Sender) -> None:
        self._metrics.breaker_state.labels(phone_number_id).set(GAUGE[sender.state])
