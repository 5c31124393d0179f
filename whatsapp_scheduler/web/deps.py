"""Dependencies for routes, as `Annotated` aliases."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from whatsapp_scheduler import errors, service
from whatsapp_scheduler.web import runtime as runtime_mod

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


class Unauthorized(errors.SchedulerError):
    """X-API-Key: missing or wrong."""


def get_runtime(request: Request) -> runtime_mod.Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[runtime_mod.Runtime, Depends(get_runtime)]


def get_service(runtime: RuntimeDep) -> service.SchedulerService:
    return runtime.service


ServiceDep = Annotated[service.SchedulerService, Depends(get_service)]


def require_api_key(
    runtime: RuntimeDep, key: Annotated[str | None, Depends(_api_key_header)]
) -> None:
    """Check X-API-Key in constant time. The key is never logged or echoed."""
    expected = runtime.api_key.encode()
    given = (key or "").encode()
    if not hmac.compare_digest(given, expected) or not expected:
        raise Unauthorized()
