"""The dashboard's sign-in session, its flash cookie and CSRF tokens.

Session: an HttpOnly, SameSite=Strict cookie holding `{auth, csrf, iat, sid}` signed with
HMAC-SHA256. The signing key is derived from API_KEY (no new setting), so changing the key signs
everyone out. The cookie never holds the key itself. A signed-in session also names a row of the
store's `dashboard_sessions` (by the SHA-256 of its random `sid`) and the key it signed in with:
sign-out (or revoking that key) deletes the row, and every request re-reads the key, so the old
cookie is refused at once, on every process sharing the database. The session acts as its key
(`Session.principal`): its scope and senders decide what the pages show and allow. Every POST
must carry the session's CSRF token (form field `csrf`, or header `X-CSRF-Token` for the page's
JavaScript); the sign-in form gets a token from an anonymous session made when the form is
shown.

The flash cookie carries what a POST leaves for the page it redirects to (a schedule's
warnings), signed the same way and kept two minutes at most.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import hashlib
import hmac
import json
import secrets
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from whatsapp_scheduler import bootstrap, service
from whatsapp_scheduler.core import keys
from whatsapp_scheduler.core.senders import Scope

COOKIE = "wsched_session"
FLASH_COOKIE = "wsched_flash"  # what a POST leaves for the page it redirects to (warnings)
FLASH_MAX_AGE_SECONDS = 120
MAX_AGE_SECONDS = 12 * 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_KEY_CONTEXT = b"whatsapp-scheduler dashboard session v1"


class SignInRequired(Exception):
    """No valid signed-in session: pages redirect to /signin, JSON endpoints answer 401."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


class ScopeRefused(Exception):
    """The session's key lacks the scope a page needs (403, naming the scope)."""

    def __init__(self, needed: str) -> None:
        super().__init__(needed)
        self.needed = needed


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    authenticated: bool
    csrf: str
    issued: int  # unix seconds
    sid: str = ""  # signed-in sessions: the random id whose hash the store keeps
    # Not in the cookie: the key it signed in with, read from the store on every request.
    principal: keys.Principal = keys.NOBODY


def signing_key(api_key: str) -> bytes:
    """The cookie-signing key, derived from API_KEY with HMAC (never the key itself)."""
    return hmac.new(api_key.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, data: dict[str, Any]) -> str:
    payload = json.dumps(data, separators=(",", ":")).encode()
    signature = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def _verified(key: bytes, value: str) -> Any:
    """The JSON signed into `value`, or None if it is forged or malformed."""
    try:
        payload_text, signature_text = value.split(".", 1)
        payload = _unb64(payload_text)
        signature = _unb64(signature_text)
    except (ValueError, binascii.Error):
        return None
    if not hmac.compare_digest(signature, hmac.new(key, payload, hashlib.sha256).digest()):
        return None
    try:
        return json.loads(payload)
    except ValueError:
        return None


def encode_session(key: bytes, session: Session) -> str:
    data = {"auth": session.authenticated, "csrf": session.csrf, "iat": session.issued}
    if session.sid:
        data["sid"] = session.sid
    return _sign(key, data)


def _id_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def decode_session(key: bytes, value: str, now: int) -> Session | None:
    """The session in a cookie value, or None if it is forged, malformed or too old."""
    data = _verified(key, value)
    if data is None:
        return None
    try:
        session = Session(
            bool(data["auth"]), str(data["csrf"]), int(data["iat"]), str(data.get("sid", ""))
        )
    except (ValueError, KeyError, TypeError):
        return None
    if not 0 <= now - session.issued <= MAX_AGE_SECONDS:
        return None
    return session


def runtime(request: Request) -> bootstrap.Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _now_seconds(request: Request) -> int:
    return int(runtime(request).clock.now().timestamp())


async def read_session(request: Request) -> Session | None:
    """The request's session: None if the cookie is missing, forged, too old, or signed in but
    ended (signed out, or unknown to the store)."""
    rt = runtime(request)
    value = request.cookies.get(COOKIE)
    if not value or not rt.api_key:
        return None
    session = decode_session(signing_key(rt.api_key), value, _now_seconds(request))
    if session is None or not session.authenticated:
        return session
    if not session.sid:
        return None
    signed_in = await rt.store.session_key(_id_hash(session.sid), rt.clock.now())
    if signed_in is None:
        return None
    if signed_in.name is None:
        return dataclasses.replace(session, principal=keys.ENVIRONMENT)
    key = await rt.store.get_key(signed_in.name)
    if key is None or key.revoked:  # revoked: its session ends at once, on every process
        return None
    return dataclasses.replace(session, principal=keys.Principal.of(key))


async def is_signed_in(request: Request) -> bool:
    """Whether the request carries a valid signed-in dashboard session (used by deps)."""
    session = await read_session(request)
    return session is not None and session.authenticated


async def require_session(request: Request) -> Session:
    """Dependency for dashboard pages and JSON endpoints."""
    session = await read_session(request)
    if session is None or not session.authenticated:
        raise SignInRequired()
    return session


async def require_writer(request: Request) -> Session:
    """Dependency for the dashboard's schedule, cancel and import: the write scope."""
    session = await require_session(request)
    if not session.principal.allows(Scope.WRITE):
        raise ScopeRefused(str(Scope.WRITE))
    return session


def new_session(request: Request) -> Session:
    """An anonymous session (its CSRF token guards the sign-in form); kept in the cookie only."""
    return Session(False, secrets.token_urlsafe(24), _now_seconds(request))


async def start_signed_in(
    request: Request, principal: keys.Principal = keys.ENVIRONMENT
) -> Session:
    """A new signed-in session as `principal`'s key, recorded in the store until it expires or
    is ended (sign-out, or the key revoked)."""
    rt = runtime(request)
    session = Session(
        True,
        secrets.token_urlsafe(24),
        _now_seconds(request),
        secrets.token_urlsafe(32),
        principal,
    )
    now = rt.clock.now()
    expires = now + datetime.timedelta(seconds=MAX_AGE_SECONDS)
    await rt.store.start_session(_id_hash(session.sid), now, expires, principal.name)
    return session


async def end_session(request: Request, session: Session | None) -> None:
    """Sign-out: the session's row goes, so its cookie is refused from now on."""
    if session is not None and session.sid:
        await runtime(request).store.end_session(_id_hash(session.sid))


def set_session_cookie(response: Response, request: Request, session: Session) -> None:
    value = encode_session(signing_key(runtime(request).api_key), session)
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def set_flash(response: Response, request: Request, flash: dict[str, Any]) -> None:
    """Leave `flash` (signed, short-lived) for the next page, e.g. a schedule's warnings."""
    value = _sign(
        signing_key(runtime(request).api_key), {"flash": flash, "iat": _now_seconds(request)}
    )
    response.set_cookie(
        FLASH_COOKIE,
        value,
        max_age=FLASH_MAX_AGE_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def read_flash(request: Request) -> dict[str, Any] | None:
    """The flash left by the previous POST, if it is ours and fresh."""
    value = request.cookies.get(FLASH_COOKIE)
    rt = runtime(request)
    if not value or not rt.api_key:
        return None
    data = _verified(signing_key(rt.api_key), value)
    if not isinstance(data, dict) or not isinstance(data.get("flash"), dict):
        return None
    try:
        age = _now_seconds(request) - int(data["iat"])
    except (KeyError, TypeError, ValueError):
        return None
    return data["flash"] if 0 <= age <= FLASH_MAX_AGE_SECONDS else None


def clear_flash(response: Response) -> None:
    response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="strict")


def check_csrf(request: Request, session: Session | None, token: str | None) -> None:
    """Refuse a POST whose token is not this session's (form field or X-CSRF-Token header)."""
    given = token or request.headers.get(CSRF_HEADER) or ""
    if session is None or not hmac.compare_digest(given.encode(), session.csrf.encode()):
        raise CsrfRefused()


def on_behalf(session: Session, request: service.ScheduleRequest) -> service.ScheduleRequest:
    """`request` as the session's key sends it: recorded as created by the key, and limited
    to the key's senders."""
    request.created_by = session.principal.name
    request.allowed_senders = session.principal.senders
    return request
