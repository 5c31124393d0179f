"""Dashboard import: upload a CSV, preview it (validated, nothing stored), then store in chunks.

The preview validates every row with `service.build` (the same checks as scheduling, without
storing). The page's JavaScript then posts the valid rows in chunks of 500 to a JSON endpoint
that calls `service.schedule_many` (the batch API's call) and moves a progress bar.

Paths end in `/batch` because the body-size middleware allows 1 MiB there (64 KiB elsewhere).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from whatsapp_scheduler import service, store
from whatsapp_scheduler.core import csvimport, errors
from whatsapp_scheduler.web import dashboard, deps, schemas, sessions
from whatsapp_scheduler.web.routes import dashboard_pages

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[sessions.Session, Depends(sessions.require_writer)]  # the write scope
CHUNK = 500  # rows per request from the page
PREVIEW_VALID_SHOWN = 50  # valid rows listed in the preview
PREVIEW_BAD_SHOWN = 100  # refused rows listed in the preview; the rest are counted


@router.get("/import")
async def import_form(request: Request, session: SessionDep, svc: deps.ServiceDep) -> Response:
    context = {"zones": dashboard_pages.zone_names(), "default_zone": svc.default_timezone}
    return dashboard.render(request, "import.html", context, session=session)


#: The sample file offered on the import page, per language: the header a person would type,
#: the delimiter their Excel writes (Turkish Excel: `;`), dates as their spreadsheet shows them.
SAMPLES = {
    "en": (
        "recipient,date,time,text,timezone\r\n"
        '+905551234567,2026-12-03,09:30,"Your appointment is tomorrow at 10:00",Europe/Istanbul\r\n'
        "+16505551234,2026-12-03,9:45,Hello from the shop,America/New_York\r\n"
    ),
    "tr": (
        "Telefon;Tarih;Saat;Mesaj;Saat dilimi\r\n"
        "0555 123 45 67;03.12.2026;09:30;Randevunuz yarın 10:00'da;Europe/Istanbul\r\n"
        "+905551234568;03.12.2026;9:45;Siparişiniz hazır, uğrayabilirsiniz;Europe/Istanbul\r\n"
    ),
}


@router.get("/import/sample.csv")
async def import_sample(request: Request, session: SessionDep) -> Response:
    """A sample import file in the reader's language (UTF-8 with BOM, which Excel opens)."""
    lang = dashboard.language(request)
    body = "\ufeff" + SAMPLES.get(lang, SAMPLES["en"])
    name = "ornek-ileti.csv" if lang == "tr" else "sample-messages.csv"
    return Response(
        body.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/import/batch")
async def import_preview(
    request: Request,
    session: SessionDep,
    svc: deps.ServiceDep,
    file: UploadFile,
    csrf: Annotated[str, Form(max_length=128)] = "",
    zone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Read and validate the file; render the preview with every bad row marked."""
    sessions.check_csrf(request, session, csrf)
    context: dict[str, Any] = {
        "zones": dashboard_pages.zone_names(),
        "default_zone": zone or svc.default_timezone,
        "chunk": CHUNK,
    }
    data = await file.read()
    try:
        # Off the event loop: reading and checking 10,000 rows takes a while, and every other
        # request (and the dispatcher) would wait for it.
        known = await svc.sender_states()
        checked = await run_in_threadpool(_check_file, svc, data, zone, known)
    except csvimport.CsvError as exc:
        context["error"] = str(exc)
        return dashboard.render(request, "import.html", context, session=session, status_code=422)
    bad = [(row, problem) for row, problem in checked if problem is not None]
    valid = [_payload(row.fields, zone) | {"line": row.line} for row, e in checked if e is None]
    context.update(
        preview=True,
        bad=bad[:PREVIEW_BAD_SHOWN],
        bad_count=len(bad),
        shown=[row for row, problem in checked if problem is None][:PREVIEW_VALID_SHOWN],
        valid_rows=valid,
        total=len(checked),
        filename=file.filename or "",
    )
    return dashboard.render(request, "import.html", context, session=session)


def _check_file(
    svc: service.SchedulerService, data: bytes, zone: str, known: Mapping[str, bool] | None
) -> list[tuple[csvimport.CsvRow, str | None]]:
    """Each row of the file with its problem (None: valid). Pure CPU, run on a thread."""
    rows = csvimport.read_csv(data, max_rows=csvimport.MAX_ROWS)
    now = svc.clock.now()
    return [
        (row, row.error or _problem(svc, _payload(row.fields, zone), now, known)) for row in rows
    ]


def _payload(fields: dict[str, str], zone: str) -> dict[str, str]:
    payload = dict(fields)
    if zone and "timezone" not in payload:
        payload["timezone"] = zone
    return payload


def _problem(
    svc: service.SchedulerService,
    payload: dict[str, str],
    now: Any,
    known: Mapping[str, bool] | None,
) -> str | None:
    try:
        svc.build(schemas.MessageCreate.model_validate(payload).to_request(), now, known)
    except errors.ValidationFailed as exc:
        return exc.message
    except pydantic.ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return None


@router.post("/dashboard/api/import/batch")
async def import_chunk(
    request: Request, session: SessionDep, svc: deps.ServiceDep, body: schemas.ImportChunk
) -> Response:
    """Store one chunk via `service.schedule_many`; answers how many rows were stored now,
    how many were stored already (the same file imported again: its rows' ids repeat, so
    nothing is stored twice) and the refused ones with why."""
    sessions.check_csrf(request, session, None)
    requests: list[service.ScheduleRequest] = []
    refused: list[dict[str, Any]] = []
    indexes: list[int] = []
    for index, raw in enumerate(body.messages):
        fields = {k: v for k, v in raw.items() if k != "line"}  # the page's own bookkeeping
        try:
            request_ = schemas.MessageCreate.model_validate(fields).to_request()
            requests.append(sessions.on_behalf(session, request_))
            indexes.append(index)
        except pydantic.ValidationError as exc:
            refused.append({"index": index, "line": raw.get("line"), "detail": str(exc)})
    items = await svc.schedule_many(requests)
    stored = already = 0
    for index, item in zip(indexes, items, strict=True):
        if item.error is None:
            repeat = item.result is not None and item.result.status == store.AddStatus.EXISTING
            already += repeat
            stored += not repeat
        else:
            line = body.messages[index].get("line")
            refused.append({"index": index, "line": line, "detail": item.error.message})
    logger.info(
        "dashboard import chunk",
        extra={"stored": stored, "already": already, "refused": len(refused)},
    )
    answer = {"stored": stored, "already": already, "refused": len(refused), "errors": refused}
    # Built after the commit: schemas.to_json cannot fail on an echoed lone surrogate.
    return Response(schemas.to_json(answer), media_type="application/json")
