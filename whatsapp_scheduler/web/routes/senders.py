"""`/senders`: the business numbers the service sends from (list, add, change, remove).

The use cases and their rules are `service.SenderAdmin`; this module is the HTTP contract.
An access token goes in (POST, PATCH) and never comes out. The environment's sender
(`default`, PHONE_NUMBER_ID) is listed with `from_environment: true` and cannot be changed
here (409). Every route needs the API key (the router's dependency below).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from whatsapp_scheduler import service
from whatsapp_scheduler.core import errors, senders
from whatsapp_scheduler.web import deps, schemas

router = APIRouter(tags=["senders"], dependencies=[Depends(deps.key_manager)])

_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorPublic, "description": "X-API-Key missing or wrong"},
    422: {"model": schemas.ErrorPublic, "description": "A field breaks a rule"},
    503: {
        "model": schemas.ErrorPublic,
        "description": "The database is unavailable, or SECRET_KEY is not set (adding a "
        "sender or a token needs it)",
    },
}
_NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": schemas.ErrorPublic, "description": "No sender has that name"}
}

_NAME = f"The sender's name, as messages give it in `gonderen`: {senders.NAME_RULE}."
_META_ID = "Meta's numeric id (digits only)."
_RATE = "Messages per second from this number, more than 0 and at most 1000; null: the "
_RATE += "MESSAGES_PER_SECOND setting."
_GAP = "Seconds between two messages to one recipient from this number, 0 or more; null: the "
_GAP += "PAIR_INTERVAL setting."
_QUIET = "Its own quiet hours in each message's time zone: `HH:MM-HH:MM` (e.g. `21:00-09:00`), "
_QUIET += "or `off` for none (docs/limits.md)."
_LIMIT = "Its business portfolio's daily messaging limit (unique contacts reached with templates "
_LIMIT += "outside their 24-hour window in a moving 24 h): `250`, `2000`, `10000`, `100000` or "
_LIMIT += "`unlimited`; null: the MESSAGING_LIMIT setting. Give every number of a portfolio the "
_LIMIT += "same (docs/limits.md)."
_TOKEN = "The number's Cloud API access token. Stored encrypted with SECRET_KEY; never "
_TOKEN += "returned or logged."
NameParam = Annotated[str, Path(max_length=64, description="The sender's name.")]


class SenderCreate(BaseModel):
    """A business number to send from. Unknown fields are refused (422 naming them)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "ankara",
                    "phone_number_id": "106540352242922",
                    "access_token": "EAAG...",
                    "waba_id": "102290129340398",
                    "messages_per_second": 20,
                }
            ]
        },
    )

    name: str = Field(description=_NAME)
    phone_number_id: str = Field(description="The number's Cloud API id: " + _META_ID)
    access_token: str = Field(description=_TOKEN)
    waba_id: str | None = Field(
        default=None, description="Its WhatsApp Business Account: " + _META_ID
    )
    portfolio: str | None = Field(
        default=None,
        description="Its business portfolio (the daily messaging limit is shared by the "
        "portfolio's numbers): " + _META_ID,
    )
    messages_per_second: float | None = Field(default=None, description=_RATE)
    pair_interval: float | None = Field(default=None, description=_GAP)
    enabled: bool = Field(
        default=True, description="A disabled sender is refused in `gonderen` (422)."
    )
    quiet_hours: str | None = Field(default=None, description=_QUIET)
    messaging_limit: str | None = Field(default=None, description=_LIMIT)


class SenderUpdate(BaseModel):
    """The fields to change; those left out stay as they are, null clears an optional one.
    The name cannot change (remove and add instead). Unknown fields are refused (422)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"enabled": False}, {"access_token": "EAAG..."}]},
    )

    phone_number_id: str | None = Field(default=None, description=_META_ID)
    access_token: str | None = Field(
        default=None,
        description=_TOKEN + " Every dispatcher uses it within SAFETY_POLL_SECONDS (30 s).",
    )
    waba_id: str | None = Field(default=None, description=_META_ID)
    portfolio: str | None = Field(default=None, description=_META_ID)
    messages_per_second: float | None = Field(default=None, description=_RATE)
    pair_interval: float | None = Field(default=None, description=_GAP)
    enabled: bool | None = Field(
        default=None,
        description="false: refused in `gonderen` (422); its queued messages fail when due.",
    )
    quiet_hours: str | None = Field(default=None, description=_QUIET + " null: QUIET_HOURS.")
    messaging_limit: str | None = Field(default=None, description=_LIMIT)


class SenderPublic(BaseModel):
    """A sender, without its access token."""

    name: str
    phone_number_id: str
    waba_id: str | None
    portfolio: str | None
    messages_per_second: float | None = Field(description=_RATE)
    pair_interval: float | None = Field(description=_GAP)
    enabled: bool
    quiet_hours: str | None = Field(
        default=None, description=_QUIET + " null: the QUIET_HOURS setting applies."
    )
    messaging_limit: str | None = Field(default=None, description=_LIMIT)
    from_environment: bool = Field(
        description="The sender of PHONE_NUMBER_ID + ACCESS_TOKEN (+ WABA_ID): read-only here."
    )
    created_at: datetime | None = Field(description="Null for the environment's sender.")
    updated_at: datetime | None = Field(description="Null for the environment's sender.")

    @classmethod
    def of(cls, sender: senders.Sender) -> SenderPublic:
        return cls(
            name=sender.name,
            phone_number_id=sender.phone_number_id,
            waba_id=sender.waba_id,
            portfolio=sender.portfolio,
            messages_per_second=sender.messages_per_second,
            pair_interval=sender.pair_interval,
            enabled=sender.enabled,
            quiet_hours=sender.quiet_hours,
            messaging_limit=sender.messaging_limit,
            from_environment=sender.from_environment,
            created_at=sender.created_at,
            updated_at=sender.updated_at,
        )


class SenderRemovedPublic(BaseModel):
    name: str
    message: str


async def get_admin(runtime: deps.RuntimeDep) -> service.SenderAdmin:
    return runtime.sender_admin()


AdminDep = Annotated[service.SenderAdmin, Depends(get_admin)]


@router.get("/senders", response_model=list[SenderPublic], responses=_REFUSALS)
async def list_senders(admin: AdminDep) -> list[SenderPublic]:
    """Every sender: the environment's first (if PHONE_NUMBER_ID is set), then by name."""
    return [SenderPublic.of(s) for s in await admin.list()]


@router.post(
    "/senders",
    status_code=201,
    response_model=SenderPublic,
    responses={
        **_REFUSALS,
        409: {"model": schemas.ErrorPublic, "description": "name or phone_number_id taken"},
    },
)
async def add_sender(body: SenderCreate, admin: AdminDep) -> SenderPublic:
    """Add a business number. Its messages name it in `gonderen`."""
    added = await admin.add(
        service.NewSender(
            name=body.name,
            phone_number_id=body.phone_number_id,
            access_token=body.access_token,
            waba_id=body.waba_id,
            portfolio=body.portfolio,
            messages_per_second=body.messages_per_second,
            pair_interval=body.pair_interval,
            enabled=body.enabled,
            quiet_hours=body.quiet_hours,
            messaging_limit=body.messaging_limit,
        )
    )
    return SenderPublic.of(added)


@router.get("/senders/{name}", response_model=SenderPublic, responses={**_REFUSALS, **_NOT_FOUND})
async def get_sender(name: NameParam, admin: AdminDep) -> SenderPublic:
    """One sender, without its token."""
    return SenderPublic.of(await admin.get(name))


@router.patch(
    "/senders/{name}",
    response_model=SenderPublic,
    responses={
        **_REFUSALS,
        **_NOT_FOUND,
        409: {
            "model": schemas.ErrorPublic,
            "description": "phone_number_id taken, or the environment's sender (read-only)",
        },
    },
)
async def update_sender(name: NameParam, body: SenderUpdate, admin: AdminDep) -> SenderPublic:
    """Change some fields of a sender; a new `access_token` is used within SAFETY_POLL_SECONDS."""
    changes = {field: getattr(body, field) for field in body.model_fields_set}
    if not changes:
        raise errors.ValidationFailed("body", "name at least one field to change")
    return SenderPublic.of(await admin.update(name, changes))


@router.delete(
    "/senders/{name}",
    response_model=SenderRemovedPublic,
    responses={
        **_REFUSALS,
        **_NOT_FOUND,
        409: {
            "model": schemas.ErrorPublic,
            "description": "It still has messages queued or sending, or it is the "
            "environment's sender (read-only)",
        },
    },
)
async def remove_sender(name: NameParam, admin: AdminDep) -> SenderRemovedPublic:
    """Remove a sender that has no message queued or sending (cancel them first, or let them
    go out). Its sent messages keep its name in their history."""
    await admin.remove(name)
    return SenderRemovedPublic(name=name, message="removed")
