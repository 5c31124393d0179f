"""One claimed message, from the checks to the outcome: `SendPath.attempt`.

In order: too late (MAX_LATENESS) -> the recipient's opt-out (`consent_gate`) -> quiet hours
in the message's time zone (`quiet_hours`, a deferral to their end) -> Meta's template status
(`template_gate`) -> the 24-hour window at send time (`window_gate`) -> the
number paused -> its circuit breaker holding (a Meta outage, `breaker`) -> the gap per
recipient (local, then the fleet's) -> a throughput token (local, then the fleet's;
`throughput.Throughput`) -> the send, which starts only when the throughput gate lets it start
at that moment -> the outcome, built and counted by `outcomes.Tally`. A deferral (paused,
outage, pair gap) costs no attempt. A failed send is decided by the retry policy
(`retries.RetryPolicy`); an account-level error pauses the number, a throughput error slows
its bucket down, an outage failure (`breaker.is_outage`) feeds the number's circuit breaker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from whatsapp_scheduler import store
from whatsapp_scheduler import whatsapp as whatsapp_mod
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import dates, errors, localtime, messages, quiet
from whatsapp_scheduler.core import senders as senders_mod
from whatsapp_scheduler.dispatch import breaker as breaker_mod
from whatsapp_scheduler.dispatch import consent_gate as consent_gate_mod
from whatsapp_scheduler.dispatch import contact_zones as contact_zones_mod
from whatsapp_scheduler.dispatch import limit_gate as limit_gate_mod
from whatsapp_scheduler.dispatch import metrics as metrics_mod
from whatsapp_scheduler.dispatch import outcomes, ratelimit, retries, sharedlimit, throughput
from whatsapp_scheduler.dispatch import pauses as pauses_mod
from whatsapp_scheduler.dispatch import template_gate as template_gate_mod
from whatsapp_scheduler.dispatch import window_gate as window_gate_mod
from whatsapp_scheduler.whatsapp import errorcodes

logger = logging.getLogger(__name__)

SentAs = messages.SentAs

#: After a 130429 (`errorcodes.THROUGHPUT_CODE`) without retry-after, hold the whole number
#: this long.
THROTTLE_PAUSE_SECONDS = 1.0


class SendPath:
    """The checks, waits and send of one message for one business number (one sender: its
    own Cloud API sender, rate limiter and throughput gate; the pauses and the breaker are
    shared objects keyed by `phone_number_id`)."""

    def __init__(
        self,
        *,
        name: str = senders_mod.DEFAULT_SENDER_NAME,
        sender: whatsapp_mod.MessageSender,
        phone_number_id: str,
        clock: clock_mod.Clock,
        max_lateness: timedelta,
        policy: retries.RetryPolicy,
        limiter: ratelimit.RateLimiter,
        shared_limiter: sharedlimit.SharedRateLimit | None,
        window_gate: window_gate_mod.WindowGate | None,
        pauses: pauses_mod.Pauses,
        tally: outcomes.Tally,
        metrics: metrics_mod.DispatchMetrics,
        on_sending: Callable[[str, SentAs], None],
        on_pause: Callable[[datetime], None],
        breaker: breaker_mod.Breaker | None = None,
        consent_gate: consent_gate_mod.ConsentGate | None = None,
        template_gate: template_gate_mod.TemplateGate | None = None,
        quiet_hours: quiet.QuietHours | None = None,
        limit_gate: limit_gate_mod.MessagingLimitGate | None = None,
        frequency_gate: limit_gate_mod.FrequencyGate | None = None,
        contact_zones: contact_zones_mod.ContactZones | None = None,
    ) -> None:
        self.name = name  # the sender's name (`messages.sender`)
        self.sender = sender
        self.phone_number_id = phone_number_id
        self.clock = clock
        self.max_lateness = max_lateness
        self.policy = policy
        self.limiter = limiter
        self.shared_limiter = shared_limiter
        self.window_gate = window_gate
        self.consent_gate = consent_gate  # the recipient's opt-out, again at send time
        self.template_gate = template_gate  # Meta's template status, again at send time
        self.quiet_hours = quiet_hours  # this sender's (or QUIET_HOURS), again at send time
        self.limit_gate = limit_gate  # MESSAGING_LIMIT of its portfolio (limit_gate.py)
        self.frequency_gate = frequency_gate  # MARKETING_FREQUENCY_CAP (limit_gate.py)
        self.contact_zones = contact_zones  # the zone quiet hours are read in (contact_zones.py)
        #: What its daily messaging limit is counted under: its portfolio, else its number.
        self.portfolio = f"number:{phone_number_id}"
        #: Its portfolio's daily messaging limit (the sender's own, else MESSAGING_LIMIT).
        self.messaging_limit: int | None = None
        self.pauses = pauses
        self.tally = tally
        self.metrics = metrics
        self._on_sending = on_sending  # the request may be on the wire from now on
        self._on_pause = on_pause  # the number is paused until then: wake the loop at the end
        self.breaker = breaker or breaker_mod.Breaker(breaker_mod.BreakerConfig(), metrics)
        self.breaker.watch(phone_number_id)
        self._gate_lock = asyncio.Lock()  # sends the throughput gate holds back (throughput.py)
        self._throughput: throughput.Throughput | None = None  # built once per limiter

    def active_pause(self, now: datetime) -> pauses_mod.Pause | None:
        return self.pauses.active(self.phone_number_id, now)

    def claim_limit(self, now: datetime, limit: int) -> int:
        """Rows the dispatcher may claim now: none while paused or while the breaker holds,
        one for the breaker's probe, else `limit`."""
        if self.active_pause(now) is not None:
            return 0
        return self.breaker.claim_limit(self.phone_number_id, now, limit)

    def held_until(self, now: datetime) -> datetime | None:
        """When sending may go on, if the number is paused or its breaker holds; else None."""
        pause = self.active_pause(now)
        held = self.breaker.held_until(self.phone_number_id, now)
        if pause is None:
            return held
        return pause.until if held is None else max(pause.until, held)

    async def attempt(self, message: messages.ScheduledMessage) -> store.Outcome:
        """Decide, wait, send; returns the outcome to record."""
        try:
            return await self._attempt(message)
        finally:  # a probe's claim that never reached Meta hands the probe on
            self.breaker.settle(self.phone_number_id, message)
            if self.contact_zones is not None:
                self.contact_zones.forget(message.id)

    def _not_to_send(
        self, message: messages.ScheduledMessage, now: datetime
    ) -> store.Outcome | None:
        """Too late (MAX_LATENESS), its recipient opted out since the claim, or Meta has
        since disabled, rejected or paused its template (`template_gate`)."""
        if retries.is_expired(retries.lateness_base(message), now, self.max_lateness):
            if self.consent_gate is not None:
                self.consent_gate.forget(message.id)
            if self.limit_gate is not None:
                self.limit_gate.forget(message.id)
            return self.tally.expired(message, now, self.max_lateness)
        if self.consent_gate is not None:
            refused = self.consent_gate.check(message)
            if refused is not None:
                return self.tally.opted_out(message, now, refused)
        held = self._held_by_limits(message, now)
        if held is not None:
            return held
        if self.template_gate is not None:
            verdict = self.template_gate.check(message)
            if verdict is not None:
                kind, text = verdict
                if kind == "paused":
                    later = now + template_gate_mod.PAUSED_RETRY
                    return self.tally.deferral(message, now, later, "template_paused")
                return self.tally.failed_unsent(
                    message, now, "template_unusable", messages.AttemptOutcome.FAILED, text
                )
        return None

    def _held_by_limits(
        self, message: messages.ScheduledMessage, now: datetime
    ) -> store.Outcome | None:
        """Quiet hours, then the portfolio's daily messaging limit (docs/limits.md): a
        deferral to their end, or to the time a slot frees; no attempt spent."""
        if self.quiet_hours is not None and message.quiet_hours is not False:
            end = self._quiet_until(message, now)
            if end is not None:
                if self.limit_gate is not None:
                    self.limit_gate.forget(message.id)
                return self.tally.deferral(message, now, end, quiet.REASON, keep_reason=True)
        capped = self.frequency_gate.check(message) if self.frequency_gate is not None else None
        if capped is not None:
            if self.limit_gate is not None:
                self.limit_gate.forget(message.id)
            reason = limit_gate_mod.FREQUENCY_REASON
            return self.tally.deferral(message, now, capped, reason, keep_reason=True)
        if self.limit_gate is not None:
            frees = self.limit_gate.check(message)
            if frees is not None:
                reason = limit_gate_mod.REASON
                return self.tally.deferral(message, now, frees, reason, keep_reason=True)
        return None

    def goes_now(self, message: messages.ScheduledMessage, now: datetime) -> bool:
        """Whether the checks before the limit let `message` go now (what the limit books)."""
        if self.consent_gate is not None and self.consent_gate.refuses(message.id):
            return False
        if self.frequency_gate is not None and self.frequency_gate.refuses(message.id):
            return False
        if self.quiet_hours is not None and message.quiet_hours is not False:
            return self._quiet_until(message, now) is None
        return True

    def _quiet_until(self, message: messages.ScheduledMessage, now: datetime) -> datetime | None:
        """The end of the quiet hours `now` is in, in the zone of the recipient's contact (or
        else the message's own); None: outside."""
        assert self.quiet_hours is not None
        name = message.timezone
        if self.contact_zones is not None:
            name = self.contact_zones.zone_of(message)
        try:
            zone = localtime.parse_zone(name)
        except errors.ValidationFailed:  # a zone this machine's tzdata no longer knows
            return None
        return self.quiet_hours.deferred_to(now, zone)

    async def _attempt(self, message: messages.ScheduledMessage) -> store.Outcome:
        now = self.clock.now()
        not_sent = self._not_to_send(message, now)
        if not_sent is not None:
            return not_sent
        sent_as = SentAs.TEXT if message.template is None else SentAs.TEMPLATE
        if self.window_gate is not None:
            verdict = self.window_gate.check(message, now)
            if verdict.failure is not None:
                return self.tally.window_closed(message, now, verdict.failure)
            if verdict.fallback:  # WINDOW_POLICY=template: its fallback template instead
                message, sent_as = verdict.message, SentAs.FALLBACK_TEMPLATE
        pause = self.active_pause(now)
        if pause is not None:
            return self.tally.deferral(message, now, pause.until, "paused")
        if not self.breaker.admit(self.phone_number_id, message):
            return self._held_by_breaker(message, now)
        booked = now
        allowed = self.limiter.pairs.reserve(message.recipient, booked)
        if allowed is not None:
            return self.tally.deferral(message, now, allowed, "pair_gap")
        turn = self.throughput()
        slot = await turn.wait()
        now = self.clock.now()
        pause = self.active_pause(now)
        if pause is not None:
            self.limiter.pairs.release(message.recipient, booked)
            return self.tally.deferral(message, now, pause.until, "paused")
        if not self.breaker.admit(self.phone_number_id, message):
            self.limiter.pairs.release(message.recipient, booked)
            return self._held_by_breaker(message, now)
        wait = await self._reserve_shared_pair(message)
        if wait is not None:  # another process sent to this recipient within PAIR_INTERVAL
            self.limiter.pairs.release(message.recipient, booked)
            now = self.clock.now()
            return self.tally.deferral(message, now, now + timedelta(seconds=wait), "pair_gap")
        await turn.go(slot)  # from here to the send's stamp: nothing awaited
        return await self._send(message, sent_as)

    def _held_by_breaker(self, message: messages.ScheduledMessage, now: datetime) -> store.Outcome:
        """Meta is unavailable: back to `queued` at its own `run_at` (its place in due order);
        the dispatcher claims nothing until the breaker's probe."""
        return self.tally.deferral(message, now, min(message.run_at, now), "outage")

    def limit_health(self) -> dict[str, object]:
        """/health's `limit`: the rate, the burst, the most any 1-s window may carry, and
        where the limit is kept (`local`, or the fleet's source and its counters)."""
        bucket = self.limiter.gate(self.phone_number_id)
        found: dict[str, object] = {
            "messages_per_second": self.limiter.messages_per_second,
            "burst": bucket.burst,
            "window_max": bucket.window_max,
            "source": "local",
        }
        if self.shared_limiter is not None:
            found.update(self.shared_limiter.health())
        return found

    def throughput(self) -> throughput.Throughput:
        """This number's throughput limits (local, and the fleet's if shared); one object per
        path (it holds no state of a send), built again if `limiter` was replaced."""
        turn = self._throughput
        if (
            turn is None
            or turn.limiter is not self.limiter
            or turn.shared is not self.shared_limiter
        ):
            turn = throughput.Throughput(
                self.limiter, self.shared_limiter, self.phone_number_id, self._gate_lock
            )
            self._throughput = turn
        return turn

    async def _reserve_shared_pair(self, message: messages.ScheduledMessage) -> float | None:
        """The fleet-wide gap per recipient: None if booked (or not shared), else the wait.

        Booked after the throughput token, just before the send, so that the gap Meta sees is
        the gap booked; a refusal (rare: two processes, one recipient) costs that token.
        """
        if self.shared_limiter is None or not self.limiter.pairs.enabled:
            return None
        key = f"{self.phone_number_id}:{message.recipient}"
        interval = self.limiter.pairs.interval.total_seconds()
        return await self.shared_limiter.reserve_pair(key, interval)

    async def _send(
        self, message: messages.ScheduledMessage, sent_as: messages.SentAs
    ) -> store.Outcome:
        self._on_sending(message.id, sent_as)
        category = template_gate_mod.send_category(self.template_gate, message, sent_as)
        loop = asyncio.get_running_loop()
        started = self.clock.now()
        t0 = loop.time()
        outgoing = message
        if message.template is not None and dates.has_date(message.template):
            # `{{date}}`: the row's own date, in the template's language (core/dates.py)
            outgoing = message.evolve(
                template=dates.with_date(message.template, message.local_date)
            )
        try:
            receipt = await self.sender.send(outgoing)
        except errors.SendError as exc:
            latency = loop.time() - t0
            self.metrics.latency.observe(latency)
            return self.failed_attempt(message, exc, started, latency, sent_as, category)
        except Exception as exc:  # a bug in a sender must not lose the message
            logger.exception("sender raised an unexpected error", extra=message.log_context())
            error = errors.AmbiguousFailure(f"unexpected sender error: {type(exc).__name__}")
            latency = loop.time() - t0
            return self.failed_attempt(message, error, started, latency, sent_as, category)
        latency = loop.time() - t0
        self.metrics.latency.observe(latency)
        return self._sent(message, receipt, started, latency, sent_as, category)

    def _sent(
        self,
        message: messages.ScheduledMessage,
        receipt: whatsapp_mod.SendReceipt,
        started: datetime,
        latency: float,
        sent_as: messages.SentAs,
        category: str | None,
    ) -> store.Outcome:
        self.limiter.pairs.note_sent(message.recipient, started)
        self.limiter.bucket(self.phone_number_id).recover()
        self._answered()
        now = self.clock.now()
        return self.tally.sent(message, receipt, started, latency, now, sent_as, category)

    def failed_attempt(
        self,
        message: messages.ScheduledMessage,
        error: errors.SendError,
        started: datetime,
        latency: float,
        sent_as: messages.SentAs | None = None,
        category: str | None = None,
    ) -> store.Outcome:
        """The outcome of a send that failed (or was cut off): the retry policy decides."""
        now = self.clock.now()
        if breaker_mod.is_outage(error):
            verdict = self.breaker.failed(self.phone_number_id, message.id, error, now)
            decision = self.policy.decide_outage(error, message, verdict.counted, now)
            held = self.breaker.held_until(self.phone_number_id, now)
            if verdict.opened and held is not None:
                self._on_pause(held)  # wake the loop for the probe
        elif error.code == errorcodes.MARKETING_LIMIT_CODE:  # wait 24 h, once (docs/limits.md)
            self._answered()
            decision = retries.marketing_limit_decision(error, message, now)
        else:
            self._answered()
            decision = self.policy.decide(error, message.attempts, now)
        throttled = error.code == errorcodes.THROUGHPUT_CODE
        if throttled or (isinstance(error, errors.RateLimited) and error.code is None):
            self._throttle(error)
        if decision.action == retries.Action.PAUSE:
            assert decision.run_at is not None
            self._pause(error, decision.run_at)
            self.limiter.pairs.release(message.recipient, started)
        return self.tally.attempt_failed(
            message, error, decision, started, latency, now, sent_as, category
        )

    def _answered(self) -> None:
        """Meta answered: the breaker's streak ends; if it was open, wake the loop to drain."""
        now = self.clock.now()
        if self.breaker.answered(self.phone_number_id, now):
            self._on_pause(now)

    def _throttle(self, error: errors.SendError) -> None:
        wait = getattr(error, "retry_after", None) or THROTTLE_PAUSE_SECONDS
        loop = asyncio.get_running_loop()
        self.limiter.bucket(self.phone_number_id).slow_down(loop.time(), wait)
        logger.warning("throughput limit hit: slowing down", extra={"pause_seconds": wait})

    def _pause(self, error: errors.SendError, until: datetime) -> None:
        if self.pauses.start(self.phone_number_id, error, until):
            self._on_pause(until)
