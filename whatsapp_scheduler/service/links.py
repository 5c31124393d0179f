"""The links of media messages, checked when they are scheduled (docs/message-types.md, "Links").

Meta fetches a media `link` itself; our server never does. What is refused here is a link to
an address of the server's own network (loopback, private, link-local, reserved, multicast,
unspecified: Python's `ipaddress` classes), so that the service cannot be made to point at
internal hosts; a host name is resolved (the event loop's `getaddrinfo`, in a thread) and refused
if any of its addresses is such. `MEDIA_ALLOW_PRIVATE_LINKS=true` lifts this (a closed network
whose media server is internal). A name that does not resolve is a warning, not a refusal: Meta
resolves it, not us. Answers are cached per host for a minute (a batch names few hosts).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from whatsapp_scheduler.core import content, errors, notices

RESOLVE_TIMEOUT = 2.0
CACHE_SECONDS = 60.0
CACHE_SIZE = 10_000
_cache: dict[str, tuple[float, list[str] | None]] = {}


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


async def _addresses(host: str) -> list[str] | None:
    """The host's addresses (a literal IP is its own), None if it does not resolve."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    cached = _cache.get(host)
    now = time.monotonic()
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT
        )
        found: list[str] | None = sorted({str(info[4][0]) for info in infos})
    except (OSError, TimeoutError, UnicodeError):
        found = None
    if len(_cache) >= CACHE_SIZE:  # many hosts (a client trying names): start afresh
        _cache.clear()
    _cache[host] = (now, found)
    return found


async def check(
    stored: Mapping[str, Any], allow_private: bool
) -> errors.ValidationFailed | list[notices.ScheduleWarning]:
    """The refusal of a link to an internal address, else the warnings (a name that does not
    resolve)."""
    warnings: list[notices.ScheduleWarning] = []
    for field, url in content.links(stored):
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
        found = await _addresses(host)
        if found is None:
            text = f"link_unresolved: {field}: the host {host!r} does not resolve here"
            params = {"field": field, "host": host}
            warnings.append(
                notices.ScheduleWarning(notices.WarningCode.LINK_UNRESOLVED, text, params)
            )
            continue
        if not allow_private and any(_internal(a) for a in found):
            return errors.ValidationFailed(
                field,
                "must not point to a private, loopback or link-local address "
                "(MEDIA_ALLOW_PRIVATE_LINKS=true allows it)",
            )
    return warnings


async def check_many(
    batch: Sequence[Any], allow_private: bool
) -> list[errors.ValidationFailed | list[notices.ScheduleWarning]]:
    """`check` per message (no links: no warnings)."""
    answers: list[errors.ValidationFailed | list[notices.ScheduleWarning]] = []
    for message in batch:
        stored = getattr(message, "content", None)
        answers.append([] if stored is None else await check(stored, allow_private))
    return answers
