"""`create_app()`: the FastAPI application; its lifespan owns the store and the dispatcher."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from whatsapp_scheduler import __version__, bootstrap
from whatsapp_scheduler import settings as settings_mod
from whatsapp_scheduler import store as store_mod
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.web import deps, headers, limits, throttle
from whatsapp_scheduler.web.routes import (
    campaigns,
    contacts,
    dashboard,
    docs,
    health,
    keys,
    media,
    schedule,
    senders,
    series,
    webhooks,
)
from whatsapp_scheduler.web.routes import templates as templates_routes

logger = logging.getLogger(__name__)

#: Builds the dispatcher for a running app (set by the CLI; None in API-only tests).
DispatcherFactory = Callable[[bootstrap.Runtime], Awaitable[bootstrap.BackgroundDispatcher | None]]

_STATUS_FOR: list[tuple[type[errors.SchedulerError], int]] = [
    (deps.Unauthorized, 401),
    (errors.TooLarge, 413),  # before its parent ValidationFailed: the first match wins
    (errors.ValidationFailed, 422),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.StoreError, 503),
    (errors.ConfigurationError, 503),  # e.g. adding a sender without SECRET_KEY
]


def create_app(
    settings: settings_mod.Settings,
    *,
    store: store_mod.MessageStore | None = None,
    clock: clock_mod.Clock | None = None,
    dispatcher_factory: DispatcherFactory | None = None,
) -> FastAPI:
    """The service's ASGI app. Without `store`, opens DATABASE_URL at start-up; the caller has
    migrated it (`server.serve` does, before uvicorn starts)."""
    api_key = settings.api_key.get_secret_value() if settings.api_key else ""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        message_store: store_mod.MessageStore
        message_store = bootstrap.open_store(settings) if store is None else store
        the_clock = clock or clock_mod.SystemClock()
        directory = bootstrap.build_sender_directory(settings, message_store)
        templates = bootstrap.build_templates(settings, message_store, the_clock, directory)
        svc = bootstrap.build_service(settings, message_store, the_clock, directory, templates)
        rt = bootstrap.Runtime(
            settings=settings,
            store=message_store,
            service=svc,
            clock=the_clock,
            api_key=api_key,
            senders=directory,
            templates=templates,
        )
        app.state.runtime = rt
        with contextlib.suppress(errors.StoreError):  # the database is away: /health says so
            await directory.warn_if_default_missing()
        if dispatcher_factory is not None:
            rt.dispatcher = await dispatcher_factory(rt)
            if rt.dispatcher is not None:
                svc.set_scheduled_hook(rt.dispatcher.nudge)
                await rt.dispatcher.start()
        deliverer = bootstrap.build_deliverer(settings, message_store, the_clock)
        if deliverer is not None:
            await deliverer.start()
        try:
            yield
        finally:
            if rt.dispatcher is not None:
                await rt.dispatcher.stop()
            await templates.wait_background()
            if deliverer is not None:
                await deliverer.stop()
            if own_store:
                await message_store.close()

    app = FastAPI(
        title="whatsapp-scheduler",
        version=__version__,
        summary="Send WhatsApp messages at a chosen local date and time.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.signin_throttle = throttle.SignInThrottle(
        per_address=settings.signin_failures_per_address,
        total=settings.signin_failures_total,
        window_seconds=settings.signin_window_seconds,
    )
    app.add_middleware(webhooks.FastPath, on_error=error_response)  # inside the two below
    app.add_middleware(limits.BodySizeLimit)
    app.add_middleware(headers.SecurityHeaders)  # outermost: also on 413s and errors
    app.include_router(health.router)
    app.include_router(schedule.router)
    app.include_router(senders.router)
    app.include_router(series.router)
    app.include_router(contacts.router)
    app.include_router(campaigns.router)
    app.include_router(keys.router)
    app.include_router(media.router)
    app.include_router(templates_routes.router)
    app.include_router(docs.router)
    docs.install_assets(app)  # Swagger UI's files, from the package
    app.include_router(webhooks.router)
    dashboard.install(app)  # pages at /, static files, sign-in and CSRF refusals
    _install_error_handlers(app)
    return app


def error_response(exc: errors.SchedulerError) -> JSONResponse:
    """The answer to a `SchedulerError`: its status (`_STATUS_FOR`) and the error body."""
    status = next((code for kind, code in _STATUS_FOR if isinstance(exc, kind)), 500)
    headers = {"WWW-Authenticate": "APIKey"} if status == 401 else None
    body = schedule.error_body(exc).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    async def on_scheduler_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, errors.SchedulerError)
        return error_response(exc)

    async def on_request_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        fields = [{"field": _loc(e.get("loc", ())), "rule": _rule(e)} for e in exc.errors()]
        detail = "; ".join(f"{f['field']}: {f['rule']}" for f in fields) or "invalid request"
        return JSONResponse({"detail": detail, "errors": fields}, status_code=422)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:  # FastAPI could not decode the body (e.g. not UTF-8)
            return JSONResponse(
                {
                    "detail": "body: is not valid JSON",
                    "errors": [{"field": "body", "rule": "is not valid JSON"}],
                },
                status_code=422,
            )
        return JSONResponse(
            {"detail": str(exc.detail), "errors": []},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the server log", "errors": []}, 500)

    app.add_exception_handler(errors.SchedulerError, on_scheduler_error)
    app.add_exception_handler(RequestValidationError, on_request_invalid)
    app.add_exception_handler(pydantic.ValidationError, on_request_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def _loc(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _rule(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "is not valid JSON"
    return str(error.get("msg", "invalid"))
