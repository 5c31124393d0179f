"""The dashboard's files (docs/media.md, docs/dashboard.md): compose uploads a file before the
form is sent, with its progress shown; a message's page shows the file.

`POST /dashboard/api/media` (write scope, CSRF token in `X-CSRF-Token`) takes the multipart
`file` as `POST /media` does (the same checks, streamed: web/limits.py) and answers the stored
file as JSON, or the refusal (413/422) with the rule in the reader's language beside the API's
words. `GET /dashboard/files/{id}` (a signed-in session) serves its bytes: images, stickers,
video and audio inline (their type was read from their bytes, and `nosniff` is set on every
answer), documents as a download.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from whatsapp_scheduler.core import errors, media
from whatsapp_scheduler.web import dashboard, deps, i18n, schemas, sessions
from whatsapp_scheduler.web.routes import media as media_routes

router = APIRouter(include_in_schema=False)
SessionDep = Annotated[sessions.Session, Depends(sessions.require_session)]
WriterDep = Annotated[sessions.Session, Depends(sessions.require_writer)]
#: Kinds a browser shows in place.
INLINE = frozenset({"image", "sticker", "video", "audio"})


@router.post("/dashboard/api/media")
async def upload(request: Request, session: WriterDep, svc: deps.ServiceDep) -> Response:
    sessions.check_csrf(request, session, None)
    lang = dashboard.language(request)
    t = i18n.translator(lang)
    try:
        stored = await media_routes.store_upload(request, svc, session.principal.name)
    except errors.ValidationFailed as exc:
        status = 413 if isinstance(exc, errors.TooLarge) else 422
        rule = i18n.rule_text(exc, lang)
        body = {"detail": exc.message, "text": t("compose.upload_refused", rule=rule)}
        return Response(schemas.to_json(body), status_code=status, media_type="application/json")
    answer = media_routes.MediaPublic.of(stored).model_dump(mode="json")
    answer["url"] = f"/dashboard/files/{stored.id}"
    answer["size_text"] = size_text(stored.size, dashboard.language(request))
    return Response(schemas.to_json(answer), status_code=201, media_type="application/json")


@router.get("/dashboard/files/{media_id}")
async def file(
    session: SessionDep,
    svc: deps.ServiceDep,
    media_id: Annotated[str, Path(max_length=64)],
) -> Response:
    stored = await svc.media.get(media_id)  # NotFound: the dashboard's 404 page
    how = "inline" if stored.kind in INLINE else "attachment"
    cache = {"Cache-Control": "private, max-age=3600"}
    return media_routes.file_response(svc, stored, how, cache)


def size_text(size: int, lang: str) -> str:
    """`48 KB`, `1,2 MB` in the reader's language (the dashboard's number format)."""
    if size >= media.MB:
        return f"{i18n.format_number(round(size / media.MB, 1), lang)} MB"
    return f"{i18n.format_number(max(1, round(size / media.KB)), lang)} KB"
