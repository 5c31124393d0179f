"""Meta's webhook: `GET /webhook` verification handshake, `POST /webhook` signed events.

No API key here (Meta cannot send one): the GET checks WEBHOOK_VERIFY_TOKEN, the POST checks
`X-Hub-Signature-256` against APP_SECRET over the raw body, in constant time, before anything
is read or applied.

Meta posts thousands of status webhooks a second to a busy number, so `FastPath` answers
`POST /webhook` straight from the ASGI stack, before FastAPI's routing and dependency solving
(which cost more of the event loop's time than applying the statuses: the soak in
bench/RESULTS.md).
The route below stays for the OpenAPI description and does the same (`answer`).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from whatsapp_scheduler import bootstrap
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.web import deps, schemas
from whatsapp_scheduler.whatsapp import template_events, webhooks

router = APIRouter(tags=["webhook"])
#: Bodies larger than this are parsed on a thread, not on the event loop.
READ_ON_A_THREAD = 64 * 1024


@router.get(
    "/webhook",
    response_class=PlainTextResponse,
    responses={
        403: {"content": {"text/plain": {}}, "description": "Token or mode wrong"},
    },
)
async def verify(
    runtime: deps.RuntimeDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> PlainTextResponse:
    """Meta's verification handshake: echo `hub.challenge` when the token matches."""
    expected = runtime.settings.webhook_verify_token
    ok = (
        mode == "subscribe"
        and expected is not None
        and token is not None
        and hmac.compare_digest(token.encode(), expected.get_secret_value().encode())
    )
    if not ok or challenge is None or len(challenge) > 256:
        return PlainTextResponse("verification failed", status_code=403)
    return PlainTextResponse(challenge)


@router.post(
    "/webhook",
    responses={
        400: {"model": schemas.ErrorPublic, "description": "Signed, but not a webhook body"},
        403: {"model": schemas.ErrorPublic, "description": "Signature missing or wrong"},
        422: {"model": schemas.ErrorPublic, "description": "A header breaks a rule"},
    },
)
async def receive(
    request: Request,
    runtime: deps.RuntimeDep,
    signature: Annotated[str | None, Header(alias="X-Hub-Signature-256")] = None,
) -> JSONResponse:
    """Status receipts and inbound messages from Meta, signed with the app secret."""
    return await answer(runtime, await request.body(), signature)


async def answer(runtime: bootstrap.Runtime, body: bytes, signature: str | None) -> JSONResponse:
    """`POST /webhook`'s answer to a body and its `X-Hub-Signature-256`."""
    secret = runtime.settings.app_secret
    if secret is None:
        return _refuse(403, "APP_SECRET is not set, so webhooks cannot be verified")
    if not webhooks.signature_valid(body, signature, secret.get_secret_value()):
        return _refuse(403, "X-Hub-Signature-256: missing or does not match the body")
    now = runtime.clock.now()
    try:
        if len(body) > READ_ON_A_THREAD:  # Meta's bodies reach 3 MB: ~0.1 s of parsing
            delivery, changed = await run_in_threadpool(_read, body, now)
        else:
            delivery, changed = _read(body, now)
    except RecursionError:
        return _refuse(400, "body: is nested too deep to read")
    except (ValueError, UnicodeDecodeError):
        return _refuse(400, "body: is not a webhook JSON object")
    counts = await runtime.service.apply_webhook(delivery)
    if changed and runtime.templates is not None:  # Meta's template webhooks (templates.md)
        await runtime.templates.apply_events(changed)
    return JSONResponse(
        {
            "applied": counts.applied,
            "duplicate": counts.duplicate,
            "stale": counts.stale,
            "unmatched": counts.unmatched,
            "inbound": len(delivery.inbound),
            "skipped": len(delivery.skipped),
        }
    )


def _read(
    body: bytes, now: datetime
) -> tuple[webhooks.Delivery, list[template_events.TemplateEvent]]:
    payload = json.loads(body)
    return webhooks.parse(payload, now), template_events.parse(payload)


def _refuse(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "errors": []}, status_code=status)


_SIGNATURE = b"x-hub-signature-256"


class FastPath:
    """`POST /webhook` answered without FastAPI's routing (see the module's docstring).

    It sits inside `limits.BodySizeLimit` and `headers.SecurityHeaders`, so the body limit and
    the headers are those of every route; a `SchedulerError` (e.g. the database away) gets the
    app's own answer from `on_error`, anything else the app's 500 handler. Everything else,
    `/webhook/` and the GET handshake included, goes on to the app unchanged.
    """

    def __init__(self, app: ASGIApp, on_error: Callable[[errors.SchedulerError], JSONResponse]):
        self.app = app
        self.on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/webhook":
            await self.app(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        # The first header of that name, decoded as Starlette decodes headers (latin-1).
        signature = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.lower() == _SIGNATURE), None
        )
        try:
            response = await answer(scope["app"].state.runtime, b"".join(chunks), signature)
        except errors.SchedulerError as exc:
            response = self.on_error(exc)
        await response(scope, receive, send)
