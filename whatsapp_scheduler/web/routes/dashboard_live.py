"""Dashboard JSON endpoints: the recipient check while typing, and live statuses (SSE).

Live statuses: the page sends the ids it shows; every second the stream reads those rows by
primary key (`service.get_many`, at most MAX_IDS) and sends the ones whose status changed.
Chosen over a `changed_since(updated_at)` scan because it needs no new index on a column the
dispatcher rewrites on every transition (1,000 msg/s), costs the same on SQLite and PostgreSQL,
and stays O(ids on screen) however large the table grows. Each stream ends after
STREAM_SECONDS and the browser reconnects, so a server shutdown never waits on an open stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from whatsapp_scheduler.core import errors, recipients
from whatsapp_scheduler.web import dashboard, deps, sessions

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/dashboard/api", include_in_schema=False)
SessionDep = Annotated[sessions.Session, Depends(sessions.require_session)]
MAX_IDS = 200
POLL_SECONDS = 1.0
STREAM_SECONDS = 10.0


@router.get("/recipient")
async def check_recipient(
    session: SessionDep, svc: deps.ServiceDep, value: Annotated[str, Query(max_length=64)] = ""
) -> JSONResponse:
    """`{"ok": true, "e164": ...}` or `{"ok": false, "field", "rule"}` (the API's words)."""
    try:
        e164 = recipients.normalize(value, svc.default_region)
    except errors.ValidationFailed as exc:
        return JSONResponse({"ok": False, "field": exc.field, "rule": exc.rule})
    return JSONResponse({"ok": True, "e164": e164})


@router.get("/events")
async def events(
    request: Request,
    session: SessionDep,
    svc: deps.ServiceDep,
    ids: Annotated[str, Query(max_length=MAX_IDS * 130)] = "",
) -> StreamingResponse:
    """Server-Sent Events: one `status` event per watched message whenever it changes."""
    wanted = [i for i in dict.fromkeys(ids.split(",")) if i][:MAX_IDS]
    lang = dashboard.language(request)
    zone = dashboard.display_zone(request)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        seen: dict[str, tuple[str, str]] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_SECONDS
        while wanted and loop.time() < deadline:
            for message in await svc.get_many(wanted):
                if not session.principal.sees(message.sender):
                    continue  # another sender's message: not this key's to watch
                key = (str(message.status), message.updated_at.isoformat())
                if seen.get(message.id) != key:
                    seen[message.id] = key
                    data = json.dumps(dashboard.live_event(message, lang, zone))
                    yield f"event: status\ndata: {data}\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)
        yield ": bye\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
