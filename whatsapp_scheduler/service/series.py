"""Recurring messages (docs/series.md): the use cases of a series, mixed into
`SchedulerService`.

A series is a rule (`tekrar`, RFC 5545 RRULE, `core/recurrence.py`) and its occurrences,
which are ordinary message rows. The next occurrence always exists as one queued row; the
store makes the one after it in the same transaction as the dispatcher's claim.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from whatsapp_scheduler import store as store_mod
from whatsapp_scheduler.core import errors, localtime, messages, notices, recurrence
from whatsapp_scheduler.service.requests import ScheduleRequest

if TYPE_CHECKING:
    from whatsapp_scheduler.core import clock as clock_mod

#: Occurrences answered by POST /schedule and GET /series/{id}.
NEXT_IN_ANSWER = 5
NEXT_IN_SERIES = 10
HISTORY = 100
#: `status_reason` of occurrences cancelled by a series' pause, delete or edit.
PAUSED, DELETED, EDITED = "series_paused", "series_deleted", "series_edited"
#: What `PATCH /series/{id}` may change.
SERIES_FIELDS = ("mesaj", "template", "saat", "tekrar")
S = store_mod.SeriesStatus


@dataclasses.dataclass(frozen=True, slots=True)
class Occurrence:
    """A coming occurrence: its id, nominal local time and UTC due time."""

    id: str
    local: datetime
    due_at: datetime


@dataclasses.dataclass(frozen=True, slots=True)
class SeriesReport:
    series: store_mod.Series
    queued: messages.ScheduledMessage | None
    upcoming: list[Occurrence]
    history: list[messages.ScheduledMessage]


def _occurrences(series_id: str, zone: str, locals_: list[datetime]) -> list[Occurrence]:
    return [
        Occurrence(recurrence.occurrence_id(series_id, at), at, recurrence.to_utc(at, zone))
        for at in locals_
    ]


def _content(
    source: messages.ScheduledMessage, changes: Mapping[str, Any]
) -> tuple[str | None, Mapping[str, Any] | None]:
    """(text, template) of an occurrence after `changes`: a template replaces the text and
    a text the template."""
    body, template = source.body, source.template
    if changes.get("template") is not None:
        body, template = None, changes["template"]
    if changes.get("mesaj") is not None:
        body = changes["mesaj"]
        if "template" not in changes:
            template = None
    return body, template


class SeriesMixin:
    """Series use cases of `SchedulerService` (uses its store, clock and validation)."""

    allow_subhourly: bool = False

    if TYPE_CHECKING:
        store: store_mod.MessageStore
        clock: clock_mod.Clock
        default_timezone: str
        default_sender: str

        def build(
            self, request: ScheduleRequest, now: datetime, *args: Any
        ) -> messages.ScheduledMessage: ...

        async def known_senders(self, requests: Any) -> Mapping[str, bool] | None: ...

        async def template_categories(self, requests: Any) -> Mapping[tuple[str, str], str]: ...

        async def _checks(
            self, batch: Any
        ) -> list[list[notices.ScheduleWarning] | errors.ValidationFailed]: ...

        def _after_add(self, results: Any) -> None: ...

    def series_rule(
        self, base: messages.ScheduledMessage, rule: str, now: datetime
    ) -> tuple[datetime, Any]:
        """The series' start (`base`'s local date and time) and `rule` read from it in
        `base`'s zone (an rrule set); ValidationFailed naming `tekrar` for a rule that does
        not parse, never yields, or is too frequent. Nothing is stored: the import's preview
        checks a row's rule with it (`build` checks the rest)."""
        dtstart = datetime.combine(
            localtime.parse_date(base.local_date), localtime.parse_time(base.local_time)
        )
        ruleset = recurrence.parse(
            rule, base.timezone, dtstart, now, allow_subhourly=self.allow_subhourly
        )
        return dtstart, ruleset

    async def schedule_series(
        self, request: ScheduleRequest
    ) -> tuple[store_mod.AddResult, list[notices.ScheduleWarning], list[Occurrence]]:
        """Store a new series (`request.tekrar`) and its first occurrence; the answer's
        coming occurrences. ValidationFailed on `tekrar` (or another field), nothing stored;
        Conflict for a series id in use with other content."""
        assert request.tekrar is not None
        now = self.clock.now()
        series_id = request.id if request.id is not None else uuid.uuid4().hex
        if len(series_id) > recurrence.MAX_SERIES_ID:
            raise errors.ValidationFailed(
                "id",
                "a series id has at most {MAX_SERIES_ID} characters",
                MAX_SERIES_ID=recurrence.MAX_SERIES_ID,
            )
        known = await self.known_senders([request])
        categories = await self.template_categories([request])
        # The request as a single message first: every rule of POST /schedule (id, tarih and
        # saat in the zone, text or template, sender) holds for the series' start.
        base = self.build(dataclasses.replace(request, id=series_id), now, known, categories)
        dtstart, ruleset = self.series_rule(base, request.tekrar, now)
        soon = now.astimezone(localtime.parse_zone(base.timezone)).replace(tzinfo=None)
        upcoming = recurrence.upcoming(ruleset, max(dtstart, soon - localtime.PAST_TOLERANCE), 1)
        if not upcoming:  # pragma: no cover - parse() refuses a rule without one
            raise errors.ValidationFailed(recurrence.FIELD, "yields no occurrence from now on")
        first = recurrence.occurrence_at(base, series_id, upcoming[0], now)
        first = first.evolve(
            content_hash=recurrence.occurrence_hash(
                base.content_hash + "\n" + request.tekrar, first.id
            )
        )
        (warnings,) = await self._checks([first])
        if isinstance(warnings, errors.ValidationFailed):
            raise warnings
        series = store_mod.Series(
            id=series_id,
            rule=request.tekrar,
            timezone=base.timezone,
            dtstart=dtstart,
            status=S.ACTIVE,
            sender=base.sender,
            created_by=request.created_by,
            created_at=now,
            updated_at=now,
        )
        result = await self.store.add_series(series, first)
        self._after_add([result])
        allowed = request.allowed_senders
        visible = allowed is None or result.message.sender in allowed
        if result.status == store_mod.AddStatus.CONFLICT or not visible:
            raise errors.Conflict(f"id: {series_id!r} is already used by a different message")
        coming = recurrence.upcoming(ruleset, upcoming[0], NEXT_IN_ANSWER)
        return result, warnings, _occurrences(series_id, base.timezone, coming)

    async def get_series(
        self, series_id: str, senders: frozenset[str] | None = None
    ) -> store_mod.Series:
        series = await self.store.get_series(series_id)
        if series is None or (senders is not None and series.sender not in senders):
            raise errors.NotFound(f"id: no series with id {series_id!r}")
        return series

    async def series_report(
        self, series_id: str, senders: frozenset[str] | None = None
    ) -> SeriesReport:
        series = await self.get_series(series_id, senders)
        rows = await self.store.series_occurrences(series_id, HISTORY + 10)
        queued = next((m for m in rows if m.status == messages.MessageStatus.QUEUED), None)
        history = [m for m in rows if m.status != messages.MessageStatus.QUEUED][:HISTORY]
        upcoming: list[Occurrence] = []
        ruleset = recurrence.ruleset_of(series.rule, series.timezone, series.dtstart)
        if ruleset is not None and series.status != S.ENDED:
            start = recurrence.local_of(queued.id) if queued is not None else None
            if start is None:
                zone = localtime.parse_zone(series.timezone)
                start = self.clock.now().astimezone(zone).replace(tzinfo=None)
            coming = recurrence.upcoming(ruleset, start, NEXT_IN_SERIES)
            upcoming = _occurrences(series.id, series.timezone, coming)
        return SeriesReport(series, queued, upcoming, history)

    async def pause_series(
        self, series_id: str, senders: frozenset[str] | None = None
    ) -> store_mod.Series:
        """Pause: the queued occurrence is cancelled (`series_paused`), nothing more is made
        until `resume_series`."""
        await self.get_series(series_id, senders)
        now = self.clock.now()
        changed = await self.store.change_series(
            series_id, [S.ACTIVE], S.PAUSED, now, cancel_reason=PAUSED
        )
        return changed or await self._refuse_state(series_id, "paused", [S.PAUSED])

    async def resume_series(
        self, series_id: str, senders: frozenset[str] | None = None
    ) -> store_mod.Series:
        """Resume: the first occurrence from now on is queued again, with the content of the
        latest occurrence."""
        series = await self.get_series(series_id, senders)
        if series.status != S.PAUSED:
            return await self._refuse_state(series_id, "resumed", [S.ACTIVE])
        now = self.clock.now()
        occurrence = await self._next_from_now(series, now)
        status = S.ACTIVE if occurrence is not None else S.ENDED
        changed = await self.store.change_series(
            series_id, [S.PAUSED], status, now, occurrence=occurrence
        )
        if changed is not None and occurrence is not None:
            self._after_add([store_mod.AddResult(store_mod.AddStatus.CREATED, occurrence)])
        return changed or await self._refuse_state(series_id, "resumed", [S.ACTIVE])

    async def delete_series(
        self, series_id: str, senders: frozenset[str] | None = None
    ) -> store_mod.Series:
        """End the series: its queued occurrence is cancelled (`series_deleted`); the sent
        ones stay in its history. Deleting twice is harmless."""
        series = await self.get_series(series_id, senders)
        if series.status == S.ENDED:
            return series
        now = self.clock.now()
        changed = await self.store.change_series(
            series_id, [S.ACTIVE, S.PAUSED], S.ENDED, now, cancel_reason=DELETED
        )
        return changed or await self.get_series(series_id)

    async def edit_series(
        self,
        series_id: str,
        changes: Mapping[str, Any],
        senders: frozenset[str] | None = None,
    ) -> store_mod.Series:
        """Change the text, template, time of day or rule of an active series; the queued
        occurrence is replaced by the first one from now on under the new rule, with the new
        content. Validated as a new series would be; 409 for a paused or ended series."""
        unknown = sorted(set(changes) - set(SERIES_FIELDS))
        if unknown:
            raise errors.ValidationFailed(unknown[0], "is not a field of a series that can change")
        if not changes:
            raise errors.ValidationFailed(
                "body", "give at least one of {items}", items=", ".join(SERIES_FIELDS)
            )
        series = await self.get_series(series_id, senders)
        if series.status != S.ACTIVE:
            return await self._refuse_state(series_id, "edited", [])
        now = self.clock.now()
        rows = await self.store.series_occurrences(series_id, 1)
        if not rows:  # pragma: no cover - a series always has its first occurrence
            raise errors.Conflict(f"id: series {series_id!r} has no occurrence")
        source = rows[0]
        body, template = _content(source, changes)
        dtstart = series.dtstart
        if changes.get("saat") is not None:
            wall = localtime.parse_time(changes["saat"])
            dtstart = datetime.combine(dtstart.date(), wall)
        rule = changes.get("tekrar") or series.rule
        ruleset = recurrence.parse(
            rule, series.timezone, dtstart, now, allow_subhourly=self.allow_subhourly
        )
        zone = localtime.parse_zone(series.timezone)
        soon = now.astimezone(zone).replace(tzinfo=None) - localtime.PAST_TOLERANCE
        coming = recurrence.upcoming(ruleset, max(dtstart, soon), 1)
        if not coming:  # pragma: no cover - parse() refuses a rule without one
            raise errors.ValidationFailed(recurrence.FIELD, "yields no occurrence from now on")
        first = coming[0]
        tarih, saat = recurrence.wall_fields(first)
        request = ScheduleRequest(
            alici=source.recipient,
            tarih=tarih,
            saat=saat,
            mesaj=body,
            id=recurrence.occurrence_id(series_id, first),
            timezone=series.timezone,
            template=template,
            fallback_template=source.fallback_template if template is None else None,
            gonderen=None if source.sender == self.default_sender else source.sender,
            created_by=source.created_by,
            allowed_senders=senders,
        )
        if body is None and template is None and source.content is not None:
            kind = source.content["type"]  # an image, location ... series keeps its content
            request.type, request.objects = kind, {kind: source.content[kind]}
        built = await self._validated(request, now)
        occurrence = recurrence.occurrence_at(built, series_id, first, now)
        (warnings,) = await self._checks([occurrence])
        if isinstance(warnings, errors.ValidationFailed):
            raise warnings
        changed = await self.store.change_series(
            series_id,
            [S.ACTIVE],
            S.ACTIVE,
            now,
            rule=rule,
            dtstart=dtstart,
            cancel_reason=EDITED,
            occurrence=occurrence,
        )
        if changed is None:
            return await self._refuse_state(series_id, "edited", [])
        self._after_add([store_mod.AddResult(store_mod.AddStatus.CREATED, occurrence)])
        return changed

    async def _validated(
        self, request: ScheduleRequest, now: datetime
    ) -> messages.ScheduledMessage:
        """`request` validated as a new message; an occurrence in a DST gap (refused for a
        single message) is checked at noon of its day: it goes at the gap's end."""
        known = await self.known_senders([request])
        categories = await self.template_categories([request])
        try:
            return self.build(request, now, known, categories)
        except errors.ValidationFailed as exc:
            if exc.field != "saat":
                raise
            return self.build(dataclasses.replace(request, saat="12:00"), now, known, categories)

    async def _next_from_now(
        self, series: store_mod.Series, now: datetime
    ) -> messages.ScheduledMessage | None:
        rows = await self.store.series_occurrences(series.id, 1)
        ruleset = recurrence.ruleset_of(series.rule, series.timezone, series.dtstart)
        if not rows or ruleset is None:
            return None
        zone = localtime.parse_zone(series.timezone)
        soon = now.astimezone(zone).replace(tzinfo=None) - localtime.PAST_TOLERANCE
        coming = recurrence.upcoming(ruleset, max(series.dtstart, soon), 1)
        if not coming:
            return None
        return recurrence.occurrence_at(rows[0], series.id, coming[0], now)

    async def _refuse_state(
        self, series_id: str, what: str, harmless: list[store_mod.SeriesStatus]
    ) -> store_mod.Series:
        current = await self.get_series(series_id)
        if current.status in harmless:
            return current  # pausing a paused series, resuming an active one
        raise errors.Conflict(f"id: series {series_id!r} is {current.status} and cannot be {what}")
