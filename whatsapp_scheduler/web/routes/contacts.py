"""`/contacts`: a contact's 24-hour window and consent with one sender (docs/consent.md).

`GET /contacts/{phone}` (read scope) and `GET /contacts?opted_out=` (read scope, paged) show
them; `PUT /contacts/{phone}/consent` (write scope) records consent obtained elsewhere. The
sender is `gonderen` (default: DEFAULT_SENDER); a key limited to some senders sees only theirs.
The rules are `service.consent.ConsentService`; this module is the HTTP contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from whatsapp_scheduler.core import consent, errors
from whatsapp_scheduler.service import consent as consent_service
from whatsapp_scheduler.web import deps, schemas

router = APIRouter(tags=["contacts"])
Scope = consent.Scope  # `ConsentUpdate.consent` hides the module inside the class

_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorPublic, "description": schemas.UNAUTHORIZED},
    403: {"model": schemas.ErrorPublic, "description": schemas.FORBIDDEN},
    422: {"model": schemas.ErrorPublic, "description": "A field breaks a rule"},
    503: {"model": schemas.ErrorPublic, "description": "The database is unavailable; retry"},
}
PhoneParam = Annotated[
    str, Path(max_length=40, description="The contact's number, with + and country code.")
]
_GONDEREN = "The sender (business number) by name; default: DEFAULT_SENDER."


class OptOutPublic(BaseModel):
    opted_out: bool = Field(description="Whether the contact opted out of this scope.")
    since: datetime | None = Field(default=None, description="When (UTC), if opted out.")
    source: consent.Source | None = Field(
        default=None,
        description="Where the opt-out came from: keyword, user_preferences (Meta's webhook), "
        "error_131050, api.",
    )


class ConsentPublic(BaseModel):
    all: OptOutPublic = Field(description="Opted out of every message (nothing is sent).")
    marketing: OptOutPublic = Field(
        description="Opted out of marketing (templates of category MARKETING are not sent)."
    )
    undeliverable_at: datetime | None = Field(
        default=None,
        description="Meta's last 131026 (undeliverable) for this number: a warning only.",
    )


class ConsentEventPublic(BaseModel):
    change: consent.Change
    scope: consent.Scope
    source: consent.Source
    occurred_at: datetime = Field(description="When it happened (Meta's time, or the request).")
    recorded_at: datetime
    detail: str | None = Field(default=None, description="The keyword, wamid or API key.")
    cancelled: int = Field(description="Queued messages this change cancelled.")


class ContactPublic(BaseModel):
    alici: str = Field(description="The contact's number (E.164).")
    gonderen: str = Field(description="The sender this is about.")
    last_inbound_at: datetime | None = Field(
        default=None, description="When they last wrote to this sender (the 24-hour window)."
    )
    window_open: bool = Field(description="Whether their 24-hour window is open now.")
    consent: ConsentPublic
    history: list[ConsentEventPublic] | None = Field(
        default=None, description="Consent changes, newest first (GET /contacts/{phone} only)."
    )

    @classmethod
    def of(cls, report: consent_service.ContactReport, with_history: bool = False) -> ContactPublic:
        value = report.state.consent
        return cls(
            alici=report.recipient,
            gonderen=report.sender,
            last_inbound_at=report.state.last_inbound,
            window_open=report.window_open,
            consent=ConsentPublic(
                all=_opt_out(value.all_out),
                marketing=_opt_out(value.marketing_out),
                undeliverable_at=value.undeliverable_at,
            ),
            history=(
                [
                    ConsentEventPublic(
                        change=e.change,
                        scope=e.scope,
                        source=e.source,
                        occurred_at=e.occurred_at,
                        recorded_at=e.recorded_at,
                        detail=e.detail,
                        cancelled=e.cancelled,
                    )
                    for e in report.history
                ]
                if with_history
                else None
            ),
        )


class ConsentSaved(ContactPublic):
    cancelled: int = Field(description="Queued messages this change cancelled.")


def _opt_out(value: consent.OptOut | None) -> OptOutPublic:
    if value is None:
        return OptOutPublic(opted_out=False)
    return OptOutPublic(opted_out=True, since=value.at, source=value.source)


class ConsentUpdate(BaseModel):
    """Consent obtained elsewhere (a signed form, a call). Unknown fields are refused (422)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"consent": "opted_in", "scope": "all", "note": "form 12"}]
        },
    )

    consent: Literal["opted_in", "opted_out"] = Field(
        description="opted_out: stop what `scope` covers (cancels their queued messages of "
        "it); opted_in: allow it again (scope all also clears a marketing opt-out)."
    )
    scope: Scope = Field(default=Scope.ALL, description="all or marketing.")
    gonderen: str | None = Field(default=None, max_length=64, description=_GONDEREN)
    note: str | None = Field(
        default=None, max_length=150, description="Kept in the history (with the key's name)."
    )


@router.get("/contacts/{phone}", response_model=ContactPublic, responses=_REFUSALS)
async def show_contact(
    phone: PhoneParam,
    svc: deps.ServiceDep,
    who: deps.ReaderDep,
    gonderen: Annotated[str | None, Query(max_length=64, description=_GONDEREN)] = None,
) -> ContactPublic:
    """A contact's 24-hour window, consent and consent history with one sender (read scope)."""
    report = await svc.consent.show(phone, gonderen, who.senders)
    return ContactPublic.of(report, with_history=True)


@router.put("/contacts/{phone}/consent", response_model=ConsentSaved, responses=_REFUSALS)
async def put_consent(
    phone: PhoneParam, body: ConsentUpdate, svc: deps.ServiceDep, who: deps.WriterDep
) -> ConsentSaved:
    """Record consent obtained elsewhere (write scope). An opt-out cancels the contact's queued
    messages it covers, in the same transaction; the answer says how many."""
    if body.note is not None and "\x00" in body.note:
        raise errors.ValidationFailed("note", "must not contain NUL")
    report, cancelled = await svc.consent.put(
        phone,
        body.gonderen,
        who.senders,
        consent.Change(body.consent),
        body.scope,
        schemas.printable(body.note) if body.note else None,
        who.name,
    )
    public = ContactPublic.of(report, with_history=True)
    return ConsentSaved(**public.__dict__, cancelled=cancelled)


@router.get("/contacts", response_model=list[ContactPublic], responses=_REFUSALS)
async def list_contacts(
    response: Response,
    svc: deps.ServiceDep,
    who: deps.ReaderDep,
    opted_out: Annotated[
        bool | None,
        Query(description="true: only contacts opted out of anything; false: only the others."),
    ] = None,
    gonderen: Annotated[str | None, Query(max_length=64, description=_GONDEREN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    cursor: Annotated[
        str | None,
        Query(max_length=32, description="From the X-Next-Cursor header of the last page."),
    ] = None,
) -> list[ContactPublic]:
    """Contacts known to a sender (they wrote, or have a consent record), by number (read
    scope). The next page's cursor is in X-Next-Cursor."""
    if cursor is not None and not (cursor.isascii() and cursor.isdigit()):
        raise errors.ValidationFailed("cursor", "must be the X-Next-Cursor of an earlier page")
    reports, after = await svc.consent.list(gonderen, who.senders, opted_out, cursor, limit)
    if after is not None:
        response.headers["X-Next-Cursor"] = after
    return [ContactPublic.of(r) for r in reports]
