"""Dependencies for routes, as `Annotated` aliases, and who a request acts as.

A request's key (X-API-Key, or `Authorization: Bearer <key>`) resolves to a `keys.Principal`:
the environment's API_KEY (compared in constant time) is an admin key for every sender; any
other key is hashed (SHA-256) and looked up by that hash, one read of a unique index, on every
request, so a revoked key is refused at once (no cache). What the lookup's timing could tell
is which hashes exist, and a client cannot steer a SHA-256 toward a stored one. A stored key's
`last_used_at` is written at most once a minute (`keys.TOUCH_INTERVAL`), off the request.

Each route asks for a scope with `require_scope(Scope.X)` (as a parameter, or as
`dependencies=[Depends(deps.require_scope(Scope.ADMIN))]`); a key without it is 403, naming
the scope needed.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader

from whatsapp_scheduler import bootstrap, service
from whatsapp_scheduler.core import errors, keys
from whatsapp_scheduler.core.senders import Scope
from whatsapp_scheduler.web import sessions

logger = logging.getLogger(__name__)

_api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="The environment's API_KEY (admin), or a key made with `whatsapp-scheduler "
    "keys create` (its scope: read, write or admin). `Authorization: Bearer <key>` works too.",
)
#: Longer than any key we make or accept as API_KEY; longer input is refused unread.
MAX_KEY_LENGTH = 512
_touching: set[asyncio.Task[None]] = set()  # last_used writes in flight (kept referenced)


class Unauthorized(errors.SchedulerError):
    """X-API-Key: missing, wrong or revoked."""


async def get_runtime(request: Request) -> bootstrap.Runtime:
    return sessions.runtime(request)


RuntimeDep = Annotated[bootstrap.Runtime, Depends(get_runtime)]


async def get_service(runtime: RuntimeDep) -> service.SchedulerService:
    return runtime.service


ServiceDep = Annotated[service.SchedulerService, Depends(get_service)]


async def resolve_key(runtime: bootstrap.Runtime, given: str) -> keys.Principal | None:
    """Who `given` is: the environment's key, a stored key not revoked, or None."""
    if not given or len(given) > MAX_KEY_LENGTH:
        return None
    expected = runtime.api_key.encode()
    if expected and hmac.compare_digest(given.encode(), expected):
        return keys.ENVIRONMENT
    if not given.startswith(keys.KEY_PREFIX):  # we make no other keys: no read needed
        return None
    found = await runtime.store.find_key(keys.key_hash(given))
    if found is None or found.revoked:
        return None
    now = runtime.clock.now()
    if found.needs_touch(now):
        _touch_later(runtime, found.name, now)
    return keys.Principal.of(found)


def _touch_later(runtime: bootstrap.Runtime, name: str, now: datetime) -> None:
    """Write `last_used_at` without holding the request (at most once a minute per key: the
    row just read says whether a minute has passed; the UPDATE is conditional too)."""
    loop = asyncio.get_running_loop()
    for task in list(_touching):
        if task.get_loop() is not loop:  # left by a loop that has ended (tests make many)
            _touching.discard(task)
        elif task.get_name() == f"touch-key:{name}" and not task.done():
            return  # this process is writing it already

    async def touch() -> None:
        try:
            await runtime.store.touch_key(name, now)
        except errors.StoreError:
            logger.warning("could not record when key %r was last used", name)

    task = loop.create_task(touch(), name=f"touch-key:{name}")
    _touching.add(task)
    task.add_done_callback(_touching.discard)


def _given(key: str | None, authorization: str | None) -> str:
    if key is None and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    return key or ""


async def optional_principal(
    request: Request,
    runtime: RuntimeDep,
    key: Annotated[str | None, Depends(_api_key_header)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> keys.Principal | None:
    """The request's key as a Principal, or None (no key, a wrong or revoked one; never logged).

    A signed-in dashboard session also counts, for reads only (GET/HEAD: /docs in a browser),
    as the key it signed in with; writes always need the key itself, so the cookie alone never
    changes anything through the API.
    """
    given = _given(key, authorization)
    if not given and request.method in {"GET", "HEAD"}:
        session = await sessions.read_session(request)
        if session is not None and session.authenticated:
            return session.principal
    return await resolve_key(runtime, given)


OptionalPrincipalDep = Annotated[keys.Principal | None, Depends(optional_principal)]


async def principal(who: OptionalPrincipalDep) -> keys.Principal:
    """The request's Principal; 401 without a valid key."""
    if who is None:
        raise Unauthorized()
    return who


PrincipalDep = Annotated[keys.Principal, Depends(principal)]


def refusal(who: keys.Principal, needed: Scope, what: str) -> errors.Forbidden:
    return errors.Forbidden(
        f"scope: {what} needs the {needed} scope; this API key ({who.label}) has {who.scope}"
    )


@functools.cache  # one dependency per scope, so FastAPI resolves it once per request
def require_scope(needed: Scope) -> Callable[..., Awaitable[keys.Principal]]:
    """A dependency refusing (401) a request without a valid key and (403, naming the scope)
    one whose key lacks `needed`; it returns the Principal."""

    async def dependency(request: Request, who: PrincipalDep) -> keys.Principal:
        if not who.allows(needed):
            route = request.scope.get("route")
            path = getattr(route, "path", request.url.path)
            raise refusal(who, needed, f"{request.method} {path}")
        return who

    dependency.__name__ = f"require_{needed}_scope"
    return dependency


ReaderDep = Annotated[keys.Principal, Depends(require_scope(Scope.READ))]
WriterDep = Annotated[keys.Principal, Depends(require_scope(Scope.WRITE))]
AdminDep = Annotated[keys.Principal, Depends(require_scope(Scope.ADMIN))]


async def key_manager(who: AdminDep) -> keys.Principal:
    """Admin scope, and not limited to some senders: what managing keys and senders needs
    (a key limited to some senders could otherwise make wider keys or change other senders)."""
    if who.senders is not None:
        raise errors.Forbidden(
            f"scope: managing keys and senders needs an admin key for every sender; this API "
            f"key ({who.label}) is limited to {', '.join(sorted(who.senders))}"
        )
    return who


ManagerDep = Annotated[keys.Principal, Depends(key_manager)]


async def api_key_given(who: OptionalPrincipalDep) -> bool:
    """Whether the request carries a valid key of any scope (see `optional_principal`)."""
    return who is not None


ApiKeyGivenDep = Annotated[bool, Depends(api_key_given)]

#: The full key: admin scope. Kept under its old name for routes that said "the API key".
require_api_key = require_scope(Scope.ADMIN)
