"""The dashboard's numbers: what became of the messages due each of the last 14 days (by
status now) and the commonest failure reasons, as a chart on Upcoming that follows the
statuses live (the page asks `/dashboard/api/stats` again every 10 seconds, and 6 seconds
after a status it sees change).

Days are the dashboard's time zone (`TIMEZONE`); a message counts on the day it was due. The
store answers with one indexed GROUP BY read per day (`store/sql_stats.py`); the answer is kept 5
seconds per key scope, so many open dashboards cost one read per 5 s, not one per page.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

import cachetools
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from whatsapp_scheduler import service
from whatsapp_scheduler.web import dashboard, deps, i18n, schemas, sessions
from whatsapp_scheduler.whatsapp import errorcodes

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[sessions.Session, Depends(sessions.require_session)]
DAYS = 14
#: The chart's statuses, bottom of each bar first, and their colours (CSS's status colours).
SERIES = (
    ("read", "#0d7368"),
    ("delivered", "#3f9e8f"),
    ("sent", "#93c9bd"),
    ("sending", "#c9a227"),
    ("queued", "#e3cf8a"),
    ("paused", "#b8a8d9"),
    ("failed", "#b3261e"),
    ("cancelled", "#8a9096"),
)
FAILURES_SHOWN = 5
_CACHE: cachetools.TTLCache[tuple[Any, ...], Any] = cachetools.TTLCache(maxsize=256, ttl=5)


def day_bounds(today: date, zone: zoneinfo.ZoneInfo, days: int = DAYS) -> list[datetime]:
    """Local midnights from `days - 1` days before `today` to the one after it (as aware
    datetimes: the store compares them with UTC times)."""
    first = today - timedelta(days=days - 1)
    return [datetime.combine(first + timedelta(days=i), time(), zone) for i in range(days + 1)]


def _label(day: date, lang: str) -> str:
    return f"{day.day:02d}.{day.month:02d}" if lang == "tr" else day.strftime("%b %d")


async def stats_view(
    svc: service.SchedulerService, session: sessions.Session, lang: str
) -> dict[str, Any]:
    """The chart's data in the reader's language (also what the page embeds at first)."""
    zone = zoneinfo.ZoneInfo(svc.default_timezone)
    today = svc.clock.now().astimezone(zone).date()
    senders = session.principal.senders
    key = (svc.default_timezone, today, tuple(sorted(senders)) if senders is not None else None)
    tally = _CACHE.get(key)
    if tally is None:
        tally = await svc.store.due_tally(day_bounds(today, zone), senders)
        _CACHE[key] = tally
    t = i18n.translator(lang)
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    series = [
        {
            "status": status,
            "label": t(f"status.{status}"),
            "color": color,
            "data": [period.get(status, 0) for period in tally.by_period],
        }
        for status, color in SERIES
    ]
    failures = sorted(tally.failures.items(), key=lambda kv: (-kv[1], kv[0] or 0))
    return {
        "days": [d.isoformat() for d in days],
        "labels": [_label(d, lang) for d in days],
        "series": [s for s in series if any(s["data"])] or series[:1],
        "total": sum(sum(p.values()) for p in tally.by_period),
        "failures": [
            {
                "code": code,
                "count": count,
                "text": (errorcodes.explain(code, lang) or str(code))
                if code is not None
                else t("stats.no_code"),
            }
            for code, count in failures[:FAILURES_SHOWN]
        ],
        "zone": svc.default_timezone,
    }


@router.get("/dashboard/api/stats")
async def stats(request: Request, session: SessionDep, svc: deps.ServiceDep) -> Response:
    """The last 14 days' messages by status and the top failure reasons (JSON)."""
    view = await stats_view(svc, session, dashboard.language(request))
    return Response(schemas.to_json(view), media_type="application/json")
