"""Dashboard pages: upcoming, history, one message, cancel, compose.

Each page reads or writes through `service.SchedulerService`, the same calls the REST API makes,
so rules and validation messages are the API's own. Compose sends a text or a template (and a
text's fallback template) as a `service.ScheduleRequest`, exactly what `POST /schedule` builds.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import secrets
import zoneinfo
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from whatsapp_scheduler import bootstrap, service, store
from whatsapp_scheduler.core import (
    catalogue,
    errors,
    localtime,
    messages,
    notices,
    recipients,
    templates,
)
from whatsapp_scheduler.core import content as content_mod
from whatsapp_scheduler.core import senders as senders_mod
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.web import dashboard, deps, i18n, schemas, sessions
from whatsapp_scheduler.web.routes import (
    dashboard_retry_links,
    dashboard_stats,
    dashboard_templates,
)

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[sessions.Session, Depends(sessions.require_session)]
WriterDep = Annotated[sessions.Session, Depends(sessions.require_writer)]  # the write scope
Status = messages.MessageStatus
PAGE_SIZE = 50
HISTORY_STATUSES = [Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED, Status.CANCELLED]
#: Whether the service takes template messages (it does since `ScheduleRequest.template`);
#: the compose page offers "text | template" and a text's fallback template only then.
#: Ids the compose form makes (`ComposeForm.id`): recognisable in lists and logs.
FORM_ID_PREFIX = "web-"
TEMPLATES_AVAILABLE = "template" in {f.name for f in dataclasses.fields(service.ScheduleRequest)}
PrevQuery = Annotated[list[str], Query(max_length=512)]
CursorQuery = Annotated[str | None, Query(max_length=512)]
#: The due dates the history can be filtered by (one day more must still be a date, in any
#: zone; the calendar ends at 9999-12-31).
FILTER_DATES = (date(1970, 1, 1), date(9998, 12, 31))
#: The API's field names (as in its `detail`) and the compose form's input they point at.
_FIELD_INPUTS = {
    "alici": "recipient",
    "tarih": "date",
    "saat": "time",
    "timezone": "zone",
    "mesaj": "text",
    "gonderen": "sender",
    "tekrar": "rule",
}


@cache
def zone_names() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


#: Offered first in the zone pickers (then every zone): where this service's users are.
COMMON_ZONES = (
    "Europe/Istanbul", "UTC", "Europe/London", "Europe/Berlin", "Europe/Paris",
    "Europe/Amsterdam", "Asia/Dubai", "Asia/Riyadh", "America/New_York", "America/Chicago",
    "America/Los_Angeles",
)  # fmt: skip


@cache
def _zone_choices(hour: datetime) -> tuple[tuple[str, str], ...]:
    """(name, "Europe/Istanbul (UTC+03:00)") of every zone, by its UTC offset at `hour`."""
    found = []
    for name in zone_names():
        offset = hour.astimezone(zoneinfo.ZoneInfo(name)).utcoffset() or timedelta()
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        label = f"{name} (UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d})"
        found.append((minutes, name, label))
    return tuple((name, label) for _, name, label in sorted(found))


def zone_choices(now: datetime) -> dict[str, Any]:
    """The zone pickers' options: the common ones first, then all by offset, each labelled
    with its offset now (computed once an hour: DST changes the labels twice a year)."""
    everything = _zone_choices(now.replace(minute=0, second=0, microsecond=0))
    labels = dict(everything)
    return {
        "common": [(z, labels[z]) for z in COMMON_ZONES if z in labels],
        "all": list(everything),
    }


@router.get("/")
async def upcoming(
    request: Request,
    session: SessionDep,
    svc: deps.ServiceDep,
    recipient: str = "",
    date_from: str = "",
    date_to: str = "",
    gonderen: str = "",
    cursor: CursorQuery = None,
    prev: PrevQuery = [],  # noqa: B006 (FastAPI copies query defaults)
) -> Response:
    """Queued messages, soonest first, with the time left and a cancel link; filtered by
    recipient, sender and due date as History is."""
    error: errors.ValidationFailed | None = None
    page: store.Page | None = None
    try:
        filters = _history_query(
            request, session, svc, "", recipient, date_from, date_to, gonderen,
            statuses=(Status.QUEUED, Status.PAUSED), newest_first=False,
        )  # fmt: skip
        page = await svc.list(
            dataclasses.replace(filters, cursor=cursor, count_up_to=dashboard.COUNT_UP_TO)
        )
    except errors.ValidationFailed as exc:  # a bad filter, or a cursor not given out here
        error = exc
    query = {
        "recipient": recipient, "date_from": date_from, "date_to": date_to, "gonderen": gonderen,
    }  # fmt: skip
    now = svc.clock.now()
    lang = dashboard.language(request)
    rows = [(m, i18n.time_left(m.due_at, now, lang)) for m in page.items] if page else []
    created = request.query_params.get("created")
    flash = sessions.read_flash(request)
    warnings = flash.get("warnings", []) if flash and flash.get("id") == created else []
    context = {
        "rows": rows,
        "page": page,
        "links": dashboard.paging_links(
            "/", query, cursor, prev, page.next_cursor if page is not None else None
        ),
        "error": error,
        "query": query,
        "sender_names": await _sender_names(svc, session, gonderen),
        "filtered": any(query.values()),
        "cap": dashboard.COUNT_UP_TO,
        "created": created,
        "warnings": warnings if isinstance(warnings, list) else [],
        "cancelled": request.query_params.get("cancelled"),
        "bulk_done": _bulk_done(request),
        "bulk_none": request.query_params.get("bulk") == "none",
        "stats": await dashboard_stats.stats_view(svc, session, dashboard.language(request)),
        "now": now,
    }
    status_code = 422 if error is not None else 200
    response = dashboard.render(
        request, "upcoming.html", context, session=session, status_code=status_code
    )
    if flash is not None:
        sessions.clear_flash(response)
    return response


def _bulk_done(request: Request) -> dict[str, int] | None:
    """The counts a bulk cancel came back with (`?bulk_cancelled=N&bulk_refused=M`)."""
    found = {}
    for key in ("cancelled", "refused"):
        value = request.query_params.get(f"bulk_{key}", "")
        if not value.isdigit() or len(value) > 6:
            return None
        found[key] = int(value)
    return found


@router.get("/history")
async def history(
    request: Request,
    session: SessionDep,
    svc: deps.ServiceDep,
    status: str = "",
    recipient: str = "",
    date_from: str = "",
    date_to: str = "",
    gonderen: str = "",
    cursor: CursorQuery = None,
    prev: PrevQuery = [],  # noqa: B006 (FastAPI copies query defaults)
) -> Response:
    """Finished messages, newest first, filtered by status, recipient, sender and due date.

    Paging is keyset both ways: "Next" gets the last row's cursor, "Previous" the cursor kept
    in `prev=` (see `dashboard.paging_links`).
    """
    error: errors.ValidationFailed | None = None
    try:
        filters = _history_query(
            request, session, svc, status, recipient, date_from, date_to, gonderen
        )
        page = await svc.list(
            dataclasses.replace(
                filters, cursor=cursor, limit=PAGE_SIZE, count_up_to=dashboard.COUNT_UP_TO
            )
        )
    except errors.ValidationFailed as exc:
        error, page = exc, None
    query = {
        "status": status,
        "recipient": recipient,
        "date_from": date_from,
        "date_to": date_to,
        "gonderen": gonderen,
    }
    sender_names = await _sender_names(svc, session, gonderen)
    links = dashboard.paging_links(
        "/history", query, cursor, prev, page.next_cursor if page is not None else None
    )
    context = {
        "page": page,
        "links": links,
        "error": error,
        "query": query,
        "statuses": HISTORY_STATUSES,
        "sender_names": sender_names,
        "cap": dashboard.COUNT_UP_TO,
        "bulk_none": request.query_params.get("bulk") == "none",
    }
    status_code = 422 if error is not None else 200
    return dashboard.render(
        request, "history.html", context, session=session, status_code=status_code
    )


async def _sender_names(
    svc: service.SchedulerService, session: sessions.Session, gonderen: str
) -> list[str]:
    """The senders a list's filter offers: those this key sees, plus the one asked for."""
    known = await svc.sender_states()
    names = set(known) if known is not None else {svc.default_sender}
    visible = session.principal.narrow(None)  # a key limited to some senders offers only them
    if visible is not None:
        names &= visible
    if senders_mod.valid_name(gonderen.strip()):  # a removed sender's history stays findable
        names.add(gonderen.strip())
    return sorted(names)


def _history_query(
    request: Request,
    session: sessions.Session,
    svc: service.SchedulerService,
    status: str,
    recipient: str,
    date_from: str,
    date_to: str,
    gonderen: str,
    *,
    statuses: Sequence[Status] = tuple(HISTORY_STATUSES),
    newest_first: bool = True,
) -> MessageQuery:
    """A list's filters as a query (History's by default: finished, newest first; Upcoming
    gives its own statuses and order); ValidationFailed naming a bad one."""
    chosen = [Status(status)] if status in {str(s) for s in statuses} else []
    wanted = None
    if recipient.strip():
        wanted = recipients.normalize(recipient, svc.default_region, field="recipient")
    zone = dashboard.display_zone(request)
    due_from = due_to = None
    if date_from:
        due_from = _start_of(_filter_date(date_from, "date_from"), zone)
    if date_to:
        due_to = _start_of(_filter_date(date_to, "date_to") + timedelta(days=1), zone)
    sender = gonderen.strip()
    if sender and not senders_mod.valid_name(sender):
        raise errors.ValidationFailed(
            "gonderen", "must be {NAME_RULE}", NAME_RULE=senders_mod.NAME_RULE
        )
    return MessageQuery(
        tuple(chosen or statuses),
        PAGE_SIZE,
        None,
        recipient=wanted,
        due_from=due_from,
        due_to=due_to,
        newest_first=newest_first,
        senders=session.principal.narrow(frozenset({sender}) if sender else None),
    )


#: Rows one History export holds at most (newest first); the CSV says when it stopped there.
EXPORT_MAX_ROWS = 100_000
EXPORT_PAGE = 1000
EXPORT_COLUMNS = (
    "id", "status", "recipient", "sender", "due_local", "timezone", "due_utc", "sent_at",
    "delivered_at", "read_at", "failed_at", "cancelled_at", "attempts", "last_error_code",
    "last_error_text", "text", "template",
)  # fmt: skip


@router.get("/history.csv")
async def history_export(
    request: Request,
    session: SessionDep,
    svc: deps.ServiceDep,
    status: str = "",
    recipient: str = "",
    date_from: str = "",
    date_to: str = "",
    gonderen: str = "",
) -> Response:
    """History with the page's filters as CSV, every page of it (up to EXPORT_MAX_ROWS),
    streamed: UTF-8 with BOM (Excel opens it), `;` for a Turkish reader (Turkish Excel's
    separator), `,` otherwise; times in UTC, ISO 8601, plus the due time in its own zone."""
    try:
        filters = _history_query(
            request, session, svc, status, recipient, date_from, date_to, gonderen
        )
    except errors.ValidationFailed as exc:
        detail = i18n.error_text(exc, dashboard.language(request))
        return JSONResponse({"detail": detail}, status_code=422)
    delimiter = ";" if dashboard.language(request) == "tr" else ","

    def line(values: Sequence[object]) -> str:
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerow(values)
        return out.getvalue()

    def iso(when: datetime | None) -> str:
        return when.isoformat() if when is not None else ""

    async def rows() -> AsyncIterator[str]:
        yield "\ufeff" + line(EXPORT_COLUMNS)
        cursor: str | None = None
        written = 0
        while written < EXPORT_MAX_ROWS:
            limit = min(EXPORT_PAGE, EXPORT_MAX_ROWS - written)
            page = await svc.list(
                dataclasses.replace(filters, cursor=cursor, limit=limit, count_up_to=1)
            )
            for m in page.items:
                name = m.template.get("name") if m.template else None
                yield line(
                    (
                        m.id, m.status, m.recipient, m.sender,
                        f"{m.local_date[:10]} {m.local_time}", m.timezone, iso(m.due_at),
                        iso(m.sent_at), iso(m.delivered_at), iso(m.read_at), iso(m.failed_at),
                        iso(m.cancelled_at), m.attempts, m.last_error_code or "",
                        m.last_error_text or "", m.body or "", name or "",
                    )
                )  # fmt: skip
            written += len(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return
        yield line((f"# stopped at {EXPORT_MAX_ROWS:,} rows: narrow the filters",))

    day = svc.clock.now().date().isoformat()
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="history-{day}.csv"'},
    )


def _filter_date(text: str, param: str) -> date:
    day = localtime.parse_date(text, field=param)
    if not FILTER_DATES[0] <= day <= FILTER_DATES[1]:
        raise errors.ValidationFailed(param, "must be from 1970-01-01 to 9998-12-31")
    return day


def _start_of(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    try:
        return localtime.to_utc(day, time(0), zone)
    except errors.ValidationFailed:  # midnight skipped by a DST change: take 01:00
        return localtime.to_utc(day, time(1), zone)


@router.get("/message/{message_id}")
async def message_page(
    request: Request,
    message_id: str,
    session: SessionDep,
    svc: deps.ServiceDep,
    runtime: deps.RuntimeDep,
) -> Response:
    """One message: its fields, its timeline, every attempt with Meta's answer explained."""
    try:
        report = await svc.status(message_id, session.principal.senders)
    except errors.NotFound:
        return dashboard.render(
            request, "notfound.html", {"message_id": message_id}, session=session, status_code=404
        )
    except errors.UnreadableRow as exc:
        return _unreadable(request, exc, session)
    m = report.message
    outcomes = dashboard.attempt_outcomes(m, report.attempts)
    timeline = {str(k): v for k, v in m.transitions().items() if v is not None}
    context = {
        "m": m,
        "attempts": report.attempts,
        "outcomes": outcomes,
        # Failed for good on an error that is usually temporary (5xx, an outage): the code's
        # own words ("retried later") would not be true; the page says why it stopped.
        "gave_up": bool(outcomes) and outcomes[-1] == "final",
        "retrying_at": dashboard.retrying_at(m, svc.clock.now()),
        "deferred_until": schemas.deferred_until(m),
        "timeline": timeline,
        "cancellable": messages.cancellable(m.status),
        "window_policy": str(svc.window_policy),
        "rendered": await _rendered(runtime, m),
        "retried": request.query_params.get("retried") == "1",
    }
    context.update(await dashboard_retry_links.page_links(svc, m, session.principal.senders))
    return dashboard.render(request, "message.html", context, session=session)


async def _rendered(
    runtime: bootstrap.Runtime, m: messages.ScheduledMessage
) -> catalogue.Preview | None:
    """The message's template as the recipient sees it (body with its parameters), when the
    sender's synced catalogue has it; None otherwise (the fields alone are shown)."""
    # A row stored before the bounds may hold any JSON (a list, a number): nothing to render.
    if not isinstance(m.template, Mapping) or runtime.templates is None:
        return None
    name, code = catalogue.send_key(m.template)
    found = await runtime.templates.find(m.sender, name, code)
    if found is None:
        return None
    return catalogue.preview(found, catalogue.sent_parameters(m.template))


@router.get("/message/{message_id}/cancel")
async def cancel_confirm(
    request: Request, message_id: str, session: WriterDep, svc: deps.ServiceDep
) -> Response:
    """Ask before cancelling (a page, so it works without JavaScript)."""
    try:
        message = await svc.get(message_id, session.principal.senders)
    except errors.NotFound:
        return dashboard.render(
            request, "notfound.html", {"message_id": message_id}, session=session, status_code=404
        )
    except errors.UnreadableRow as exc:
        return _unreadable(request, exc, session)
    context = {"m": message, "cancellable": messages.cancellable(message.status)}
    return dashboard.render(request, "cancel.html", context, session=session)


@router.post("/message/{message_id}/cancel")
async def cancel(
    request: Request,
    message_id: str,
    session: WriterDep,
    svc: deps.ServiceDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    sessions.check_csrf(request, session, csrf)
    senders = session.principal.senders
    try:
        await svc.cancel(message_id, senders)
    except errors.UnreadableRow as exc:
        return _unreadable(request, exc, session)
    except (errors.NotFound, errors.Conflict) as exc:
        found = await _maybe_get(svc, message_id, senders)
        t = i18n.translator(dashboard.language(request))
        said = (
            t("cancel.too_late", status=t(f"status.{found.status}"))
            if found is not None and isinstance(exc, errors.Conflict)
            else t("notfound")
        )  # in the page's words; the service's own below them
        context = {"m": found, "error": said, "api_text": exc.message}
        return dashboard.render(request, "cancel.html", context, session=session, status_code=409)
    return RedirectResponse(f"/?cancelled={message_id}", status_code=303)


def _unreadable(request: Request, exc: errors.UnreadableRow, session: sessions.Session) -> Response:
    """The page for a stored message that cannot be read (a row changed by hand): 409."""
    context = {"message_id": exc.message_id, "unreadable": exc.column}
    return dashboard.render(request, "notfound.html", context, session=session, status_code=409)


async def _maybe_get(
    svc: service.SchedulerService, message_id: str, senders: frozenset[str] | None
) -> messages.ScheduledMessage | None:
    try:
        return await svc.get(message_id, senders)
    except errors.NotFound:
        return None


@router.get("/compose")
async def compose_form(
    request: Request,
    session: WriterDep,
    svc: deps.ServiceDep,
    runtime: deps.RuntimeDep,
    template: Annotated[str, Query(max_length=512)] = "",
    language: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The empty form; `?template=NAME&language=tr` (the catalogue page's "use" link) opens
    it on that template."""
    today = svc.clock.now().astimezone(zoneinfo.ZoneInfo(svc.default_timezone)).date()
    form = ComposeForm(date=today.isoformat())
    if template and TEMPLATES_AVAILABLE:
        form = dataclasses.replace(
            form, kind="template", template_name=template, template_language=language
        )
    return await _compose_page(request, session, svc, runtime, form, None)


@dataclasses.dataclass(frozen=True, slots=True)
class ComposeForm:
    """What the compose form holds (shown again, as typed, when the service refuses it)."""

    recipient: str = ""
    kind: str = "text"  # "text" | "template" | "media" | "location" | ... (COMPOSE_KINDS)
    text: str = ""
    date: str = ""
    time: str = ""
    zone: str = ""
    template_name: str = ""
    template_language: str = ""
    template_params: str = ""  # one body parameter a line
    sender: str = ""  # the sender's name (`gonderen`); empty: the default sender
    fallback_name: str = ""
    fallback_language: str = ""
    fallback_params: str = ""
    #: Repeat (docs/series.md): "" none, a preset (daily, weekly, monthly, yearly: on the
    #: date's weekday / day / month, as RFC 5545 reads a rule from its start), or "custom".
    repeat: str = ""
    rule: str = ""  # the RRULE of "custom"
    #: A file (kind "media", docs/media.md): its type, and the upload's id (compose's script
    #: uploads it first, with its progress shown) or a link; its caption and file name.
    media_type: str = "image"
    media_id: str = ""
    media_link: str = ""
    caption: str = ""
    filename: str = ""
    #: A place (kind "location"), as typed.
    latitude: str = ""
    longitude: str = ""
    place_name: str = ""
    place_address: str = ""
    #: Buttons or a list (kind "interactive", docs/message-types.md): its type ("button",
    #: "list", "cta_url": INTERACTIVE_TYPES), the body, header and footer texts; reply button
    #: titles one a line; the list's button and its rows (`title` or `title | description`)
    #: one a line; a URL button's text and link.
    interactive_type: str = "button"
    body_text: str = ""
    header_text: str = ""
    footer_text: str = ""
    buttons: str = ""
    list_button: str = ""
    list_rows: str = ""
    cta_text: str = ""
    cta_url: str = ""
    #: One contact card (kind "contact"): the name, phone number, email and company.
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    contact_company: str = ""
    #: The message's id, made when the form is shown: a second submit of the same form (a
    #: double click, a resent POST) names the same message, which the service stores once.
    id: str = dataclasses.field(default_factory=lambda: FORM_ID_PREFIX + secrets.token_hex(12))

    @property
    def has_fallback(self) -> bool:
        return bool(
            self.fallback_name.strip()
            or self.fallback_language.strip()
            or self.fallback_params.strip()
        )

    def to_request(self) -> service.ScheduleRequest:
        """The request `POST /schedule` would build from the same values.

        The chosen kind decides what is sent: a template (the text and the fallback fields are
        left out), or a text with its fallback template if one is filled in.
        """
        is_template = self.kind == "template"
        kind, objects = self._content()
        fallback = None
        if kind is None and not is_template and self.has_fallback:
            fallback = _template(self.fallback_name, self.fallback_language, self.fallback_params)
        return service.ScheduleRequest(
            id=self.id or None,
            alici=self.recipient,
            tarih=self.date,
            saat=self.time,
            mesaj=None if is_template or kind else self.text.replace("\r\n", "\n"),
            timezone=self.zone or None,
            template=(
                _template(self.template_name, self.template_language, self.template_params)
                if is_template
                else None
            ),
            fallback_template=fallback,
            gonderen=self.sender.strip() or None,
            tekrar=self.tekrar(),
            type=kind,
            objects=objects,
        )

    def _content(self) -> tuple[str | None, dict[str, object] | None]:
        """`type` and its object for a file, a place, buttons or a list, or a contact card
        (docs/message-types.md); else None."""
        if self.kind == "interactive":
            return "interactive", {"interactive": self._interactive()}
        if self.kind == "contact":
            return "contacts", {"contacts": [self._contact()]}
        if self.kind == "location":
            place: dict[str, object] = {
                "latitude": _number(self.latitude),
                "longitude": _number(self.longitude),
            }
            if self.place_name.strip():
                place["name"] = self.place_name.strip()
            if self.place_address.strip():
                place["address"] = self.place_address.strip()
            return "location", {"location": place}
        if self.kind != "media":
            return None, None
        kind = self.media_type if self.media_type in content_mod.MEDIA_TYPES else "image"
        value: dict[str, object] = (
            {"id": self.media_id.strip()}
            if self.media_id.strip() or not self.media_link.strip()
            else {"link": self.media_link.strip()}
        )
        if self.caption.strip() and kind in content_mod.CAPTIONED:
            value["caption"] = self.caption.strip()
        if self.filename.strip() and kind == "document":
            value["filename"] = self.filename.strip()
        return kind, {kind: value}

    def _interactive(self) -> dict[str, object]:
        """Meta's `interactive` object, as typed (the service checks Meta's limits): reply
        buttons with the ids `b1`.. by position, one list section of rows `r1`.., or a URL
        button."""
        kind = self.interactive_type if self.interactive_type in INTERACTIVE_TYPES else "button"
        value: dict[str, object] = {
            "type": kind,
            "body": {"text": self.body_text.replace("\r\n", "\n").strip()},
        }
        if self.header_text.strip():
            value["header"] = {"type": "text", "text": self.header_text.strip()}
        if self.footer_text.strip():
            value["footer"] = {"text": self.footer_text.strip()}
        if kind == "button":
            value["action"] = {"buttons": _reply_buttons(self.buttons)}
        elif kind == "list":
            rows = _list_rows(self.list_rows)
            value["action"] = {"button": self.list_button.strip(), "sections": [{"rows": rows}]}
        else:
            parameters = {"display_text": self.cta_text.strip(), "url": self.cta_url.strip()}
            value["action"] = {"name": "cta_url", "parameters": parameters}
        return value

    def _contact(self) -> dict[str, object]:
        """One of Meta's contact objects: the name (formatted and first), the phone (CELL, with
        its `wa_id` when it is a valid international number), email and company if given."""
        name = self.contact_name.strip()
        contact: dict[str, object] = {"name": {"formatted_name": name, "first_name": name}}
        phone = self.contact_phone.strip()
        if phone:
            entry = {"phone": phone, "type": "CELL"}
            wa_id = _wa_id(phone)
            if wa_id is not None:
                entry["wa_id"] = wa_id
            contact["phones"] = [entry]
        if self.contact_email.strip():
            contact["emails"] = [{"email": self.contact_email.strip()}]
        if self.contact_company.strip():
            contact["org"] = {"company": self.contact_company.strip()}
        return contact

    def tekrar(self) -> str | None:
        """The series rule the repeat choice asks for; None: one message."""
        if self.repeat in REPEAT_PRESETS:
            return REPEAT_PRESETS[self.repeat]
        if self.repeat == "custom":
            return self.rule.strip() or "FREQ="  # empty: the service names `tekrar`
        return None


def fields_of_content(content: Mapping[str, Any] | None) -> dict[str, str]:
    """The compose fields that show a stored message's file, place, buttons or list, or
    contact card (`ComposeForm._content` read back, for Duplicate); {} for a text or
    template. What the form cannot hold is left out: the reply ids (made again from the
    positions), an interactive message's media header, a list's sections (one), the
    contacts after the first."""
    kind = content.get("type") if isinstance(content, Mapping) else None
    value = content.get(kind) if isinstance(content, Mapping) and isinstance(kind, str) else None
    if kind in content_mod.MEDIA_TYPES and isinstance(value, Mapping):
        return {
            "kind": "media",
            "media_type": kind,
            "media_id": _text_of(value.get("id")),
            "media_link": _text_of(value.get("link")),
            "caption": _text_of(value.get("caption")),
            "filename": _text_of(value.get("filename")),
        }
    if kind == "location" and isinstance(value, Mapping):
        return {
            "kind": "location",
            "latitude": _text_of(value.get("latitude")),
            "longitude": _text_of(value.get("longitude")),
            "place_name": _text_of(value.get("name")),
            "place_address": _text_of(value.get("address")),
        }
    if kind == "interactive" and isinstance(value, Mapping):
        return _interactive_fields(value)
    if kind == "contacts" and isinstance(value, list) and value and isinstance(value[0], Mapping):
        return _contact_fields(value[0])
    return {}


def _text_of(value: Any) -> str:
    return "" if value is None or isinstance(value, Mapping | list) else str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _interactive_fields(value: Mapping[str, Any]) -> dict[str, str]:
    def text(part: str) -> str:
        found = value.get(part)
        return _text_of(found.get("text")) if isinstance(found, Mapping) else ""

    action = _mapping(value.get("action"))
    kind = str(value.get("type", "button"))
    fields = {"kind": "interactive", "interactive_type": kind, "body_text": text("body"),
              "header_text": text("header"), "footer_text": text("footer")}  # fmt: skip
    if kind == "button":
        buttons = [b.get("reply") for b in action.get("buttons") or [] if isinstance(b, Mapping)]
        fields["buttons"] = "\n".join(
            _text_of(r.get("title")) for r in buttons if isinstance(r, Mapping)
        )
    elif kind == "list":
        rows = [r for sec in action.get("sections") or [] if isinstance(sec, Mapping)
                for r in sec.get("rows") or [] if isinstance(r, Mapping)]  # fmt: skip
        lines = [
            _text_of(r.get("title")) + (f" | {r['description']}" if r.get("description") else "")
            for r in rows
        ]
        fields |= {"list_button": _text_of(action.get("button")), "list_rows": "\n".join(lines)}
    else:
        given = _mapping(action.get("parameters"))
        fields |= {
            "cta_text": _text_of(given.get("display_text")),
            "cta_url": _text_of(given.get("url")),
        }
    return fields


def _contact_fields(contact: Mapping[str, Any]) -> dict[str, str]:
    def first(items: Any, key: str) -> str:
        found = (
            items[0] if isinstance(items, list) and items and isinstance(items[0], Mapping) else {}
        )
        return _text_of(found.get(key))

    name, org = _mapping(contact.get("name")), _mapping(contact.get("org"))
    return {
        "kind": "contact",
        "contact_name": _text_of(name.get("formatted_name")),
        "contact_phone": first(contact.get("phones"), "phone"),
        "contact_email": first(contact.get("emails"), "email"),
        "contact_company": _text_of(org.get("company")),
    }


#: The compose form's repeat choices (docs/dashboard.md): RFC 5545 rules read from the date.
REPEAT_PRESETS = {
    "daily": "FREQ=DAILY",
    "weekly": "FREQ=WEEKLY",
    "monthly": "FREQ=MONTHLY",
    "yearly": "FREQ=YEARLY",
}


def _template(name: str, language: str, params: str) -> dict[str, object]:
    """`{name, language, parameters}` as a client of the API would send it.

    One parameter a line; blank lines at the start and end are dropped (a textarea's last
    newline), a blank line in between is kept so the service names it.
    """
    lines = _lines(params)
    template: dict[str, object] = {"name": name.strip(), "language": language.strip()}
    if lines:
        template["parameters"] = lines
    return template


def _lines(text: str) -> list[str]:
    """A textarea's lines, without the blank ones at the start and the end (a blank line in
    between is kept, so the service names it)."""
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    return lines


def _reply_buttons(text: str) -> list[dict[str, object]]:
    """Reply buttons from their titles, one a line; the ids `b1`, `b2`, .. (unique)."""
    return [
        {"type": "reply", "reply": {"id": f"b{n}", "title": title.strip()}}
        for n, title in enumerate(_lines(text), start=1)
    ]


def _list_rows(text: str) -> list[dict[str, object]]:
    """A list's rows, one a line: `title` or `title | description`; the ids `r1`, `r2`, .."""
    rows: list[dict[str, object]] = []
    for n, line in enumerate(_lines(text), start=1):
        title, bar, description = line.partition("|")
        row: dict[str, object] = {"id": f"r{n}", "title": title.strip()}
        if bar and description.strip():
            row["description"] = description.strip()
        rows.append(row)
    return rows


def _wa_id(phone: str) -> str | None:
    """A contact's WhatsApp id: its number's E.164 digits (no plus) when it is given with its
    country code (`+90 555 123 45 67`) and valid; None otherwise (Meta shows the number)."""
    try:
        return recipients.normalize(phone, "ZZ", field="contact_phone").removeprefix("+")
    except errors.ValidationFailed:  # a national number ("0555 ..."), or no number at all
        return None


def _number(text: str) -> object:
    """A coordinate as typed: a number when it reads as one (`41,0369` too), else the text,
    which the service refuses naming the field."""
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return text


#: Compose's kinds of message: a text, a template, a file, a place, buttons or a list (Meta's
#: interactive types), a contact card (`contacts`).
COMPOSE_KINDS = ("text", "template", "media", "location", "interactive", "contact")
INTERACTIVE_TYPES = content_mod.INTERACTIVE_TYPES
#: An `interactive.` field's start and the input it points at, the first that fits (the reply
#: buttons before the list's `action.button`).
_INTERACTIVE_INPUTS = (
    ("type", "interactive_type"),
    ("header", "header_text"),
    ("footer", "footer_text"),
    ("action.buttons", "buttons"),
    ("action.button", "list_button"),
    ("action.sections", "list_rows"),
    ("action.parameters.display_text", "cta_text"),
    ("action", "cta_url"),
)
#: A contact's field (`contacts[0].phones`) and its input; anything else is the name.
_CONTACT_INPUTS = {"phones": "contact_phone", "emails": "contact_email", "org": "contact_company"}


def _invalid_input(field: str | None) -> str | None:
    """The compose input an API field name points at (`template.parameters[1]` etc.)."""
    if field is None:
        return None
    head, _, rest = field.partition(".")
    if head in content_mod.MEDIA_TYPES:
        if rest == "link":
            return "media_link"
        return rest if rest in ("caption", "filename") else "media_file"
    if head == "location":
        places = {"longitude": "longitude", "name": "place_name", "address": "place_address"}
        return places.get(rest, "latitude")
    if head == "interactive":
        found = (name for start, name in _INTERACTIVE_INPUTS if rest.startswith(start))
        return next(found, "body_text")
    if head.startswith("contacts"):
        return _CONTACT_INPUTS.get(rest.partition(".")[0].partition("[")[0], "contact_name")
    for prefix, group in (("template", "template"), ("fallback_template", "fallback")):
        if field == prefix or field.startswith(prefix + "."):
            rest = field[len(prefix) + 1 :]
            if rest.startswith("language"):
                return f"{group}_language"
            if rest.startswith(("parameters", "components")):
                return f"{group}_params"
            return f"{group}_name"
    return _FIELD_INPUTS.get(field)


def _warning_note(warning: notices.ScheduleWarning) -> dict[str, str]:
    """A schedule warning for the page (kept in the flash cookie): its i18n key and values,
    and the API's own text."""
    key = f"warning.{warning.code}"
    template = warning.params.get("template", "")
    note = {"code": str(warning.code), "key": key, "template": template, "text": warning.text}
    if warning.code == notices.WarningCode.QUIET_HOURS:  # its words need the times
        note.update({k: warning.params[k] for k in ("asked", "moved", "zone", "window")})
    return note


@router.post("/compose")
async def compose(
    request: Request,
    session: WriterDep,
    svc: deps.ServiceDep,
    runtime: deps.RuntimeDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
    recipient: Annotated[str, Form(max_length=64)] = "",
    kind: Annotated[str, Form(max_length=16)] = "text",
    text: Annotated[str, Form(max_length=20_000)] = "",
    date_: Annotated[str, Form(alias="date", max_length=64)] = "",
    time_: Annotated[str, Form(alias="time", max_length=16)] = "",
    zone: Annotated[str, Form(max_length=64)] = "",
    template_name: Annotated[str, Form(max_length=600)] = "",
    template_language: Annotated[str, Form(max_length=64)] = "",
    template_params: Annotated[str, Form(max_length=60_000)] = "",
    fallback_name: Annotated[str, Form(max_length=600)] = "",
    fallback_language: Annotated[str, Form(max_length=64)] = "",
    fallback_params: Annotated[str, Form(max_length=60_000)] = "",
    gonderen: Annotated[str, Form(max_length=64)] = "",
    id_: Annotated[str, Form(alias="id", max_length=128)] = "",
    repeat: Annotated[str, Form(max_length=16)] = "",
    rule: Annotated[str, Form(max_length=1000)] = "",
    media_type: Annotated[str, Form(max_length=16)] = "image",
    media_id: Annotated[str, Form(max_length=128)] = "",
    media_link: Annotated[str, Form(max_length=2048)] = "",
    caption: Annotated[str, Form(max_length=4000)] = "",
    filename: Annotated[str, Form(max_length=600)] = "",
    latitude: Annotated[str, Form(max_length=64)] = "",
    longitude: Annotated[str, Form(max_length=64)] = "",
    place_name: Annotated[str, Form(max_length=2000)] = "",
    place_address: Annotated[str, Form(max_length=2000)] = "",
    interactive_type: Annotated[str, Form(max_length=16)] = "button",
    body_text: Annotated[str, Form(max_length=8000)] = "",
    header_text: Annotated[str, Form(max_length=600)] = "",
    footer_text: Annotated[str, Form(max_length=600)] = "",
    buttons: Annotated[str, Form(max_length=2000)] = "",
    list_button: Annotated[str, Form(max_length=600)] = "",
    list_rows: Annotated[str, Form(max_length=10_000)] = "",
    cta_text: Annotated[str, Form(max_length=600)] = "",
    cta_url: Annotated[str, Form(max_length=4096)] = "",
    contact_name: Annotated[str, Form(max_length=2000)] = "",
    contact_phone: Annotated[str, Form(max_length=64)] = "",
    contact_email: Annotated[str, Form(max_length=600)] = "",
    contact_company: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    """Schedule through `service.schedule_with_warnings` (the API's call); a refusal shows the
    API's own field and rule, warnings (e.g. `window_closed`) show on the next page.

    The form's `id` makes a second submit of it (a double click) the same message: the service
    answers the stored one and nothing more is stored. A form reused for different content
    (back, edit, submit) is a Conflict: shown again with a new id and a note saying so."""
    sessions.check_csrf(request, session, csrf)
    form = ComposeForm(
        recipient=recipient,
        kind=kind if kind in COMPOSE_KINDS and TEMPLATES_AVAILABLE else "text",
        text=text,
        date=date_,
        time=time_,
        zone=zone,
        template_name=template_name,
        template_language=template_language,
        template_params=template_params,
        fallback_name=fallback_name,
        fallback_language=fallback_language,
        fallback_params=fallback_params,
        sender=gonderen,
        repeat=repeat if repeat in (*REPEAT_PRESETS, "custom") else "",
        rule=rule,
        media_type=media_type,
        media_id=media_id,
        media_link=media_link,
        caption=caption,
        filename=filename,
        latitude=latitude,
        longitude=longitude,
        place_name=place_name,
        place_address=place_address,
        interactive_type=interactive_type,
        body_text=body_text,
        header_text=header_text,
        footer_text=footer_text,
        buttons=buttons,
        list_button=list_button,
        list_rows=list_rows,
        cta_text=cta_text,
        cta_url=cta_url,
        contact_name=contact_name,
        contact_phone=contact_phone,
        contact_email=contact_email,
        contact_company=contact_company,
        **({"id": id_} if id_ else {}),
    )
    request_ = sessions.on_behalf(session, await _named_parameters(runtime, svc, form))
    try:
        if request_.tekrar is not None:  # a series (docs/series.md)
            result, warnings, _coming = await svc.schedule_series(request_)
        else:
            result, warnings = await svc.schedule_with_warnings(request_)
    except errors.Conflict:
        t = i18n.translator(dashboard.language(request))
        reused = errors.Conflict(t("compose.form_used", id=form.id))
        fresh = dataclasses.replace(form, id=FORM_ID_PREFIX + secrets.token_hex(12))
        return await _compose_page(request, session, svc, runtime, fresh, reused, status_code=409)
    except errors.ValidationFailed as exc:
        return await _compose_page(request, session, svc, runtime, form, exc, status_code=422)
    message = result.message
    response = RedirectResponse(f"/?created={message.id}", status_code=303)
    if warnings:
        notes = [_warning_note(w) for w in warnings]
        sessions.set_flash(response, request, {"id": message.id, "warnings": notes})
    return response


async def _named_parameters(
    runtime: bootstrap.Runtime, svc: service.SchedulerService, form: ComposeForm
) -> service.ScheduleRequest:
    """`form.to_request()`; for a template the catalogue knows as NAMED, the lines of the
    parameters box are its named body parameters in the body's order (Meta needs
    `parameter_name` on each), so the form works for both kinds of template."""
    request = form.to_request()
    catalogue_ = runtime.templates
    template = request.template
    if catalogue_ is None or template is None or "parameters" not in template:
        return request
    found = await catalogue_.find(
        form.sender.strip() or svc.default_sender,
        form.template_name.strip(),
        form.template_language.strip(),
    )
    if found is None or not found.named:
        return request
    names = found.body_variables()
    values = list(template["parameters"])
    given = [
        {
            "type": "text",
            "parameter_name": names[i] if i < len(names) else f"extra_{i + 1}",
            "text": v,
        }
        for i, v in enumerate(values)
    ]
    named = {"name": template["name"], "language": template["language"]}
    named["components"] = [{"type": "body", "parameters": given}]
    request.template = named
    return request


async def _compose_page(
    request: Request,
    session: sessions.Session,
    svc: service.SchedulerService,
    runtime: bootstrap.Runtime,
    form: ComposeForm,
    error: errors.SchedulerError | None,
    status_code: int = 200,
) -> Response:
    field = getattr(error, "field", None)
    choices = await dashboard_templates.sender_choices(svc, session)
    sender = form.sender.strip() or (choices[0] if choices else svc.default_sender)
    picks = await dashboard_templates.picker_names(runtime.templates, sender)
    context = {
        "form": form,
        "error": error,
        "error_field": field,
        "invalid": _invalid_input(field),
        "zones": zone_names(),
        "zone_choices": zone_choices(svc.clock.now()),
        "default_zone": svc.default_timezone,
        "max_length": service.MAX_TEXT_LENGTH,
        "max_parameters": templates.MAX_PARAMETERS,
        "templates_available": TEMPLATES_AVAILABLE,
        "window_policy": str(svc.window_policy),
        "languages": sorted({*TEMPLATE_LANGUAGES, *(lang for _, lang in picks)}),
        "sender_choices": choices,
        "template_names": sorted({name for name, _ in picks}),
    }
    return dashboard.render(
        request, "compose.html", context, session=session, status_code=status_code
    )


#: For the other dashboard routes that fill in compose (dashboard_retry's duplicate, resend).
named_parameters = _named_parameters
compose_page = _compose_page

#: Suggestions for the language input (any code Meta lists is accepted).
TEMPLATE_LANGUAGES = ("tr", "en", "en_US", "en_GB", "de", "fr", "es", "ar", "ru", "nl", "pt_BR")
