"""The dashboard's views: language, page rendering and what its pages show (local times, time
left, template summaries, paging links, live events). Sign-in sessions, the flash cookie and
CSRF are in `web/sessions.py`.

The pages themselves live in `web/routes/dashboard_*.py` and call the service like the REST
API does; this module holds no rules about messages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.core.senders import Scope
from whatsapp_scheduler.web import i18n, sessions
from whatsapp_scheduler.whatsapp import errorcodes

logger = logging.getLogger(__name__)

MAX_PREV = 20  # cursors kept in `prev=` for "Previous page"; older pages: "First page"
COUNT_UP_TO = 10_000  # pages count matches up to here, then say "or more" (cheap at 1M rows)
HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def language(request: Request) -> str:
    return i18n.choose(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))


def display_zone(request: Request) -> ZoneInfo:
    return ZoneInfo(sessions.runtime(request).settings.timezone)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    session: sessions.Session | None = None,
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
        # What the session's key may do: a read key gets no schedule, cancel or import forms.
        "can_write": session is not None and session.principal.allows(Scope.WRITE),
        "key_name": session.principal.label if session is not None else "",
        "path": request.url.path,
        "zone_name": zone.key,
        "local": lambda when: format_local(when, zone, lang),
        "day": lambda value: i18n.format_day(value, lang),  # 2026-12-03 / 03.12.2026
        "number": lambda value: i18n.format_number(value, lang),  # 12,345 / 12.345
        "explain": lambda code: errorcodes.explain(code, lang),
        "status_label": lambda status: i18n.translator(lang)(f"status.{status}"),
        "template_view": template_view,
        # MARKETING -> "marketing" / "pazarlama"; an unknown category as it is.
        "category_label": lambda c: (
            i18n.translator(lang)(f"category.{c}") if f"category.{c}" in i18n.TEXTS["en"] else c
        ),
        "param_error": lambda error: param_error(error, lang),
        # A refusal in the reader's words (web/locale's catalogue), the API's own text kept.
        "error_text": lambda error: i18n.error_text(error, lang),
        "sandbox_inbox": sandbox_inbox(request),
    }
    base.update(context or {})
    response = templates.TemplateResponse(request, name, base, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def param_error(error: errors.ValidationFailed, lang: str) -> str:
    """A refused query parameter in the reader's words: the cursor and the history's dates
    get a sentence in `lang`; other fields keep the service's own rule (the API's words)."""
    t = i18n.translator(lang)
    if error.field == "cursor":
        return t("error.cursor")
    if error.field in ("date_from", "date_to"):
        return t("error.date", param=error.field)
    return i18n.error_text(error, lang)


def attempt_outcomes(
    message: messages.ScheduledMessage, attempts: Sequence[messages.Attempt]
) -> list[str]:
    """Each attempt's outcome as the page names it (a key of `attempt_outcome.*`): as stored,
    except the last attempt of a message that failed for good, whose `retry` or `ambiguous`
    was the one that used up the attempts (`final`: "failed: no attempts left")."""
    keys = [str(a.outcome) for a in attempts]
    final = message.status == messages.MessageStatus.FAILED
    if final and keys and keys[-1] in {"retry", "ambiguous"}:
        keys[-1] = "final"
    return keys


def retrying_at(message: messages.ScheduledMessage, now: datetime) -> datetime | None:
    """When a queued message that has failed before is tried next (None: not retrying)."""
    waiting = message.status == messages.MessageStatus.QUEUED and message.attempts > 0
    return message.run_at if waiting and message.run_at > now else None


def sandbox_inbox(request: Request) -> str | None:
    """The sandbox inbox's address in sandbox mode (the stand-in serves it at its root), for
    the banner on every page; None otherwise."""
    settings = sessions.runtime(request).settings
    return settings.graph_api_url.rstrip("/") + "/" if settings.sandbox else None


def format_local(when: datetime | None, zone: ZoneInfo, lang: str = i18n.DEFAULT) -> str:
    """`when` in `zone`, to the second, as `lang`'s readers write dates (i18n.format_moment)."""
    if when is None:
        return ""
    try:
        return i18n.format_moment(when.astimezone(zone), lang)
    except OverflowError:  # a stored time at the calendar's end (9999-12-31) plus an offset
        return when.strftime("%Y-%m-%d %H:%M:%S UTC")


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
        "gonderen": message.sender,
        "status": str(message.status),
        "label": i18n.translator(lang)(f"status.{message.status}"),
        "updated_at": message.updated_at.isoformat(),
        "transitions": {
            str(k): format_local(v, zone, lang) for k, v in message.transitions().items()
        },
        "error": errorcodes.explain(message.last_error_code, lang),
    }


def safe_next(value: str | None) -> str:
    """A local path to go back to; anything else (other sites, `//host`) becomes `/`."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"
