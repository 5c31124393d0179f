"""The dashboard's plumbing: signed session cookie, CSRF tokens, language and page rendering.

The pages themselves live in `web/routes/dashboard_*.py` and call `service.py` like the REST
API does; this module holds no rules about messages.

Session: an HttpOnly, SameSite=Strict cookie holding `{auth, csrf, iat}` signed with HMAC-SHA256.
The signing key is derived from API_KEY (no new setting), so changing the key signs everyone out.
The cookie never holds the key itself. Every POST must carry the session's CSRF token (form field
`csrf`, or header `X-CSRF-Token` for the page's JavaScript); the sign-in form gets a token from an
anonymous session made when the form is shown.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from whatsapp_scheduler import bootstrap as runtime_mod
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.web import i18n
from whatsapp_scheduler.whatsapp import errorcodes

logger = logging.getLogger(__name__)

COOKIE = "wsched_session"
FLASH_COOKIE = "wsched_flash"  # what a POST leaves for the page it redirects to (warnings)
FLASH_MAX_AGE_SECONDS = 120
MAX_PREV = 20  # cursors kept in `prev=` for "Previous page"; older pages: "First page"
MAX_AGE_SECONDS = 12 * 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
COUNT_UP_TO = 10_000  # pages count matches up to here, then say "or more" (cheap at 1M rows)
_KEY_CONTEXT = b"whatsapp-scheduler dashboard session v1"
HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


class SignInRequired(Exception):
    """No valid signed-in session: pages redirect to /signin, JSON endpoints answer 401."""


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    authenticated: bool
    csrf: str
    issued: int  # unix seconds


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
    return _sign(key, {"auth": session.authenticated, "csrf": session.csrf, "iat": session.issued})


def decode_session(key: bytes, value: str, now: int) -> Session | None:
    """The session in a cookie value, or None if it is forged, malformed or too old."""
    data = _verified(key, value)
    if data is None:
        return None
    try:
        session = Session(bool(data["auth"]), str(data["csrf"]), int(data["iat"]))
    except (ValueError, KeyError, TypeError):
        return None
    if not 0 <= now - session.issued <= MAX_AGE_SECONDS:
        return None
    return session


def runtime(request: Request) -> runtime_mod.Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _now_seconds(request: Request) -> int:
    return int(runtime(request).clock.now().timestamp())


def read_session(request: Request) -> Session | None:
    rt = runtime(request)
    value = request.cookies.get(COOKIE)
    if not value or not rt.api_key:
        return None
    return decode_session(signing_key(rt.api_key), value, _now_seconds(request))


def is_signed_in(request: Request) -> bool:
    """Whether the request carries a valid signed-in dashboard session (used by deps)."""
    session = read_session(request)
    return session is not None and session.authenticated


def require_session(request: Request) -> Session:
    """Dependency for dashboard pages and JSON endpoints."""
    session = read_session(request)
    if session is None or not session.authenticated:
        raise SignInRequired()
    return session


def new_session(request: Request, *, authenticated: bool) -> Session:
    return Session(authenticated, secrets.token_urlsafe(24), _now_seconds(request))


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


def language(request: Request) -> str:
    return i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))


def display_zone(request: Request) -> ZoneInfo:
    return ZoneInfo(runtime(request).settings.timezone)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    session: Session | None = None,
    status_code: int = 200,
) -> Response:
    """Render a page template with the shared context (words, CSRF token, helpers)."""
    lang = language(request)
    zone = display_zone(request)
    base = {
        "lang": lang,
        "other_lang": "tr" if lang == "en" else "en",
        "t": i18n.translator(lang),
        "csrf": session.csrf if session is not None else "",
        "signed_in": session is not None and session.authenticated,
        "path": request.url.path,
        "zone_name": zone.key,
        "local": lambda when: format_local(when, zone),
        "explain": lambda code: errorcodes.explain(code, lang),
        "status_label": lambda status: i18n.translator(lang)(f"status.{status}"),
        "template_view": template_view,
    }
    base.update(context or {})
    response = templates.TemplateResponse(request, name, base, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def format_local(when: datetime | None, zone: ZoneInfo) -> str:
    if when is None:
        return ""
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def time_left(due_at: datetime, now: datetime) -> str:
    """`1d 2h`, `3h 05m`, `4m 07s`, `12s`; "" when due."""
    seconds = int((due_at - now).total_seconds())
    if seconds <= 0:
        return ""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def template_view(template: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stored template (Meta's shape) for display: name, language code, body parameters.

    Non-text parameters show as `[type]`; components other than the body are listed by type.
    """
    if not isinstance(template, Mapping):
        return None
    language = template.get("language")
    code = language.get("code") if isinstance(language, Mapping) else language
    parameters: list[str] = []
    components: list[str] = []
    for component in template.get("components") or []:
        if not isinstance(component, Mapping):
            continue
        kind = str(component.get("type"))
        if kind != "body":
            sub_type = component.get("sub_type")
            components.append(f"{kind} {sub_type}" if sub_type else kind)
            continue
        for parameter in component.get("parameters") or []:
            if not isinstance(parameter, Mapping):
                continue
            if parameter.get("type") == "text":
                parameters.append(str(parameter.get("text", "")))
            else:
                parameters.append(f"[{parameter.get('type')}]")
    return {
        "name": str(template.get("name", "")),
        "language": str(code or ""),
        "parameters": parameters,
        "components": components,
    }


def paging_links(
    path: str,
    query: Mapping[str, str],
    cursor: str | None,
    prev: Sequence[str],
    next_cursor: str | None,
) -> dict[str, str | None]:
    """Keyset paging links: first, previous and next page, keeping the filters in `query`.

    The cursors of the pages before this one ride along as `prev=` (at most MAX_PREV; the
    first page has no cursor). "Previous" pops the last one; with none left it is the first
    page. Every page is still one keyset read: no OFFSET, nothing counted backwards.
    """
    base = [(k, v) for k, v in query.items() if v]
    stack = [p for p in prev if p][-MAX_PREV:]

    def url(at: str | None, earlier: Sequence[str]) -> str:
        params = base + [("prev", p) for p in earlier] + ([("cursor", at)] if at else [])
        return path + (f"?{urlencode(params)}" if params else "")

    first = url(None, []) if cursor else None
    previous = (url(stack[-1], stack[:-1]) if stack else first) if cursor else None
    after = ([*stack, cursor] if cursor else stack)[-MAX_PREV:]
    following = url(next_cursor, after) if next_cursor else None
    return {"first": first, "previous": previous, "next": following}


def live_event(message: messages.ScheduledMessage, lang: str, zone: ZoneInfo) -> dict[str, Any]:
    """What the page's live view gets for one message (SSE `data:`); times in `zone`."""
    return {
        "id": message.id,
        "status": str(message.status),
        "label": i18n.translator(lang)(f"status.{message.status}"),
        "updated_at": message.updated_at.isoformat(),
        "transitions": {str(k): format_local(v, zone) for k, v in message.transitions().items()},
        "error": errorcodes.explain(message.last_error_code, lang),
    }


def safe_next(value: str | None) -> str:
    """A local path to go back to; anything else (other sites, `//host`) becomes `/`."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"
