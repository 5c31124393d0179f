"""Logging set-up: one line per event, `key=value` extras appended (no secrets are ever passed)."""

from __future__ import annotations

import logging
import sys

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """`2026-11-28 10:00:00,123 INFO whatsapp_scheduler.dispatch.dispatcher sent message_id=... code=...`"""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries' chatter at INFO (Alembic's plugin set-up, APScheduler's job bookkeeping).
    for name in ("alembic.runtime.plugins", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)
