"""Prometheus metrics of one dispatcher, in its own `CollectorRegistry` (no global state).

Names (all prefixed `whatsapp_scheduler_`); `sender` is the sender's name (`messages.sender`),
`phone_number_id` its business number:

| metric                              | type      | labels  | meaning                              |
|-------------------------------------|-----------|---------|--------------------------------------|
| messages_sent_total                 | counter   | category, sender | accepted by Meta (HTTP 200); `category` at send time: SERVICE (a text), MARKETING, UTILITY, AUTHENTICATION, `unknown` |
| messages_failed_total               | counter   | code, sender | failed for good (code, or `expired`, `ambiguous`, `sender_unknown`, `none`) |
| messages_retried_total              | counter   | code, sender | attempts that led to a retry    |
| messages_deferred_total             | counter   | reason, sender | released unsent: `pair_gap`, `paused`, `outage`, `shutdown`, `sender_unknown`, `template_paused`, `quiet_hours`, `messaging_limit`, `frequency_cap` |
| leases_reaped_total                 | counter   |         | expired leases recovered             |
| send_lateness_seconds               | histogram | sender  | send time - due_at of sent messages  |
| send_latency_seconds                | histogram |         | duration of the HTTP request         |
| queue_depth                         | gauge     | status  | `queued` / `sending` rows (safety poll) |
| in_flight                           | gauge     |         | messages this process holds          |
| sender_paused                       | gauge     | phone_number_id | 1 while paused after an account error |
| sender_breaker_state                | gauge     | phone_number_id | circuit breaker (`breaker.py`): 0 closed, 1 open, 2 probing |
| sender_breaker_opened_total         | counter   | phone_number_id | times the breaker opened, or reopened after a failed probe |
"""

from __future__ import annotations

import prometheus_client
from prometheus_client import CollectorRegistry

PREFIX = "whatsapp_scheduler_"
CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST

LATENESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def category_label(category: str | None) -> str:
    """Label value for a message's category at send time (`unknown`: not in the catalogue)."""
    return category or "unknown"


def code_label(code: int | str | None) -> str:
    """Label value for a Graph error code (`none` when there was none)."""
    return "none" if code is None else str(code)


class DispatchMetrics:
    """The dispatcher's counters, histograms and gauges."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.sent = prometheus_client.Counter(
            PREFIX + "messages_sent",
            "Messages accepted by Meta.",
            ["category", "sender"],
            registry=r,
        )
        self.failed = prometheus_client.Counter(
            PREFIX + "messages_failed", "Messages failed for good.", ["code", "sender"], registry=r
        )
        self.retried = prometheus_client.Counter(
            PREFIX + "messages_retried",
            "Attempts followed by a retry.",
            ["code", "sender"],
            registry=r,
        )
        self.deferred = prometheus_client.Counter(
            PREFIX + "messages_deferred",
            "Claims released unsent.",
            ["reason", "sender"],
            registry=r,
        )
        self.reaped = prometheus_client.Counter(
            PREFIX + "leases_reaped", "Expired leases recovered.", registry=r
        )
        self.lateness = prometheus_client.Histogram(
            PREFIX + "send_lateness_seconds",
            "Send time minus due time of sent messages.",
            ["sender"],
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.latency = prometheus_client.Histogram(
            PREFIX + "send_latency_seconds",
            "Duration of one send request.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_depth = prometheus_client.Gauge(
            PREFIX + "queue_depth", "Messages queued or sending.", ["status"], registry=r
        )
        self.queue_overdue = prometheus_client.Gauge(
            PREFIX + "queue_overdue_seconds",
            "How late the longest-waiting due, unsent message is (0: none is due); refreshed "
            "at every safety poll.",
            registry=r,
        )
        self.in_flight = prometheus_client.Gauge(
            PREFIX + "in_flight", "Messages held by this process.", registry=r
        )
        self.paused = prometheus_client.Gauge(
            PREFIX + "sender_paused",
            "1 while a number is paused after an account error.",
            ["phone_number_id"],
            registry=r,
        )

        self.breaker_state = prometheus_client.Gauge(
            PREFIX + "sender_breaker_state",
            "Circuit breaker of a number during a Meta outage: 0 closed, 1 open, 2 probing.",
            ["phone_number_id"],
            registry=r,
        )
        self.breaker_opened = prometheus_client.Counter(
            PREFIX + "sender_breaker_opened",
            "Times a number's breaker opened (Meta unavailable) or reopened after a failed probe.",
            ["phone_number_id"],
            registry=r,
        )

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return prometheus_client.generate_latest(self.registry)
