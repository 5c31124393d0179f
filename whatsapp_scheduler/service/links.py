"""The links of media messages, checked when they are scheduled (docs/message-types.md, "Links").

Meta fetches a media `link` itself; our server never does. What is refused here is a link to
an address of the server's own network (loopback, private, link-local, reserved, multicast,
unspecified: Python's `ipaddress` classes), so that the service cannot be made to point at
internal hosts; a host name is resolved (the event loop's `getaddrinfo`, in a thread) and refused
if any of its addresses is such. `MEDIA_ALLOW_PRIVATE_LINKS=true` lifts this (a closed network
whose media server is internal). A name that does not resolve is a warning, not a refusal: Meta
resolves it, not us. Answers are cached per host for a minute (a batch names few hosts).

A link that passed is then asked once (`HEAD`, and a one-byte ranged `GET` when a server
refuses HEAD) to warn early about a 404 or a dead host: `link_unreachable`, never a refusal.
The request goes to the very address just checked (aiohttp's resolver is pinned to it, so a
name that resolves elsewhere a second time, DNS rebinding, changes nothing), with no redirects
followed, no body read, and LINK_CHECK_SECONDS for all the links of one request together
(links not answered by then get no warning). Answers are cached per link for a minute, and a
link being asked is not asked again by a concurrent request: it waits for that ask.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from whatsapp_scheduler.core import content, errors, notices

RESOLVE_TIMEOUT = 2.0
#: All the reachability checks of one request (a batch's links are asked concurrently).
LINK_CHECK_SECONDS = 3.0
LINK_CHECKS_AT_ONCE = 16
CACHE_SECONDS = 60.0
CACHE_SIZE = 10_000
_cache: dict[str, tuple[float, list[str] | None]] = {}
_reached: dict[str, tuple[float, str | None]] = {}  # url -> (when, why it failed; None: ok)


@functools.lru_cache(maxsize=4096)  # the same few addresses, asked for every message
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


@functools.lru_cache(maxsize=4096)  # a campaign's or a shop's messages share a few links
def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".").lower()


async def _addresses(host: str) -> list[str] | None:
    """The host's addresses (a literal IP is its own), None if it does not resolve."""
    cached = _cache.get(host)
    now = time.monotonic()
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    found: list[str] | None
    try:
        found = [str(ipaddress.ip_address(host))]
    except ValueError:
        found = await _resolve(host)
    if len(_cache) >= CACHE_SIZE:  # many hosts (a client trying names): start afresh
        _cache.clear()
    _cache[host] = (now, found)
    return found


async def _resolve(host: str) -> list[str] | None:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT
        )
    except (OSError, TimeoutError, UnicodeError):
        return None
    return sorted({str(info[4][0]) for info in infos})


async def check(
    stored: Mapping[str, Any], allow_private: bool, found_links: list[tuple[str, str]] | None = None
) -> errors.ValidationFailed | tuple[list[notices.ScheduleWarning], list[tuple[str, str, str]]]:
    """The refusal of a link to an internal address, else the warnings (a name that does not
    resolve) and the (field, url, address) of each link that passed, to ask. `found_links`:
    `content.links(stored)`, when the caller has it."""
    warnings: list[notices.ScheduleWarning] = []
    to_ask: list[tuple[str, str, str]] = []
    for field, url in content.links(stored) if found_links is None else found_links:
        host = _host(url)
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
        to_ask.append((field, url, found[0]))
    return warnings, to_ask


async def check_many(
    batch: Sequence[Any], allow_private: bool, *, reach: bool = True
) -> list[errors.ValidationFailed | list[notices.ScheduleWarning]]:
    """`check` per message (no links: no warnings), then every link that passed asked at once
    (`reach`), within LINK_CHECK_SECONDS in all."""
    answers: list[errors.ValidationFailed | list[notices.ScheduleWarning]] = []
    asks: list[tuple[int, str, str, str]] = []
    for index, message in enumerate(batch):
        stored = getattr(message, "content", None)
        named = content.links(stored) if stored is not None else []
        if stored is None or not named:  # no link (a text, a file of ours): nothing to check
            answers.append([])
            continue
        found = await check(stored, allow_private, named)
        if isinstance(found, errors.ValidationFailed):
            answers.append(found)
            continue
        answers.append(found[0])
        for field, url, address in found[1]:
            asks.append((index, field, url, address))
    if reach and asks:
        for index, field, _url, reason in await _ask_all(asks):
            answer = answers[index]
            if isinstance(answer, list):
                text = f"link_unreachable: {field}: {reason}"
                params = {"field": field, "reason": reason}
                code = notices.WarningCode.LINK_UNREACHABLE
                answer.append(notices.ScheduleWarning(code, text, params))
    return answers


async def _ask_all(asks: list[tuple[int, str, str, str]]) -> list[tuple[int, str, str, str]]:
    """(index, field, url, why) of the links that did not work; unanswered ones are left out.

    A link is asked once however many ask for it: its answer is kept CACHE_SECONDS, and
    while it is being asked, other requests naming it (concurrent clients scheduling the
    same new link) wait for that ask instead of starting their own (`_asking`)."""
    now = time.monotonic()
    waiting: dict[str, asyncio.Task[None]] = {}  # url -> its ask, ours or another request's
    gate: asyncio.Semaphore | None = None
    for _index, _field, url, address in asks:
        cached = _reached.get(url)
        if (cached is not None and now - cached[0] < CACHE_SECONDS) or url in waiting:
            continue
        task = _asking.get(url)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            gate = gate or asyncio.Semaphore(LINK_CHECKS_AT_ONCE)
            task = asyncio.ensure_future(_ask_once(url, address, gate))
            _asking[url] = task
            task.add_done_callback(functools.partial(_asked, url))
        waiting[url] = task
    if waiting:  # an ask ends by itself within LINK_CHECK_SECONDS (others may wait for it)
        await asyncio.wait(set(waiting.values()), timeout=LINK_CHECK_SECONDS)
    failed: list[tuple[int, str, str, str]] = []
    for index, field, url, _address in asks:
        cached = _reached.get(url)
        if cached is not None and cached[1] is not None:
            failed.append((index, field, url, cached[1]))
    return failed


#: The asks under way, by link: a request naming a link being asked waits for that ask.
_asking: dict[str, asyncio.Task[None]] = {}


def _asked(url: str, task: asyncio.Task[None]) -> None:
    if _asking.get(url) is task:
        del _asking[url]


async def _ask_once(url: str, address: str, gate: asyncio.Semaphore) -> None:
    """Ask `url` (at most LINK_CHECKS_AT_ONCE of a request at a time, LINK_CHECK_SECONDS in
    all, waiting included) and keep the answer; no answer by then keeps nothing."""
    import aiohttp

    # The ask itself ends a little before the budget: a host that never answers is reported.
    limits = aiohttp.ClientTimeout(total=LINK_CHECK_SECONDS - 0.5)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINK_CHECK_SECONDS):
            async with gate:
                reason = await _ask(url, address, urlsplit(url).hostname or "", limits)
            if len(_reached) >= CACHE_SIZE:
                _reached.clear()
            _reached[url] = (time.monotonic(), reason)


class _Pinned:
    """An aiohttp resolver that answers the one address already checked, for its host."""

    def __init__(self, host: str, address: str) -> None:
        self.host, self.address = host, address

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        is_v6 = ":" in self.address
        return [
            {
                "hostname": host,
                "host": self.address,
                "port": port,
                "family": socket.AF_INET6 if is_v6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


async def _ask(url: str, address: str, host: str, limits: Any) -> str | None:
    """Why the link does not work (`HTTP 404`, `no answer`), or None when it does."""
    import aiohttp

    connector = aiohttp.TCPConnector(resolver=_Pinned(host, address), limit=1)  # type: ignore[arg-type]
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=limits) as session:
            status = await _status(session, "HEAD", url, {})
            if status in (403, 405, 501):  # some servers refuse HEAD: ask for one byte instead
                status = await _status(session, "GET", url, {"Range": "bytes=0-0"})
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
        return f"no answer: {type(exc).__name__}"
    return None if status < 400 else f"HTTP {status}"


async def _status(session: Any, method: str, url: str, headers: dict[str, str]) -> int:
    async with session.request(method, url, headers=headers, allow_redirects=False) as resp:
        return int(resp.status)
