"""`GET/POST/DELETE /keys`: scoped API keys, for an admin key of every sender.

The same use cases as `whatsapp-scheduler keys` (`service/keys.py`). `POST /keys` answers the
new key once; nothing can show it again (only its SHA-256 is stored).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from whatsapp_scheduler.core import keys
from whatsapp_scheduler.core.senders import Scope
from whatsapp_scheduler.service import keys as key_cases
from whatsapp_scheduler.web import deps, schemas

router = APIRouter(tags=["keys"])


ManagerDep = deps.ManagerDep

_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorPublic, "description": schemas.UNAUTHORIZED},
    403: {"model": schemas.ErrorPublic, "description": schemas.FORBIDDEN},
    503: {"model": schemas.ErrorPublic, "description": "The database is unavailable; retry"},
}


class KeyCreate(BaseModel):
    """A key to make."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64, description=keys.NAME_RULE)
    scope: Scope = Field(
        description="read: GET endpoints; write: also schedule and cancel; "
        "admin: also senders and keys"
    )
    senders: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None,
        max_length=100,
        description="Sender names the key is limited to (`default`: the environment's number); "
        "null or left out: every sender.",
    )


class KeyPublic(BaseModel):
    """A key as stored: never the key itself."""

    name: str
    scope: Scope
    senders: list[str] | None = Field(description="null: every sender")
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: keys.ApiKey) -> KeyPublic:
        return cls(
            name=key.name,
            scope=key.scope,
            senders=sorted(key.senders) if key.senders is not None else None,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class KeyCreatedPublic(KeyPublic):
    key: str = Field(description="The new key. Shown this once: keep it now.")


@router.get("/keys", response_model=list[KeyPublic], responses=_REFUSALS)
async def list_keys(runtime: deps.RuntimeDep, who: ManagerDep) -> list[KeyPublic]:
    """Every key (revoked ones too): name, scope, senders, when made, last used and revoked."""
    return [KeyPublic.of(k) for k in await runtime.store.list_keys()]


@router.post(
    "/keys",
    status_code=201,
    response_model=KeyCreatedPublic,
    responses={
        **_REFUSALS,
        409: {"model": schemas.ErrorPublic, "description": "A key of that name exists"},
        422: {"model": schemas.ErrorPublic, "description": "A field breaks a rule"},
    },
)
async def create_key(
    body: KeyCreate, runtime: deps.RuntimeDep, who: ManagerDep
) -> KeyCreatedPublic:
    """Make a key; the answer holds it, once."""
    key, secret = await key_cases.create(
        runtime.store, runtime.clock, body.name, body.scope, body.senders
    )
    return KeyCreatedPublic(**KeyPublic.of(key).model_dump(), key=secret)


@router.delete(
    "/keys/{name}",
    response_model=KeyPublic,
    responses={**_REFUSALS, 404: {"model": schemas.ErrorPublic, "description": "No such key"}},
)
async def revoke_key(name: str, runtime: deps.RuntimeDep, who: ManagerDep) -> KeyPublic:
    """Revoke a key: its requests are refused (401) from now on, and its dashboard sessions
    end. Revoking again is harmless (the first time is kept)."""
    return KeyPublic.of(await key_cases.revoke(runtime.store, runtime.clock, name))
