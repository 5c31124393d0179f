"""Request body size limits, enforced before any parsing (a pure ASGI middleware).

Bodies are read whole before the app sees them, except on the paths of `STREAMED` (file
uploads): those pass through as they arrive, counted; past the limit, `receive` raises
`BodyTooLarge` inside the route's reading (the route answers 413)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_LIMIT = 64 * 1024
BATCH_LIMIT = 1024 * 1024
WEBHOOK_LIMIT = 4 * 1024 * 1024  # Meta's webhook payloads reach 3 MB
#: POST /contacts and /contacts/import: 10,000 contacts with names, labels and attributes.
CONTACTS_LIMIT = 16 * 1024 * 1024
#: POST /media: Meta's largest file (a 100 MB document) and the multipart envelope around it.
MEDIA_LIMIT = 100 * 1024 * 1024 + 64 * 1024
#: Paths whose body is streamed to the app (never held in memory here), with their limit.
STREAMED = {"/media": MEDIA_LIMIT, "/dashboard/api/media": MEDIA_LIMIT}


class BodyTooLarge(Exception):
    """A streamed body went past its path's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body: larger than {limit} bytes")
        self.limit = limit


def limit_for(path: str) -> int:
    path = path.rstrip("/")
    if path == "/webhook":
        return WEBHOOK_LIMIT
    if path in {"/contacts", "/contacts/import"}:
        return CONTACTS_LIMIT
    if path == "/campaigns":
        return BATCH_LIMIT
    return BATCH_LIMIT if path.endswith("/batch") else DEFAULT_LIMIT


class BodySizeLimit:
    """Answer 413 to a body over its path's limit; reads at most limit+1 bytes of it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in {"POST", "PUT", "PATCH"}:
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/")
        limit = STREAMED.get(path) or limit_for(path)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        if path in STREAMED:
            await self.app(scope, _counted(receive, limit), send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(send, limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _counted(receive: Receive, limit: int) -> Receive:
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        if size > limit:
            raise BodyTooLarge(limit)
        return message

    return counted


async def _too_large(send: Send, limit: int) -> None:
    payload = json.dumps(
        {
            "detail": f"body: larger than {limit} bytes, the limit for this endpoint",
            "errors": [{"field": "body", "rule": f"at most {limit} bytes"}],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
