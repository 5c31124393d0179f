"""The seed's endpoints: /schedule, /schedule/{id}, /status/{id}, plus /schedule/batch."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

import pydantic
from fastapi import APIRouter, Depends, Query, Request, Response

from whatsapp_scheduler import errors, messages, service, store
from whatsapp_scheduler.web import deps, schemas

router = APIRouter(tags=["schedule"], dependencies=[Depends(deps.require_api_key)])

_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorPublic, "description": "X-API-Key missing or wrong"},
    413: {"model": schemas.ErrorPublic, "description": "Body too large"},
    422: {"model": schemas.ErrorPublic, "description": "A field breaks a rule"},
    503: {"model": schemas.ErrorPublic, "description": "The database is unavailable; retry"},
}


@router.post(
    "/schedule",
    response_model=schemas.ScheduledPublic,
    responses={**_REFUSALS, 409: {"model": schemas.ErrorPublic, "description": "id reused"}},
)
async def schedule(body: schemas.MessageCreate, svc: deps.ServiceDep) -> Response:
    """Schedule one message. Repeating a request with the same id and content is safe (200)."""
    result, warnings = await svc.schedule_with_warnings(body.to_request())
    public = schemas.MessagePublic.of(result.message)
    return _json(schemas.ScheduledPublic(**public.__dict__, warnings=warnings))


@router.post("/schedule/batch", response_model=schemas.BatchPublic, responses=_REFUSALS)
async def schedule_batch(body: schemas.BatchCreate, svc: deps.ServiceDep) -> Response:
    """Schedule up to 1,000 messages; each is accepted or refused on its own."""
    parsed: list[tuple[int, schemas.MessageCreate]] = []
    refused: dict[int, schemas.BatchItemPublic] = {}
    for index, raw in enumerate(body.messages):
        try:
            parsed.append((index, schemas.MessageCreate.model_validate(raw)))
        except pydantic.ValidationError as exc:
            error = _pydantic_error(exc, prefix=f"messages[{index}].")
            refused[index] = schemas.BatchItemPublic(
                index=index, id=_raw_id(raw), stored=False, created=False, error=error
            )
    items = await svc.schedule_many([m.to_request() for _, m in parsed])
    results = dict(refused)
    for (index, _), item in zip(parsed, items, strict=True):
        results[index] = _batch_item(index, item)
    ordered = [results[i] for i in sorted(results)]
    stored = sum(1 for r in ordered if r.stored)
    answer = schemas.BatchPublic(stored=stored, refused=len(ordered) - stored, results=ordered)
    return _json(answer)


def _json(model: pydantic.BaseModel) -> Response:
    """Serialize a response model once (FastAPI would validate it a second time first)."""
    return Response(model.model_dump_json(), media_type="application/json")


def _batch_item(index: int, item: service.BatchItem) -> schemas.BatchItemPublic:
    if item.result is not None:
        return schemas.BatchItemPublic(
            index=index,
            id=item.result.message.id,
            stored=True,
            created=item.result.status == store.AddStatus.CREATED,
            status=item.result.message.status,
            scheduled_at=item.result.message.due_at,
            warnings=list(item.warnings),
        )
    assert item.error is not None
    return schemas.BatchItemPublic(
        index=index, id=item.id, stored=False, created=False, error=error_body(item.error)
    )


def _raw_id(raw: dict[str, object]) -> str | None:
    value = raw.get("id")
    return str(value) if isinstance(value, str | int) else None


@router.get("/schedule", response_model=list[schemas.MessagePublic], responses=_REFUSALS)
async def list_schedule(
    request: Request,
    response: Response,
    svc: deps.ServiceDep,
    status: Annotated[
        list[messages.MessageStatus] | None,
        Query(description="Filter by status (repeatable). Default: queued."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    cursor: Annotated[
        str | None, Query(max_length=512, description="From the Link / X-Next-Cursor header.")
    ] = None,
) -> list[schemas.MessagePublic]:
    """Queued messages, soonest first (the seed's list). Paging goes in headers."""
    statuses = status or [messages.MessageStatus.QUEUED]
    page = await svc.list(statuses, limit, cursor)
    response.headers["X-Total-Count"] = str(page.total)
    if page.next_cursor is not None:
        query = [("status", str(s)) for s in statuses] + [
            ("limit", str(limit)),
            ("cursor", page.next_cursor),
        ]
        url = request.url.replace(query=urlencode(query))
        response.headers["Link"] = f'<{url}>; rel="next"'
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
async def cancel(message_id: str, svc: deps.ServiceDep) -> schemas.CancelPublic:
    """Cancel a queued message; it stays in the history as `cancelled`."""
    message = await svc.cancel(message_id)
    return schemas.CancelPublic(id=message.id, status=message.status, message="cancelled")


@router.get(
    "/status/{message_id}",
    response_model=schemas.StatusPublic,
    responses={**_REFUSALS, 404: {"model": schemas.ErrorPublic, "description": "Unknown id"}},
)
async def status_of(message_id: str, svc: deps.ServiceDep) -> schemas.StatusPublic:
    """The seed's `{id, status}` plus attempts, last error, WhatsApp id and timeline."""
    return schemas.StatusPublic.of(await svc.status(message_id))


def error_body(exc: errors.SchedulerError) -> schemas.ErrorPublic:
    if isinstance(exc, errors.ValidationFailed):
        return schemas.ErrorPublic(
            detail=exc.message, errors=[schemas.FieldError(field=exc.field, rule=exc.rule)]
        )
    return schemas.ErrorPublic(detail=exc.message)


def _pydantic_error(exc: pydantic.ValidationError, prefix: str = "") -> schemas.ErrorPublic:
    fields = [
        schemas.FieldError(field=prefix + _loc(e["loc"]), rule=e["msg"]) for e in exc.errors()
    ]
    return schemas.ErrorPublic(
        detail="; ".join(f"{f.field}: {f.rule}" for f in fields), errors=fields
    )


def _loc(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"
