"""Dashboard: campaigns (docs/campaigns.md; docs/dashboard.md, "Campaigns"): the list, the
create wizard, one campaign's page with its funnel (a chart that follows the messages live),
its controls, its recipients and its CSV export.

Every page calls `CampaignService` as `web/routes/campaigns.py` does (never HTTP to itself).
The wizard is one form in four parts (audience, content, time, summary): "Check" runs the
real `CampaignService.create` with `dry_run` and shows who would get it and who would be
skipped and why; "Create" runs it again, storing. A refusal of the whole campaign is the form
again, as typed, with the field named in the page's language. While the user types, the page's
script asks `/dashboard/api/audience/batch` how many contacts match (counted in SQL by
`ContactService.audience`) and for a preview of the content for a few of them.

The funnel's live view is an SSE stream (`/dashboard/api/campaigns/{id}/funnel`) that re-reads
the funnel (tallies, not a count of rows) every POLL_SECONDS and sends it when it changed; like
`dashboard_live`'s, each stream ends after STREAM_SECONDS and the browser reconnects.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import zoneinfo
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from whatsapp_scheduler import bootstrap, service
from whatsapp_scheduler.core import campaigns, catalogue, contacts, errors, messages
from whatsapp_scheduler.service import campaigns as campaigns_service
from whatsapp_scheduler.web import dashboard, deps, i18n, sessions
from whatsapp_scheduler.web.routes import campaigns as campaigns_routes
from whatsapp_scheduler.web.routes import dashboard_pages, dashboard_stats, dashboard_templates
from whatsapp_scheduler.whatsapp import errorcodes

logger = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[sessions.Session, Depends(sessions.require_session)]
WriterDep = Annotated[sessions.Session, Depends(sessions.require_writer)]
PrevQuery = Annotated[list[str], Query(max_length=512)]
CursorQuery = Annotated[str | None, Query(max_length=512)]
S = messages.MessageStatus
PAGE_SIZE = 50
RECIPIENTS_PAGE = 100
SAMPLE = 3  # contacts the preview is shown for
REFUSALS_SHOWN = 20
MAX_PARAMS = 10  # parameter rows the wizard offers
POLL_SECONDS = 1.5
STREAM_SECONDS = 10.0
#: The funnel in the order a message goes through it, with the stats chart's colours.
FUNNEL = ("queued", "sending", "sent", "delivered", "read", "failed", "cancelled", "paused")
COLOURS = dict(dashboard_stats.SERIES)
#: What a parameter row may take from the contact (or "fixed": the text as typed).
PARAM_FIELDS = ("name", "phone", "language", "timezone", "attribute", "fixed")
#: The API's fields (a refusal's `field`, up to its first dot) and the wizard's input.
_FIELD_INPUTS = {
    "name": "name",
    "gonderen": "sender",
    "audience": "labels",
    "mesaj": "text",
    "template": "template",
    "tarih": "date",
    "saat": "time",
    "timezone": "zone",
    "pacing_minutes": "pacing",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Param:
    """One template parameter as the wizard maps it: a contact field (or a fixed text), the
    attribute's key, and the default for a contact without it."""

    field: str = "name"
    key: str = ""
    default: str = ""

    def placeholder(self) -> str:
        """The parameter as `POST /campaigns` takes it: `{{name|default}}`,
        `{{attributes.city}}`, or the fixed text."""
        if self.field == "fixed":
            return self.key
        path = f"attributes.{self.key.strip()}" if self.field == "attribute" else self.field
        default = self.default.strip()
        return "{{" + path + (f"|{default}" if default else "") + "}}"


@dataclasses.dataclass(frozen=True, slots=True)
class CampaignForm:
    """What the wizard holds, shown again as typed when the service refuses it."""

    name: str = ""
    sender: str = ""
    labels: str = ""  # comma separated
    attributes: str = ""  # key=value, one a line
    phones: str = ""  # one a line (or separated by commas)
    kind: str = "text"  # "text" | "template"
    text: str = ""
    template: str = ""  # "name|language" of the catalogue
    params: tuple[Param, ...] = ()
    date: str = ""
    time: str = ""
    zone: str = ""
    local_time: bool = False
    pacing: str = ""

    @classmethod
    def of(cls, form: Mapping[str, Any], getlist: Any) -> CampaignForm:
        def text(name: str, most: int = 200_000) -> str:
            value = form.get(name)
            return value[:most] if isinstance(value, str) else ""

        params = tuple(
            Param(str(f) if f in PARAM_FIELDS else "fixed", str(k)[:1024], str(d)[:1024])
            for f, k, d in zip(
                getlist("param_field"), getlist("param_key"), getlist("param_default"), strict=False
            )
        )[:MAX_PARAMS]
        return cls(
            name=text("name", 400),
            sender=text("gonderen", 64),
            labels=text("labels", 4000),
            attributes=text("attributes", 8000),
            phones=text("phones"),
            kind="template" if text("kind") == "template" else "text",
            text=text("text", 8000),
            template=text("template", 600),
            params=params,
            date=text("date", 64),
            time=text("time", 16),
            zone=text("zone", 64),
            local_time=text("local_time") in {"1", "on", "true"},
            pacing=text("pacing", 16),
        )

    def label_list(self) -> list[str]:
        return [p.strip() for p in self.labels.split(",") if p.strip()]

    def attribute_map(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in self.attributes.replace("\r\n", "\n").split("\n"):
            if not line.strip():
                continue
            key, equals, value = line.partition("=")
            if not equals or not key.strip():
                raise errors.ValidationFailed(
                    "audience.attributes", "write one key=value a line ({line!r})", line=line[:60]
                )
            found[key.strip()] = value.strip()
        return found

    def phone_list(self) -> list[str]:
        text = self.phones.replace("\r\n", "\n").replace(",", "\n").replace(";", "\n")
        return [p.strip() for p in text.split("\n") if p.strip()]

    def template_key(self) -> tuple[str, str]:
        name, _, language = self.template.partition("|")
        return name.strip(), language.strip()

    def template_body(self, found: catalogue.CatalogueTemplate | None) -> dict[str, Any]:
        """The template as `POST /campaigns` takes it: positional parameters as a list, a
        NAMED template's as its body's named parameters; as many as the catalogue's body has
        variables (without the catalogue: the rows up to the last one filled in)."""
        name, language = self.template_key()
        body: dict[str, Any] = {"name": name, "language": language}
        rows = list(self.params)
        if found is not None:
            rows = (rows + [Param()] * MAX_PARAMS)[: len(found.body_variables())]
        else:
            while rows and not rows[-1].key.strip() and rows[-1].field in {"fixed", "attribute"}:
                rows.pop()
        values = [p.placeholder() for p in rows]
        if found is not None and found.named and values:
            parameters = [
                {"type": "text", "parameter_name": variable, "text": value}
                for variable, value in zip(found.body_variables(), values, strict=False)
            ]
            body["components"] = [{"type": "body", "parameters": parameters}]
        elif values:
            body["parameters"] = values
        return body

    def pacing_minutes(self) -> int | None:
        if not self.pacing.strip():
            return None
        if not self.pacing.strip().isdigit() or len(self.pacing.strip()) > 6:
            raise errors.ValidationFailed("pacing_minutes", "must be a whole number of minutes")
        return int(self.pacing.strip())

    def to_request(
        self,
        session: sessions.Session,
        found: catalogue.CatalogueTemplate | None,
        *,
        dry_run: bool,
    ) -> campaigns_service.CampaignRequest:
        is_template = self.kind == "template"
        return campaigns_service.CampaignRequest(
            name=self.name,
            tarih=self.date,
            saat=self.time,
            gonderen=self.sender.strip() or None,
            mesaj=None if is_template else self.text.replace("\r\n", "\n"),
            template=self.template_body(found) if is_template else None,
            labels=self.label_list() or None,
            attributes=self.attribute_map() or None,
            phones=self.phone_list() or None,
            timezone=self.zone or None,
            local_time=self.local_time,
            pacing_minutes=self.pacing_minutes(),
            dry_run=dry_run,
            created_by=session.principal.name,
            allowed_senders=session.principal.senders,
        )


# -- the list ---------------------------------------------------------------------------


@router.get("/dashboard/campaigns")
async def campaign_list(
    request: Request,
    session: SessionDep,
    svc: deps.ServiceDep,
    gonderen: Annotated[str, Query(max_length=64)] = "",
    cursor: CursorQuery = None,
    prev: PrevQuery = [],  # noqa: B006 (FastAPI copies query defaults)
) -> Response:
    """Campaigns, newest first, PAGE_SIZE a page (keyset: after the last one's time and id),
    with their funnel's numbers; due times in the dashboard's zone."""
    senders = session.principal.senders
    error: errors.SchedulerError | None = None
    rows: list[tuple[campaigns.Campaign, campaigns.Counts, str]] = []
    more = False
    try:
        after = None
        if cursor:
            last = await svc.campaigns.get(cursor, senders)
            after = (last.created_at, last.id)
        found = await svc.campaigns.list(senders, gonderen.strip() or None, after, PAGE_SIZE + 1)
        more = len(found) > PAGE_SIZE
        for c in found[:PAGE_SIZE]:
            counts = await svc.store.campaign_counts(c.id)
            rows.append((c, counts, str(campaigns.status_of(c, counts))))
    except errors.NotFound:
        error = errors.ValidationFailed("cursor", "must be the id of a campaign of a page")
    except errors.ValidationFailed as exc:
        error = exc
    next_cursor = rows[-1][0].id if more and rows else None
    query = {"gonderen": gonderen}
    context = {
        "rows": rows,
        "error": error,
        "query": query,
        "sender_names": await dashboard_pages._sender_names(svc, session, gonderen),
        "links": dashboard.paging_links("/dashboard/campaigns", query, cursor, prev, next_cursor),
    }
    return dashboard.render(
        request,
        "campaigns.html",
        context,
        session=session,
        status_code=422 if error is not None else 200,
    )


# -- the wizard ---------------------------------------------------------------------------


async def _picks(runtime: bootstrap.Runtime, sender: str) -> list[dict[str, Any]]:
    """The sender's templates the wizard may pick (approved or paused), with their body's
    variables (how many parameter rows to show)."""
    if runtime.templates is None:
        return []
    return [
        {
            "value": f"{t.name}|{t.language}",
            "label": f"{t.name} ({t.language})",
            "variables": list(t.body_variables()),
            "body": str(t.part("BODY").get("text", "")),
        }
        for t in await runtime.templates.of_sender(sender)
        if t.status in dashboard_templates.PICKABLE
    ]


async def _chosen_template(
    runtime: bootstrap.Runtime, sender: str, form: CampaignForm
) -> catalogue.CatalogueTemplate | None:
    if form.kind != "template" or runtime.templates is None or not form.template:
        return None
    return await runtime.templates.find(sender, *form.template_key())


async def _wizard_page(
    request: Request,
    session: sessions.Session,
    svc: service.SchedulerService,
    runtime: bootstrap.Runtime,
    form: CampaignForm,
    *,
    error: errors.SchedulerError | None = None,
    summary: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    choices = await dashboard_templates.sender_choices(svc, session)
    sender = form.sender.strip() or (choices[0] if choices else svc.default_sender)
    lang = dashboard.language(request)
    field = error.field if isinstance(error, errors.ValidationFailed) else ""
    context = {
        "form": form,
        "sender_choices": choices,
        "picks": await _picks(runtime, sender),
        "param_fields": PARAM_FIELDS,
        "max_params": MAX_PARAMS,
        "rows": (list(form.params) + [Param()] * MAX_PARAMS)[:MAX_PARAMS],
        "zone_choices": dashboard_pages.zone_choices(svc.clock.now()),
        "default_zone": svc.default_timezone,
        "error": error,
        "error_said": i18n.error_text(error, lang) if error is not None else "",
        "invalid": _FIELD_INPUTS.get(field.split(".", 1)[0].split("[", 1)[0], "") if field else "",
        "invalid_field": field,
        "summary": summary,
    }
    return dashboard.render(
        request, "campaign_new.html", context, session=session, status_code=status_code
    )


@router.get("/dashboard/campaigns/new")
async def wizard(
    request: Request, session: WriterDep, svc: deps.ServiceDep, runtime: deps.RuntimeDep
) -> Response:
    today = svc.clock.now().astimezone(zoneinfo.ZoneInfo(svc.default_timezone)).date()
    form = CampaignForm(date=today.isoformat(), zone=svc.default_timezone)
    return await _wizard_page(request, session, svc, runtime, form)


def _reason_label(code: str, lang: str) -> str:
    key = f"campaign.reason.{code}"
    return i18n.translator(lang)(key) if key in i18n.TEXTS["en"] else code


def summary_of(created: campaigns_service.Created, lang: str) -> dict[str, Any]:
    """The dry run's answer in the page's words: recipients, refused by reason, DST moves."""
    return {
        "recipients": created.campaign.recipients,
        "refused": created.campaign.refused,
        "shifted": created.campaign.shifted,
        "first_due_at": created.campaign.first_due_at,
        "last_due_at": created.campaign.last_due_at,
        "reasons": [
            {"code": code, "label": _reason_label(code, lang), "count": n}
            for code, n in sorted(created.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "refusals": [
            {
                "phone": r.phone,
                "reason": _reason_label(r.reason, lang),
                "field": r.field,
                "rule": r.rule if r.error is None else i18n.rule_text(r.error, lang),
            }
            for r in created.refusals[:REFUSALS_SHOWN]
        ],
        "more": max(0, len(created.refusals) - REFUSALS_SHOWN),
    }


@router.post("/dashboard/campaigns/batch")
async def wizard_submit(
    request: Request, session: WriterDep, svc: deps.ServiceDep, runtime: deps.RuntimeDep
) -> Response:
    """ "Check" (a dry run: the summary) or "Create" (stored; to the campaign's page). The
    path ends in /batch: the explicit numbers may be up to 10,000 (a 1 MiB body)."""
    data = await request.form()
    token = data.get("csrf")
    sessions.check_csrf(request, session, token if isinstance(token, str) else None)
    form = CampaignForm.of(data, data.getlist)
    create = data.get("action") == "create"
    lang = dashboard.language(request)
    try:
        sender, _ = await svc.consent.sender_numbers(
            form.sender.strip() or None, session.principal.senders
        )
        found = await _chosen_template(runtime, sender, form)
        created = await svc.campaigns.create(form.to_request(session, found, dry_run=not create))
    except errors.ValidationFailed as exc:
        return await _wizard_page(request, session, svc, runtime, form, error=exc, status_code=422)
    summary = summary_of(created, lang)
    if create and created.stored:
        return RedirectResponse(
            f"/dashboard/campaigns/{created.campaign.id}?created=1", status_code=303
        )
    if create:  # nobody passed: nothing stored, the summary says why
        summary["nobody"] = True
        return await _wizard_page(
            request, session, svc, runtime, form, summary=summary, status_code=422
        )
    return await _wizard_page(request, session, svc, runtime, form, summary=summary)


def _preview_of(
    form: CampaignForm,
    found: catalogue.CatalogueTemplate | None,
    profile: contacts.Profile,
    lang: str,
) -> dict[str, Any]:
    """The content as this contact would get it (`core.campaigns.render`), or why not."""
    t = i18n.translator(lang)
    who = {"phone": profile.phone, "name": profile.name or ""}
    try:
        if form.kind == "template":
            body = form.template_body(found)
            filled = campaigns.render(body, profile)
            if found is None:
                return who | {"text": " · ".join(str(v) for v in filled.get("parameters", []))}
            shown = catalogue.preview(found, catalogue.sent_parameters(_meta_shape(filled)))
            return who | {"text": shown.body}
        return who | {"text": campaigns.render(form.text, profile)}
    except campaigns.Missing as exc:
        return who | {"missing": t("campaign.missing", field=exc.path)}


def _meta_shape(template: Mapping[str, Any]) -> dict[str, Any]:
    """The wizard's template with its parameters in Meta's send shape (for the preview)."""
    if "components" in template:
        return dict(template)
    parameters = [{"type": "text", "text": str(v)} for v in template.get("parameters", [])]
    return {**template, "components": [{"type": "body", "parameters": parameters}]}


@router.post("/dashboard/api/audience/batch")
async def audience_count(
    request: Request, session: WriterDep, svc: deps.ServiceDep, runtime: deps.RuntimeDep
) -> JSONResponse:
    """The wizard's live count: `{"count", "text", "sample": [{phone, name, text|missing}]}`
    or `{"error": ..., "field": ...}` (422) for a bad label, attribute or sender."""
    data = await request.form()
    sessions.check_csrf(request, session, None)
    form = CampaignForm.of(data, data.getlist)
    lang = dashboard.language(request)
    t = i18n.translator(lang)
    try:
        overview = await svc.contacts.audience(
            form.sender.strip() or None,
            session.principal.senders,
            form.label_list(),
            form.attribute_map(),
            form.phone_list(),
            SAMPLE,
        )
        found = await _chosen_template(runtime, overview.sender, form)
    except errors.ValidationFailed as exc:
        body = {"error": i18n.error_text(exc, lang), "field": exc.field}
        return JSONResponse(body, status_code=422)
    text = t("campaign.count", n=i18n.format_number(overview.count, lang))
    if overview.invalid_phones:  # the campaign refuses them (reason invalid_phone): say so now
        text += " · " + t("campaign.invalid_phones", phones=", ".join(overview.invalid_phones[:5]))
    answer: dict[str, Any] = {
        "count": overview.count,
        "text": text,
        "invalid_phones": overview.invalid_phones[:20],
        "sample": [_preview_of(form, found, p, lang) for p in overview.sample],
        "sender": overview.sender,
    }
    if data.get("want_templates") == "1":  # the sender changed: its templates for the picker
        answer["templates"] = await _picks(runtime, overview.sender)
    return JSONResponse(answer)


# -- one campaign ---------------------------------------------------------------------------


def funnel_view(
    campaign: campaigns.Campaign, counts: campaigns.Counts, lang: str, zone: zoneinfo.ZoneInfo
) -> dict[str, Any]:
    """The funnel as the page (and its live stream) shows it, in the reader's language."""
    t = i18n.translator(lang)
    status = campaigns.status_of(campaign, counts)
    return {
        "status": str(status),
        "status_label": t(f"campaign.status.{status}"),
        "steps": [
            {
                "status": s,
                "label": t(f"status.{s}"),
                "count": counts.statuses.get(s, 0),
                "color": COLOURS.get(s, "#8a9096"),
            }
            for s in FUNNEL
        ],
        "failed": [
            {
                "code": code,
                "count": n,
                "text": (errorcodes.explain(code, lang) or t("campaign.unknown_code"))
                if code is not None
                else t("stats.no_code"),
            }
            for code, n in sorted(counts.failed.items(), key=lambda kv: (-kv[1], kv[0] or 0))
        ],
        "cancelled": [
            {"reason": str(r or "cancelled"), "label": _cancel_label(r, lang), "count": n}
            for r, n in sorted(counts.cancelled.items(), key=lambda kv: (-kv[1], str(kv[0])))
        ],
        "first_sent_at": dashboard.format_local(counts.first_sent_at, zone, lang),
        "last_sent_at": dashboard.format_local(counts.last_sent_at, zone, lang),
        "replies": i18n.format_number(counts.replies, lang),
        "median_read": (
            i18n.format_duration(counts.median_read_seconds, lang)
            if counts.median_read_seconds is not None
            else ""
        ),
    }


def _cancel_label(reason: str | None, lang: str) -> str:
    key = f"campaign.cancelled.{reason or 'cancelled'}"
    if key in i18n.TEXTS["en"]:
        return i18n.translator(lang)(key)
    words = i18n.reason_texts(reason)
    return words[lang] if words is not None and lang in words else str(reason or "cancelled")


def _not_found(request: Request, session: sessions.Session, campaign_id: str) -> Response:
    return dashboard.render(
        request,
        "notfound.html",
        {"message_id": campaign_id, "campaign": True},
        session=session,
        status_code=404,
    )


@router.get("/dashboard/campaigns/{campaign_id}")
async def campaign_page(
    request: Request, campaign_id: str, session: SessionDep, svc: deps.ServiceDep
) -> Response:
    """One campaign: its funnel as a chart and as numbers, failures in plain words, the
    cancelled reasons, first and last send, and (write scope) pause, resume, cancel."""
    try:
        campaign, counts = await svc.campaigns.show(campaign_id, session.principal.senders)
    except errors.NotFound:
        return _not_found(request, session, campaign_id)
    lang = dashboard.language(request)
    view = funnel_view(campaign, counts, lang, dashboard.display_zone(request))
    context = {
        "c": campaign,
        "view": view,
        "spec": campaign.spec,
        "created": request.query_params.get("created") == "1",
        "done": request.query_params.get("done", "")[:16],
        "changed": request.query_params.get("changed", "")[:8],
    }
    return dashboard.render(request, "campaign.html", context, session=session)


@router.get("/dashboard/campaigns/{campaign_id}/cancel")
async def cancel_confirm(
    request: Request, campaign_id: str, session: WriterDep, svc: deps.ServiceDep
) -> Response:
    """Ask before cancelling (a page: it works without JavaScript)."""
    try:
        campaign, counts = await svc.campaigns.show(campaign_id, session.principal.senders)
    except errors.NotFound:
        return _not_found(request, session, campaign_id)
    left = counts.statuses.get("queued", 0) + counts.statuses.get("paused", 0)
    return dashboard.render(
        request, "campaign_cancel.html", {"c": campaign, "left": left}, session=session
    )


@router.post("/dashboard/campaigns/{campaign_id}/{action}")
async def campaign_action(
    request: Request,
    campaign_id: str,
    action: str,
    session: WriterDep,
    svc: deps.ServiceDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Pause, resume or cancel (write scope, CSRF); back to the campaign's page."""
    sessions.check_csrf(request, session, csrf)
    try:
        chosen = campaigns.Action(action)
    except ValueError:
        return _not_found(request, session, campaign_id)
    try:
        _, _, changed = await svc.campaigns.act(campaign_id, chosen, session.principal.senders)
    except errors.NotFound:
        return _not_found(request, session, campaign_id)
    except errors.Conflict:
        return RedirectResponse(
            f"/dashboard/campaigns/{campaign_id}?done=conflict", status_code=303
        )
    return RedirectResponse(
        f"/dashboard/campaigns/{campaign_id}?done={chosen}&changed={changed}", status_code=303
    )


@router.get("/dashboard/campaigns/{campaign_id}/recipients")
async def recipients_page(
    request: Request,
    campaign_id: str,
    session: SessionDep,
    svc: deps.ServiceDep,
    status: Annotated[str, Query(max_length=16)] = "",
    cursor: CursorQuery = None,
    prev: PrevQuery = [],  # noqa: B006 (FastAPI copies query defaults)
) -> Response:
    """The campaign's recipients in id order, RECIPIENTS_PAGE a page, by status if asked."""
    chosen = [S(status)] if status in {str(s) for s in S} else []
    try:
        campaign = await svc.campaigns.get(campaign_id, session.principal.senders)
        found = await svc.campaigns.messages(
            campaign_id, session.principal.senders, chosen, cursor, RECIPIENTS_PAGE + 1
        )
    except errors.NotFound:
        return _not_found(request, session, campaign_id)
    more = len(found) > RECIPIENTS_PAGE
    found = found[:RECIPIENTS_PAGE]
    query = {"status": status if chosen else ""}
    path = f"/dashboard/campaigns/{campaign_id}/recipients"
    context = {
        "c": campaign,
        "rows": found,
        "statuses": [str(s) for s in FUNNEL],
        "query": query,
        "links": dashboard.paging_links(
            path, query, cursor, prev, found[-1].id if more and found else None
        ),
    }
    return dashboard.render(request, "campaign_recipients.html", context, session=session)


@router.get("/dashboard/campaigns/{campaign_id}/export.csv")
async def export(
    request: Request, campaign_id: str, session: SessionDep, svc: deps.ServiceDep
) -> Response:
    """Every recipient's outcome as CSV: the API's export (`GET /campaigns/{id}/export.csv`)."""
    try:
        return await campaigns_routes.export_campaign(campaign_id, svc, session.principal)
    except errors.NotFound:
        return _not_found(request, session, campaign_id)


@router.get("/dashboard/api/campaigns/{campaign_id}/funnel")
async def funnel_events(
    request: Request, campaign_id: str, session: SessionDep, svc: deps.ServiceDep
) -> Response:
    """Server-Sent Events: a `funnel` event with the funnel whenever it changed."""
    senders = session.principal.senders
    try:
        await svc.campaigns.get(campaign_id, senders)
    except errors.NotFound as exc:
        return JSONResponse({"detail": exc.message, "errors": []}, status_code=404)
    lang = dashboard.language(request)
    zone = dashboard.display_zone(request)

    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        last = ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_SECONDS
        while loop.time() < deadline:
            campaign, counts = await svc.campaigns.show(campaign_id, senders)
            data = json.dumps(funnel_view(campaign, counts, lang, zone))
            if data != last:
                last = data
                yield f"event: funnel\ndata: {data}\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)
        yield ": bye\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
