"""`/templates`: Meta's template catalogue as last synced (docs/templates.md); read scope.

Answered from the `templates` table (`templates sync`, the timed sync, the template
webhooks), never from Meta. A key limited to some senders sees only their WABAs' templates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from whatsapp_scheduler.core import errors
from whatsapp_scheduler.core.catalogue import CatalogueTemplate
from whatsapp_scheduler.service.templates import TemplateCatalogue, TemplateFilter
from whatsapp_scheduler.web import deps, schemas

router = APIRouter(tags=["templates"])

_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorPublic, "description": "X-API-Key missing or wrong"},
    422: {"model": schemas.ErrorPublic, "description": "A filter breaks a rule"},
    503: {"model": schemas.ErrorPublic, "description": "The database is unavailable"},
}


class TemplatePublic(BaseModel):
    """One template of a WhatsApp Business Account, as Meta listed it at the last sync (or
    as a template webhook changed it since)."""

    waba_id: str = Field(description="The WhatsApp Business Account it belongs to.")
    name: str = Field(examples=["randevu_hatirlatma"])
    language: str = Field(examples=["tr"])
    status: str = Field(description="APPROVED, PENDING, REJECTED, PAUSED, DISABLED ...")
    category: str = Field(description="MARKETING, UTILITY or AUTHENTICATION.")
    parameter_format: str = Field(description="POSITIONAL ({{1}}) or NAMED ({{customer}}).")
    quality: str | None = Field(description="Meta's quality score: GREEN, YELLOW, RED, UNKNOWN.")
    body_parameters: list[str] = Field(
        description="The body's variables in order: ['1', '2'] or ['customer', 'order_id']."
    )
    components: list[dict[str, Any]] = Field(
        description="Meta's components (HEADER, BODY, FOOTER, BUTTONS) as listed."
    )
    template_id: str | None = Field(description="Meta's id of the template.")
    updated_at: datetime = Field(description="When it was last synced or changed by webhook.")

    @classmethod
    def of(cls, t: CatalogueTemplate) -> TemplatePublic:
        return cls(
            waba_id=t.waba_id,
            name=t.name,
            language=t.language,
            status=t.status,
            category=t.category,
            parameter_format=t.parameter_format,
            quality=t.quality,
            body_parameters=t.body_variables(),
            components=[dict(c) for c in t.components],
            template_id=t.template_id,
            updated_at=t.updated_at,
        )


def _catalogue(runtime: deps.RuntimeDep) -> TemplateCatalogue:
    if runtime.templates is None:
        raise errors.ConfigurationError("the template catalogue is not set up")
    return runtime.templates


async def _visible(
    catalogue: TemplateCatalogue, who: Any, query: TemplateFilter
) -> list[CatalogueTemplate]:
    wabas = None if who.senders is None else await catalogue.sender_wabas(who.senders)
    return await catalogue.list(query, wabas)


@router.get("/templates", responses=_REFUSALS)
async def list_templates(
    runtime: deps.RuntimeDep,
    who: deps.ReaderDep,
    name: Annotated[str | None, Query(max_length=512, description="Exact name.")] = None,
    language: Annotated[str | None, Query(max_length=16, description="e.g. tr, en_US.")] = None,
    status: Annotated[str | None, Query(max_length=32, description="e.g. APPROVED.")] = None,
    category: Annotated[str | None, Query(max_length=32, description="e.g. MARKETING.")] = None,
    waba_id: Annotated[str | None, Query(max_length=32, description="One WABA only.")] = None,
) -> list[TemplatePublic]:
    """The synced templates, by WABA, name and language; filters combine (read scope)."""
    query = TemplateFilter(name, language, status, category, waba_id)
    return [TemplatePublic.of(t) for t in await _visible(_catalogue(runtime), who, query)]


@router.get(
    "/templates/{name}",
    responses={
        **_REFUSALS,
        404: {"model": schemas.ErrorPublic, "description": "No synced template has that name"},
    },
)
async def get_template(
    runtime: deps.RuntimeDep,
    who: deps.ReaderDep,
    name: Annotated[str, Path(max_length=512, description="The template's name.")],
    language: Annotated[str | None, Query(max_length=16, description="One language.")] = None,
) -> list[TemplatePublic]:
    """Every language of one template (each WABA that has it); 404 when none is synced."""
    query = TemplateFilter(name=name, language=language)
    found = await _visible(_catalogue(runtime), who, query)
    if not found:
        raise errors.NotFound(f"name: no synced template named {name!r} (templates sync)")
    return [TemplatePublic.of(t) for t in found]


class SyncPublic(BaseModel):
    """What a sync of one WhatsApp Business Account did."""

    waba_id: str
    senders: list[str] = Field(description="The senders whose messages use this catalogue.")
    templates: int = Field(description="Templates stored (0 when it failed).")
    error: str | None = Field(description="Why Meta's list could not be read; null: synced.")


@router.post(
    "/templates/sync",
    responses={
        **_REFUSALS,
        403: {"model": schemas.ErrorPublic, "description": "Needs an admin key for every sender"},
    },
)
async def sync_templates(runtime: deps.RuntimeDep, who: deps.ManagerDep) -> list[SyncPublic]:
    """Read every sender's WABA catalogue from Meta now (what the timed sync does every
    TEMPLATE_SYNC_SECONDS); a WABA that fails keeps its last catalogue and says why."""
    results = await _catalogue(runtime).sync()
    return [
        SyncPublic(waba_id=r.waba_id, senders=list(r.senders), templates=r.count, error=r.error)
        for r in results
    ]
