"""The seed's endpoints: /schedule, /schedule/{id}, /status/{id}, plus /schedule/batch."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import pydantic
from fastapi import APIRouter, Query, Request, Response

from whatsapp_scheduler import service, store
from whatsapp_scheduler.core import errors, keys, messages, senders
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.web import deps, schemas

router = APIRouter(tags=["schedule"])

_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorPublic, "description": schemas.UNAUTHORIZED},
    403: {"model": schemas.ErrorPublic, "description": schemas.FORBIDDEN},
    413: {"model": schemas.ErrorPublic, "description": "Body too large"},
    422: {"model": schemas.ErrorPublic, "description": "A field breaks a rule"},
    503: {"model": schemas.ErrorPublic, "description": "The database is unavailable; retry"},
}


@router.post(
    "/schedule",
    response_model=schemas.ScheduledPublic,
    responses={**_REFUSALS, 409: {"model": schemas.ErrorPublic, "description": "id reused"}},
)
async def schedule(
    body: schemas.MessageCreate, svc: deps.ServiceDep, who: deps.WriterDep
) -> Response:
    """Schedule one message (write scope). Repeating a request with the same id and content is
    safe (200). A key limited to some senders sends only from them (`gonderen`, else 422)."""
    request = _as(who, body.to_request())
    if request.tekrar is not None:  # a series (docs/series.md)
        result, warnings, coming = await svc.schedule_series(request)
        public = schemas.MessagePublic.of(result.message)
        return _json(
            schemas.ScheduledPublic(
                **public.__dict__,
                warnings=[w.text for w in warnings],
                next_occurrences=[schemas.OccurrencePublic.of(o) for o in coming],
            )
        )
    result, warnings = await svc.schedule_with_warnings(request)
    # Made once (not a MessagePublic copied into a ScheduledPublic: its fields validated
    # twice); a message just stored was just validated, its JSON values bounded then.
    answer = schemas.ScheduledPublic.of(
        result.message, checked=result.status == store.AddStatus.CREATED
    )
    answer.warnings = [w.text for w in warnings]
    return _json(answer)


@router.post("/schedule/batch", response_model=schemas.BatchPublic, responses=_REFUSALS)
async def schedule_batch(
    body: schemas.BatchCreate, svc: deps.ServiceDep, who: deps.WriterDep
) -> Response:
    """Schedule up to 1,000 messages (write scope); each is accepted or refused on its own."""
    results: list[dict[str, Any] | None] = [None] * len(body.messages)
    indexes: list[int] = []
    requests: list[service.ScheduleRequest] = []
    for index, entry in enumerate(body.messages):
        if isinstance(entry, schemas.RefusedEntry):
            error = _pydantic_error(entry.error, prefix=f"messages[{index}].")
            results[index] = _refused(index, _raw_id(entry.raw), error)
        else:
            indexes.append(index)
            requests.append(_as(who, entry.to_request()))
    for index, item in zip(indexes, await svc.schedule_many(requests), strict=True):
        results[index] = _batch_item(index, item)
    stored = sum(1 for r in results if r is not None and r["stored"])
    answer = {"stored": stored, "refused": len(results) - stored, "results": results}
    # Plain values serialised in one call: a model per item cost more than the rest of the
    # answer (bench/RESULTS.md). tests/integration check the shape against BatchPublic.
    return Response(schemas.to_json(answer), media_type="application/json")


def _as(who: keys.Principal, request: service.ScheduleRequest) -> service.ScheduleRequest:
    """The request as `who` makes it: recorded as its key's, limited to its senders."""
    request.created_by = who.name
    request.allowed_senders = who.senders
    return request


def _json(model: pydantic.BaseModel) -> Response:
    """Serialize a response model once (FastAPI would validate it a second time first)."""
    return Response(model.model_dump_json(), media_type="application/json")


def _batch_item(index: int, item: service.BatchItem) -> dict[str, Any]:
    """One entry of `BatchPublic.results`, as plain values."""
    if item.result is not None:
        message = item.result.message
        return {
            "index": index,
            "id": message.id,
            "stored": True,
            "created": item.result.status == store.AddStatus.CREATED,
            "status": message.status.value,  # plain str: to_json is ~3x slower on enums
            "scheduled_at": message.due_at,
            "gonderen": message.sender,
            "error": None,
            "warnings": [w.text for w in item.warnings],
        }
    assert item.error is not None
    return _refused(index, item.id, error_body(item.error))


def _refused(index: int, message_id: str | None, error: schemas.ErrorPublic) -> dict[str, Any]:
    return {
        "index": index,
        "id": message_id,
        "stored": False,
        "created": False,
        "status": None,
        "scheduled_at": None,
        "gonderen": None,
        "error": error.model_dump(),
        "warnings": [],
    }


def _raw_id(raw: object) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return schemas.printable(str(value)) if isinstance(value, str | int) else None


@router.get("/schedule", response_model=list[schemas.MessagePublic], responses=_REFUSALS)
async def list_schedule(
    request: Request,
    response: Response,
    svc: deps.ServiceDep,
    who: deps.ReaderDep,
    status: Annotated[
        list[messages.MessageStatus] | None,
        Query(description="Filter by status (repeatable). Default: queued."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            description="From the Link / X-Next-Cursor header; any other value is 422.",
        ),
    ] = None,
    gonderen: Annotated[
        list[str] | None,
        Query(description="Only the messages of this sender, by name (repeatable)."),
    ] = None,
) -> list[schemas.MessagePublic]:
    """Queued messages, soonest first (the seed's list; read scope). Paging goes in headers.
    A key limited to some senders lists only their messages."""
    statuses = status or [messages.MessageStatus.QUEUED]
    for name in gonderen or ():
        if not senders.valid_name(name):
            raise errors.ValidationFailed(
                "gonderen", "must be a sender's name ({NAME_RULE})", NAME_RULE=senders.NAME_RULE
            )
    wanted = frozenset(gonderen) if gonderen else None
    page = await svc.list(MessageQuery(tuple(statuses), limit, cursor, senders=who.narrow(wanted)))
    response.headers["X-Total-Count"] = str(page.total)
    if page.next_cursor is not None:
        query = [("status", str(s)) for s in statuses] + [
            *(("gonderen", name) for name in sorted(wanted or ())),
            ("limit", str(limit)),
            ("cursor", page.next_cursor),
        ]
        # Relative (RFC 8288 resolves it against the request's URL): the Host header is the
        # client's to choose, so it is never written into an answer.
        response.headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
        response.headers["X-Next-Cursor"] = page.next_cursor
    return [schemas.MessagePublic.of(m) for m in page.items]


@router.delete(
    "/schedule/{message_id}",
    response_model=schemas.CancelPublic,
    responses={
        **_REFUSALS,
        404: {"model": schemas.ErrorPublic, "description": "Unknown id"},
        409: {"model": schemas.ErrorPublic, "description": "Already sending, sent or failed"},
    },
)
async def cancel(
    message_id: str, svc: deps.ServiceDep, who: deps.WriterDep
) -> schemas.CancelPublic:
    """Cancel a queued message (write scope); it stays in the history as `cancelled`. Another
    sender's message is 404 to a key limited to some senders."""
    message = await svc.cancel(message_id, who.senders)
    return schemas.CancelPublic(id=message.id, status=message.status, message="cancelled")


@router.patch(
    "/schedule/{message_id}",
    response_model=schemas.ScheduledPublic,
    responses={
        **_REFUSALS,
        404: {"model": schemas.ErrorPublic, "description": "Unknown id"},
        409: {
            "model": schemas.ErrorPublic,
            "description": "Not queued any more (sending, sent, failed, cancelled), or an "
            "occurrence of a deleted series",
        },
    },
)
async def edit(
    message_id: str, body: schemas.MessageEdit, svc: deps.ServiceDep, who: deps.WriterDep
) -> Response:
    """Change a queued message (write scope): `tarih`, `saat`, `timezone`, `mesaj`,
    `template`, `alici`, `gonderen`. Validated as a new message; applied only while it is
    still queued (one conditional update: 409 once the dispatcher has it). Each edit is kept
    in `GET /status/{id}`'s `edits` (docs/edits.md)."""
    message, warnings = await svc.edit(
        message_id, body.changes(), key_name=who.name, senders=who.senders
    )
    public = schemas.MessagePublic.of(message)
    return _json(schemas.ScheduledPublic(**public.__dict__, warnings=[w.text for w in warnings]))


@router.get(
    "/status/{message_id}",
    response_model=schemas.StatusPublic,
    responses={**_REFUSALS, 404: {"model": schemas.ErrorPublic, "description": "Unknown id"}},
)
async def status_of(
    message_id: str, svc: deps.ServiceDep, who: deps.ReaderDep
) -> schemas.StatusPublic:
    """The seed's `{id, status}` plus attempts, last error, WhatsApp id, timeline and the key
    that created it (`anahtar`); read scope. Another sender's message is 404 to a key limited
    to some senders."""
    return schemas.StatusPublic.of(await svc.status(message_id, who.senders))


def error_body(exc: errors.SchedulerError) -> schemas.ErrorPublic:
    """The refusal's body; a rule quoting the client's text is made `printable`."""
    printable = schemas.printable
    if isinstance(exc, errors.ValidationFailed):
        field = schemas.FieldError(field=printable(exc.field), rule=printable(exc.rule))
        return schemas.ErrorPublic(detail=printable(exc.message), errors=[field])
    return schemas.ErrorPublic(detail=printable(exc.message))


def _pydantic_error(exc: pydantic.ValidationError, prefix: str = "") -> schemas.ErrorPublic:
    fields = [
        schemas.FieldError(
            field=schemas.printable(_field(prefix, e["loc"])), rule=schemas.printable(e["msg"])
        )
        for e in exc.errors()
    ]
    return schemas.ErrorPublic(
        detail="; ".join(f"{f.field}: {f.rule}" for f in fields), errors=fields
    )


def _field(prefix: str, loc: tuple[int | str, ...]) -> str:
    if prefix and not [p for p in loc if p != "body"]:
        return prefix.rstrip(".")  # the entry itself (e.g. not an object)
    return prefix + _loc(loc)


def _loc(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"
