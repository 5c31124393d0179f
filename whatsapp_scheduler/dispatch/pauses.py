"""Account-level pauses: after Meta's 190, 368, 131031 or 131048, a number stops sending.

The retry policy (`scheduling`) says how long; `Pauses` remembers it per business number,
shows it on /health (`kind: "account"`) and in the `sender_paused` gauge, and ends it once its
time has passed. A Meta outage pauses a number through its circuit breaker instead
(`breaker.py`, `kind: "outage"` on /health): that pause ends with a successful probe, not at
a set time.
Nothing sleeps through a pause: the dispatcher defers messages to its end and wakes then.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any

from whatsapp_scheduler.core import errors
from whatsapp_scheduler.dispatch import metrics as metrics_mod

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class Pause:
    """A number held back after an account-level error."""

    phone_number_id: str
    code: int | None
    reason: str
    until: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "phone_number_id": self.phone_number_id,
            "kind": "account",  # beside the breaker's "outage" entries (breaker.py)
            "code": self.code,
            "reason": self.reason,
            "until": self.until.isoformat(),
        }


class Pauses:
    """The pause of each business number, if any."""

    def __init__(self, metrics: metrics_mod.DispatchMetrics) -> None:
        self._metrics = metrics
        self._pauses: dict[str, Pause] = {}

    def start(self, phone_number_id: str, error: errors.SendError, until: datetime) -> bool:
        """Pause the number until `until`; False if it is already paused at least that long."""
        current = self._pauses.get(phone_number_id)
        if current is not None and current.until >= until:
            return False
        self._pauses[phone_number_id] = Pause(phone_number_id, error.code, error.message, until)
        self._metrics.paused.labels(phone_number_id).set(1)
        logger.error(
            "account error: sending paused",
            extra={
                "phone_number_id": phone_number_id,
                "code": error.code,
                "until": until.isoformat(),
            },
        )
        return True

    def active(self, phone_number_id: str, now: datetime) -> Pause | None:
        """The number's pause if it lasts beyond `now`; an ended pause is cleared (and logged)."""
        pause = self._pauses.get(phone_number_id)
        if pause is None:
            return None
        if pause.until > now:
            return pause
        del self._pauses[phone_number_id]
        self._metrics.paused.labels(phone_number_id).set(0)
        logger.info("sending resumed", extra={"phone_number_id": phone_number_id})
        return None

    def as_json(self, now: datetime) -> list[dict[str, Any]]:
        """The pauses still running at `now`, for /health."""
        return [pause.as_json() for pause in self._pauses.values() if pause.until > now]
