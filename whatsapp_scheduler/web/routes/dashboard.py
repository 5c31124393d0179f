"""The dashboard's routes in one place, and `install(app)` to add them to the service's app."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from whatsapp_scheduler.web import dashboard, i18n, sessions
from whatsapp_scheduler.web.routes import (
    dashboard_auth,
    dashboard_bulk,
    dashboard_campaigns,
    dashboard_contacts,
    dashboard_edit,
    dashboard_import,
    dashboard_imports,
    dashboard_live,
    dashboard_media,
    dashboard_pages,
    dashboard_retry,
    dashboard_stats,
    dashboard_templates,
    dashboard_window,
)

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
router.include_router(dashboard_auth.router)
router.include_router(dashboard_pages.router)
router.include_router(dashboard_edit.router)
router.include_router(dashboard_import.router)
router.include_router(dashboard_imports.router)
router.include_router(dashboard_bulk.router)
router.include_router(dashboard_retry.router)
router.include_router(dashboard_live.router)
router.include_router(dashboard_templates.router)
router.include_router(dashboard_stats.router)
router.include_router(dashboard_window.router)
router.include_router(dashboard_media.router)
router.include_router(dashboard_contacts.router)
router.include_router(dashboard_campaigns.router)


def install(app: FastAPI) -> None:
    """Add the dashboard pages, their static files and their two refusal handlers."""
    app.include_router(router)
    app.mount(
        "/static", StaticFiles(directory=str(dashboard.HERE / "static")), name="dashboard-static"
    )
    app.add_exception_handler(sessions.SignInRequired, _sign_in_required)
    app.add_exception_handler(sessions.CsrfRefused, _csrf_refused)
    app.add_exception_handler(sessions.ScopeRefused, _scope_refused)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/dashboard/api/")


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": "sign in first", "errors": []}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    logger.warning("dashboard POST refused: missing or wrong CSRF token")
    text = i18n.translator(dashboard.language(request))("csrf.refused")
    if _wants_json(request):
        return JSONResponse({"detail": text, "errors": []}, status_code=403)
    return Response(text, status_code=403, media_type="text/plain; charset=utf-8")


async def _scope_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, sessions.ScopeRefused)
    text = i18n.translator(dashboard.language(request))("scope.refused", scope=exc.needed)
    if _wants_json(request):
        return JSONResponse({"detail": text, "errors": []}, status_code=403)
    # A page of the dashboard (its menu, the way back), not a bare text: a read key's holder
    # who follows an old link to /compose is told why, and stays in the dashboard.
    try:
        session = await sessions.require_session(request)
    except sessions.SignInRequired:  # signed out meanwhile: the plain refusal is enough
        return Response(text, status_code=403, media_type="text/plain; charset=utf-8")
    return dashboard.render(
        request, "refused.html", {"text": text}, session=session, status_code=403
    )
