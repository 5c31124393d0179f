"""Dashboard pages: upcoming, history, one message, cancel, compose.

Each page reads or writes through `service.SchedulerService`, the same calls the REST API makes,
so rules and validation messages are the API's own.
"""

from __future__ import annotations

import logging
import zoneinfo
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from whatsapp_scheduler import errors, localtime, messages, recipients, service
from whatsapp_scheduler.web import dashboard, deps

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[dashboard.Session, Depends(dashboard.require_session)]
Status = messages.MessageStatus
PAGE_SIZE = 50
HISTORY_STATUSES = [Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED, Status.CANCELLED]
#: Templates are not a service feature yet: when the service gains them, set this from it and
#: the compose page shows its (hidden) template picker. Don't invent the feature here.
TEMPLATES_AVAILABLE = False


@cache
def zone_names() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


@router.get("/")
async def upcoming(
    request: Request, session: SessionDep, svc: deps.ServiceDep, cursor: str | None = None
) -> Response:
    """Queued messages, soonest first, with the time left and a cancel link."""
    page = await svc.list([Status.QUEUED], PAGE_SIZE, cursor, count_up_to=dashboard.COUNT_UP_TO)
    now = svc.clock.now()
    rows = [(m, dashboard.time_left(m.due_at, now)) for m in page.items]
    context = {
        "rows": rows,
        "page": page,
        "cap": dashboard.COUNT_UP_TO,
        "created": request.query_params.get("created"),
        "cancelled": request.query_params.get("cancelled"),
        "now": now,
    }
    return dashboard.render(request, "upcoming.html", context, session=session)


@router.get("/history")
async def history(
    request: Request,
    session: SessionDep,
    svc: deps.ServiceDep,
    status: str = "",
    recipient: str = "",
    date_from: str = "",
    date_to: str = "",
    cursor: str | None = None,
) -> Response:
    """Finished messages, newest first, filtered by status, recipient and due date."""
    statuses = [Status(status)] if status in {str(s) for s in HISTORY_STATUSES} else []
    error: errors.ValidationFailed | None = None
    filters: dict[str, object] = {}
    try:
        if recipient.strip():
            filters["recipient"] = recipients.normalize(
                recipient, svc.default_region, field="recipient"
            )
        zone = dashboard.display_zone(request)
        if date_from:
            day = localtime.parse_date(date_from, field="from")
            filters["due_from"] = _start_of(day, zone)
        if date_to:
            day = localtime.parse_date(date_to, field="to")
            filters["due_to"] = _start_of(day + timedelta(days=1), zone)
        page = await svc.list(
            statuses or HISTORY_STATUSES,
            PAGE_SIZE,
            cursor,
            newest_first=True,
            count_up_to=dashboard.COUNT_UP_TO,
            **filters,
        )
    except errors.ValidationFailed as exc:
        error, page = exc, None
    query = {"status": status, "recipient": recipient, "date_from": date_from, "date_to": date_to}
    context = {
        "page": page,
        "error": error,
        "query": query,
        "statuses": HISTORY_STATUSES,
        "cap": dashboard.COUNT_UP_TO,
    }
    return dashboard.render(request, "history.html", context, session=session)


def _start_of(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    try:
        return localtime.to_utc(day, time(0), zone)
    except errors.ValidationFailed:  # midnight skipped by a DST change: take 01:00
        return localtime.to_utc(day, time(1), zone)


@router.get("/message/{message_id}")
async def message_page(
    request: Request, message_id: str, session: SessionDep, svc: deps.ServiceDep
) -> Response:
    """One message: its fields, its timeline, every attempt with Meta's answer explained."""
    try:
        report = await svc.status(message_id)
    except errors.NotFound:
        return dashboard.render(
            request, "notfound.html", {"message_id": message_id}, session=session, status_code=404
        )
    timeline = {str(k): v for k, v in report.message.transitions().items() if v is not None}
    context = {
        "m": report.message,
        "attempts": report.attempts,
        "timeline": timeline,
        "cancellable": messages.cancellable(report.message.status),
    }
    return dashboard.render(request, "message.html", context, session=session)


@router.get("/message/{message_id}/cancel")
async def cancel_confirm(
    request: Request, message_id: str, session: SessionDep, svc: deps.ServiceDep
) -> Response:
    """Ask before cancelling (a page, so it works without JavaScript)."""
    try:
        message = await svc.get(message_id)
    except errors.NotFound:
        return dashboard.render(
            request, "notfound.html", {"message_id": message_id}, session=session, status_code=404
        )
    return dashboard.render(request, "cancel.html", {"m": message}, session=session)


@router.post("/message/{message_id}/cancel")
async def cancel(
    request: Request,
    message_id: str,
    session: SessionDep,
    svc: deps.ServiceDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    dashboard.check_csrf(request, session, csrf)
    try:
        await svc.cancel(message_id)
    except (errors.NotFound, errors.Conflict) as exc:
        context = {"m": await _maybe_get(svc, message_id), "error": exc.message}
        return dashboard.render(request, "cancel.html", context, session=session, status_code=409)
    return RedirectResponse(f"/?cancelled={message_id}", status_code=303)


async def _maybe_get(
    svc: service.SchedulerService, message_id: str
) -> messages.ScheduledMessage | None:
    try:
        return await svc.get(message_id)
    except errors.NotFound:
        return None


@router.get("/compose")
async def compose_form(request: Request, session: SessionDep, svc: deps.ServiceDep) -> Response:
    today = svc.clock.now().astimezone(zoneinfo.ZoneInfo(svc.default_timezone)).date()
    form = {"recipient": "", "text": "", "date": today.isoformat(), "time": "", "zone": ""}
    return _compose_page(request, session, svc, form, None)


@router.post("/compose")
async def compose(
    request: Request,
    session: SessionDep,
    svc: deps.ServiceDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
    recipient: Annotated[str, Form(max_length=64)] = "",
    text: Annotated[str, Form(max_length=20_000)] = "",
    date_: Annotated[str, Form(alias="date", max_length=64)] = "",
    time_: Annotated[str, Form(alias="time", max_length=16)] = "",
    zone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Schedule through `service.schedule`; a refusal shows the API's own field and rule."""
    dashboard.check_csrf(request, session, csrf)
    request_ = service.ScheduleRequest(
        alici=recipient,
        tarih=date_,
        saat=time_,
        mesaj=text.replace("\r\n", "\n"),
        timezone=zone or None,
    )
    try:
        result = await svc.schedule(request_)
    except (errors.ValidationFailed, errors.Conflict) as exc:
        form = {"recipient": recipient, "text": text, "date": date_, "time": time_, "zone": zone}
        return _compose_page(request, session, svc, form, exc, status_code=422)
    return RedirectResponse(f"/?created={result.message.id}", status_code=303)


def _compose_page(
    request: Request,
    session: dashboard.Session,
    svc: service.SchedulerService,
    form: dict[str, str],
    error: errors.SchedulerError | None,
    status_code: int = 200,
) -> Response:
    context = {
        "form": form,
        "error": error,
        "error_field": getattr(error, "field", None),
        "zones": zone_names(),
        "default_zone": svc.default_timezone,
        "max_length": service.MAX_TEXT_LENGTH,
        "templates_available": TEMPLATES_AVAILABLE,
    }
    return dashboard.render(
        request, "compose.html", context, session=session, status_code=status_code
    )
