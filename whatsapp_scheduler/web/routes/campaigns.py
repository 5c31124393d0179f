"""`/campaigns`: one template or text to an audience of contacts (docs/campaigns.md).

`POST /campaigns` (write scope) validates every recipient as POST /schedule would and stores
the campaign with all its messages in one transaction (`dry_run`: the same answer, nothing
stored); `POST /campaigns/{id}/pause|resume|cancel` (write) act on all its queued messages in
one statement; `GET /campaigns`, `GET /campaigns/{id}` (the funnel), `.../messages` and
`.../export.csv` (read). A key limited to some senders sees only their campaigns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from whatsapp_scheduler.core import campaigns, errors, messages
from whatsapp_scheduler.service import campaigns as campaigns_service
from whatsapp_scheduler.web import deps, schemas
from whatsapp_scheduler.whatsapp import errorcodes

router = APIRouter(tags=["campaigns"])
S = messages.MessageStatus

_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorPublic, "description": schemas.UNAUTHORIZED},
    403: {"model": schemas.ErrorPublic, "description": schemas.FORBIDDEN},
    404: {"model": schemas.ErrorPublic, "description": "No such campaign (for this key)"},
    409: {"model": schemas.ErrorPublic, "description": "The campaign is cancelled"},
    413: {"model": schemas.ErrorPublic, "description": "Body too large"},
    422: {"model": schemas.ErrorPublic, "description": "A field breaks a rule"},
    503: {"model": schemas.ErrorPublic, "description": "The database is unavailable; retry"},
}
IdParam = Annotated[str, Path(max_length=32, description="The campaign's id (cmp_...).")]
EXPORT_PAGE = 1000


class AudienceIn(BaseModel):
    """Whom to send to: the sender's contacts with any of `labels` and all of `attributes`,
    plus the numbers in `phones` (their profile is used when they have one)."""

    model_config = ConfigDict(extra="forbid")

    labels: list[str] | None = Field(
        default=None, max_length=50, description="Contacts with any of these labels."
    )
    attributes: dict[str, Any] | None = Field(
        default=None,
        description="Contacts whose attributes have all these values (strings, numbers or "
        "booleans; compared as text).",
    )
    phones: list[str] | None = Field(
        default=None, max_length=campaigns.MAX_PHONES, description="Explicit numbers (E.164)."
    )
    csv: str | None = Field(
        default=None,
        max_length=campaigns.MAX_CSV_CHARACTERS,
        description="A contacts CSV as text (the columns of POST /contacts/import: phone/"
        "telefon, name/ad, language/dil, timezone/saat dilimi, labels/etiketler, any other "
        "column an attribute; `,` `;` or tab separated), up to 10,000 rows: each row is a "
        "recipient, its cells over its stored profile (nothing is stored in the address "
        "book). A row that breaks a rule is refused with its line (`audience.csv[3].phone`).",
    )


class CampaignCreate(schemas.ContentObjects):
    """A campaign. Unknown fields are refused (422)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "December reminder",
                    "gonderen": "default",
                    "template": {
                        "name": "appointment_reminder",
                        "language": "tr",
                        "parameters": ["{{name}}", "{{attributes.appointment|yarın}}"],
                    },
                    "audience": {"labels": ["vip"]},
                    "tarih": "2026-12-10",
                    "saat": "09:00",
                    "local_time": True,
                    "timezone": "Europe/Istanbul",
                    "pacing_minutes": 30,
                }
            ]
        },
    )

    name: str = Field(max_length=200, description="A name to know it by.")
    gonderen: str | None = Field(
        default=None, max_length=64, description="The sender by name; default: DEFAULT_SENDER."
    )
    mesaj: str | None = Field(
        default=None,
        description="A text (only inside each contact's 24-hour window); placeholders "
        "`{{name}}`, `{{attributes.key}}`, `{{attributes.key|default}}` are filled per contact.",
    )
    template: dict[str, Any] | None = Field(
        default=None,
        description="A template as POST /schedule takes it; its strings may hold the same "
        "placeholders (e.g. a parameter `{{attributes.appointment|soon}}`). Checked against "
        "the synced catalogue for every recipient.",
    )
    type: str | None = Field(
        default=None,
        description="Instead of mesaj or template, another message type with its object below "
        "(docs/message-types.md): image, video, audio, document, sticker, location, contacts "
        "or interactive. Free-form like a text: only inside each contact's 24-hour window. Its "
        "strings (a caption, a link, a button's title) may hold the same placeholders.",
    )
    audience: AudienceIn
    tarih: str = Field(max_length=64, description="The date, YYYY-MM-DD.")
    saat: str = Field(max_length=16, description="The time of day, HH:MM.")
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA zone of tarih/saat; with local_time, the zone of contacts that have "
        "none. Default: TIMEZONE.",
    )
    local_time: bool = Field(
        default=False,
        description="true: `saat` on `tarih` in each contact's own time zone (a time the "
        "clocks skip: the next minute that exists, counted in `dst_shifted`).",
    )
    pacing_minutes: int | None = Field(
        default=None,
        ge=0,
        le=10080,
        description="Spread the recipients evenly over this many minutes after their time.",
    )
    dry_run: bool = Field(default=False, description="true: the same answer, nothing stored.")


class FailedPublic(BaseModel):
    code: int | None = Field(description="Meta's error code (null: none given).")
    count: int
    explanation: str | None = Field(default=None, description="The code in plain words.")


class CampaignPublic(BaseModel):
    id: str
    name: str
    gonderen: str
    status: campaigns.Status = Field(
        description="scheduled (nothing sent yet), sending, paused, completed (nothing left "
        "to send) or cancelled; follows the messages."
    )
    recipients: int = Field(description="Messages made (one per recipient).")
    refused: int = Field(description="Recipients refused at creation.")
    dst_shifted: int = Field(description="Local times moved past a DST gap.")
    first_due_at: datetime | None = None
    last_due_at: datetime | None = None
    created_at: datetime
    anahtar: str | None = Field(default=None, description="The API key that created it.")
    counts: dict[str, int] = Field(
        description="Messages by status (queued, paused, sending, sent, delivered, read, "
        "failed, cancelled)."
    )
    failed: list[FailedPublic] = Field(description="Failed messages by Meta's error code.")
    cancelled: dict[str, int] = Field(
        description="Cancelled messages by reason (campaign_cancelled, opted_out, ...)."
    )
    first_sent_at: datetime | None = None
    last_sent_at: datetime | None = None
    replies: int = Field(
        description="Recipients who wrote back: an inbound message from the contact to the "
        "sender at most CAMPAIGN_REPLY_HOURS after their campaign message was sent (each "
        "message counted once)."
    )
    median_read_seconds: float | None = Field(
        description="The median time from the send to the read receipt of the messages read, "
        "in seconds (from the funnel's buckets, each about 10 % wide: within 10 % of the "
        "exact median); null while none is read."
    )
    spec: dict[str, Any] = Field(description="Content, audience and time as created.")

    @classmethod
    def of(cls, c: campaigns.Campaign, counts: campaigns.Counts) -> CampaignPublic:
        return cls(
            id=c.id,
            name=c.name,
            gonderen=c.sender,
            status=campaigns.status_of(c, counts),
            recipients=c.recipients,
            refused=c.refused,
            dst_shifted=c.shifted,
            first_due_at=c.first_due_at,
            last_due_at=c.last_due_at,
            created_at=c.created_at,
            anahtar=c.created_by,
            counts={str(s): counts.statuses.get(str(s), 0) for s in S},
            failed=[
                FailedPublic(code=code, count=n, explanation=errorcodes.explain(code))
                for code, n in sorted(counts.failed.items(), key=lambda kv: -kv[1])
            ],
            cancelled={str(k or "cancelled"): v for k, v in counts.cancelled.items()},
            first_sent_at=counts.first_sent_at,
            last_sent_at=counts.last_sent_at,
            replies=counts.replies,
            median_read_seconds=(
                None if counts.median_read_seconds is None else round(counts.median_read_seconds, 1)
            ),
            spec=schemas.scrubbed(dict(c.spec)),
        )


class RefusalPublic(BaseModel):
    phone: str
    reason: str = Field(
        description="opted_out, missing_field, time (past, say), template, content, "
        "invalid_phone, sender ..."
    )
    field: str
    rule: str


class CreatedPublic(CampaignPublic):
    dry_run: bool
    stored: bool = Field(description="Whether the campaign and its messages were stored.")
    reasons: dict[str, int] = Field(description="Refused recipients by reason.")
    refusals: list[RefusalPublic] = Field(
        description="The refused recipients and why (the first 1,000)."
    )


class ActionPublic(CampaignPublic):
    changed: int = Field(description="Messages this action changed.")


class RecipientPublic(BaseModel):
    id: str
    alici: str
    status: messages.MessageStatus
    status_reason: str | None = None
    scheduled_at: datetime = Field(description="The due time in UTC.")
    tarih: str
    saat: str
    timezone: str
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    cancelled_at: datetime | None = None
    error_code: int | None = None
    error_text: str | None = None
    replied_at: datetime | None = Field(
        default=None,
        description="When the contact first wrote back after it (a reply, docs/campaigns.md).",
    )

    @classmethod
    def of(
        cls, m: messages.ScheduledMessage, replied_at: datetime | None = None
    ) -> RecipientPublic:
        return cls(
            id=m.id,
            alici=m.recipient,
            status=m.status,
            status_reason=m.status_reason,
            scheduled_at=m.due_at,
            tarih=m.local_date,
            saat=m.local_time,
            timezone=m.timezone,
            sent_at=m.sent_at,
            delivered_at=m.delivered_at,
            read_at=m.read_at,
            failed_at=m.failed_at,
            cancelled_at=m.cancelled_at,
            error_code=m.last_error_code,
            error_text=m.last_error_text,
            replied_at=replied_at,
        )


@router.post("/campaigns", response_model=CreatedPublic, responses=_REFUSALS)
async def create_campaign(
    body: CampaignCreate, svc: deps.ServiceDep, who: deps.WriterDep
) -> CreatedPublic:
    """Create a campaign (write scope): every recipient validated first, then the campaign
    and one message per recipient stored in one transaction. `dry_run`: the same answer,
    nothing stored."""
    request = campaigns_service.CampaignRequest(
        name=body.name,
        tarih=body.tarih,
        saat=body.saat,
        gonderen=body.gonderen,
        mesaj=body.mesaj,
        template=body.template,
        type=body.type,
        objects=body.objects_given(),
        labels=body.audience.labels,
        attributes=body.audience.attributes,
        phones=body.audience.phones,
        csv=body.audience.csv,
        timezone=body.timezone,
        local_time=body.local_time,
        pacing_minutes=body.pacing_minutes,
        dry_run=body.dry_run,
        created_by=who.name,
        allowed_senders=who.senders,
    )
    created = await svc.campaigns.create(request)
    counts = campaigns.Counts(
        {"queued": created.campaign.recipients} if created.stored else {}, {}, {}, None, None
    )
    public = CampaignPublic.of(created.campaign, counts)
    printable = schemas.printable
    return CreatedPublic(
        **public.__dict__,
        dry_run=body.dry_run,
        stored=created.stored,
        reasons=created.reasons,
        refusals=[
            RefusalPublic(
                phone=printable(r.phone),
                reason=r.reason,
                field=printable(r.field),
                rule=printable(r.rule),
            )
            for r in created.refusals[: campaigns_service.MAX_LISTED]
        ],
    )


@router.get("/campaigns", response_model=list[CampaignPublic], responses=_REFUSALS)
async def list_campaigns(
    svc: deps.ServiceDep,
    who: deps.ReaderDep,
    gonderen: Annotated[str | None, Query(max_length=64, description="Only this sender's.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=32, description="The id of the last campaign of a page.")
    ] = None,
) -> list[CampaignPublic]:
    """Campaigns, newest first, with their funnel (read scope)."""
    after = None
    if cursor is not None:
        last = await svc.campaigns.get(cursor, who.senders)
        after = (last.created_at, last.id)
    found = await svc.campaigns.list(who.senders, gonderen, after, limit)
    return [CampaignPublic.of(c, await svc.store.campaign_counts(c.id)) for c in found]


@router.get("/campaigns/{campaign_id}", response_model=CampaignPublic, responses=_REFUSALS)
async def show_campaign(
    campaign_id: IdParam, svc: deps.ServiceDep, who: deps.ReaderDep
) -> CampaignPublic:
    """A campaign and its funnel: messages by status, failures by Meta's code, cancels by
    reason, first and last send (read scope)."""
    campaign, counts = await svc.campaigns.show(campaign_id, who.senders)
    return CampaignPublic.of(campaign, counts)


async def _act(svc: Any, who: Any, campaign_id: str, action: campaigns.Action) -> ActionPublic:
    campaign, counts, changed = await svc.campaigns.act(campaign_id, action, who.senders)
    return ActionPublic(**CampaignPublic.of(campaign, counts).__dict__, changed=changed)


@router.post("/campaigns/{campaign_id}/pause", response_model=ActionPublic, responses=_REFUSALS)
async def pause_campaign(
    campaign_id: IdParam, svc: deps.ServiceDep, who: deps.WriterDep
) -> ActionPublic:
    """Hold every queued message of the campaign (status `paused`, never claimed)."""
    return await _act(svc, who, campaign_id, campaigns.Action.PAUSE)


@router.post("/campaigns/{campaign_id}/resume", response_model=ActionPublic, responses=_REFUSALS)
async def resume_campaign(
    campaign_id: IdParam, svc: deps.ServiceDep, who: deps.WriterDep
) -> ActionPublic:
    """Queue its paused messages again (those now late go at once, within MAX_LATENESS)."""
    return await _act(svc, who, campaign_id, campaigns.Action.RESUME)


@router.post("/campaigns/{campaign_id}/cancel", response_model=ActionPublic, responses=_REFUSALS)
async def cancel_campaign(
    campaign_id: IdParam, svc: deps.ServiceDep, who: deps.WriterDep
) -> ActionPublic:
    """Cancel every queued or paused message (reason `campaign_cancelled`); sent ones stay."""
    return await _act(svc, who, campaign_id, campaigns.Action.CANCEL)


def _statuses(status: Sequence[str] | None) -> list[messages.MessageStatus]:
    chosen = []
    for s in status or []:
        try:
            chosen.append(S(s))
        except ValueError:
            raise errors.ValidationFailed(
                "status",
                "{value!r} is not one of {items}",
                value=s[:30],
                items=", ".join(str(x) for x in S),
            ) from None
    return chosen


@router.get(
    "/campaigns/{campaign_id}/messages",
    response_model=list[RecipientPublic],
    responses=_REFUSALS,
)
async def campaign_messages(
    campaign_id: IdParam,
    svc: deps.ServiceDep,
    who: deps.ReaderDep,
    status: Annotated[list[str] | None, Query(description="Only these statuses.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    cursor: Annotated[
        str | None, Query(max_length=128, description="The id of the last message of a page.")
    ] = None,
) -> list[RecipientPublic]:
    """The campaign's recipients in id order with their outcome (read scope); the next page
    starts after the last id (`cursor`)."""
    found = await svc.campaigns.messages(campaign_id, who.senders, _statuses(status), cursor, limit)
    replied = await svc.store.campaign_replied(campaign_id, [m.id for m in found])
    return [RecipientPublic.of(m, replied.get(m.id)) for m in found]


EXPORT_COLUMNS = (
    "id", "alici", "status", "status_reason", "tarih", "saat", "timezone", "scheduled_at",
    "sent_at", "delivered_at", "read_at", "failed_at", "cancelled_at", "error_code",
    "error_text", "replied_at",
)  # fmt: skip


@router.get(
    "/campaigns/{campaign_id}/export.csv",
    response_class=StreamingResponse,
    responses={
        **_REFUSALS,
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "Every recipient's outcome, one per line",
        },
    },
)
async def export_campaign(
    campaign_id: IdParam, svc: deps.ServiceDep, who: deps.ReaderDep
) -> StreamingResponse:
    """Every recipient's outcome as CSV (UTF-8 with BOM, for Excel), streamed page by page."""
    campaign = await svc.campaigns.get(campaign_id, who.senders)

    def line(values: Sequence[object]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(values)
        return buffer.getvalue()

    def iso(when: datetime | None) -> str:
        return when.isoformat() if when is not None else ""

    async def rows() -> AsyncIterator[str]:
        yield "\ufeff" + line(EXPORT_COLUMNS)
        after: str | None = None
        while True:
            page = await svc.store.campaign_messages(campaign.id, [], after, EXPORT_PAGE)
            replied = await svc.store.campaign_replied(campaign.id, [m.id for m in page])
            for m in page:
                yield line(
                    (
                        m.id, m.recipient, m.status, m.status_reason or "", m.local_date[:10],
                        m.local_time, m.timezone, iso(m.due_at), iso(m.sent_at),
                        iso(m.delivered_at), iso(m.read_at), iso(m.failed_at),
                        iso(m.cancelled_at), m.last_error_code or "", m.last_error_text or "",
                        iso(replied.get(m.id)),
                    )
                )  # fmt: skip
            if len(page) < EXPORT_PAGE:
                return
            after = page[-1].id

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{campaign.id}.csv"'},
    )
