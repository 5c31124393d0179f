"""Campaigns (docs/campaigns.md): one template or text to an audience of contacts. Pure.

The content's strings may name contact fields, `{{name}}`, `{{attributes.appointment}}`, with
a default after `|` (`{{attributes.city|Istanbul}}`); `render` fills them in per contact. A
campaign's status follows its messages' (`status_of`).
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from whatsapp_scheduler.core import contacts, errors, jsonbounds, messages

#: `{{ path }}` or `{{ path | default }}`: path = name, language, timezone, phone or
#: attributes.key(.key ...).
PLACEHOLDER = re.compile(r"\{\{\s*([^{}|]*?)\s*(?:\|([^{}]*))?\}\}")
_PATH = re.compile(
    r"\A(?:name|language|timezone|phone|attributes(?:\.[A-Za-z_][A-Za-z0-9_]{0,63}){1,4})\Z"
)
PATH_RULE = (
    "a placeholder names name, language, timezone, phone or attributes.<key> (with an "
    "optional |default)"
)
#: The explicit phones of one audience, and the recipients of one campaign.
MAX_PHONES = 10_000
#: An audience's CSV: its rows (as a contacts import) and its size as text (16 MiB).
MAX_CSV_ROWS = 10_000
MAX_CSV_CHARACTERS = 16 * 1024 * 1024
MAX_RECIPIENTS = 1_000_000
MAX_PACING = timedelta(days=7)


class Status(enum.StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Action(enum.StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


@dataclasses.dataclass(frozen=True, slots=True)
class Rows:
    """A campaign's messages given as columns instead of one object each: `first` is the
    first message, `like` holds every other message's values outside `varying`, and
    `varying` maps each other field to its values, one per message (the first's
    included). The messages are exactly `built()`; a store may write the columns as
    they are (SQLite does: no object per recipient)."""

    first: messages.ScheduledMessage
    like: messages.ScheduledMessage
    varying: Mapping[str, Sequence[Any]]

    def __len__(self) -> int:
        return len(next(iter(self.varying.values())))

    def built(self) -> list[messages.ScheduledMessage]:
        names = list(self.varying)
        columns = [self.varying[name] for name in names]
        made = [self.first]
        for index in range(1, len(self)):
            made.append(
                self.like.evolve(**{n: c[index] for n, c in zip(names, columns, strict=True)})
            )
        return made


@dataclasses.dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    name: str
    sender: str
    spec: Mapping[str, Any]  # the request as validated (content, audience, time)
    recipients: int
    refused: int
    created_at: datetime
    shifted: int = 0  # local times moved past a DST gap
    first_due_at: datetime | None = None
    last_due_at: datetime | None = None
    created_by: str | None = None
    paused_at: datetime | None = None
    cancelled_at: datetime | None = None


#: What makes a campaign's messages in parts (`store.create_campaign_parts`): it gives each
#: part to the callable it is passed, then returns the campaign.
Produce = Callable[[Callable[[Rows], None]], Campaign]


def collect(produce: Produce) -> tuple[Campaign, list[Rows]]:
    """The campaign and all its parts, made at once."""
    parts: list[Rows] = []
    return produce(parts.append), parts


@dataclasses.dataclass(frozen=True, slots=True)
class Counts:
    """A campaign's funnel: messages by status, failed by Meta's error code (None: no code),
    cancelled by reason, the first and last send, the read messages by how long after their
    send they were read (`read_after`: a bucket's lower bound in seconds, `READ_BOUNDS`, to
    its count), and the recipients who replied after their message was sent (`replies`)."""

    statuses: Mapping[str, int]
    failed: Mapping[int | None, int]
    cancelled: Mapping[str | None, int]
    first_sent_at: datetime | None
    last_sent_at: datetime | None
    read_after: Mapping[int, int] = dataclasses.field(default_factory=dict)
    replies: int = 0

    @property
    def median_read_seconds(self) -> float | None:
        return median_of_buckets(self.read_after)


#: How long after its send a message was read, in buckets (seconds, each bound about 10 %
#: above the one before, from 1 s to 30 days): the funnel keeps a count per bucket, so its
#: median time to read is read from ~150 counters, not from the campaign's rows. Revision
#: 0024 writes the same ladder into the database's triggers (`read_bucket_sql`).
def _bounds() -> tuple[int, ...]:
    found = list(range(0, 11))
    while found[-1] < 30 * 86400:
        found.append(max(found[-1] + 1, round(found[-1] * 1.1)))
    return tuple(found)


READ_BOUNDS: tuple[int, ...] = _bounds()
#: The statuses' pseudo-status for replies in the tallies (never a message's status).
REPLIED = "replied"


def read_bucket(seconds: int) -> int:
    """The bucket (its lower bound) of a read `seconds` whole seconds after the send
    (negative, a clock's skew: 0; past the last bound: the last)."""
    if seconds <= 0:
        return 0
    return READ_BOUNDS[bisect.bisect_right(READ_BOUNDS, seconds) - 1]  # the last bound <= it


def read_seconds(sent_at: datetime | None, read_at: datetime | None) -> int | None:
    """Whole seconds from the send to the read, as the database computes them (the
    difference of the two times' whole Unix seconds); None without both."""
    if sent_at is None or read_at is None:
        return None
    return math.floor(read_at.timestamp()) - math.floor(sent_at.timestamp())


def median_of_buckets(counts: Mapping[int, int]) -> float | None:
    """The median of values counted in `READ_BOUNDS` buckets, interpolated linearly inside
    the bucket it falls in (so within that bucket's width, about 10 %, of the exact one)."""
    total = sum(n for n in counts.values() if n > 0)
    if not total:
        return None
    half = total / 2
    seen = 0
    for low in sorted(counts):
        n = counts[low]
        if n <= 0:
            continue
        if seen + n >= half:
            index = READ_BOUNDS.index(low) if low in READ_BOUNDS else -1
            high = READ_BOUNDS[index + 1] if 0 <= index < len(READ_BOUNDS) - 1 else low
            return low + (high - low) * (half - seen) / n
        seen += n
    return None  # pragma: no cover - the loop always reaches half


def status_of(campaign: Campaign, counts: Counts) -> Status:
    """scheduled (nothing sent yet), sending, paused, completed (nothing left to send) or
    cancelled, from the messages' statuses."""
    by = counts.statuses
    if campaign.cancelled_at is not None:
        return Status.CANCELLED
    if by.get("paused", 0):
        return Status.PAUSED
    left = by.get("queued", 0) + by.get("sending", 0)
    if not left:
        return Status.COMPLETED
    started = sum(by.get(s, 0) for s in ("sending", "sent", "delivered", "read", "failed"))
    return Status.SENDING if started else Status.SCHEDULED


def check_paths(value: Any, field: str) -> None:
    """Every placeholder in the strings of `value` names a contact field; ValidationFailed
    naming `field` otherwise."""
    for text in jsonbounds.strings(value):
        for found in PLACEHOLDER.finditer(text):
            path = found.group(1)
            if path.isdigit():
                continue  # {{1}}: Meta's own positional marker, left as it is
            if not _PATH.match(path):
                raise errors.ValidationFailed(
                    field, "{{{{{path}}}}}: {PATH_RULE}", path=path, PATH_RULE=PATH_RULE
                )


class Missing(Exception):
    """A placeholder without a default names a field the contact lacks."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def render(value: Any, profile: contacts.Profile) -> Any:
    """`value` (a text or a template's JSON) with each placeholder replaced by the contact's
    field (numbers and booleans as JSON writes them), else its default; raises Missing."""
    if isinstance(value, str):
        if "{{" not in value:
            return value

        def one(found: re.Match[str]) -> str:
            path, default = found.group(1), found.group(2)
            if path.isdigit():
                return found.group(0)
            present, item = contacts.field_value(profile, path)
            text = contacts.attribute_text(item) if present else None
            if text is None or text == "":
                if default is None:
                    raise Missing(path)
                return default.strip()
            return text

        return PLACEHOLDER.sub(one, value)
    if isinstance(value, Mapping):
        return {k: render(v, profile) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, profile) for v in value]
    return value


def text_renderer(value: str) -> Callable[[contacts.Profile], str]:
    """`render(value, profile)` of a text as a function of the profile, its placeholders
    found once (not searched again per contact): the same text, the same Missing."""
    if "{{" not in value:
        return lambda profile: value
    literals: list[str] = []
    fields: list[tuple[str, str | None]] = []
    last = 0
    for found in PLACEHOLDER.finditer(value):
        path, default = found.group(1), found.group(2)
        if path.isdigit():  # kept as written (render's `found.group(0)`)
            continue
        literals.append(value[last : found.start()])
        fields.append((path, None if default is None else default.strip()))
        last = found.end()
    tail = value[last:]
    simple = {"name", "language", "timezone", "phone"}
    getters = [
        attrgetter(path) if path in simple else functools.partial(contacts.field_value, path=path)
        for path, _ in fields
    ]

    def rendered(profile: contacts.Profile) -> str:
        parts: list[str] = []
        for literal, (path, default), getter in zip(literals, fields, getters, strict=True):
            parts.append(literal)
            if path in simple:
                item = getter(profile)
                present = item is not None and item != ""
            else:
                present, item = getter(profile)
            text = contacts.attribute_text(item) if present else None
            if text is None or text == "":
                if default is None:
                    raise Missing(path)
                text = default
            parts.append(text)
        parts.append(tail)
        return "".join(parts)

    return rendered


def local_due(day: date, wall: time, zone: ZoneInfo) -> tuple[datetime, bool]:
    """The instant of `wall` on `day` in `zone`; a time the clocks skip (a DST gap) becomes
    the next minute that exists (True: it was moved). A repeated time: its first occurrence."""
    from datetime import UTC

    local = datetime.combine(day, wall, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant, False
    probe = local.replace(second=0, microsecond=0)
    for _ in range(24 * 60):
        probe = (probe.replace(tzinfo=None) + timedelta(minutes=1)).replace(tzinfo=zone)
        moved = probe.astimezone(UTC)
        if moved.astimezone(zone).replace(tzinfo=None) == probe.replace(tzinfo=None):
            return moved, True
    return instant, False  # no zone skips a whole day at once
