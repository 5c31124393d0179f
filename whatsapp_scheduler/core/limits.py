"""Meta's daily messaging limit: the tiers and the MESSAGING_LIMIT setting (docs/limits.md). Pure."""

from __future__ import annotations

from whatsapp_scheduler.core import errors

#: Meta's messaging-limit tiers: unique contacts a business portfolio may reach with templates
#: outside their 24-hour window in a moving 24 h.
TIERS = (250, 2000, 10000, 100000)
UNLIMITED = "unlimited"


def parse_limit(value: str, field: str = "MESSAGING_LIMIT") -> int | None:
    """One of Meta's tiers, or `unlimited` (None)."""
    text = value.strip().lower().replace("_", "").replace(",", "")
    if text in ("", UNLIMITED):
        return None
    if text.isdigit() and int(text) in TIERS:
        return int(text)
    tiers = ", ".join(str(t) for t in TIERS)
    raise errors.ValidationFailed(field, f"{value!r} must be one of {tiers} or {UNLIMITED}")
