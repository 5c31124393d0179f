"""Compose's hint under the recipient: their 24-hour window with the chosen sender now (open
until when, or closed since when) and an opt-out, before anything is scheduled.

`GET /dashboard/api/window?alici=...&gonderen=...` answers `{state, until, last, text}` in the
reader's language, from the same contact read as GET /contacts/{phone} (read scope); a number
that is not one answers 422 with the API's words, which the page leaves unshown (the form's own
check names it on submit).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from whatsapp_scheduler.core import errors, window
from whatsapp_scheduler.web import dashboard, deps, i18n, schemas, sessions

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[sessions.Session, Depends(sessions.require_session)]


@router.get("/dashboard/api/window")
async def window_state(
    request: Request,
    session: SessionDep,
    svc: deps.ServiceDep,
    alici: Annotated[str, Query(max_length=64)] = "",
    gonderen: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """`state`: `open`, `closed` or `opted_out`; `until` / `last` in the dashboard's zone."""
    lang = dashboard.language(request)
    t = i18n.translator(lang)
    try:
        view = await svc.contacts.show(alici, gonderen.strip() or None, session.principal.senders)
    except (errors.ValidationFailed, errors.NotFound) as exc:
        body = {"detail": i18n.error_text(exc, lang)}
        return Response(schemas.to_json(body), status_code=422, media_type="application/json")
    zone = zoneinfo.ZoneInfo(svc.default_timezone)

    def local(at: datetime) -> str:
        return dashboard.format_local(at, zone, lang)[:16]  # 2026-12-03 14:30, 03.12.2026 14:30

    state = view.report.state
    last = state.last_inbound
    blocked = state.consent.blocking(None)  # an opt-out of everything stops a text too
    answer: dict[str, str | None] = {"until": None, "last": last.isoformat() if last else None}
    if blocked is not None:
        answer |= {"state": "opted_out", "text": t("window.opted_out", when=local(blocked[1].at))}
    elif view.report.window_open and last is not None:
        until = last + window.WINDOW
        answer |= {"state": "open", "until": until.isoformat(),
                   "text": t("window.open", until=local(until), last=local(last))}  # fmt: skip
    elif last is not None:
        answer |= {"state": "closed", "text": t("window.closed_since", last=local(last))}
    else:
        answer |= {"state": "closed", "text": t("window.never")}
    return Response(schemas.to_json(answer), media_type="application/json")
