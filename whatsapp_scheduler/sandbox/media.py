"""The stand-in's media endpoint (docs/sandbox.md, "Media"): `POST /{version}/{phone_number_id}
/media` as Meta's OpenAPI description has it (multipart: `messaging_product=whatsapp`, `file`
with its Content-Type, optionally `type`), answering `{"id": "<digits>"}`; a send that names
an id this number never got (or one `forget()` dropped, as Meta's expire after 30 days) is
refused with Meta's 131053. The inbox shows an uploaded file at `/_sandbox/media/{id}`.

Files are kept in memory, at most `MAX_TOTAL` bytes in all (the oldest are dropped first): the
stand-in is a test double, not a store.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from whatsapp_scheduler.core import media as media_mod
from whatsapp_scheduler.sandbox import graph_errors

#: Meta's largest file (a 100 MB document).
MAX_FILE = 100 * 1024 * 1024
MAX_TOTAL = 512 * 1024 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Upload:
    media_id: str
    phone_number_id: str
    mime: str
    filename: str | None
    data: bytes = dataclasses.field(repr=False)


class MediaShelf:
    """What was uploaded to each number, and the upload endpoint's handler."""

    def __init__(self, authorized: Callable[[web.Request, str], int | None]) -> None:
        #: `authorized(request, phone_number_id)`: None, or the Graph error code to answer.
        self._authorized = authorized
        self.uploads: collections.OrderedDict[str, Upload] = collections.OrderedDict()
        self._ids = itertools.count(4490709327384033)  # digits, as Meta's ids are
        self._total = 0
        self.requests = 0  # upload requests answered (tests)

    def known(self, phone_number_id: str, media_id: str) -> bool:
        found = self.uploads.get(media_id)
        return found is not None and found.phone_number_id == phone_number_id

    def forget(self) -> int:
        """Drop every upload (as if Meta's ids had expired); how many."""
        count = len(self.uploads)
        self.uploads.clear()
        self._total = 0
        return count

    def unknown_id(self, phone_number_id: str, body: Any) -> str | None:
        """A media id of the send `body` that this number never got, or None."""
        if not isinstance(body, dict):
            return None
        template = body.get("template") if isinstance(body.get("template"), dict) else None
        for _path, value in media_mod.media_objects(body, template):
            media_id = value.get("id")
            if isinstance(media_id, str) and not self.known(phone_number_id, media_id):
                return media_id
        return None

    async def handle_upload(self, request: web.Request) -> web.Response:
        phone_number_id = request.match_info["phone_number_id"]
        self.requests += 1
        refused = self._authorized(request, phone_number_id)
        if refused is not None:
            status = 401 if refused in (104, 190) else 400
            return web.json_response(graph_errors.error_body(refused), status=status)
        if not request.content_type.startswith("multipart/"):
            return _invalid("the upload must be multipart/form-data")
        fields: dict[str, str] = {}
        file: tuple[bytes, str, str | None] | None = None
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                return _invalid("nested multipart is not supported")
            if part.name == "file":
                data = await part.read(decode=False)
                if len(data) > MAX_FILE:
                    return _invalid("the file is larger than 100 MB", 131053)
                mime = part.headers.get("Content-Type", "application/octet-stream")
                file = (bytes(data), mime, part.filename)
            else:
                fields[part.name] = (await part.text())[:256]
        if fields.get("messaging_product") != "whatsapp":
            return _invalid("The parameter messaging_product is required and must be 'whatsapp'.")
        if file is None:
            return _invalid("The parameter file is required.")
        data, mime, filename = file
        mime = fields.get("type") or mime
        if media_mod.KIND_OF_MIME.get(mime.split(";")[0].strip()) is None:
            return _invalid(
                f"Param file must be a file with one of the supported types: {mime}", 131053
            )
        upload = Upload(str(next(self._ids)), phone_number_id, mime, filename, data)
        self._keep(upload)
        return web.json_response({"id": upload.media_id})

    def _keep(self, upload: Upload) -> None:
        self.uploads[upload.media_id] = upload
        self._total += len(upload.data)
        while self._total > MAX_TOTAL and len(self.uploads) > 1:
            _, oldest = self.uploads.popitem(last=False)
            self._total -= len(oldest.data)

    async def serve(self, request: web.Request) -> web.Response:
        """An uploaded file for the inbox (`/_sandbox/media/{id}`), as a download."""
        found = self.uploads.get(request.match_info["media_id"])
        if found is None:
            raise web.HTTPNotFound(text="no such upload")
        name = (found.filename or found.media_id).replace('"', "")
        return web.Response(
            body=found.data,
            content_type=found.mime.split(";")[0],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def _invalid(details: str, code: int = 100) -> web.Response:
    return web.json_response(graph_errors.error_body(code, details), status=400)
