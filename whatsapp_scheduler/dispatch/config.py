"""The dispatcher's knobs and identity: `DispatchConfig` (`bootstrap.dispatch_config` reads it
from `Settings`, whose defaults are its own) and the worker id every claim is made under."""

from __future__ import annotations

import dataclasses
import os
import socket
import uuid
from datetime import timedelta
from typing import Any

from whatsapp_scheduler import settings
from whatsapp_scheduler.core import limits, quiet
from whatsapp_scheduler.dispatch import breaker


def _default(name: str) -> Any:
    """The default of a `Settings` field: the dispatcher's defaults are the service's."""
    return settings.Settings.model_fields[name].default


@dataclasses.dataclass(frozen=True, slots=True)
class DispatchConfig:
    """The dispatcher's knobs (`bootstrap.dispatch_config` reads them from `Settings`)."""

    send_concurrency: int = _default("send_concurrency")
    claim_batch_size: int = _default("claim_batch_size")
    lease_seconds: float = _default("lease_seconds")
    max_lateness: timedelta = _default("max_lateness")  # noqa: RUF009 (immutable)
    safety_poll_seconds: float = _default("safety_poll_seconds")
    shutdown_grace_seconds: float = _default("shutdown_grace_seconds")
    reap_interval_seconds: float = 30.0
    messages_per_second: float = _default("messages_per_second")
    flush_delay_seconds: float = 0.002
    flush_max_batch: int = 500
    breaker: breaker.BreakerConfig = breaker.BreakerConfig(  # noqa: RUF009 (immutable)
        threshold=_default("breaker_threshold"),
        base_seconds=_default("breaker_base_seconds"),
        cap_seconds=_default("breaker_cap_seconds"),
    )
    #: QUIET_HOURS (a sender's own `quiet_hours` wins; docs/limits.md); None: none.
    quiet_hours: quiet.QuietHours | None = None
    #: MESSAGING_LIMIT per business portfolio (limit_gate.py); None: unlimited.
    messaging_limit: int | None = None
    #: MESSAGING_LIMIT=graph: each number's tier is read from Meta (`Dispatcher.
    #: refresh_messaging_limits`, hourly); `messaging_limit` holds until the first answer.
    messaging_limit_from_graph: bool = False
    #: MARKETING_FREQUENCY_CAP (limit_gate.FrequencyGate); None: no cap.
    frequency_cap: limits.FrequencyCap | None = None

    @property
    def renew_interval_seconds(self) -> float:
        """How often a dispatcher renews the leases of its claims: three times a lease."""
        return max(0.5, self.lease_seconds / 3)

    def claim_limit(self) -> int:
        """Rows per claim: a batch, but never more than a quarter lease's worth of sending."""
        quarter_lease = int(self.messages_per_second * self.lease_seconds / 4)
        return max(1, min(self.claim_batch_size, max(self.send_concurrency, quarter_lease)))


def new_worker_id() -> str:
    """Unique per process start: host, pid and a random suffix."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # <= 64 chars
