"""`/contacts`: a contact's 24-hour window and consent with one sender (docs/consent.md).

`GET /contacts/{phone}` (read scope) and `GET /contacts?opted_out=` (read scope, paged) show
them; `PUT /contacts/{phone}/consent` (write scope) records consent obtained elsewhere. The
sender is `gonderen` (default: DEFAULT_SENDER); a key limited to some senders sees only theirs.
The rules are `service.consent.ConsentService`; this module is the HTTP contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from whatsapp_scheduler.core import consent, contacts, errors
from whatsapp_scheduler.service import consent as consent_service
from whatsapp_scheduler.service import contacts as contacts_service
from whatsapp_scheduler.web import deps, schemas

router = APIRouter(tags=["contacts"])
Scope = consent.Scope  # `ConsentUpdate.consent` hides the module inside the class

_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorPublic, "description": schemas.UNAUTHORIZED},
    403: {"model": schemas.ErrorPublic, "description": schemas.FORBIDDEN},
    404: {"model": schemas.ErrorPublic, "description": "Not in the sender's address book"},
    413: {"model": schemas.ErrorPublic, "description": "Body too large"},
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
    in_book: bool = Field(
        default=False,
        description="Whether the number is in the sender's address book (POST /contacts); "
        "false: known only by its window or consent, and the profile fields are empty.",
    )
    name: str | None = Field(default=None, description="The contact's name.")
    language: str | None = Field(default=None, description="Language code (tr, en_US).")
    timezone: str | None = Field(
        default=None, description="IANA time zone (Europe/Istanbul): a campaign's local time."
    )
    labels: list[str] = Field(default_factory=list, description="Labels, sorted.")
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="Free attributes (a JSON object)."
    )

    @classmethod
    def of(
        cls,
        report: consent_service.ContactReport,
        with_history: bool = False,
        profile: contacts.Profile | None = None,
    ) -> ContactPublic:
        value = report.state.consent
        book: dict[str, Any] = {}
        if profile is not None:
            book = {
                "in_book": True,
                "name": profile.name,
                "language": profile.language,
                "timezone": profile.timezone,
                "labels": list(profile.labels),
                "attributes": schemas.scrubbed(dict(profile.attributes)),
            }
        return cls(
            **book,
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
    view = await svc.contacts.show(phone, gonderen, who.senders)
    return ContactPublic.of(view.report, with_history=True, profile=view.profile)


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
    profile = await svc.store.get_profile(report.sender, report.recipient)
    public = ContactPublic.of(report, with_history=True, profile=profile)
    return ConsentSaved(**public.__dict__, cancelled=cancelled)


@router.get("/contacts", response_model=list[ContactPublic], responses=_REFUSALS)
async def list_contacts(
    request: Request,
    response: Response,
    svc: deps.ServiceDep,
    who: deps.ReaderDep,
    opted_out: Annotated[
        bool | None,
        Query(description="true: only contacts opted out of anything; false: only the others."),
    ] = None,
    label: Annotated[
        str | None, Query(max_length=64, description="Only contacts with this label.")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="Search: a part of the name (any case), or digits of the number.",
        ),
    ] = None,
    gonderen: Annotated[str | None, Query(max_length=64, description=_GONDEREN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    cursor: Annotated[
        str | None,
        Query(max_length=32, description="From the X-Next-Cursor header of the last page."),
    ] = None,
) -> list[ContactPublic]:
    """A sender's contacts by number (read scope): those of its address book and those only
    known by a window or consent record. `label`, `q` and attribute filters
    (`attr.<key>=<value>`, e.g. `attr.city=Izmir`; numbers and booleans as JSON writes them)
    list address-book contacts only; all filters combine. The next page's cursor is in
    X-Next-Cursor."""
    if cursor is not None and not (cursor.isascii() and cursor.isdigit()):
        raise errors.ValidationFailed("cursor", "must be the X-Next-Cursor of an earlier page")
    attributes = contacts.attribute_filters(
        [(k, v) for k, v in request.query_params.multi_items() if k.startswith("attr.")]
    )
    views, after = await svc.contacts.list(
        gonderen,
        who.senders,
        label=label,
        attributes=attributes,
        text=q,
        opted_out=opted_out,
        after=cursor,
        limit=limit,
    )
    if after is not None:
        response.headers["X-Next-Cursor"] = after
    return [ContactPublic.of(v.report, profile=v.profile) for v in views]


class ContactsUpsert(BaseModel):
    """Contacts to create or update in a sender's address book. Unknown fields are refused."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "gonderen": "default",
                    "contacts": [
                        {
                            "phone": "+905551234567",
                            "name": "Ayşe Yılmaz",
                            "language": "tr",
                            "timezone": "Europe/Istanbul",
                            "labels": ["vip"],
                            "attributes": {"appointment": "2026-12-05 10:30"},
                        }
                    ],
                }
            ]
        },
    )

    gonderen: str | None = Field(default=None, max_length=64, description=_GONDEREN)
    contacts: list[Any] = Field(
        max_length=contacts.MAX_UPSERT,
        description="Up to 10,000 contacts, each validated on its own: `phone` (required, "
        "E.164 or national with DEFAULT_REGION), `name`, `language`, `timezone` (IANA), "
        "`labels` (list), `attributes` (object; keys letters, digits, _; at most 4 KiB, 4 "
        "levels). A field left out keeps its stored value; null clears it.",
    )


class RowErrorPublic(BaseModel):
    index: int = Field(description="The entry's position (0-based), or the CSV's line number.")
    phone: str | None = Field(default=None, description="Its phone as sent, if any.")
    error: schemas.ErrorPublic


class UpsertPublic(BaseModel):
    stored: int = Field(description="Contacts created or updated.")
    created: int
    updated: int
    refused: int
    errors: list[RowErrorPublic] = Field(description="Each refused entry and why.")

    @classmethod
    def of(cls, result: contacts_service.UpsertResult) -> UpsertPublic:
        from whatsapp_scheduler.web.routes import schedule  # its error_body

        return cls(
            stored=result.stored,
            created=result.created,
            updated=result.updated,
            refused=len(result.refused),
            errors=[
                RowErrorPublic(
                    index=r.index,
                    phone=schemas.printable(r.phone)[:40] if r.phone else None,
                    error=schedule.error_body(r.error),
                )
                for r in result.refused
            ],
        )


@router.post("/contacts", response_model=UpsertPublic, responses=_REFUSALS)
async def upsert_contacts(
    body: ContactsUpsert, svc: deps.ServiceDep, who: deps.WriterDep
) -> UpsertPublic:
    """Create or update up to 10,000 contacts (write scope), in one transaction; each entry is
    accepted or refused on its own (the answer names the field of each refusal)."""
    result = await svc.contacts.upsert(body.contacts, body.gonderen, who.senders)
    return UpsertPublic.of(result)


@router.post(
    "/contacts/import",
    response_model=UpsertPublic,
    responses=_REFUSALS,
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_contacts(
    request: Request,
    svc: deps.ServiceDep,
    who: deps.WriterDep,
    gonderen: Annotated[str | None, Query(max_length=64, description=_GONDEREN)] = None,
) -> UpsertPublic:
    """Import contacts from a CSV file sent as the body (write scope): UTF-8 with or without
    BOM or Windows-1254, `,` `;` or tab separated, English or Turkish headers (phone/telefon,
    name/ad, language/dil, timezone/saat dilimi, labels/etiketler); other columns are
    attributes. Up to 10,000 rows; each row is stored or refused on its own (`index` is its
    line number)."""
    data = await request.body()
    result = await svc.contacts.import_csv(data, gonderen, who.senders, field="line")
    return UpsertPublic.of(result)


class ContactPatch(BaseModel):
    """The fields to change; those left out stay, null clears one. Unknown fields are refused."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"labels": ["vip", "izmir"]}]}
    )

    gonderen: str | None = Field(default=None, max_length=64, description=_GONDEREN)
    name: str | None = Field(default=None, description="The contact's name (<= 256).")
    language: str | None = Field(default=None, description="Language code (tr, en_US).")
    timezone: str | None = Field(default=None, description="IANA time zone name.")
    labels: list[str] | None = Field(default=None, description="Replaces the labels.")
    attributes: dict[str, Any] | None = Field(
        default=None, description="Replaces the attributes (a JSON object)."
    )


@router.patch("/contacts/{phone}", response_model=ContactPublic, responses=_REFUSALS)
async def patch_contact(
    phone: PhoneParam, body: ContactPatch, svc: deps.ServiceDep, who: deps.WriterDep
) -> ContactPublic:
    """Change fields of a contact in the address book (write scope); 404 if it is not there."""
    values = {f: getattr(body, f) for f in body.model_fields_set if f != "gonderen"}
    view = await svc.contacts.patch(phone, values, body.gonderen, who.senders)
    return ContactPublic.of(view.report, with_history=True, profile=view.profile)


class DeletedPublic(BaseModel):
    phone: str = Field(description="The number removed (E.164).")
    deleted: bool


@router.delete("/contacts/{phone}", response_model=DeletedPublic, responses=_REFUSALS)
async def delete_contact(
    phone: PhoneParam,
    svc: deps.ServiceDep,
    who: deps.WriterDep,
    gonderen: Annotated[str | None, Query(max_length=64, description=_GONDEREN)] = None,
) -> DeletedPublic:
    """Remove a contact from the address book (write scope); its window, consent and
    messages stay (an opt-out must outlive the profile). 404 if it is not there."""
    removed = await svc.contacts.remove(phone, gonderen, who.senders)
    return DeletedPublic(phone=removed, deleted=True)
