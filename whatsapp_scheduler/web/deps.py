"""Dependencies for routes, as `Annotated` aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader

from whatsapp_scheduler import bootstrap, service
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.web import sessions

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


class Unauthorized(errors.SchedulerError):
    """X-API-Key: missing or wrong."""


async def get_runtime(request: Request) -> bootstrap.Runtime:
    return sessions.runtime(request)


RuntimeDep = Annotated[bootstrap.Runtime, Depends(get_runtime)]


async def get_service(runtime: RuntimeDep) -> service.SchedulerService:
    return runtime.service


ServiceDep = Annotated[service.SchedulerService, Depends(get_service)]


async def api_key_given(
    request: Request,
    runtime: RuntimeDep,
    key: Annotated[str | None, Depends(_api_key_header)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> bool:
    """Whether the request carries the API key: X-API-Key (or `Authorization: Bearer <key>`),
    compared in constant time, never logged.

    A signed-in dashboard session also counts, for reads only (GET/HEAD: /docs in a browser);
    writes always need the key, so the cookie alone never changes anything through the API.
    """
    expected = runtime.api_key.encode()
    if key is None and request.method in {"GET", "HEAD"} and await sessions.is_signed_in(request):
        return True
    if key is None and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    given = (key or "").encode()
    return hmac.compare_digest(given, expected) and bool(expected)


ApiKeyGivenDep = Annotated[bool, Depends(api_key_given)]


async def require_api_key(given: ApiKeyGivenDep) -> None:
    """Refuse (401) a request without the API key (see `api_key_given`)."""
    if not given:
        raise Unauthorized()
