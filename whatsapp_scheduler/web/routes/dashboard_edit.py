"""Dashboard: edit a queued message, or send it now (docs/edits.md). Both go through the
service's `edit`: validated as a new message, one conditional update (a message the
dispatcher has claimed is never changed: 409 with the reason)."""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.web import dashboard, deps, i18n, sessions

router = APIRouter()
WriterDep = Annotated[sessions.Session, Depends(sessions.require_writer)]


async def _queued(
    request: Request, svc: deps.ServiceDep, message_id: str, session: sessions.Session
) -> messages.ScheduledMessage | Response:
    try:
        return await svc.get(message_id, session.principal.senders)
    except errors.NotFound:
        return dashboard.render(
            request, "notfound.html", {"message_id": message_id}, session=session, status_code=404
        )


def _form(
    request: Request,
    session: sessions.Session,
    m: messages.ScheduledMessage,
    *,
    error: str | None = None,
    api_text: str | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "m": m,
        "editable": messages.cancellable(m.status),
        "error": error,
        "api_text": api_text,  # the service's own words, shown small under the page's
        "values": values
        or {"tarih": m.local_date[:10], "saat": m.local_time, "mesaj": m.body or ""},
    }
    return dashboard.render(request, "edit.html", context, session=session, status_code=status_code)


@router.get("/message/{message_id}/edit")
async def edit_form(
    request: Request, message_id: str, session: WriterDep, svc: deps.ServiceDep
) -> Response:
    """The edit form (date, time, and the text of a text message)."""
    found = await _queued(request, svc, message_id, session)
    if isinstance(found, Response):
        return found
    return _form(request, session, found)


@router.post("/message/{message_id}/edit")
async def edit(
    request: Request,
    message_id: str,
    session: WriterDep,
    svc: deps.ServiceDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
    tarih: Annotated[str, Form(max_length=64)] = "",
    saat: Annotated[str, Form(max_length=16)] = "",
    mesaj: Annotated[str | None, Form(max_length=8192)] = None,
) -> Response:
    sessions.check_csrf(request, session, csrf)
    found = await _queued(request, svc, message_id, session)
    if isinstance(found, Response):
        return found
    changes: dict[str, Any] = {}
    if tarih and tarih != found.local_date[:10]:
        changes["tarih"] = tarih
    if saat and saat != found.local_time:
        changes["saat"] = saat
    if mesaj is not None and found.body is not None and mesaj != found.body:
        changes["mesaj"] = mesaj
    values = {"tarih": tarih, "saat": saat, "mesaj": mesaj or ""}
    if not changes:
        return RedirectResponse(f"/message/{message_id}", status_code=303)
    return await _apply(request, svc, session, found, changes, values)


@router.post("/message/{message_id}/send-now")
async def send_now(
    request: Request,
    message_id: str,
    session: WriterDep,
    svc: deps.ServiceDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Send it now: the due time becomes the current time (in the message's zone)."""
    sessions.check_csrf(request, session, csrf)
    found = await _queued(request, svc, message_id, session)
    if isinstance(found, Response):
        return found
    now = svc.clock.now().astimezone(zoneinfo.ZoneInfo(found.timezone))
    changes = {"tarih": now.strftime("%Y-%m-%d"), "saat": now.strftime("%H:%M:%S")}
    return await _apply(request, svc, session, found, changes, None)


async def _apply(
    request: Request,
    svc: deps.ServiceDep,
    session: sessions.Session,
    found: messages.ScheduledMessage,
    changes: dict[str, Any],
    values: dict[str, Any] | None,
) -> Response:
    principal = session.principal
    try:
        await svc.edit(found.id, changes, key_name=principal.name, senders=principal.senders)
    except errors.ValidationFailed as exc:
        error = i18n.error_text(exc, dashboard.language(request))
        return _form(request, session, found, error=error, values=values, status_code=422)
    except errors.Conflict as exc:
        current = await svc.get(found.id)  # no longer queued: the page says so in its words
        return _form(request, session, current, api_text=exc.message, status_code=409)
    return RedirectResponse(f"/message/{found.id}?edited=1", status_code=303)
