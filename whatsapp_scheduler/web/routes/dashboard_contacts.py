"""Dashboard: the address book (docs/contacts.md; docs/dashboard.md, "Contacts").

`/dashboard/contacts` lists a sender's contacts by number, keyset-paged like History, searched
by name or number (`q`), filtered by label (each contact's labels are links that filter) and by
opt-out; `ContactService.list`, the call of `GET /contacts`. The import form (write scope)
reads a CSV with the reader of `POST /contacts/import` (`csvimport.read_contacts_csv`) and
upserts it with `ContactService.upsert`; the page then says what was stored, created and
updated and lists each refused row by its line number with the rule in the page's language.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, UploadFile
from fastapi.responses import Response

from whatsapp_scheduler import service
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.service import contacts as contacts_service
from whatsapp_scheduler.web import dashboard, deps, i18n, sessions
from whatsapp_scheduler.web.routes import dashboard_pages

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[sessions.Session, Depends(sessions.require_session)]
WriterDep = Annotated[sessions.Session, Depends(sessions.require_writer)]
PrevQuery = Annotated[list[str], Query(max_length=512)]
CursorQuery = Annotated[str | None, Query(max_length=512)]
PAGE_SIZE = 50
REFUSED_SHOWN = 200  # refused rows listed after an import; the rest are counted


async def _page_context(
    request: Request,
    session: sessions.Session,
    svc: service.SchedulerService,
    *,
    q: str = "",
    label: str = "",
    opted_out: str = "",
    gonderen: str = "",
    cursor: str | None = None,
    prev: list[str] | None = None,
) -> dict[str, Any]:
    names = await dashboard_pages._sender_names(svc, session, gonderen)
    visible = session.principal.narrow(None)
    if not names and visible:  # senders not (yet) in the directory's copy: the key's own
        names = sorted(visible)
    sender = gonderen.strip() or (
        svc.default_sender if svc.default_sender in names or not names else names[0]
    )
    error: errors.ValidationFailed | None = None
    views: list[contacts_service.ContactView] = []
    after: str | None = None
    try:
        if cursor is not None and not (cursor.isascii() and cursor.isdigit()):
            raise errors.ValidationFailed("cursor", "must be the X-Next-Cursor of an earlier page")
        views, after = await svc.contacts.list(
            sender,
            session.principal.senders,
            label=label.strip() or None,
            text=q.strip() or None,
            opted_out={"yes": True, "no": False}.get(opted_out),
            after=cursor,
            limit=PAGE_SIZE,
        )
    except errors.ValidationFailed as exc:
        error = exc
    query = {"q": q, "label": label, "opted_out": opted_out, "gonderen": gonderen}
    return {
        "views": views,
        "error": error,
        "query": query,
        "sender": sender,
        "sender_names": names,
        "links": dashboard.paging_links("/dashboard/contacts", query, cursor, prev or [], after),
        "filtered": any(v for k, v in query.items() if k != "gonderen"),
    }


@router.get("/dashboard/contacts")
async def contacts_page(
    request: Request,
    session: SessionDep,
    svc: deps.ServiceDep,
    q: Annotated[str, Query(max_length=64)] = "",
    label: Annotated[str, Query(max_length=64)] = "",
    opted_out: Annotated[str, Query(max_length=8)] = "",
    gonderen: Annotated[str, Query(max_length=64)] = "",
    cursor: CursorQuery = None,
    prev: PrevQuery = [],  # noqa: B006 (FastAPI copies query defaults)
) -> Response:
    context = await _page_context(
        request, session, svc, q=q, label=label, opted_out=opted_out, gonderen=gonderen,
        cursor=cursor, prev=prev,
    )  # fmt: skip
    status_code = 422 if context["error"] is not None else 200
    return dashboard.render(
        request, "contacts.html", context, session=session, status_code=status_code
    )


@router.post("/dashboard/contacts/import/batch")
async def import_contacts(
    request: Request,
    session: WriterDep,
    svc: deps.ServiceDep,
    file: UploadFile,
    csrf: Annotated[str, Form(max_length=128)] = "",
    gonderen: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Import a contacts CSV as `POST /contacts/import` does; the page with the outcome."""
    sessions.check_csrf(request, session, csrf)
    lang = dashboard.language(request)
    context = await _page_context(request, session, svc, gonderen=gonderen)
    data = await file.read()
    try:
        result = await svc.contacts.import_csv(
            data, gonderen.strip() or None, session.principal.senders, field=""
        )
    except errors.ValidationFailed as exc:
        context["import_error"] = i18n.error_text(exc, lang)
        return dashboard.render(request, "contacts.html", context, session=session, status_code=422)
    refused = result.refused
    context["imported"] = {
        "stored": result.stored,
        "created": result.created,
        "updated": result.updated,
        "refused": [
            {"line": r.index, "phone": r.phone or "", "text": i18n.error_text(r.error, lang)}
            for r in refused[:REFUSED_SHOWN]
        ],
        "refused_count": len(refused),
        "filename": file.filename or "",
    }
    if result.stored:  # the list as it is now (the first page)
        context.update(await _page_context(request, session, svc, gonderen=gonderen))
    return dashboard.render(request, "contacts.html", context, session=session)
