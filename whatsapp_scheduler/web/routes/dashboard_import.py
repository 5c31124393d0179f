"""Dashboard import: upload a CSV, preview it (validated, nothing stored), then store in chunks.

The preview validates every row with `service.build` (the same checks as scheduling, without
storing). The page's JavaScript then posts the valid rows in chunks of 500 to a JSON endpoint
that calls `service.schedule_many` (the batch API's call) and moves a progress bar.

A template may be chosen for the whole file (name and language, suggested from the catalogue
of the default sender): then no text column is needed, the file's other columns are its body
parameters (`{{1}}`, `1`, `param 1` ... for a POSITIONAL template, the parameter names for a
NAMED one; `csvimport.parameter_key`), and the preview shows each row's body filled in.

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
from whatsapp_scheduler.core import catalogue, csvimport, errors, messages
from whatsapp_scheduler.web import dashboard, deps, i18n, schemas, sessions
from whatsapp_scheduler.web.routes import dashboard_imports, dashboard_pages, dashboard_templates

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[sessions.Session, Depends(sessions.require_writer)]  # the write scope
CHUNK = 500  # rows per request from the page
PREVIEW_VALID_SHOWN = 50  # valid rows listed in the preview
PREVIEW_BAD_SHOWN = 100  # refused rows listed in the preview; the rest are counted


@router.get("/import")
async def import_form(
    request: Request, session: SessionDep, svc: deps.ServiceDep, runtime: deps.RuntimeDep
) -> Response:
    context = await _form_context(svc, session, runtime, svc.default_timezone)
    return dashboard.render(request, "import.html", context, session=session)


async def _form_context(
    svc: service.SchedulerService,
    session: sessions.Session,
    runtime: Any,
    zone: str,
    template_name: str = "",
    template_language: str = "",
) -> dict[str, Any]:
    """The upload form's choices: zones, and the templates of the default sender (or the
    first one this key may send from) for the template picker."""
    choices = await dashboard_templates.sender_choices(svc, session)
    sender = choices[0] if choices else svc.default_sender
    picks = await dashboard_templates.picker_names(runtime.templates, sender)
    return {
        "zones": dashboard_pages.zone_names(),
        "zone_choices": dashboard_pages.zone_choices(svc.clock.now()),
        "default_zone": zone,
        "templates_available": dashboard_pages.TEMPLATES_AVAILABLE,
        "template_picks": picks,
        "template_names": sorted({name for name, _ in picks}),
        "languages": sorted({*dashboard_pages.TEMPLATE_LANGUAGES, *(lang for _, lang in picks)}),
        "template_name": template_name,
        "template_language": template_language,
    }


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
    runtime: deps.RuntimeDep,
    file: UploadFile,
    csrf: Annotated[str, Form(max_length=128)] = "",
    zone: Annotated[str, Form(max_length=64)] = "",
    template_name: Annotated[str, Form(max_length=512)] = "",
    template_language: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Read and validate the file; render the preview with every bad row marked."""
    sessions.check_csrf(request, session, csrf)
    name, language = template_name.strip(), template_language.strip()
    chosen = (name, language) if name and dashboard_pages.TEMPLATES_AVAILABLE else None
    context = await _form_context(
        svc, session, runtime, zone or svc.default_timezone, name, language
    )
    context["chunk"] = CHUNK
    data = await file.read()
    try:
        # Off the event loop: reading and checking 10,000 rows takes a while, and every other
        # request (and the dispatcher) would wait for it.
        known = await svc.sender_states()
        rows = await run_in_threadpool(
            csvimport.read_csv, data, max_rows=csvimport.MAX_ROWS, template=chosen is not None
        )
    except csvimport.CsvError as exc:
        context["error"] = str(exc)
        return dashboard.render(request, "import.html", context, session=session, status_code=422)
    rows = csvimport.with_media_types(rows, await _media_types(svc, rows))
    found: dict[str, catalogue.CatalogueTemplate | None] = {}
    if chosen is not None and runtime.templates is not None:
        for sender in {row.fields.get("gonderen") or svc.default_sender for row in rows}:
            found[sender] = await runtime.templates.find(sender, *chosen)
    file_ = _File(zone, chosen, found, svc.default_sender, dashboard.language(request))
    built = await run_in_threadpool(_check_rows, svc, rows, file_, known)
    checked = await _refusals(svc, built, file_.lang)
    bad = [(row, problem) for row, _, problem in checked if problem is not None]
    valid = [payload | {"line": row.line} for row, payload, e in checked if e is None]
    context.update(
        preview=True,
        bad=bad[:PREVIEW_BAD_SHOWN],
        bad_count=len(bad),
        shown=[row for row, _, problem in checked if problem is None][:PREVIEW_VALID_SHOWN],
        valid_rows=valid,
        total=len(checked),
        filename=file.filename or "",
        rendered=file_.rendered,
        import_id=_import_id(valid),
    )
    return dashboard.render(request, "import.html", context, session=session)


async def _media_types(
    svc: service.SchedulerService, rows: list[csvimport.CsvRow]
) -> dict[str, str | None]:
    """The type each uploaded file named by the rows (without `medya turu`) was stored as;
    None: no such file."""
    types: dict[str, str | None] = {}
    for media_id in csvimport.media_to_look_up(rows):
        try:
            types[media_id] = (await svc.media.get(media_id)).kind
        except errors.NotFound:
            types[media_id] = None
    return types


def _import_id(valid: list[dict[str, Any]]) -> str | None:
    """The import's id (`csv-<digest>`, dashboard_imports) when the file's rows got theirs
    from the file; None for a file with its own `id` column."""
    found = {dashboard_imports.import_of(str(row.get("id", ""))) for row in valid}
    return found.pop() if len(found) == 1 else None


class _File:
    """How the rows of one uploaded file become requests: the page's zone for rows without
    one, and the template chosen for the whole file (with what the catalogue of each row's
    sender knows of it)."""

    def __init__(
        self,
        zone: str,
        template: tuple[str, str] | None,
        found: Mapping[str, catalogue.CatalogueTemplate | None],
        default_sender: str,
        lang: str = i18n.DEFAULT,
    ) -> None:
        self.zone = zone
        self.template = template
        self.found = found
        self.default_sender = default_sender
        self.lang = lang  # the page's language: the rows' problems are said in it
        self.rendered: dict[int, str] = {}  # line -> the body filled in, for the preview

    def payload(self, row: csvimport.CsvRow) -> dict[str, Any]:
        payload: dict[str, Any] = dict(row.fields)
        if self.zone and "timezone" not in payload:
            payload["timezone"] = self.zone
        if self.template is None:
            return payload
        payload.pop("mesaj", None)  # the chosen template is what is sent
        known = self.found.get(row.fields.get("gonderen") or self.default_sender)
        payload["template"] = _template(self.template, row.parameters, known, row.media)
        if known is not None:
            self.rendered[row.line] = catalogue.preview(known, row.parameters).body
        return payload

    def problem(self, row: csvimport.CsvRow) -> str | None:
        """What the file's columns cannot say for this row: the type of a template header's
        file when neither `medya turu`, its link's name nor the catalogue tells it."""
        if row.error is not None or self.template is None or row.media is None:
            return row.error
        known = self.found.get(row.fields.get("gonderen") or self.default_sender)
        if _header_kind(row.media, known) is None:
            return (
                f"line {row.line}: medya turu: say which kind of file the template's header "
                "is (image, video or document): it cannot be told from its name"
            )
        return None


def _template(
    chosen: tuple[str, str],
    parameters: Mapping[str, str],
    known: catalogue.CatalogueTemplate | None,
    media: csvimport.MediaCell | None = None,
) -> dict[str, Any]:
    """The API's template object for one row: positional parameters as a list in their
    number's order; NAMED ones (the catalogue says so, or the headers are names) as a body
    component with each `parameter_name`, as Meta needs them. A row's file (`medya`) is the
    header's media parameter: then every parameter goes in `components`."""
    name, language = chosen
    template: dict[str, Any] = {"name": name, "language": language}
    named = known.named if known is not None else not all(k.isdigit() for k in parameters)
    components: list[dict[str, Any]] = []
    kind = _header_kind(media, known) if media is not None else None
    if media is not None and kind is not None:
        header = {"type": kind, kind: media.value}
        components.append({"type": "header", "parameters": [header]})
    if not parameters and not components:
        return template
    if not named and not components:
        template["parameters"] = [parameters[k] for k in sorted(parameters, key=_number)]
        return template
    if named:
        given = [{"type": "text", "parameter_name": k, "text": v} for k, v in parameters.items()]
    else:
        given = [{"type": "text", "text": parameters[k]} for k in sorted(parameters, key=_number)]
    if given:
        components.append({"type": "body", "parameters": given})
    template["components"] = components
    return template


def _header_kind(
    media: csvimport.MediaCell, known: catalogue.CatalogueTemplate | None
) -> str | None:
    """The header parameter's type: the row's (`medya turu`, its link's name, the upload's),
    else the synced template's header format (IMAGE, VIDEO, DOCUMENT)."""
    if media.kind is not None:
        return media.kind
    header = known.header() if known is not None else None
    fmt = str(header.get("format", "")).lower() if header else ""
    return fmt if fmt in ("image", "video", "document") else None


def _number(key: str) -> int:
    return int(key) if key.isdigit() else 10**9


def _check_rows(
    svc: service.SchedulerService,
    rows: list[csvimport.CsvRow],
    file_: _File,
    known: Mapping[str, bool] | None,
) -> list[tuple[csvimport.CsvRow, dict[str, Any], messages.ScheduledMessage | str]]:
    """Each row of the file with its request and the message it makes, or its problem.
    Pure CPU, run on a thread."""
    now = svc.clock.now()
    checked: list[tuple[csvimport.CsvRow, dict[str, Any], messages.ScheduledMessage | str]] = []
    for row in rows:
        payload = file_.payload(row)
        problem = file_.problem(row)
        checked.append((row, payload, problem or _built(svc, payload, now, known, file_.lang)))
    return checked


async def _refusals(
    svc: service.SchedulerService,
    built: list[tuple[csvimport.CsvRow, dict[str, Any], messages.ScheduledMessage | str]],
    lang: str,
) -> list[tuple[csvimport.CsvRow, dict[str, Any], str | None]]:
    """Each row with its problem (None: valid): the build's, else what the service checks
    before storing (the template against the synced catalogue, the recipient's opt-out),
    so the preview refuses what storing would."""
    made = [m for _, _, m in built if not isinstance(m, str)]
    answers = iter(await svc.checks(made))
    found: list[tuple[csvimport.CsvRow, dict[str, Any], str | None]] = []
    for row, payload, outcome in built:
        if isinstance(outcome, str):
            found.append((row, payload, outcome))
            continue
        answer = next(answers)
        problem = (
            i18n.error_text(answer, lang) if isinstance(answer, errors.ValidationFailed) else None
        )
        found.append((row, payload, problem))
    return found


def _built(
    svc: service.SchedulerService,
    payload: dict[str, Any],
    now: Any,
    known: Mapping[str, bool] | None,
    lang: str = i18n.DEFAULT,
) -> messages.ScheduledMessage | str:
    """The message a row makes, or the rule it breaks (in `lang`)."""
    try:
        request = schemas.MessageCreate.model_validate(payload).to_request()
        message = svc.build(request, now, known)
        if request.tekrar is not None:  # a series: its rule too (nothing stored)
            svc.series_rule(message, request.tekrar, now)
        return message
    except errors.ValidationFailed as exc:
        return i18n.error_text(exc, lang)
    except pydantic.ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


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
    single = [(i, r) for i, r in zip(indexes, requests, strict=True) if r.tekrar is None]
    items = await svc.schedule_many([r for _, r in single])
    lang = dashboard.language(request)
    outcomes: list[tuple[int, store.AddResult | None, str | None]] = [
        (i, item.result, i18n.error_text(item.error, lang) if item.error is not None else None)
        for (i, _), item in zip(single, items, strict=True)
    ]
    for index, request_ in zip(indexes, requests, strict=True):
        if request_.tekrar is not None:  # a series is stored one at a time (docs/series.md)
            outcomes.append((index, *await _series(svc, request_, lang)))
    stored = already = 0
    for index, result, problem in sorted(outcomes, key=lambda o: o[0]):
        if problem is None:
            repeat = result is not None and result.status == store.AddStatus.EXISTING
            already += repeat
            stored += not repeat
        else:
            line = body.messages[index].get("line")
            refused.append({"index": index, "line": line, "detail": problem})
    logger.info(
        "dashboard import chunk",
        extra={"stored": stored, "already": already, "refused": len(refused)},
    )
    answer = {"stored": stored, "already": already, "refused": len(refused), "errors": refused}
    # Built after the commit: schemas.to_json cannot fail on an echoed lone surrogate.
    return Response(schemas.to_json(answer), media_type="application/json")


async def _series(
    svc: service.SchedulerService, request: service.ScheduleRequest, lang: str
) -> tuple[store.AddResult | None, str | None]:
    """One series row stored: its first occurrence's result, or why it was refused."""
    try:
        result, _warnings, _coming = await svc.schedule_series(request)
    except (errors.ValidationFailed, errors.Conflict) as exc:
        return None, i18n.error_text(exc, lang)
    return result, None
