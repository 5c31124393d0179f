"""Request and response models: the HTTP contract, kept apart from the tables.

Field names follow the seed's Turkish wire names (`alici` recipient, `tarih` date, `saat` time,
`mesaj` text, `olusturmaTarihi` the client's creation time) so its Flutter client keeps working.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic_core
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from whatsapp_scheduler import service
from whatsapp_scheduler.core import content as content_mod
from whatsapp_scheduler.core import jsonbounds, messages
from whatsapp_scheduler.web import i18n

#: The OpenAPI description of `tekrar` (docs/series.md).
TEKRAR_DESCRIPTION = (
    "Repeat (tekrar): an RFC 5545 RRULE read in the message's time zone from tarih + saat "
    "(the first occurrence), optionally with EXDATE lines, e.g. `FREQ=WEEKLY;BYDAY=MO;COUNT=10` "
    "(every Monday, 10 times / her pazartesi, 10 kez) or `FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=14` "
    "(every 14 March / her yıl 14 Mart). 09:00 local stays 09:00 local across DST changes; an "
    "occurrence in a DST gap goes at the first valid minute after it, an ambiguous one at its "
    "first occurrence. Refused (422): a rule that does not parse, yields no occurrence, is "
    "more frequent than hourly (unless SERIES_ALLOW_SUBHOURLY=true), has COUNT over 10,000 or "
    "an UNTIL in the past. The answer has `series_id` and `next_occurrences`; not in a batch."
)


#: The objects of the other message types (docs/message-types.md), named as Meta names them.
_CONTENT_FIELDS = content_mod.TYPES
_CONTENT_SET = frozenset(_CONTENT_FIELDS)


class MessageCreate(BaseModel):
    """A message to send at a local date and time. A field that is not one of these is
    refused (422 naming it): a typo such as `mesage` never goes unnoticed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "reminder-42",
                    "alici": "+905551234567",
                    "tarih": "2026-12-01",
                    "saat": "09:30",
                    "mesaj": "Randevunuz yarın 10:00'da.",
                    "olusturmaTarihi": "2026-11-28T10:00:00.000",
                }
            ]
        },
    )

    id: str | int | None = Field(
        default=None,
        description="Your id for the message (1-128 of A-Z a-z 0-9 . _ : @ -, not . or ..); "
        "made by the server if left out.",
    )
    alici: str = Field(description="Recipient phone number, with + and country code.")
    tarih: str = Field(description="Date: YYYY-MM-DD or an ISO 8601 datetime (date part used).")
    saat: str = Field(description="Local time: HH:MM or HH:MM:SS.")
    mesaj: str | None = Field(
        default=None, description="Text, 1 to 4,096 characters (or give `template`)."
    )
    template: dict[str, Any] | None = Field(
        default=None,
        description=(
            "An approved WhatsApp template instead of `mesaj`: {name, language (code or "
            "{code, policy}), parameters (body texts) or components (Meta's list)}. At most "
            f"{jsonbounds.MAX_DEPTH} levels deep and {jsonbounds.MAX_BYTES // 1024} KiB as JSON."
        ),
    )
    fallback_template: dict[str, Any] | None = Field(
        default=None,
        description="With `mesaj`: the template sent instead if the 24-hour window is closed "
        "(WINDOW_POLICY=template). Same shape and bounds as `template`.",
    )
    olusturmaTarihi: str | None = Field(
        default=None, description="When the client created it; echoed back."
    )
    timezone: str | None = Field(
        default=None, description="IANA time zone for tarih/saat; default: TIMEZONE setting."
    )
    gonderen: str | None = Field(
        default=None,
        description="The sender (business number) by name, as listed by GET /senders; "
        "default: the DEFAULT_SENDER setting. An unknown or disabled sender is refused (422).",
    )
    quiet_hours: bool | None = Field(
        default=None,
        strict=True,
        description="false: send at the time asked even inside quiet hours (QUIET_HOURS or the "
        "sender's own; for what must go at once, e.g. a one-time code). Left out (or true): a "
        "message due inside them goes at their end instead, with the warning `quiet_hours`.",
    )
    tekrar: str | None = Field(
        default=None,
        description=TEKRAR_DESCRIPTION,
        examples=["FREQ=WEEKLY;BYDAY=MO;COUNT=10", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=14"],
    )
    type: str | None = Field(
        default=None,
        description="Instead of `mesaj` or `template`, another message type, in Meta's own "
        "shape: `type` names it and the field of that name holds it (docs/message-types.md): "
        "image, video, audio, document, sticker, location, contacts or interactive.",
        examples=["image"],
    )
    image: dict[str, Any] | None = Field(
        default=None,
        description='With type image: {"link": "https://...", "caption": "..."} or {"id": ...}; '
        "JPEG or PNG, at most 5 MB (Meta); caption at most 1,024 characters.",
    )
    video: dict[str, Any] | None = Field(
        default=None, description="With type video: {link or id, caption}; MP4/3GPP, 16 MB."
    )
    audio: dict[str, Any] | None = Field(
        default=None, description="With type audio: {link or id}; no caption."
    )
    document: dict[str, Any] | None = Field(
        default=None,
        description="With type document: {link or id, filename, caption}; at most 100 MB.",
    )
    sticker: dict[str, Any] | None = Field(
        default=None, description="With type sticker: {link or id} of a WebP; no caption."
    )
    location: dict[str, Any] | None = Field(
        default=None,
        description="With type location: {latitude, longitude, name, address}.",
    )
    contacts: list[Any] | None = Field(
        default=None,
        description="With type contacts: a list (1-20) of Meta's contact objects, each with "
        "name.formatted_name.",
    )
    interactive: dict[str, Any] | None = Field(
        default=None,
        description="With type interactive: Meta's object of type button (1-3 reply buttons, "
        "titles <= 20 characters), list (<= 10 sections, <= 10 rows in all) or cta_url; body "
        "text <= 1,024, header text and footer <= 60.",
    )

    def to_request(self) -> service.ScheduleRequest:
        message_id = self.id if self.id is None or isinstance(self.id, str) else str(self.id)
        request = service.ScheduleRequest(  # positional: this runs for every message of a batch
            self.alici,
            self.tarih,
            self.saat,
            self.mesaj,
            message_id,
            self.olusturmaTarihi,
            self.timezone,
            self.template,
            self.fallback_template,
            self.gonderen,
            quiet_hours=self.quiet_hours,
        )
        if self.tekrar is not None:
            request.tekrar = self.tekrar
        given = self.model_fields_set & _CONTENT_SET
        if self.type is not None or given:
            request.type = self.type
            request.objects = {  # in _CONTENT_FIELDS' order: the first extra one is named
                name: value
                for name in (given if len(given) < 2 else _CONTENT_FIELDS)
                if name in given and (value := getattr(self, name)) is not None
            }
        return request


class ContentObjects(BaseModel):
    """The objects of the other message types by name (docs/message-types.md), for a body
    that takes them beside its own `type` (an edit, a campaign)."""

    image: dict[str, Any] | None = Field(default=None, description="With type image.")
    video: dict[str, Any] | None = Field(default=None, description="With type video.")
    audio: dict[str, Any] | None = Field(default=None, description="With type audio.")
    document: dict[str, Any] | None = Field(default=None, description="With type document.")
    sticker: dict[str, Any] | None = Field(default=None, description="With type sticker.")
    location: dict[str, Any] | None = Field(default=None, description="With type location.")
    contacts: list[Any] | None = Field(default=None, description="With type contacts.")
    interactive: dict[str, Any] | None = Field(default=None, description="With type interactive.")

    def objects_given(self) -> dict[str, Any]:
        """The objects the client gave (not null), by type."""
        return {
            name: getattr(self, name)
            for name in _CONTENT_FIELDS
            if name in self.model_fields_set and getattr(self, name) is not None
        }


class MessageEdit(ContentObjects):
    """`PATCH /schedule/{id}`: the fields to change of a queued message; those left out stay.
    The message as edited is validated as a new one would be. A field that is not one of
    these is refused (422 naming it)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"tarih": "2026-12-02", "saat": "14:30", "mesaj": "Randevunuz 14:30'a alındı."}
            ]
        },
    )

    tarih: str | None = Field(default=None, description="New date: YYYY-MM-DD.")
    saat: str | None = Field(default=None, description="New local time: HH:MM or HH:MM:SS.")
    timezone: str | None = Field(default=None, description="New IANA time zone for tarih/saat.")
    mesaj: str | None = Field(
        default=None, description="New text (replaces a template), 1 to 4,096 characters."
    )
    template: dict[str, Any] | None = Field(
        default=None,
        description="New template (replaces the text and its fallback template); the shape "
        "of POST /schedule's `template`.",
    )
    fallback_template: dict[str, Any] | None = Field(
        default=None,
        description="New fallback template of a text (sent instead when the recipient's "
        "24-hour window is closed, WINDOW_POLICY=template); null removes it. Only with a text.",
    )
    alici: str | None = Field(default=None, description="New recipient, with + and country code.")
    gonderen: str | None = Field(default=None, description="New sender, by name.")

    type: str | None = Field(
        default=None,
        description="New type (docs/message-types.md) with its object below; replaces a text "
        "or template. Without `type`, an object replaces the stored one of the same type.",
    )

    def changes(self) -> dict[str, Any]:
        """The fields given (null counts as given)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class MessagePublic(BaseModel):
    """A stored message, as the seed returned it plus new fields."""

    id: str
    alici: str
    tarih: str
    saat: str
    mesaj: str | None
    olusturmaTarihi: str | None
    status: messages.MessageStatus
    created_at: datetime
    updated_at: datetime
    timezone: str
    scheduled_at: datetime = Field(description="The due time in UTC.")
    attempts: int
    template: dict[str, Any] | None = None
    fallback_template: dict[str, Any] | None = None
    gonderen: str = Field(description="The sender (business number) by name.")
    category: str | None = Field(
        default=None,
        description="What Meta bills it as, recorded when scheduled: SERVICE for a text, the "
        "template's category from the synced catalogue (MARKETING, UTILITY, AUTHENTICATION); "
        "null for a template the catalogue does not know.",
    )
    series_id: str | None = Field(
        default=None,
        description="The series (tekrar) this message is an occurrence of; null: a single one.",
    )
    type: str = Field(
        default="text",
        description="text, template, or the other type given (image, location, ...).",
    )
    content: dict[str, Any] | None = Field(
        default=None,
        description='For another type than text or template: {"type": T, T: {...}} as stored '
        "and sent (Meta's shape).",
    )

    @classmethod
    def of(cls, message: messages.ScheduledMessage, *, checked: bool = False) -> Self:
        """The message as answered. `checked`: it was just validated (`service/validation.py`
        bounded its JSON values), so they are answered as they are, not bounded again as a
        stored row's are (`readable_json`)."""
        bounded = _as_validated if checked else readable_json
        return cls(
            id=message.id,
            alici=message.recipient,
            tarih=message.local_date,
            saat=message.local_time,
            mesaj=message.body,
            olusturmaTarihi=message.client_created,
            status=message.status,
            created_at=message.created_at,
            updated_at=message.updated_at,
            timezone=message.timezone,
            scheduled_at=message.due_at,
            attempts=message.attempts,
            template=bounded(message.template),
            fallback_template=bounded(message.fallback_template),
            gonderen=message.sender,
            category=message.category,
            series_id=message.series_id,
            type=_type_of(message),
            content=bounded(message.content),
        )


def _type_of(message: messages.ScheduledMessage) -> str:
    if message.template is not None:
        return "template"
    content = message.content
    if isinstance(content, dict) and isinstance(content.get("type"), str):
        return str(content["type"])
    return "text"


def _as_validated(value: Any) -> Any:
    return value


def readable_json(value: Any) -> dict[str, Any] | None:
    """A stored template as answered: itself, or `{"unreadable": why}` when the row holds what
    no longer passes `core/jsonbounds.py` (stored before the bounds, or written by hand), so
    one odd row never makes a whole list fail."""
    if value is None:
        return None
    rule = jsonbounds.broken_rule(value) if isinstance(value, dict) else "is not a JSON object"
    if rule is None:
        return dict(value)
    return {"unreadable": f"the stored value {rule}; not shown"}


def printable(text: str) -> str:
    """`text` with each lone UTF-16 surrogate (JSON allows `"\\ud800"` alone) replaced by
    U+FFFD: an answer that echoes what a client sent can always be encoded."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def scrubbed(value: Any) -> Any:
    """`value` (plain JSON-like values) with every string `printable`, keys included."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {scrubbed(k): scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrubbed(v) for v in value]
    return value


def to_json(value: Any) -> bytes:
    """`value` as JSON bytes; never fails on text a client sent. Answers are built after a
    commit, so a failure here would be a 500 for something already stored: a string that
    cannot be encoded (a lone surrogate echoed back) is made `printable` instead."""
    try:
        return pydantic_core.to_json(value)
    except pydantic_core.PydanticSerializationError:
        return pydantic_core.to_json(scrubbed(value))


class OccurrencePublic(BaseModel):
    """A coming occurrence of a series."""

    id: str = Field(description="`<series id>@YYYYMMDDTHHMMSS` (its nominal local time).")
    tarih: str
    saat: str
    scheduled_at: datetime = Field(description="When it is due (UTC), after the DST rules.")

    @classmethod
    def of(cls, occurrence: service.Occurrence) -> OccurrencePublic:
        return cls(
            id=occurrence.id,
            tarih=occurrence.local.strftime("%Y-%m-%d"),
            saat=occurrence.local.strftime("%H:%M:%S" if occurrence.local.second else "%H:%M"),
            scheduled_at=occurrence.due_at,
        )


class ScheduledPublic(MessagePublic):
    """The answer to POST /schedule: the stored message, plus warnings about it."""

    warnings: list[str] = Field(
        default_factory=list,
        description="E.g. `window_closed: ...` when the recipient's 24-hour window will be "
        "closed at the due time (see WINDOW_POLICY).",
    )
    next_occurrences: list[OccurrencePublic] | None = Field(
        default=None,
        description="With `tekrar`: the series' next 5 occurrences (the first is this one).",
    )


class SeriesPatch(BaseModel):
    """`PATCH /series/{id}`: what to change of an active series; applies to its queued
    occurrence too (replaced by the first one from now on under the new rule)."""

    model_config = ConfigDict(extra="forbid")

    mesaj: str | None = Field(default=None, description="New text (replaces a template).")
    template: dict[str, Any] | None = Field(
        default=None, description="New template (replaces the text)."
    )
    saat: str | None = Field(default=None, description="New local time of day: HH:MM.")
    tekrar: str | None = Field(default=None, description="New rule; see POST /schedule.")

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class SeriesOccurrencePublic(BaseModel):
    id: str
    status: messages.MessageStatus
    tarih: str
    saat: str
    scheduled_at: datetime
    sent_at: datetime | None
    status_reason: str | None


class SeriesPublic(BaseModel):
    """A series: its rule, state, queued occurrence, next 10 occurrences and history."""

    id: str
    tekrar: str = Field(description="The RFC 5545 rule, as given.")
    timezone: str
    tarih: str = Field(description="The first occurrence's date (DTSTART), local.")
    saat: str = Field(description="The time of day (DTSTART), local.")
    status: str = Field(description="active, paused or ended (deleted, or no more occurrences).")
    gonderen: str
    anahtar: str | None = Field(description="The API key that created it; null: API_KEY.")
    created_at: datetime
    updated_at: datetime
    queued: MessagePublic | None = Field(description="The occurrence waiting to be sent.")
    next_occurrences: list[OccurrencePublic] = Field(description="The next 10 occurrences.")
    history: list[SeriesOccurrencePublic] = Field(
        description="Occurrences sent, sending, failed or cancelled, newest first (up to 100)."
    )

    @classmethod
    def of(cls, report: service.SeriesReport) -> SeriesPublic:
        series = report.series
        return cls(
            id=series.id,
            tekrar=series.rule,
            timezone=series.timezone,
            tarih=series.dtstart.strftime("%Y-%m-%d"),
            saat=series.dtstart.strftime("%H:%M:%S" if series.dtstart.second else "%H:%M"),
            status=str(series.status),
            gonderen=series.sender,
            anahtar=series.created_by,
            created_at=series.created_at,
            updated_at=series.updated_at,
            queued=MessagePublic.of(report.queued) if report.queued is not None else None,
            next_occurrences=[OccurrencePublic.of(o) for o in report.upcoming],
            history=[
                SeriesOccurrencePublic(
                    id=m.id,
                    status=m.status,
                    tarih=m.local_date,
                    saat=m.local_time,
                    scheduled_at=m.due_at,
                    sent_at=m.sent_at,
                    status_reason=m.status_reason,
                )
                for m in report.history
            ],
        )


class FieldError(BaseModel):
    field: str
    rule: str


class ErrorPublic(BaseModel):
    """Every refusal: `detail` names the field and the rule that was broken."""

    detail: str
    errors: list[FieldError] = Field(default_factory=list)


class AttemptPublic(BaseModel):
    number: int
    started_at: datetime
    finished_at: datetime
    outcome: messages.AttemptOutcome
    error_code: int | None
    error_text: str | None
    http_status: int | None
    sent_as: messages.SentAs | None = Field(
        description="What the attempt asked Meta to deliver: `text`, `template`, or "
        "`fallback_template` (the text's 24-hour window was closed, WINDOW_POLICY=template). "
        "Null when nothing was asked (expired, window closed) or not known."
    )
    category: str | None = Field(
        default=None,
        description="What the attempt was billed as, at send time: SERVICE for a text, else "
        "the category of the template sent as the synced catalogue held it then (Meta may have "
        "re-categorised it since the message was scheduled: compare with the message's "
        "`category`). Null when nothing was sent or the catalogue did not know the template.",
    )


class LastError(BaseModel):
    code: int | None = Field(description="Meta's error code, when Meta gave one.")
    message: str | None


class EditPublic(BaseModel):
    """One edit of the message (PATCH /schedule/{id})."""

    at: datetime = Field(description="When it was edited (UTC).")
    anahtar: str | None = Field(
        description="The API key's name that edited it; null: the environment's API_KEY."
    )
    changes: dict[str, dict[str, Any]] = Field(
        description='Per field changed: {"from": old, "to": new}; `scheduled_at` when the '
        "due time moved."
    )


class StatusPublic(BaseModel):
    """The seed's `{id, status}` plus the message's history."""

    id: str
    status: messages.MessageStatus
    attempts: int
    scheduled_at: datetime
    gonderen: str = Field(description="The sender (business number) by name.")
    whatsapp_message_id: str | None
    last_error: LastError | None
    timeline: dict[str, datetime | None] = Field(
        description="When the message entered each status (null: not yet)."
    )
    attempt_history: list[AttemptPublic]
    sent_as: messages.SentAs | None = Field(
        description="What went out, once sent: `text`, `template`, or `fallback_template` "
        "(the fallback template instead of the text, because the recipient's 24-hour window "
        "was closed). Null until sent."
    )
    anahtar: str | None = Field(
        default=None,
        description="The name of the API key that created the message (`whatsapp-scheduler "
        "keys create --name`); null: the environment's API_KEY.",
    )
    status_reason: str | None = Field(
        default=None,
        description="Why the status is what it is, as a code: `opted_out` for a message "
        "cancelled because its recipient opted out (docs/consent.md); for a queued message "
        "held back, `quiet_hours` (due inside quiet hours: it goes at their end, "
        "docs/limits.md); null: nothing to add.",
    )
    status_reason_text: dict[str, str] | None = Field(
        default=None,
        description="`status_reason` in plain words, in English and Turkish: "
        '`{"en": "...", "tr": "..."}`; null without a reason.',
    )
    deferred_until: datetime | None = Field(
        default=None,
        description="For a queued message held back (`status_reason` `quiet_hours`): when it "
        "goes (UTC). `scheduled_at` is then that time too when it was moved as it was "
        "scheduled; the time asked stays in the message's `tarih` and `saat`.",
    )
    category: str | None = Field(
        default=None,
        description="SERVICE (a text), or its template's category when scheduled (MARKETING, "
        "UTILITY, AUTHENTICATION); null: a template the catalogue does not know.",
    )
    edits: list[EditPublic] = Field(
        default_factory=list, description="Every edit (PATCH /schedule/{id}), oldest first."
    )
    series_id: str | None = Field(
        default=None, description="The series this message is an occurrence of (tekrar)."
    )
    timezone: str | None = Field(default=None, description="The IANA zone of tarih/saat.")

    @classmethod
    def of(cls, report: service.StatusReport) -> StatusPublic:
        message = report.message
        last_error = None
        if message.last_error_code is not None or message.last_error_text is not None:
            last_error = LastError(code=message.last_error_code, message=message.last_error_text)
        return cls(
            id=message.id,
            status=message.status,
            attempts=message.attempts,
            scheduled_at=message.due_at,
            gonderen=message.sender,
            whatsapp_message_id=message.wamid,
            last_error=last_error,
            timeline={str(k): v for k, v in message.transitions().items()},
            status_reason=message.status_reason,
            status_reason_text=reason_text(message),
            deferred_until=deferred_until(message),
            category=message.category,
            attempt_history=[
                AttemptPublic(
                    number=a.number,
                    started_at=a.started_at,
                    finished_at=a.finished_at,
                    outcome=a.outcome,
                    error_code=a.error_code,
                    error_text=a.error_text,
                    http_status=a.http_status,
                    sent_as=a.sent_as,
                    category=a.category,
                )
                for a in report.attempts
            ],
            sent_as=next(
                (a.sent_as for a in reversed(report.attempts) if a.outcome == "sent"), None
            ),
            anahtar=message.created_by,
            edits=[
                EditPublic(at=e.edited_at, anahtar=e.key_name, changes=dict(e.changes))  # type: ignore[arg-type]
                for e in report.edits
            ],
            series_id=message.series_id,
            timezone=message.timezone,
        )


#: The `status_reason` codes of a queued message held back until its `run_at`.
DEFERRAL_REASONS = frozenset({"quiet_hours", "messaging_limit", "marketing_limit", "frequency_cap"})


def deferred_until(message: messages.ScheduledMessage) -> datetime | None:
    """When a message held back by quiet hours or a limit goes; None if it is not."""
    waiting = message.status == messages.MessageStatus.QUEUED
    return message.run_at if waiting and message.status_reason in DEFERRAL_REASONS else None


def reason_text(message: messages.ScheduledMessage) -> dict[str, str] | None:
    """`status_reason` in English and Turkish, with the new time in the message's zone."""
    if message.status_reason is None:
        return None
    until = deferred_until(message)
    if message.status_reason in DEFERRAL_REASONS and until is None:
        return None  # no longer waiting: the code is history
    when = ""
    try:
        zone = ZoneInfo(message.timezone)
        if until is not None:
            when = until.astimezone(zone).strftime("%Y-%m-%d %H:%M") + f" ({zone.key})"
    except (ValueError, OSError, ZoneInfoNotFoundError):
        zone = None
    return i18n.reason_texts(
        message.status_reason, when=when, zone=zone.key if zone else message.timezone
    )


class RefusedEntry:
    """An entry of a batch that is not a valid MessageCreate: kept with its error, so the
    rest of the batch goes on (POST /schedule/batch answers for each entry)."""

    __slots__ = ("error", "raw")

    def __init__(self, raw: Any, error: ValidationError) -> None:
        self.raw = raw
        self.error = error


def _entry(value: Any, handler: ValidatorFunctionWrapHandler) -> MessageCreate | RefusedEntry:
    try:
        return handler(value)  # type: ignore[no-any-return]
    except ValidationError as exc:
        return RefusedEntry(value, exc)


#: A batch entry: validated with the whole list in one pass (a model_validate call per entry
#: cost ~3x more), but a bad entry refuses only itself. Validated and documented as a
#: MessageCreate; `_entry` turns its errors into a RefusedEntry, which the type checker sees.
if TYPE_CHECKING:
    BatchEntry = MessageCreate | RefusedEntry
else:
    BatchEntry = Annotated[MessageCreate, WrapValidator(_entry)]


class BatchCreate(BaseModel):
    """Up to 1,000 messages, each validated on its own."""

    messages: list[BatchEntry] = Field(max_length=service.MAX_BATCH)


class ImportChunk(BaseModel):
    """A chunk of the dashboard's CSV import: rows as sent, each with its CSV `line`."""

    messages: list[dict[str, Any]] = Field(max_length=service.MAX_BATCH)


class BatchItemPublic(BaseModel):
    index: int
    id: str | None
    stored: bool
    created: bool = Field(description="False when the id was already stored with this content.")
    status: messages.MessageStatus | None = None
    scheduled_at: datetime | None = Field(default=None, description="The due time in UTC.")
    gonderen: str | None = Field(default=None, description="The sender, once stored.")
    error: ErrorPublic | None = None
    warnings: list[str] = Field(default_factory=list, description="As in POST /schedule.")


class BatchPublic(BaseModel):
    stored: int
    refused: int
    results: list[BatchItemPublic]


class CancelPublic(BaseModel):
    id: str
    status: messages.MessageStatus
    message: str


class HealthPublic(BaseModel):
    status: str
    sandbox: bool
    database: str
    version: str
    dispatcher: dict[str, Any] | None = None
    queue: dict[str, Any] | None = None


class HealthStatusPublic(BaseModel):
    """`GET /health` without the API key: the status only (the rest names hosts and errors)."""

    status: str
    database: str


#: The OpenAPI descriptions of the key refusals (web/deps.py).
UNAUTHORIZED = (
    "No valid key: X-API-Key (or `Authorization: Bearer`) missing, wrong, or of a revoked key "
    "(refused from the moment it is revoked)"
)
FORBIDDEN = (
    "The key is valid but its scope does not allow this: `detail` names the scope needed "
    "(read: GET endpoints; write: also schedule and cancel; admin: also senders and keys)"
)
