"""Quiet hours: a daily window of local time in which no message goes out (docs/limits.md).

Pure. A window is written `HH:MM-HH:MM` (`21:00-09:00`: from 21:00 to 09:00 the next morning;
`12:00-14:00`: within one day); the start is inside it, the end is not. It is read on the
wall clock of the message's own time zone (`messages.timezone`), so the same setting keeps a
customer in Istanbul and one in New York asleep at their own night.

DST: the wall-clock time of an instant decides whether it is inside; the window's end is the
first instant whose wall-clock time is the end time on the right day. If the clocks skip the
end time (it falls in a spring-forward gap), the end is the instant the clocks jump; if they
repeat it (autumn), its first occurrence. A night on which the clocks change is an hour
shorter or longer, never skipped.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from whatsapp_scheduler.core import errors

#: `HH:MM-HH:MM`, spaces allowed around the dash.
_PATTERN = re.compile(r"\A\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*\Z")
#: What a sender's `quiet_hours` holds to turn the setting off for it.
OFF = "off"
RULE = "must be HH:MM-HH:MM (e.g. 21:00-09:00), empty for none"

#: The `status_reason` / deferral reason and warning code of a message moved out of them.
REASON = "quiet_hours"


@dataclasses.dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start.strftime('%H:%M')}-{self.end.strftime('%H:%M')}"

    def contains(self, wall: time) -> bool:
        """Whether the wall-clock time `wall` is inside the window."""
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def deferred_to(self, at: datetime, zone: ZoneInfo) -> datetime | None:
        """The window's end (UTC) if `at` is inside the window in `zone`; else None."""
        local = at.astimezone(zone)
        wall = local.time().replace(tzinfo=None)
        if not self.contains(wall):
            return None
        day = local.date()
        if self.start > self.end and wall >= self.start:
            day += timedelta(days=1)  # 23:00 in 21:00-09:00: tomorrow's 09:00
        return _first_instant(datetime.combine(day, self.end), zone)


def _first_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first UTC instant whose wall clock in `zone` reads `wall` or, if the clocks skip
    it, the instant they jump over it."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap: fold=0 used the offset before the jump, which lands after it; the jump itself
    # is where the offset changes, found between the instant an hour either side.
    low, high = first - timedelta(hours=3), first
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= wall:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0)


def parse(text: str | None, field: str) -> QuietHours | None:
    """`HH:MM-HH:MM` as QuietHours; empty (or None) is none. ValidationFailed naming `field`."""
    if text is None or not text.strip():
        return None
    return _parse_cached(text, field)


@functools.lru_cache(maxsize=256)
def _parse_cached(text: str, field: str) -> QuietHours:
    match = _PATTERN.match(text)
    if match is None:
        raise errors.ValidationFailed(field, "{text!r} {RULE}", text=text, RULE=RULE)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise errors.ValidationFailed(
            field, "{text!r} is not a time of day ({RULE})", text=text, RULE=RULE
        )
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise errors.ValidationFailed(
            field, "{text!r}: start and end are the same ({RULE})", text=text, RULE=RULE
        )
    return QuietHours(start, end)


def check_sender_value(value: object, field: str = "quiet_hours") -> str | None:
    """A sender's `quiet_hours`: None (the QUIET_HOURS setting), `off`, or a window (kept as
    written in the canonical `HH:MM-HH:MM`)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.ValidationFailed(field, "must be a string: {RULE}, or 'off'", RULE=RULE)
    if value.strip().lower() == OFF:
        return OFF
    parsed = parse(value, field)
    if parsed is None:
        raise errors.ValidationFailed(
            field, "must be HH:MM-HH:MM (e.g. 21:00-09:00), 'off', or null for QUIET_HOURS"
        )
    return str(parsed)


def effective(setting: QuietHours | None, sender_value: str | None) -> QuietHours | None:
    """The window that applies to a sender: its own (`off`: none), else the setting."""
    if sender_value is None:
        return setting
    if sender_value == OFF:
        return None
    return parse(sender_value, "quiet_hours")


@functools.lru_cache(maxsize=4096)
def moved(
    due_at: datetime, zone_name: str, window: QuietHours
) -> tuple[datetime, str, tuple[tuple[str, str], ...]] | None:
    """For a message due at `due_at` in `zone_name`: None if outside `window`, else (the
    window's end, the warning's text, its params). Cached: a batch's messages, and a shop's
    reminders, share a few due times (the warning's formatting is most of the cost)."""
    zone = ZoneInfo(zone_name)
    end = window.deferred_to(due_at, zone)
    if end is None:
        return None
    fmt = "%Y-%m-%d %H:%M"
    params = (
        ("asked", due_at.astimezone(zone).strftime(fmt)),
        ("moved", end.astimezone(zone).strftime(fmt)),
        ("zone", zone.key),
        ("window", str(window)),
    )
    return end, warning(due_at, end, zone, window), params


def warning(original: datetime, moved: datetime, zone: ZoneInfo, window: QuietHours) -> str:
    """The schedule-time warning of a message moved to the end of its quiet hours."""
    fmt = "%Y-%m-%d %H:%M"
    return (
        f"{REASON}: {original.astimezone(zone).strftime(fmt)} ({zone.key}) is inside the quiet "
        f"hours {window}; it goes at {moved.astimezone(zone).strftime(fmt)} "
        f"({moved.isoformat()}) instead (quiet_hours: false sends it at the time asked)"
    )
