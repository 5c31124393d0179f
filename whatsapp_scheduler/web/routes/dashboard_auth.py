"""Dashboard sign-in, sign-out and the language switch."""

from __future__ import annotations

import hmac
import logging
import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from whatsapp_scheduler.web import dashboard, deps, i18n, sessions, throttle

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/signin")
async def signin_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form, with a fresh anonymous session whose token the form must return."""
    session = await sessions.read_session(request)
    if session is not None and session.authenticated:
        return RedirectResponse(dashboard.safe_next(next), status_code=303)
    session = sessions.new_session(request)
    response = dashboard.render(
        request, "signin.html", {"next": dashboard.safe_next(next)}, session=session
    )
    sessions.set_session_cookie(response, request, session)
    return response


@router.post("/signin")
async def signin(
    request: Request,
    api_key: Annotated[str, Form(max_length=512)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    """Check the key (the environment's API_KEY in constant time, or a stored key by its hash);
    on success start a signed-in session as that key (new token).

    Too many wrong keys from this address (or from all) answer 429 with Retry-After, whatever
    the key (web/throttle.py)."""
    session = await sessions.read_session(request)
    t = i18n.translator(dashboard.language(request))
    limiter: throttle.SignInThrottle = request.app.state.signin_throttle
    address = request.client.host if request.client else "unknown"
    now = sessions.runtime(request).clock.now().timestamp()
    wait = limiter.retry_after(address, now)
    if wait is not None:
        logger.warning("dashboard sign-in throttled for %s (retry in %d s)", address, wait)
        context = {
            "next": dashboard.safe_next(next),
            "error": t("signin.throttled", minutes=math.ceil(wait / 60)),
        }
        shown = session or sessions.new_session(request)
        response = dashboard.render(request, "signin.html", context, session=shown, status_code=429)
        if session is None:
            sessions.set_session_cookie(response, request, shown)
        response.headers["Retry-After"] = str(wait)
        return response
    if session is None or not hmac.compare_digest(csrf.encode(), session.csrf.encode()):
        fresh = sessions.new_session(request)
        context = {"next": dashboard.safe_next(next), "error": t("signin.expired")}
        response = dashboard.render(request, "signin.html", context, session=fresh, status_code=403)
        sessions.set_session_cookie(response, request, fresh)
        return response
    principal = await deps.resolve_key(sessions.runtime(request), api_key.strip())
    if principal is None:
        limiter.failed(address, now)
        logger.warning("dashboard sign-in refused: wrong API key from %s", address)
        context = {"next": dashboard.safe_next(next), "error": t("signin.wrong")}
        return dashboard.render(request, "signin.html", context, session=session, status_code=401)
    limiter.succeeded(address)
    signed_in = await sessions.start_signed_in(request, principal)
    response = RedirectResponse(dashboard.safe_next(next), status_code=303)
    sessions.set_session_cookie(response, request, signed_in)
    logger.info("dashboard sign-in from %s as key %s", address, principal.label)
    return response


@router.post("/signout")
async def signout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    session = await sessions.read_session(request)
    if session is not None:  # an ended or forged session has nothing left to end
        sessions.check_csrf(request, session, csrf)
        await sessions.end_session(request, session)
    logger.info("dashboard sign-out")
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/lang/{code}")
async def switch_language(request: Request, code: str, next: str | None = None) -> Response:
    """Remember the chosen language (a preference, not a privilege: no token needed)."""
    response = RedirectResponse(dashboard.safe_next(next), status_code=303)
    if code in i18n.LANGUAGES:
        response.set_cookie(
            i18n.COOKIE, code, max_age=365 * 86400, path="/", samesite="lax", httponly=True
        )
    return response
