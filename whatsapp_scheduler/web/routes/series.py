"""Recurring messages: /series/{id} (docs/series.md). A series is made by POST /schedule
with `tekrar`."""

from __future__ import annotations

from fastapi import APIRouter

from whatsapp_scheduler.web import deps, schemas

router = APIRouter(tags=["series"])

_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorPublic, "description": schemas.UNAUTHORIZED},
    403: {"model": schemas.ErrorPublic, "description": schemas.FORBIDDEN},
    404: {"model": schemas.ErrorPublic, "description": "Unknown series"},
    422: {"model": schemas.ErrorPublic, "description": "A field breaks a rule"},
    503: {"model": schemas.ErrorPublic, "description": "The database is unavailable; retry"},
}
_CONFLICT: dict[int | str, dict[str, object]] = {
    409: {"model": schemas.ErrorPublic, "description": "Not possible in the series' state"}
}


async def _report(
    svc: deps.ServiceDep, series_id: str, who: deps.ReaderDep
) -> schemas.SeriesPublic:
    return schemas.SeriesPublic.of(await svc.series_report(series_id, who.senders))


@router.get("/series/{series_id}", response_model=schemas.SeriesPublic, responses=_REFUSALS)
async def get_series(
    series_id: str, svc: deps.ServiceDep, who: deps.ReaderDep
) -> schemas.SeriesPublic:
    """The series' rule, status, queued occurrence, next 10 occurrences and history (read
    scope). Another sender's series is 404 to a key limited to some senders."""
    return await _report(svc, series_id, who)


@router.patch(
    "/series/{series_id}",
    response_model=schemas.SeriesPublic,
    responses={**_REFUSALS, **_CONFLICT},
)
async def edit_series(
    series_id: str, body: schemas.SeriesPatch, svc: deps.ServiceDep, who: deps.WriterDep
) -> schemas.SeriesPublic:
    """Change the text, template, time of day (`saat`) or rule (`tekrar`) of an active series
    (write scope). Its queued occurrence is replaced by the first one from now on, with the
    new content; validated as a new series (422, nothing changed); 409 when paused or ended."""
    await svc.edit_series(series_id, body.changes(), who.senders)
    return await _report(svc, series_id, who)


@router.post(
    "/series/{series_id}/pause",
    response_model=schemas.SeriesPublic,
    responses={**_REFUSALS, **_CONFLICT},
)
async def pause_series(
    series_id: str, svc: deps.ServiceDep, who: deps.WriterDep
) -> schemas.SeriesPublic:
    """Pause (write scope): the queued occurrence is cancelled (`status_reason`
    `series_paused`) and nothing is sent until resumed. Pausing twice is harmless."""
    await svc.pause_series(series_id, who.senders)
    return await _report(svc, series_id, who)


@router.post(
    "/series/{series_id}/resume",
    response_model=schemas.SeriesPublic,
    responses={**_REFUSALS, **_CONFLICT},
)
async def resume_series(
    series_id: str, svc: deps.ServiceDep, who: deps.WriterDep
) -> schemas.SeriesPublic:
    """Resume (write scope): the first occurrence from now on is queued (occurrences missed
    while paused are not sent). 409 for an ended series."""
    await svc.resume_series(series_id, who.senders)
    return await _report(svc, series_id, who)


@router.delete("/series/{series_id}", response_model=schemas.SeriesPublic, responses=_REFUSALS)
async def delete_series(
    series_id: str, svc: deps.ServiceDep, who: deps.WriterDep
) -> schemas.SeriesPublic:
    """End the series (write scope): its queued occurrence is cancelled (`series_deleted`);
    the history stays. Deleting twice is harmless."""
    await svc.delete_series(series_id, who.senders)
    return await _report(svc, series_id, who)
