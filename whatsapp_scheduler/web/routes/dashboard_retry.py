"""Dashboard: retry failed messages (one, or those selected on History), send a message that
failed on Meta's 131047 as a template instead, and duplicate any message into compose.

A retry is a NEW message (the failed row and its history are never changed) with the same
recipient, sender, zone and content, due now or at a chosen time, scheduled through
`service.schedule_with_warnings` (the API's call: validation, consent, the 24-hour window,
quiet hours and the limits apply as to any new message).

Its id links it to the original with no schema change: `<original>:retry<n>` (n = 1, 2, ...;
`dashboard_retry_links.retry_id`). The form carries `n`, chosen when it was shown, so a second
submit of it (a double click, a resent POST) names the same message: the service stores it once, and a repeat whose
due time moved on ("now" a second later) is a Conflict on that id, answered with the stored
retry. The message page of either shows the other (`retry_of`, `retries_of`).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from whatsapp_scheduler import service
from whatsapp_scheduler.core import errors, localtime, messages
from whatsapp_scheduler.web import dashboard, deps, i18n, sessions
from whatsapp_scheduler.web.routes import dashboard_pages, dashboard_templates
from whatsapp_scheduler.web.routes import dashboard_retry_links as links

router = APIRouter(include_in_schema=False)
WriterDep = Annotated[sessions.Session, Depends(sessions.require_writer)]
RETRY_MARK = links.RETRY_MARK
MAX_RETRIES = links.MAX_RETRIES
MAX_SELECTED = 200
MAX_ID = links.MAX_ID
retry_id = links.retry_id
retryable = links.retryable
as_template_offered = links.as_template_offered
_next_number = links.next_number


def _due(
    svc: service.SchedulerService, m: messages.ScheduledMessage, when: str, tarih: str, saat: str
) -> tuple[str, str]:
    """(tarih, saat) in the message's zone: now, or the chosen date and time."""
    if when == "at":
        return tarih, saat
    now = svc.clock.now().astimezone(zoneinfo.ZoneInfo(m.timezone))
    return now.strftime("%Y-%m-%d"), now.strftime("%H:%M:%S")


def _retry_request(
    svc: service.SchedulerService,
    m: messages.ScheduledMessage,
    new_id: str,
    tarih: str,
    saat: str,
    template: Mapping[str, Any] | None = None,
) -> service.ScheduleRequest:
    """The original's content (or `template` instead of it) as a new message's request."""
    if template is None:
        content = dict(m.template) if m.template is not None else None
        fallback = dict(m.fallback_template) if m.fallback_template is not None else None
        text = m.body
    else:
        content, fallback, text = dict(template), None, None
    request_ = service.ScheduleRequest(
        id=new_id,
        alici=m.recipient,
        tarih=tarih,
        saat=saat,
        mesaj=text,
        timezone=m.timezone,
        template=content,
        fallback_template=fallback,
        # The default sender as the original named it (implicitly): it may have no directory row.
        gonderen=None if m.sender == svc.default_sender else m.sender,
        quiet_hours=m.quiet_hours,
    )
    if template is None and m.content is not None:  # an image, location ... (message-types.md)
        kind = m.content["type"]
        request_.type, request_.objects = kind, {kind: m.content[kind]}
    return request_


async def _store_retry(
    svc: service.SchedulerService,
    session: sessions.Session,
    m: messages.ScheduledMessage,
    request_: service.ScheduleRequest,
) -> messages.ScheduledMessage:
    """Schedule the retry; a repeat of the same form answers the retry stored first.
    Raises ValidationFailed (the service's rule), or Conflict when the id is someone else's."""
    request_ = sessions.on_behalf(session, request_)
    try:
        result, _ = await svc.schedule_with_warnings(request_)
    except errors.Conflict:
        assert request_.id is not None
        try:
            stored = await svc.get(request_.id, session.principal.senders)
        except errors.NotFound:
            raise errors.Conflict(f"id: {request_.id!r} is already used") from None
        if stored.recipient != m.recipient or stored.sender != m.sender:
            raise
        return stored  # the same form sent again (its "now" a moment later)
    return result.message


async def _found(
    request: Request, svc: deps.ServiceDep, message_id: str, session: sessions.Session
) -> messages.ScheduledMessage | Response:
    try:
        return await svc.get(message_id, session.principal.senders)
    except (errors.NotFound, errors.UnreadableRow):
        return dashboard.render(
            request, "notfound.html", {"message_id": message_id}, session=session, status_code=404
        )


def _retry_form(
    request: Request,
    session: sessions.Session,
    m: messages.ScheduledMessage,
    n: int | None,
    *,
    mode: str = "retry",
    error: str | None = None,
    values: Mapping[str, str] | None = None,
    status_code: int = 200,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    t = i18n.translator(dashboard.language(request))
    refusal = None
    if not retryable(m):
        refusal = t("retry.not_failed", status=t(f"status.{m.status}"))
    elif mode == "template" and not as_template_offered(m):
        refusal = t("retry.not_131047", code=m.last_error_code or "-")
    elif n is None:
        refusal = t("retry.too_many", n=MAX_RETRIES)
    context: dict[str, Any] = {
        "m": m,
        "n": n,
        "mode": mode,
        "new_id": retry_id(m.id, n) if n is not None else "",
        "refusal": refusal,
        "error": error,
        "values": values or {"when": "now", "tarih": "", "saat": ""},
        **(extra or {}),
    }
    code = 409 if refusal is not None and status_code == 200 else status_code
    return dashboard.render(request, "retry.html", context, session=session, status_code=code)


@router.get("/message/{message_id}/retry")
async def retry_form(
    request: Request, message_id: str, session: WriterDep, svc: deps.ServiceDep
) -> Response:
    """Ask when the retry goes (now, or a date and time in the message's zone)."""
    found = await _found(request, svc, message_id, session)
    if isinstance(found, Response):
        return found
    return _retry_form(request, session, found, await _next_number(svc, found))


@router.post("/message/{message_id}/retry")
async def retry(
    request: Request,
    message_id: str,
    session: WriterDep,
    svc: deps.ServiceDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
    n: Annotated[int, Form(ge=1, le=MAX_RETRIES)] = 1,
    when: Annotated[str, Form(max_length=8)] = "now",
    tarih: Annotated[str, Form(max_length=64)] = "",
    saat: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Schedule the retry: a new message, the failed one unchanged."""
    sessions.check_csrf(request, session, csrf)
    found = await _found(request, svc, message_id, session)
    if isinstance(found, Response):
        return found
    values = {"when": when, "tarih": tarih, "saat": saat}
    if not retryable(found):
        return _retry_form(request, session, found, n, values=values)
    day, clock = _due(svc, found, when, tarih, saat)
    try:
        made = await _store_retry(
            svc, session, found, _retry_request(svc, found, retry_id(found.id, n), day, clock)
        )
    except (errors.ValidationFailed, errors.Conflict) as exc:
        return _retry_form(request, session, found, n, error=_said(request, exc), values=values,
                           status_code=422 if isinstance(exc, errors.ValidationFailed) else 409)  # fmt: skip
    return RedirectResponse(f"/message/{made.id}?retried=1", status_code=303)


# --- send as a template instead (after 131047) ------------------------------------------------


async def _template_extra(runtime: deps.RuntimeDep, m: messages.ScheduledMessage) -> dict[str, Any]:
    picks = await dashboard_templates.picker_names(runtime.templates, m.sender)
    bodies = []  # what each one says and takes, so its parameters can be filled in
    if runtime.templates is not None:
        for found in await runtime.templates.of_sender(m.sender):
            if found.key in picks:
                body = str(found.part("BODY").get("text") or "")
                bodies.append((found.key, body, found.body_variables()))
    return {"template_picks": sorted(picks), "template_bodies": sorted(bodies)}


@router.get("/message/{message_id}/as-template")
async def as_template_form(
    request: Request,
    message_id: str,
    session: WriterDep,
    svc: deps.ServiceDep,
    runtime: deps.RuntimeDep,
) -> Response:
    """Pick an approved template of the sender, fill its parameters, choose when."""
    found = await _found(request, svc, message_id, session)
    if isinstance(found, Response):
        return found
    n = await _next_number(svc, found)
    values = {"when": "now", "tarih": "", "saat": "", "pick": "", "params": ""}
    extra = await _template_extra(runtime, found)
    return _retry_form(request, session, found, n, mode="template", values=values, extra=extra)


@router.post("/message/{message_id}/as-template")
async def as_template(
    request: Request,
    message_id: str,
    session: WriterDep,
    svc: deps.ServiceDep,
    runtime: deps.RuntimeDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
    n: Annotated[int, Form(ge=1, le=MAX_RETRIES)] = 1,
    pick: Annotated[str, Form(max_length=700)] = "",
    params: Annotated[str, Form(max_length=60_000)] = "",
    when: Annotated[str, Form(max_length=8)] = "now",
    tarih: Annotated[str, Form(max_length=64)] = "",
    saat: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Schedule the chosen template as a new message to the same recipient (131047 only)."""
    sessions.check_csrf(request, session, csrf)
    found = await _found(request, svc, message_id, session)
    if isinstance(found, Response):
        return found
    values = {"when": when, "tarih": tarih, "saat": saat, "pick": pick, "params": params}
    extra = await _template_extra(runtime, found)
    if not as_template_offered(found):
        return _retry_form(request, session, found, n, mode="template", values=values,
                           extra=extra, status_code=409)  # fmt: skip
    name, _, language = pick.partition("|")
    day, clock = _due(svc, found, when, tarih, saat)
    form = dashboard_pages.ComposeForm(
        recipient=found.recipient, kind="template", date=day, time=clock, zone=found.timezone,
        template_name=name, template_language=language, template_params=params,
        sender=found.sender, id=retry_id(found.id, n),
    )  # fmt: skip
    built = await dashboard_pages.named_parameters(runtime, svc, form)
    assert built.template is not None
    request_ = _retry_request(svc, found, retry_id(found.id, n), day, clock, built.template)
    try:
        made = await _store_retry(svc, session, found, request_)
    except (errors.ValidationFailed, errors.Conflict) as exc:
        return _retry_form(request, session, found, n, mode="template", error=_said(request, exc),
                           values=values, extra=extra,
                           status_code=422 if isinstance(exc, errors.ValidationFailed) else 409)  # fmt: skip
    return RedirectResponse(f"/message/{made.id}?retried=1", status_code=303)


# --- duplicate into compose ---------------------------------------------------------------------


def _parameter_lines(template: Mapping[str, Any]) -> str:
    """A template's body parameters, one a line (as the compose form takes them)."""
    given = template.get("parameters")
    if isinstance(given, Sequence) and not isinstance(given, str):
        return "\n".join(str(p) for p in given)
    for component in template.get("components") or []:
        if isinstance(component, Mapping) and component.get("type") == "body":
            found = component.get("parameters") or []
            return "\n".join(str(p.get("text", "")) for p in found if isinstance(p, Mapping))
    return ""


@router.get("/message/{message_id}/duplicate")
async def duplicate(
    request: Request,
    message_id: str,
    session: WriterDep,
    svc: deps.ServiceDep,
    runtime: deps.RuntimeDep,
) -> Response:
    """Compose, filled in with the message's recipient, sender, content and zone (a new id;
    the date today in that zone, the time left to choose)."""
    found = await _found(request, svc, message_id, session)
    if isinstance(found, Response):
        return found
    zone = zoneinfo.ZoneInfo(found.timezone)
    today = svc.clock.now().astimezone(zone).date().isoformat()
    template = found.template if isinstance(found.template, Mapping) else None
    fallback = found.fallback_template if isinstance(found.fallback_template, Mapping) else None
    form = dashboard_pages.ComposeForm(
        recipient=found.recipient,
        text=found.body or "",
        date=today,
        zone=found.timezone,
        template_name=str(template.get("name", "")) if template else "",
        template_language=_language(template),
        template_params=_parameter_lines(template) if template else "",
        sender="" if found.sender == svc.default_sender else found.sender,
        fallback_name=str(fallback.get("name", "")) if fallback else "",
        fallback_language=_language(fallback),
        fallback_params=_parameter_lines(fallback) if fallback else "",
        **({"kind": "template" if template is not None else "text"}
           | dashboard_pages.fields_of_content(found.content)),
    )  # fmt: skip
    return await dashboard_pages.compose_page(request, session, svc, runtime, form, None)


def _language(template: Mapping[str, Any] | None) -> str:
    if not template:
        return ""
    language = template.get("language")
    if isinstance(language, Mapping):  # Meta's own shape: {"code": "tr"}
        return str(language.get("code", ""))
    return str(language or "")


# --- bulk retry from History --------------------------------------------------------------------


@router.post("/bulk/retry")
async def bulk_retry(
    request: Request,
    session: WriterDep,
    svc: deps.ServiceDep,
    csrf: Annotated[str, Form(max_length=128)] = "",
    ids: Annotated[list[str], Form(alias="id", max_length=MAX_SELECTED)] = [],  # noqa: B006
    numbers: Annotated[list[int], Form(alias="n", max_length=MAX_SELECTED)] = [],  # noqa: B006
    confirm: Annotated[str, Form(max_length=8)] = "",
    when: Annotated[str, Form(max_length=8)] = "now",
    tarih: Annotated[str, Form(max_length=64)] = "",
    saat: Annotated[str, Form(max_length=16)] = "",
    zone: Annotated[str, Form(max_length=8)] = "shown",
) -> Response:
    """Ask (no `confirm`: what would be retried, each with its retry's number), then make
    one retry of each, due now or at the chosen date and time (`when=at`): in the zone the
    dashboard shows times in (`zone=shown`: one instant for all), or in each message's own
    zone (`zone=own`: 09:00 where each recipient is). The answer lists each new message or
    why it was refused; a date or time that does not read is the form again (422)."""
    sessions.check_csrf(request, session, csrf)
    chosen = list(dict.fromkeys(i for i in ids if 0 < len(i) <= MAX_ID))
    if not chosen:
        return RedirectResponse("/history?status=failed&bulk=none", status_code=303)
    senders = session.principal.senders
    found: list[messages.ScheduledMessage] = []
    missing = 0
    for message_id in chosen:
        try:
            found.append(await svc.get(message_id, senders))
        except (errors.NotFound, errors.UnreadableRow):
            missing += 1
    values = {"when": when, "tarih": tarih, "saat": saat, "zone": zone}
    chosen_at = _chosen_time(request, svc, values) if confirm == "yes" else None
    if confirm != "yes" or isinstance(chosen_at, errors.ValidationFailed):
        plan = [(m, await _next_number(svc, m)) for m in found]
        context = {
            "rows": [(m, n) for m, n in plan],
            "retryable_ids": [m.id for m, n in plan if retryable(m) and n is not None],
            "missing": missing,
            "done": None,
            "values": values,
            "shown_zone": str(dashboard.display_zone(request)),
            "error": chosen_at.message if isinstance(chosen_at, errors.ValidationFailed) else None,
        }
        status = 422 if isinstance(chosen_at, errors.ValidationFailed) else 200
        return dashboard.render(
            request, "bulk_retry.html", context, session=session, status_code=status
        )
    given = dict(zip(ids, numbers, strict=False))
    t = i18n.translator(dashboard.language(request))
    done: list[tuple[messages.ScheduledMessage, str | None, str | None]] = []
    for m in found:
        n = given.get(m.id)
        if not retryable(m):
            done.append((m, None, t("retry.not_failed", status=t(f"status.{m.status}"))))
            continue
        if n is None or not 1 <= n <= MAX_RETRIES:
            done.append((m, None, t("retry.too_many", n=MAX_RETRIES)))
            continue
        day, clock = _bulk_due(svc, m, values, chosen_at)
        try:
            made = await _store_retry(
                svc, session, m, _retry_request(svc, m, retry_id(m.id, n), day, clock)
            )
            done.append((m, made.id, None))
        except (errors.ValidationFailed, errors.Conflict) as exc:
            done.append((m, None, _said(request, exc)))
    context = {"rows": [], "retryable_ids": [], "missing": missing, "done": done}
    return dashboard.render(request, "bulk_retry.html", context, session=session)


def _chosen_time(
    request: Request, svc: service.SchedulerService, values: Mapping[str, str]
) -> datetime | errors.ValidationFailed | None:
    """Bulk retry's chosen time: None for now, or for each message's own zone (checked per
    message by the service); the instant in the dashboard's zone; or why it does not read."""
    if values["when"] != "at":
        return None
    try:
        day = localtime.parse_date(values["tarih"])
        wall = localtime.parse_time(values["saat"])
        if values["zone"] == "own":
            return None
        zone = dashboard.display_zone(request)
        instant = localtime.to_utc(day, wall, zone)
    except errors.ValidationFailed as exc:
        return exc
    if instant < svc.clock.now() - localtime.PAST_TOLERANCE:
        when = f"{values['tarih']} {values['saat']} {zone.key}"
        return errors.ValidationFailed(
            "tarih", "{when} is in the past; choose a time from now on", when=when
        )
    return instant


def _bulk_due(
    svc: service.SchedulerService,
    m: messages.ScheduledMessage,
    values: Mapping[str, str],
    instant: datetime | None,
) -> tuple[str, str]:
    """(tarih, saat) of one retry, in the message's zone: now; the chosen date and time
    there (`zone=own`); or the chosen instant as that zone's wall clock (a time in a
    repeated hour's second pass is read as its first, as POST /schedule reads one)."""
    if values["when"] != "at":
        return _due(svc, m, "now", "", "")
    if instant is None:  # the same wall-clock time in each message's own zone
        return values["tarih"], values["saat"]
    local = instant.astimezone(zoneinfo.ZoneInfo(m.timezone))
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


def _said(request: Request, error: errors.SchedulerError) -> str:
    """A refusal in the page's language (a rule from the catalogue; others as worded)."""
    return i18n.error_text(error, dashboard.language(request))
