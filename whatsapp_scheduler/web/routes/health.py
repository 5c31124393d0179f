"""`GET /health`: open to everyone, the status only; with the API key (the Flutter client sends
it anyway) everything: version, queue and this process's dispatcher (worker id with host name
and pid, counters, Meta's last error)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from whatsapp_scheduler import __version__
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.core.senders import Scope
from whatsapp_scheduler.web import deps, schemas

router = APIRouter(tags=["health"])


@router.get("/health", response_model=schemas.HealthPublic | schemas.HealthStatusPublic)
async def health(
    runtime: deps.RuntimeDep, response: Response, full: deps.ApiKeyGivenDep
) -> schemas.HealthPublic | schemas.HealthStatusPublic:
    """Liveness and readiness: `status` and `database` (200, or 503 when the database is
    unreachable) for anyone; with a valid key (any scope) also the version, the queue depth
    and the dispatcher's state."""
    now = runtime.clock.now()
    try:
        stats = await runtime.store.stats(now)
    except errors.StoreError:
        response.status_code = 503
        if not full:
            return schemas.HealthStatusPublic(status="unavailable", database="unreachable")
        return schemas.HealthPublic(
            status="unavailable",
            sandbox=runtime.settings.sandbox,
            database="unreachable",
            version=__version__,
        )
    if not full:
        return schemas.HealthStatusPublic(status="ok", database="ok")
    queue = {
        "queued": stats.queued,
        "sending": stats.sending,
        "oldest_overdue": stats.oldest_overdue.isoformat() if stats.oldest_overdue else None,
        "overdue_seconds": (now - stats.oldest_overdue).total_seconds()
        if stats.oldest_overdue
        else 0.0,
        "next_run_at": stats.next_run_at.isoformat() if stats.next_run_at else None,
    }
    dispatcher = runtime.dispatcher.health() if runtime.dispatcher is not None else None
    return schemas.HealthPublic(
        status="ok",
        sandbox=runtime.settings.sandbox,
        database="ok",
        version=__version__,
        dispatcher=dispatcher,
        queue=queue,
    )


@router.get(
    "/metrics",
    dependencies=[Depends(deps.require_scope(Scope.READ))],
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        401: {"model": schemas.ErrorPublic, "description": schemas.UNAUTHORIZED},
    },
)
async def metrics(runtime: deps.RuntimeDep) -> Response:
    """Prometheus metrics of this process's dispatcher (needs a key of any scope, as X-API-Key
    or `Authorization: Bearer`, which Prometheus's `authorization` scrape setting sends)."""
    from whatsapp_scheduler.dispatch import dispatcher as dispatcher_mod

    body = b""
    running = getattr(runtime.dispatcher, "dispatcher", runtime.dispatcher)  # standby.py wraps it
    if isinstance(running, dispatcher_mod.Dispatcher):
        body = dispatcher_mod.render_metrics(running)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
