"""Recurring messages (`tekrar`): an RFC 5545 RRULE read in the message's time zone.

Pure (no I/O, no wall clock: every function takes `now`). The rule is parsed by
python-dateutil's `rrulestr`, never by hand. The rules (docs/series.md):

- The rule runs on local wall-clock times from the first occurrence (`tarih` + `saat` in the
  message's zone, the DTSTART): 09:00 local stays 09:00 local across DST changes.
- An occurrence whose local time does not exist (a DST gap) goes at the first valid minute
  after the gap; an ambiguous one (the repeated hour) at its first occurrence (fold=0).
- `UNTIL` and `EXDATE` may be local (`20271231T235959`) or UTC (`...Z`); UTC ones are turned
  into the zone's local time first (dateutil needs both naive or both aware).
- Refused (`ValidationFailed` on `tekrar`): a rule that does not parse, a DTSTART line (the
  start is `tarih` + `saat`), one that yields no occurrence from now on, one more frequent
  than hourly (unless allowed), COUNT over `MAX_COUNT`, an UNTIL in the past.

An occurrence's id is `<series id>@YYYYMMDDTHHMMSS`, its nominal local time (the rule's, also
when a DST gap moves the send), so a client can address it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as rr

from whatsapp_scheduler.core import errors, messages

FIELD = "tekrar"
MAX_COUNT = 10_000
MAX_RULE_LENGTH = 2000
#: Occurrences looked at to find two closer than an hour (FREQ=DAILY;BYMINUTE=0,15 ...).
_GAP_PROBE = 50
_MIN_GAP = timedelta(hours=1)
_UTC_STAMP = re.compile(r"(\d{8}T\d{6})Z")
_STAMP = "%Y%m%dT%H%M%S"
_FREQ_NAMES = {rr.SECONDLY: "SECONDLY", rr.MINUTELY: "MINUTELY"}
#: Series ids leave room for `@YYYYMMDDTHHMMSS` within the 128 characters of a message id.
MAX_SERIES_ID = 112


def _refuse(rule: str) -> errors.ValidationFailed:
    return errors.ValidationFailed(FIELD, rule)


def _localize_utc_stamps(text: str, zone: ZoneInfo) -> str:
    """`...Z` stamps (UNTIL, EXDATE) as the zone's naive local time."""

    def local(match: re.Match[str]) -> str:
        instant = datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)
        return instant.astimezone(zone).strftime(_STAMP)

    return _UTC_STAMP.sub(local, text)


@functools.lru_cache(maxsize=1024)
def _parsed(text: str, zone_name: str, dtstart: datetime) -> rr.rruleset:
    zone = ZoneInfo(zone_name)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise _refuse("must be an RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO")
    if any(line.upper().startswith("DTSTART") for line in lines):
        raise _refuse("must not have a DTSTART: the first occurrence is tarih + saat")
    if not lines[0].upper().startswith(("RRULE:", "EXDATE", "RDATE")):
        lines[0] = "RRULE:" + lines[0]
    if not any(line.upper().startswith("RRULE:") for line in lines):
        raise _refuse("must have an RRULE (FREQ=...)")
    source = _localize_utc_stamps("\n".join(lines), zone)
    try:
        parsed = rr.rrulestr(source, dtstart=dtstart, forceset=True)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise _refuse(f"is not a valid RFC 5545 RRULE ({exc})") from exc
    assert isinstance(parsed, rr.rruleset)
    for exdate in getattr(parsed, "_exdate", ()):  # dateutil keeps them there
        if exdate.tzinfo is not None:
            raise _refuse("EXDATE must be local (20261224T090000) or UTC (...Z), without TZID")
    return parsed


def parse(
    text: str,
    zone_name: str,
    dtstart: datetime,
    now: datetime,
    *,
    allow_subhourly: bool = False,
) -> rr.rruleset:
    """The rule set of `text` starting at `dtstart` (naive local time in `zone_name`), or
    ValidationFailed on `tekrar` naming the rule broken. `now` is aware UTC."""
    if not isinstance(text, str) or len(text) > MAX_RULE_LENGTH:
        raise _refuse(f"must be an RRULE of at most {MAX_RULE_LENGTH} characters")
    if "\x00" in text:
        raise _refuse("must not contain the NUL character")
    zone = ZoneInfo(zone_name)
    ruleset = _parsed(text, zone_name, dtstart)
    now_local = now.astimezone(zone).replace(tzinfo=None)
    rules: list[Any] = list(getattr(ruleset, "_rrule", ()))  # its RRULEs (dateutil's own)
    for rule in rules:
        if rule._freq in _FREQ_NAMES and not allow_subhourly:
            raise _refuse(
                f"FREQ={_FREQ_NAMES[rule._freq]} is more frequent than hourly "
                "(allowed only with SERIES_ALLOW_SUBHOURLY=true)"
            )
        if rule._count is not None and rule._count > MAX_COUNT:
            raise _refuse(f"COUNT={rule._count} is over {MAX_COUNT:,}")
        if rule._until is not None and rule._until < now_local:
            raise _refuse(f"UNTIL={rule._until:%Y%m%dT%H%M%S} is in the past")
    if not allow_subhourly:
        previous = None
        for index, at in enumerate(ruleset):
            if index >= _GAP_PROBE:
                break
            if previous is not None and at - previous < _MIN_GAP:
                raise _refuse(
                    f"has occurrences {at - previous} apart ({previous:%Y-%m-%d %H:%M} and "
                    f"{at:%H:%M}): more frequent than hourly (allowed only with "
                    "SERIES_ALLOW_SUBHOURLY=true)"
                )
            previous = at
    first = next_local(ruleset, now_local, inclusive=True)
    if first is None:
        raise _refuse("yields no occurrence from now on")
    return ruleset


def ruleset_of(text: str, zone_name: str, dtstart: datetime) -> rr.rruleset | None:
    """A stored series' rule set (checked when it was stored); None if it no longer parses."""
    try:
        return _parsed(text, zone_name, dtstart)
    except (errors.ValidationFailed, ValueError, KeyError):
        return None


def next_local(
    ruleset: rr.rruleset, after: datetime, *, inclusive: bool = False
) -> datetime | None:
    """The first occurrence (naive local) after `after` (or at it, `inclusive`)."""
    rules: list[Any] = list(getattr(ruleset, "_rrule", ()))
    plain = len(rules) == 1 and not any(
        getattr(ruleset, name, None) for name in ("_rdate", "_exdate", "_exrule")
    )
    try:  # one RRULE and nothing else: its own `after`, without the set's merging (2x cheaper)
        found: datetime | None = (rules[0] if plain else ruleset).after(after, inc=inclusive)
    except (ValueError, OverflowError):  # beyond year 9999
        return None
    return found


def upcoming(ruleset: rr.rruleset, after: datetime, count: int) -> list[datetime]:
    """Up to `count` occurrences (naive local) at or after `after`."""
    found: list[datetime] = []
    at: datetime | None = after
    inclusive = True
    while len(found) < count and at is not None:
        at = next_local(ruleset, at, inclusive=inclusive)
        inclusive = False
        if at is not None:
            found.append(at)
    return found


def to_utc(local: datetime, zone_name: str) -> datetime:
    """The UTC instant of naive `local` in the zone: an ambiguous time at its first
    occurrence (fold=0); a time in a DST gap at the first valid minute after the gap."""
    zone = ZoneInfo(zone_name)
    candidate = local
    for _ in range(48 * 60 + 1):  # gaps are at most a day (Samoa, 2011)
        instant = candidate.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == candidate:
            return instant
        candidate = candidate.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return local.replace(tzinfo=zone).astimezone(UTC)  # pragma: no cover - no such zone


def occurrence_id(series_id: str, local: datetime) -> str:
    return f"{series_id}@{_stamp(local)}"


@functools.lru_cache(maxsize=4096)
def _stamp(local: datetime) -> str:
    """`YYYYMMDDTHHMMSS`; remembered: the occurrences claimed together share their times."""
    return (
        f"{local.year:04d}{local.month:02d}{local.day:02d}"
        f"T{local.hour:02d}{local.minute:02d}{local.second:02d}"
    )


def local_of(message_id: str) -> datetime | None:
    """The nominal local time in an occurrence's id, or None if it is not one."""
    _, sep, stamp = message_id.rpartition("@")
    return _local_of_stamp(stamp) if sep else None


@functools.lru_cache(maxsize=4096)
def _local_of_stamp(stamp: str) -> datetime | None:
    """`local_of`'s parse of the part after the last `@`; remembered, as `_stamp`."""
    if len(stamp) != 15 or stamp[8] != "T" or not (stamp[:8] + stamp[9:]).isdigit():
        return None
    try:  # sliced, not strptime: this runs for every claimed occurrence (a third of its cost)
        return datetime(  # noqa: DTZ001 - a local wall-clock time
            int(stamp[:4]),
            int(stamp[4:6]),
            int(stamp[6:8]),
            int(stamp[9:11]),
            int(stamp[11:13]),
            int(stamp[13:15]),
        )
    except ValueError:
        return None


def wall_fields(local: datetime) -> tuple[str, str]:
    """(`tarih`, `saat`) of a nominal local time: HH:MM, or HH:MM:SS when it has seconds."""
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if local.second:
        clock += f":{local.second:02d}"
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d}", clock


def occurrence_hash(base: str, occurrence: str) -> str:
    """The content hash of an occurrence made from another (not a client's request)."""
    return hashlib.sha256(f"{base}\n{occurrence}".encode()).hexdigest()


def next_occurrence(
    claimed: messages.ScheduledMessage,
    rule: str,
    dtstart: datetime,
    now: datetime,
) -> messages.ScheduledMessage | None:
    """The queued occurrence after `claimed` (its copy at the rule's next time), or None
    when the rule has no more. Made in the claim's transaction (store/sql_series.py), so it
    is made cheap there (docs/series.md, "The cost in the claim"):

    - dateutil walks a rule from its DTSTART: an hourly series a year old took ~24 ms a
      claim. A single RRULE without COUNT (EXDATEs allowed) is walked from the claimed
      occurrence instead (it is one of the rule's own, so every BY* part and INTERVAL stays
      aligned): microseconds at any age. A set of several RRULEs, an RDATE or an EXRULE is
      walked from DTSTART: moved to one rule's occurrence, another rule's INTERVAL (or the
      daily rule beside an RDATE's time) would be out of step.
    - The next time, with its UTC instant and its `tarih`/`saat`, is remembered per (rule,
      zone, claimed time) for a rule walked from the claimed occurrence (DTSTART does not
      matter then): the occurrences of many series of one rule claimed at one time (a daily
      09:00 reminder to many recipients) compute it once."""
    assert claimed.series_id is not None
    following = following_of(claimed.id, claimed.series_id, rule, claimed.timezone, dtstart)
    if following is None:
        return None
    new_id, due, tarih, saat = following
    return _occurrence(claimed, claimed.series_id, new_id, due, tarih, saat, now)


def following_of(
    claimed_id: str, series_id: str, rule: str, zone_name: str, dtstart: datetime
) -> tuple[str, datetime, str, str] | None:
    """The occurrence after the claimed one `claimed_id` as (id, UTC due time, `tarih`,
    `saat`), or None when the rule has no more (or `claimed_id` is not an occurrence's).
    `next_occurrence` without the message: the SQL store copies the claimed row's content
    into the new row inside the database (store/sql_series.py)."""
    current = local_of(claimed_id)
    if current is None:
        return None
    following = _following(rule, zone_name, dtstart, current)
    if following is None:
        return None
    local, due, tarih, saat = following
    return occurrence_id(series_id, local), due, tarih, saat


_Following = tuple[datetime, datetime, str, str]


def _following(
    rule: str, zone_name: str, dtstart: datetime, current: datetime
) -> _Following | None:
    """The next local time after `current`, its UTC instant, `tarih` and `saat`."""
    if _template(rule, zone_name) is not None and current > dtstart:
        return _following_rebased(rule, zone_name, current)
    return _following_walked(rule, zone_name, dtstart, current)


@functools.lru_cache(maxsize=1024)
def _template(rule: str, zone_name: str) -> tuple[Any, tuple[datetime, ...]] | None:
    """A rule that may be walked from any of its occurrences (one RRULE, no COUNT, no RDATE
    or EXRULE) as its RRULE parsed at a fixed DTSTART (to be moved) and its EXDATEs (fixed
    times); None for another rule, or one that no longer parses. What is checked does not
    depend on DTSTART."""
    ruleset = ruleset_of(rule, zone_name, _TEMPLATE_START)
    if ruleset is None:
        return None
    rules: list[Any] = list(getattr(ruleset, "_rrule", ()))
    if (
        len(rules) != 1
        or rules[0]._count is not None
        or getattr(ruleset, "_rdate", None)
        or getattr(ruleset, "_exrule", None)
    ):
        return None
    return rules[0], tuple(getattr(ruleset, "_exdate", ()))


_TEMPLATE_START = datetime(2000, 1, 1)  # noqa: DTZ001 - a naive local time, any will do


@functools.lru_cache(maxsize=4096)
def _following_rebased(rule: str, zone_name: str, current: datetime) -> _Following | None:
    template = _template(rule, zone_name)
    assert template is not None  # checked by the caller (`_following`)
    one, exdates = template
    try:  # `replace`: the rule as given, its defaults (BY* parts) taken from `current`
        moved: Any = one.replace(dtstart=current)
    except (ValueError, OverflowError):
        return None
    if exdates:
        ruleset = rr.rruleset()
        ruleset.rrule(moved)
        for exdate in exdates:
            ruleset.exdate(exdate)
        return _timed(next_local(ruleset, current), zone_name)
    try:
        return _timed(moved.after(current), zone_name)
    except (ValueError, OverflowError):  # beyond year 9999
        return None


@functools.lru_cache(maxsize=1024)
def _following_walked(
    rule: str, zone_name: str, dtstart: datetime, current: datetime
) -> _Following | None:
    ruleset = ruleset_of(rule, zone_name, dtstart)
    if ruleset is None:
        return None
    return _timed(next_local(ruleset, current), zone_name)


def _timed(local: datetime | None, zone_name: str) -> _Following | None:
    if local is None:
        return None
    return (local, to_utc(local, zone_name), *wall_fields(local))


def occurrence_at(
    source: messages.ScheduledMessage, series_id: str, local: datetime, now: datetime
) -> messages.ScheduledMessage:
    """A new queued occurrence of `source`'s content at nominal local time `local`."""
    tarih, saat = wall_fields(local)
    due = to_utc(local, source.timezone)
    return _occurrence(source, series_id, occurrence_id(series_id, local), due, tarih, saat, now)


def _occurrence(
    source: messages.ScheduledMessage,
    series_id: str,
    new_id: str,
    due: datetime,
    tarih: str,
    saat: str,
    now: datetime,
) -> messages.ScheduledMessage:
    """What a new occurrence copies of `source` (store/sql_series.py's `_NEXT_COPIES` copies
    the same columns in SQL: keep the two alike)."""
    return messages.ScheduledMessage(
        id=new_id,
        recipient=source.recipient,
        due_at=due,
        run_at=due,
        timezone=source.timezone,
        local_date=tarih,
        local_time=saat,
        content_hash=occurrence_hash(source.content_hash, new_id),
        created_at=now,
        updated_at=now,
        body=source.body,
        template=source.template,
        fallback_template=source.fallback_template,
        content=source.content,
        sender=source.sender,
        created_by=source.created_by,
        category=source.category,
        series_id=series_id,
    )


def iter_locals(ruleset: rr.rruleset) -> Iterator[datetime]:
    """Every occurrence (naive local), in order."""
    yield from ruleset
