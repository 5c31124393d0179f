"""Meta's daily messaging limit: the tiers and the MESSAGING_LIMIT setting (docs/limits.md). Pure."""

from __future__ import annotations

import dataclasses
import re

from whatsapp_scheduler.core import errors

#: Meta's messaging-limit tiers: unique contacts a business portfolio may reach with templates
#: outside their 24-hour window in a moving 24 h.
TIERS = (250, 2000, 10000, 100000)
UNLIMITED = "unlimited"
#: MESSAGING_LIMIT=graph: each number's tier is read from Meta's Graph API (docs/limits.md).
FROM_GRAPH = "graph"
_TIER = re.compile(r"\ATIER_(\d{1,6})(K?)\Z")


@dataclasses.dataclass(frozen=True, slots=True)
class FrequencyCap:
    """At most `count` marketing messages per contact (and sender) in `days` days."""

    count: int
    days: int

    def __str__(self) -> str:
        return f"{self.count}/{self.days}d"


_CAP = re.compile(r"\A\s*(\d{1,4})\s*/\s*(\d{1,3})\s*d\s*\Z")


def parse_cap(value: str, field: str = "MARKETING_FREQUENCY_CAP") -> FrequencyCap | None:
    """`N/Dd` (e.g. `2/7d`: at most 2 marketing messages per contact in 7 days); empty: none."""
    if not value.strip():
        return None
    match = _CAP.match(value)
    if match is None or int(match[1]) < 1 or int(match[2]) < 1:
        raise errors.ValidationFailed(
            field, "{value!r} must be N/Dd (at most N marketing messages per contact in D days, N and D at least 1, e.g. 2/7d), or empty for none", value=value
        )  # fmt: skip
    return FrequencyCap(int(match[1]), int(match[2]))


def check_sender_value(value: object, field: str = "messaging_limit") -> str | None:
    """A sender's `messaging_limit`: None (the MESSAGING_LIMIT setting), or a tier as text
    (`2000`) or `unlimited`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise errors.ValidationFailed(field, "must be one of 250, 2000, 10000, 100000, unlimited")
    if isinstance(value, str) and not value.strip():
        raise errors.ValidationFailed(field, "must be one of 250, 2000, 10000, 100000, unlimited")
    parsed = parse_limit(str(value), field)
    return UNLIMITED if parsed is None else str(parsed)


def effective(setting: int | None, sender_value: str | None) -> int | None:
    """The limit a sender's messages are booked against: its own, else the setting."""
    if sender_value is None:
        return setting
    try:
        return parse_limit(sender_value)
    except errors.ValidationFailed:  # a row changed by hand: the setting, not a crash
        return setting


def parse_limit(value: str, field: str = "MESSAGING_LIMIT") -> int | None:
    """One of Meta's tiers, or `unlimited` (None)."""
    text = value.strip().lower().replace("_", "").replace(",", "")
    if text in ("", UNLIMITED):
        return None
    if text.isdigit() and int(text) in TIERS:
        return int(text)
    tiers = ", ".join(str(t) for t in TIERS)
    raise errors.ValidationFailed(
        field,
        "{value!r} must be one of {tiers} or {UNLIMITED}",
        value=value,
        tiers=tiers,
        UNLIMITED=UNLIMITED,
    )


def parse_tier(value: object) -> int | None:
    """Meta's tier name as the Graph API writes it (`TIER_250`, `TIER_2K`, `TIER_10K`,
    `TIER_100K`, `TIER_UNLIMITED`; the older `TIER_50` and `TIER_1K` too) as a number of
    contacts (None: unlimited); ValueError for anything else."""
    if not isinstance(value, str):
        raise ValueError(f"not a tier: {value!r}")
    text = value.strip().upper()
    if text == "TIER_UNLIMITED":
        return None
    match = _TIER.match(text)
    if match is None:
        raise ValueError(f"not a tier: {value!r}")
    return int(match[1]) * (1000 if match[2] else 1)
