"""`/media`: upload a file once, then send it by its id (docs/media.md).

`POST /media` takes one multipart field `file` (write scope). Its type is read from its bytes,
never from its name or Content-Type, and Meta's rules for that type are applied before
anything is stored: 422 for a type WhatsApp does not take, 413 over the type's size. The body
is streamed (web/limits.py, `STREAMED`): Starlette spools the part to a temporary file, and the
file goes into the database a chunk at a time, so a 100 MB document never sits in memory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from whatsapp_scheduler import service
from whatsapp_scheduler.core import errors, media
from whatsapp_scheduler.web import deps, limits, schemas

router = APIRouter(tags=["media"])

_REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": schemas.ErrorPublic, "description": "X-API-Key missing or wrong"},
    403: {"model": schemas.ErrorPublic, "description": "The key's scope does not allow it"},
    503: {"model": schemas.ErrorPublic, "description": "The database is unavailable"},
}
_NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"model": schemas.ErrorPublic, "description": "No uploaded file has that id"},
    422: {"model": schemas.ErrorPublic, "description": "The id is longer than 64 characters"},
}
IdParam = Annotated[str, Path(max_length=64, description="The file's id (`med_...`).")]

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "additionalProperties": False,
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "The file. Its type is read from its content: JPEG or "
                        "PNG (image, 5 MB), MP4 or 3GPP with H.264 and AAC (video, 16 MB), "
                        "AAC, AMR, MP3, M4A or OGG Opus (audio, 16 MB), text, PDF, Word, Excel "
                        "or PowerPoint (document, 100 MB), WebP (sticker, 100 KB; 500 KB "
                        "animated). Its name is kept as the document's file name.",
                    }
                },
            }
        }
    },
}


class MediaPublic(BaseModel):
    """An uploaded file. Send it by its id: `{"type": "image", "image": {"id": "med_..."}}`,
    an interactive header's or a template header parameter's `id`."""

    id: str = Field(examples=["med_4f1c2a9b8e7d6c5b4a39281706f5e4d3"])
    type: str = Field(
        description="The message type it can be sent as: image, video, audio, "
        "document or sticker (from the file's content)."
    )
    mime_type: str = Field(examples=["application/pdf"])
    size: int = Field(description="Bytes.")
    sha256: str = Field(description="The SHA-256 of its bytes, in hex.")
    filename: str | None = Field(description="The name it was uploaded with.")
    created_at: datetime
    created_by: str | None = Field(description="The API key's name; null: API_KEY.")

    @classmethod
    def of(cls, file: media.MediaFile) -> MediaPublic:
        return cls(
            id=file.id,
            type=file.kind,
            mime_type=file.mime,
            size=file.size,
            sha256=file.sha256,
            filename=file.filename,
            created_at=file.created_at,
            created_by=file.created_by,
        )


@router.post(
    "/media",
    status_code=201,
    response_model=MediaPublic,
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        **_REFUSALS,
        413: {"model": schemas.ErrorPublic, "description": "Larger than its type allows"},
        422: {
            "model": schemas.ErrorPublic,
            "description": "No `file`, another field, or a type WhatsApp does not take",
        },
    },
)
async def upload_media(request: Request, svc: deps.ServiceDep, who: deps.WriterDep) -> MediaPublic:
    """Store a file to send later (write scope); answers its id."""
    return MediaPublic.of(await store_upload(request, svc, who.name))


async def store_upload(
    request: Request, svc: service.SchedulerService, key_name: str | None
) -> media.MediaFile:
    """The multipart body's one `file` part, checked and stored (also the dashboard's
    upload); ValidationFailed or TooLarge naming the rule otherwise."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise errors.ValidationFailed("body", "must be multipart/form-data with a field `file`")
    try:
        form = await request.form(max_files=1, max_fields=8, max_part_size=64 * 1024)
    except limits.BodyTooLarge as exc:
        raise errors.TooLarge(
            "file", "must be at most {UPLOAD_MAX:,} bytes", UPLOAD_MAX=media.UPLOAD_MAX
        ) from exc
    except HTTPException as exc:  # Starlette's multipart parser: a malformed body
        raise errors.ValidationFailed(
            "body", "is not readable multipart: {detail}", detail=exc.detail
        ) from exc
    try:
        unknown = sorted(set(form.keys()) - {"file"})
        if unknown:
            raise errors.ValidationFailed(unknown[0], "is not a field of this request (only file)")
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise errors.ValidationFailed("file", "is required: a file part")
        size = file.size if file.size is not None else _size_of(file)
        return await svc.media.upload(file.file, size, file.filename or None, key_name)
    finally:
        await form.close()


def _size_of(file: UploadFile) -> int:
    file.file.seek(0, 2)
    return file.file.tell()


@router.get("/media/{media_id}", response_model=MediaPublic, responses={**_REFUSALS, **_NOT_FOUND})
async def get_media(media_id: IdParam, svc: deps.ServiceDep, who: deps.ReaderDep) -> MediaPublic:
    """An uploaded file's type, size and digest (read scope)."""
    return MediaPublic.of(await svc.media.get(media_id))


@router.get(
    "/media/{media_id}/content",
    response_class=StreamingResponse,
    responses={
        **_REFUSALS,
        **_NOT_FOUND,
        200: {
            "description": "The file's bytes, with the type read from them at upload",
            "content": {mime: {} for mime in sorted(media.KIND_OF_MIME)},
        },
    },
)
async def get_media_content(
    media_id: IdParam, svc: deps.ServiceDep, who: deps.ReaderDep
) -> StreamingResponse:
    """The file's bytes as uploaded (read scope), streamed a chunk at a time."""
    # Never rendered in the service's own origin: a file is data, not a page.
    return file_response(svc, await svc.media.get(media_id), "attachment")


def file_response(
    svc: service.SchedulerService,
    file: media.MediaFile,
    disposition: str,
    headers: dict[str, str] | None = None,
) -> StreamingResponse:
    """The file's bytes streamed a chunk at a time, with its type, size and name
    (`disposition`: `attachment` or `inline`; also the dashboard's /dashboard/files)."""
    name = quote((file.filename or file.id).replace('"', ""), safe="")
    return StreamingResponse(
        svc.media.chunks(file),
        media_type=file.mime,
        headers={
            "Content-Length": str(file.size),
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{name}",
            **(headers or {}),
        },
    )


@router.delete(
    "/media/{media_id}",
    status_code=204,
    responses={
        **_REFUSALS,
        **_NOT_FOUND,
        409: {"model": schemas.ErrorPublic, "description": "Queued messages still send it"},
    },
)
async def delete_media(media_id: IdParam, svc: deps.ServiceDep, who: deps.WriterDep) -> Response:
    """Remove a file that no queued message sends (write scope)."""
    await svc.media.delete(media_id)
    return Response(status_code=204)
