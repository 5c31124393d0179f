"""Dashboard: Meta's template catalogue (a page with status and category, a sync button for
an admin key) and the compose form's template preview (`/dashboard/api/template`).

Both read the service's `TemplateCatalogue` (service/templates.py), the same copy that checks
`POST /schedule`, so what the picker offers is what the service accepts. A key limited to some
senders sees only their WABAs' templates.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from whatsapp_scheduler import service
from whatsapp_scheduler.core import catalogue
from whatsapp_scheduler.core import senders as senders_mod
from whatsapp_scheduler.core.senders import Scope
from whatsapp_scheduler.service.templates import TemplateCatalogue, TemplateFilter
from whatsapp_scheduler.web import dashboard, deps, i18n, sessions

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[sessions.Session, Depends(sessions.require_session)]
#: Statuses the compose picker offers (a PAUSED one is accepted, with a warning).
PICKABLE = frozenset({catalogue.APPROVED, catalogue.PAUSED})
#: The catalogue page shows at most this many rows (Meta allows 6,000 per WABA): filters narrow.
PAGE_LIMIT = 500
SHORT_BODY = 120


def _visible_senders(session: sessions.Session, known: list[str]) -> list[str]:
    allowed = session.principal.narrow(None)
    return [n for n in known if allowed is None or n in allowed]


async def sender_choices(svc: service.SchedulerService, session: sessions.Session) -> list[str]:
    """The senders this session's key may send from (enabled ones), default first."""
    states = await svc.sender_states()
    names = [n for n, on in states.items() if on] if states is not None else [svc.default_sender]
    visible = _visible_senders(session, sorted(names))
    if svc.default_sender in visible:
        visible.remove(svc.default_sender)
        visible.insert(0, svc.default_sender)
    return visible


async def picker_names(catalogue_: TemplateCatalogue | None, sender: str) -> list[tuple[str, str]]:
    """(name, language) of the sender's templates that the compose form may pick."""
    if catalogue_ is None:
        return []
    return [t.key for t in await catalogue_.of_sender(sender) if t.status in PICKABLE]


@router.get("/catalogue")
async def catalogue_page(
    request: Request,
    session: SessionDep,
    runtime: deps.RuntimeDep,
    q: Annotated[str, Query(max_length=512)] = "",
    language: Annotated[str, Query(max_length=16)] = "",
    status: Annotated[str, Query(max_length=32)] = "",
    category: Annotated[str, Query(max_length=32)] = "",
    synced: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """Every synced template this key may see: name, language, status, category, quality and
    the body's start; filters by part of the name, language, status and category."""
    found: list[catalogue.CatalogueTemplate] = []
    templates = runtime.templates
    if templates is not None:
        allowed = session.principal.narrow(None)
        wabas = None if allowed is None else await templates.sender_wabas(allowed)
        query = TemplateFilter(
            language=language.strip() or None,
            status=status.strip() or None,
            category=category.strip() or None,
        )
        needle = q.strip().casefold()
        found = [
            t
            for t in await templates.list(query, wabas)
            if not needle or needle in t.name.casefold()
        ]
    found.sort(key=lambda t: (t.name, t.language, t.waba_id))
    rows = [
        {
            "t": t,
            "body": _short(str(t.part("BODY").get("text", ""))),
            "variables": t.body_variables(),
            "pickable": t.status in PICKABLE,
        }
        for t in found[:PAGE_LIMIT]
    ]
    context = {
        "rows": rows,
        "total": len(found),
        "limit": PAGE_LIMIT,
        "configured": templates is not None,
        "can_sync": session.principal.allows(Scope.ADMIN) and templates is not None,
        "filters": {"q": q, "language": language, "status": status, "category": category},
        "statuses": ["APPROVED", "PENDING", "PAUSED", "REJECTED", "DISABLED"],
        "categories": sorted(catalogue.CATEGORIES),
        "synced": synced,
    }
    return dashboard.render(request, "catalogue.html", context, session=session)


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHORT_BODY else flat[: SHORT_BODY - 1] + "…"


@router.post("/catalogue/sync")
async def catalogue_sync(
    request: Request,
    session: SessionDep,
    runtime: deps.RuntimeDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Read every WABA's templates from Meta now (what `POST /templates/sync` does): an admin
    key's button. The page after it says how many were stored, or why a WABA failed."""
    sessions.check_csrf(request, session, csrf)
    if not session.principal.allows(Scope.ADMIN):
        raise sessions.ScopeRefused(Scope.ADMIN)
    if runtime.templates is None:
        return RedirectResponse("/catalogue", status_code=303)
    results = await runtime.templates.sync()
    failed = [r for r in results if r.error]
    for r in failed:
        logger.warning("dashboard template sync failed", extra={"waba_id": r.waba_id})
    outcome = "failed" if failed else "ok"
    return RedirectResponse(f"/catalogue?synced={outcome}", status_code=303)


@router.get("/dashboard/api/template")
async def template_preview(
    request: Request,
    session: SessionDep,
    runtime: deps.RuntimeDep,
    svc: deps.ServiceDep,
    name: Annotated[str, Query(max_length=512)] = "",
    language: Annotated[str, Query(max_length=16)] = "",
    sender: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The synced template the compose form names, for its preview: header, body, footer and
    buttons as Meta holds them, its variables, status and category. `{"found": false}` when
    the sender's catalogue has no such template (or no catalogue is synced)."""
    chosen = sender.strip() or svc.default_sender
    allowed = session.principal.narrow(None)
    if not senders_mod.valid_name(chosen) or (allowed is not None and chosen not in allowed):
        return JSONResponse({"found": False, "reason": "sender"})
    templates = runtime.templates
    found = (
        await templates.find(chosen, name.strip(), language.strip())
        if templates is not None
        else None
    )
    if found is None:
        others = []
        if templates is not None and name.strip():
            others = [
                t.language for t in await templates.of_sender(chosen) if t.name == name.strip()
            ]
        return JSONResponse({"found": False, "languages": others})
    header = found.header()
    t = i18n.translator(dashboard.language(request))
    status_key, category_key = f"catalogue.status.{found.status}", f"category.{found.category}"
    return JSONResponse(
        {
            "found": True,
            "status_label": t(status_key) if status_key in i18n.TEXTS["en"] else found.status,
            "category_label": (
                t(category_key) if category_key in i18n.TEXTS["en"] else found.category
            ),
            "name": found.name,
            "language": found.language,
            "status": found.status,
            "category": found.category,
            "parameter_format": found.parameter_format,
            "variables": found.body_variables(),
            "header_format": str(header.get("format", "TEXT")).upper() if header else None,
            "header": str(header.get("text", "")) if header else None,
            "body": str(found.part("BODY").get("text", "")),
            "footer": found.part("FOOTER").get("text"),
            "buttons": [str(b.get("text", "")) for b in found.buttons()],
        }
    )


@router.get("/dashboard/api/template-names")
async def template_names(
    session: SessionDep,
    runtime: deps.RuntimeDep,
    sender: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The names and languages the compose form's picker offers for `sender` (after the
    sender is changed in the form)."""
    allowed = session.principal.narrow(None)
    if not senders_mod.valid_name(sender) or (allowed is not None and sender not in allowed):
        return JSONResponse({"names": [], "languages": []})
    picks = await picker_names(runtime.templates, sender)
    return JSONResponse(
        {"names": sorted({n for n, _ in picks}), "languages": sorted({lang for _, lang in picks})}
    )
