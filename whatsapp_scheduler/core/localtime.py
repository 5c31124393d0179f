"""Turning the client's local date and time (`tarih`, `saat`, a time zone) into a UTC instant.

Pure. The rules (the API's contract: README.md, "POST /schedule", `tarih`, `saat`, `timezone`):
- `tarih` is `YYYY-MM-DD` or a full ISO 8601 datetime as Dart's `toIso8601String()` writes it
  (`2025-09-22T00:00:00.000`, with microseconds, `Z` or an offset); only its date is used.
- `saat` is `HH:MM` or `HH:MM:SS`, read in the message's IANA time zone.
- A local time that does not exist in that zone (a DST gap) is refused; an ambiguous one (the
  repeated hour when clocks go back) takes its first occurrence.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from whatsapp_scheduler.core import errors

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
_TIME = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2}))?$")

#: A requested time this far in the past is taken as "now" (clock skew, slow networks).
PAST_TOLERANCE = timedelta(seconds=60)


def parse_zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA zone called `name`, or a ValidationFailed naming `field`."""
    if not name or "\x00" in name or len(name) > 64 or name.startswith(("/", ".")):
        raise errors.ValidationFailed(field, "{name!r} is not an IANA time zone name", name=name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise errors.ValidationFailed(
            field, "{name!r} is not an IANA time zone name (e.g. Europe/Istanbul)", name=name
        ) from exc


def parse_date(text: str, field: str = "tarih") -> date:
    """The calendar date in `tarih`; the time part of a full datetime is ignored."""
    stripped = text.strip()
    match = _DATE.match(stripped) or _ISO_DATETIME.match(stripped)
    if match is None:
        raise errors.ValidationFailed(
            field,
            "{text!r} is not a date in the form YYYY-MM-DD or an ISO 8601 datetime",
            text=text,
        )
    year, month, day = (int(part) for part in match.groups()[:3])
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise errors.ValidationFailed(
            field, "{text!r} is not a real date ({exc})", text=text, exc=exc
        ) from exc


def parse_time(text: str, field: str = "saat") -> time:
    """The wall-clock time in `saat` (`HH:MM` or `HH:MM:SS`)."""
    match = _TIME.match(text.strip())
    if match is None:
        raise errors.ValidationFailed(field, "{text!r} is not a time in the form HH:MM", text=text)
    hour, minute = int(match.group(1)), int(match.group(2))
    second = int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise errors.ValidationFailed(field, "{text!r} is not a real time of day", text=text)
    return time(hour, minute, second)


def to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of local `day` + `wall` in `zone`.

    Raises ValidationFailed for a local time skipped by a DST change; for a repeated local time
    the first occurrence (fold=0) is chosen.
    """
    local = datetime.combine(day, wall, tzinfo=zone)  # fold=0: first occurrence
    try:
        instant = local.astimezone(UTC)
    except OverflowError as exc:  # 9999-12-31 west of UTC, 0001-01-01 east of it
        raise errors.ValidationFailed(
            "tarih",
            "{isoformat} in {key} is beyond the calendar's range",
            isoformat=day.isoformat(),
            key=zone.key,
        ) from exc
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise errors.ValidationFailed(
            "saat",
            "{isoformat} {strftime} does not exist in {key} (the clocks skip that hour); choose another time",
            isoformat=day.isoformat(),
            strftime=wall.strftime("%H:%M"),
            key=zone.key,
        )
    return instant


def resolve_due_time(tarih: str, saat: str, zone_name: str, now: datetime) -> datetime:
    """Validate the client's date, time and zone and return the UTC due time.

    A time up to PAST_TOLERANCE in the past is kept as asked and so is due at once; anything
    earlier is refused.
    """
    resolved = _resolve_cached(tarih, saat, zone_name)
    if isinstance(resolved, _Refusal):
        raise errors.ValidationFailed(resolved.field, resolved.template, **resolved.params)
    due, label = resolved
    if due < now - PAST_TOLERANCE:
        raise errors.ValidationFailed(
            "tarih", "{label} is in the past; schedule a time from now on", label=label
        )
    return due


class _Refusal(NamedTuple):
    field: str
    template: str
    params: dict[str, Any]


@functools.lru_cache(maxsize=8192)
def _resolve_cached(tarih: str, saat: str, zone_name: str) -> tuple[datetime, str] | _Refusal:
    """(UTC instant, "YYYY-MM-DD HH:MM (Zone)") or the rule broken. Pure, so cached: the
    messages of a batch, and a shop's reminders, share a few dates and times (~9 µs saved).
    Refusals are kept as plain strings, not exceptions (a traceback would pin its frames)."""
    try:
        zone = parse_zone(zone_name)
        day = parse_date(tarih)
        wall = parse_time(saat)
        due = to_utc(day, wall, zone)
    except errors.ValidationFailed as exc:
        return _Refusal(exc.field, exc.template, exc.params)
    return due, f"{day.isoformat()} {wall.strftime('%H:%M')} ({zone.key})"
