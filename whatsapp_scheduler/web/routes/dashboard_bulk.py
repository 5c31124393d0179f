"""Dashboard bulk actions: select messages on Upcoming and cancel them together.

Upcoming's rows carry a checkbox each (the write scope only); "Cancel selected" posts the
chosen ids here. The first POST shows what would be cancelled and asks (a page, so it works
without JavaScript, like the single cancel); the confirming POST cancels each one through
`service.cancel` (the API's call: the conditional update that loses to a claim, so a message
already being sent is never cancelled, only reported) and goes back to Upcoming with the counts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.web import dashboard, deps, sessions

router = APIRouter(include_in_schema=False)
WriterDep = Annotated[sessions.Session, Depends(sessions.require_writer)]
#: Ids one bulk action takes: more than an Upcoming page holds (50), few enough to show.
MAX_SELECTED = 200


@router.post("/bulk/cancel")
async def bulk_cancel(
    request: Request,
    session: WriterDep,
    svc: deps.ServiceDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
    ids: Annotated[list[str], Form(alias="id", max_length=MAX_SELECTED)] = [],  # noqa: B006
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Ask (no `confirm`), then cancel each selected message that is still queued."""
    sessions.check_csrf(request, session, csrf)
    chosen = list(dict.fromkeys(i for i in ids if 0 < len(i) <= 128))
    senders = session.principal.senders
    if not chosen:
        return RedirectResponse("/?bulk=none", status_code=303)
    if confirm != "yes":
        found: list[messages.ScheduledMessage] = []
        missing: list[str] = []
        for message_id in chosen:
            try:
                found.append(await svc.get(message_id, senders))
            except (errors.NotFound, errors.UnreadableRow):
                missing.append(message_id)
        cancellable = [m for m in found if messages.cancellable(m.status)]
        context = {
            "found": found,
            "missing": missing,
            "cancellable": cancellable,
            "cancellable_ids": [m.id for m in cancellable],
        }
        return dashboard.render(request, "bulk_cancel.html", context, session=session)
    cancelled = refused = 0
    for message_id in chosen:
        try:
            await svc.cancel(message_id, senders)
            cancelled += 1
        except (errors.NotFound, errors.Conflict, errors.UnreadableRow):
            refused += 1  # sent or being sent meanwhile, or not this key's: left as it is
    return RedirectResponse(f"/?bulk_cancelled={cancelled}&bulk_refused={refused}", status_code=303)
