"""Dashboard: the recent CSV imports, each with its messages counted by status, and "cancel the
still-queued ones" of one import (asked first, as the bulk cancel).

No schema change: an import is known by the ids the import gives its rows,
`csv-<digest>-<line>` (`csvimport.read_csv`: the file's SHA-256 prefix and the row's line), so
`csv-<digest>` is the import's id. A file with its own `id` column keeps its ids and is not
listed here (cancel its rows from Upcoming).

The list is found from the messages themselves: the queued and paused ones (up to SCAN_QUEUED,
soonest first) and the latest finished ones (up to SCAN_FINISHED): an import with nothing
queued and nothing recent is no longer listed. One import's messages are read by their ids,
line by line in chunks of CHUNK, until a chunk holds none.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from whatsapp_scheduler import service
from whatsapp_scheduler.core import csvimport, errors, messages
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.web import dashboard, deps, sessions

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[sessions.Session, Depends(sessions.require_session)]
WriterDep = Annotated[sessions.Session, Depends(sessions.require_writer)]
Status = messages.MessageStatus
IMPORT_ID = re.compile(r"csv-[0-9a-f]{12}")
ROW_ID = re.compile(r"(csv-[0-9a-f]{12})-(\d+)")
SCAN_QUEUED = 5000
SCAN_FINISHED = 2000
SCAN_PAGE = 500
CHUNK = 1000
#: Lines one import can span: its rows plus the header (a quoted text may span lines: some slack).
MAX_LINE = csvimport.MAX_ROWS * 2 + 1
SHOWN = 20


def import_of(message_id: str) -> str | None:
    """The import id of a message an import made (None: not made by one)."""
    found = ROW_ID.fullmatch(message_id)
    return found[1] if found else None


@dataclasses.dataclass(frozen=True, slots=True)
class ImportSummary:
    id: str
    counts: dict[str, int]
    total: int
    first_due: messages.ScheduledMessage | None
    last_created: Any

    @property
    def queued(self) -> int:
        return self.counts.get(Status.QUEUED, 0) + self.counts.get(Status.PAUSED, 0)


def _visible(m: messages.ScheduledMessage, senders: frozenset[str] | None) -> bool:
    return senders is None or m.sender in senders


async def import_messages(
    svc: service.SchedulerService, import_id: str, senders: frozenset[str] | None
) -> list[messages.ScheduledMessage]:
    """Every message of one import this key may see, by line."""
    found: list[messages.ScheduledMessage] = []
    for start in range(1, MAX_LINE + 1, CHUNK):
        ids = [f"{import_id}-{line}" for line in range(start, min(start + CHUNK, MAX_LINE + 1))]
        chunk = await svc.get_many(ids)
        if not chunk and start > 1:
            break
        found.extend(m for m in chunk if _visible(m, senders))
    return sorted(found, key=lambda m: int(m.id.rpartition("-")[2]))


def summarize(import_id: str, found: list[messages.ScheduledMessage]) -> ImportSummary:
    counts = Counter(str(m.status) for m in found)
    upcoming = [m for m in found if m.status in (Status.QUEUED, Status.PAUSED)]
    first = min(upcoming, key=lambda m: m.due_at) if upcoming else None
    last = max((m.created_at for m in found), default=None)
    return ImportSummary(import_id, dict(counts), len(found), first, last)


async def _recent_ids(svc: service.SchedulerService, session: sessions.Session) -> list[str]:
    """The imports among the queued messages and the latest finished ones."""
    seen: dict[str, None] = {}
    senders = session.principal.narrow(None)
    for statuses, newest, budget in (
        ((Status.QUEUED, Status.PAUSED), False, SCAN_QUEUED),
        ((Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED, Status.CANCELLED), True,
         SCAN_FINISHED),
    ):  # fmt: skip
        cursor: str | None = None
        read = 0
        while read < budget:
            page = await svc.list(
                MessageQuery(statuses, SCAN_PAGE, cursor, newest_first=newest, count_up_to=1,
                             senders=senders)
            )  # fmt: skip
            for m in page.items:
                found = import_of(m.id)
                if found is not None:
                    seen.setdefault(found, None)
            read += len(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    return list(seen)


@router.get("/imports")
async def imports_page(request: Request, session: SessionDep, svc: deps.ServiceDep) -> Response:
    """The recent imports, latest first, each counted by status."""
    summaries = []
    for import_id in await _recent_ids(svc, session):
        found = await import_messages(svc, import_id, session.principal.senders)
        if found:
            summaries.append(summarize(import_id, found))
    summaries.sort(key=lambda s: s.last_created, reverse=True)
    context = {"imports": summaries[:SHOWN], "statuses": list(Status)}
    return dashboard.render(request, "imports.html", context, session=session)


def _notfound(request: Request, session: sessions.Session, import_id: str) -> Response:
    return dashboard.render(
        request, "notfound.html", {"message_id": import_id}, session=session, status_code=404
    )


def _done(request: Request) -> dict[str, int] | None:
    found = {}
    for key in ("cancelled", "refused"):
        value = request.query_params.get(key, "")
        if not value.isdigit() or len(value) > 6:
            return None
        found[key] = int(value)
    return found


@router.get("/imports/{import_id}")
async def import_page(
    request: Request, import_id: str, session: SessionDep, svc: deps.ServiceDep
) -> Response:
    """One import: its counts by status and its messages still to go."""
    if not IMPORT_ID.fullmatch(import_id):
        return _notfound(request, session, import_id)
    found = await import_messages(svc, import_id, session.principal.senders)
    if not found:
        return _notfound(request, session, import_id)
    context = {
        "summary": summarize(import_id, found),
        "upcoming": [m for m in found if messages.cancellable(m.status)][:200],
        "statuses": list(Status),
        "done": _done(request),
        "asking": False,
    }
    return dashboard.render(request, "import_detail.html", context, session=session)


@router.post("/imports/{import_id}/cancel")
async def cancel_import(
    request: Request,
    import_id: str,
    session: WriterDep,
    svc: deps.ServiceDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Ask (no `confirm`), then cancel each still-queued message of this import through
    `service.cancel` (one claimed meanwhile is left alone and counted)."""
    sessions.check_csrf(request, session, csrf)
    if not IMPORT_ID.fullmatch(import_id):
        return _notfound(request, session, import_id)
    senders = session.principal.senders
    found = await import_messages(svc, import_id, senders)
    if not found:
        return _notfound(request, session, import_id)
    cancellable = [m for m in found if messages.cancellable(m.status)]
    if confirm != "yes":
        context = {
            "summary": summarize(import_id, found),
            "upcoming": cancellable[:200],
            "statuses": list(Status),
            "done": None,
            "asking": True,
        }
        return dashboard.render(request, "import_detail.html", context, session=session)
    cancelled = refused = 0
    for m in cancellable:
        try:
            await svc.cancel(m.id, senders)
            cancelled += 1
        except (errors.NotFound, errors.Conflict, errors.UnreadableRow):
            refused += 1  # claimed by the dispatcher meanwhile: left as it is
    return RedirectResponse(
        f"/imports/{import_id}?cancelled={cancelled}&refused={refused}", status_code=303
    )
