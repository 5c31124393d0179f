"""Uploaded files (`POST /media`): what Meta takes per type, told from the file's own bytes.
Pure: no I/O but reading the file object it is given (docs/media.md).

Meta's limits per media type (Cloud API, "Supported media types"):

| type     | formats                                              | at most                  |
|----------|------------------------------------------------------|--------------------------|
| image    | JPEG, PNG                                            | 5 MB                     |
| video    | MP4, 3GPP; H.264 video with AAC audio (or none)      | 16 MB                    |
| audio    | AAC, AMR, MP3, MP4 audio (M4A), OGG with Opus        | 16 MB                    |
| document | text, PDF, Word, Excel, PowerPoint (old and new)     | 100 MB                   |
| sticker  | WebP                                                 | 100 KB, 500 KB animated  |

The type is read from the content (`filetype`, by magic numbers), never from the file's name
or the client's Content-Type: a `.jpg` that is a PDF is a document. A file whose format Meta
takes for no type is refused (422); one over its type's size, 413.

Our ids start with `med_` (`new_id`). A message names an upload as Meta does, `{"id": ...}`
(in `image`, an interactive header, a template's header parameter); ids without the prefix are
Meta's own and pass through untouched. `referenced_id` finds ours in a message, `with_meta_id`
puts Meta's id for it in the payload sent.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any

import filetype  # type: ignore[import-untyped]  # no type hints shipped

from whatsapp_scheduler.core import errors

PREFIX = "med_"
KINDS = ("image", "video", "audio", "document", "sticker")

MB = 1024 * 1024
KB = 1024
#: The largest file of each type Meta takes (bytes).
MAX_BYTES = {
    "image": 5 * MB,
    "video": 16 * MB,
    "audio": 16 * MB,
    "document": 100 * MB,
    "sticker": 100 * KB,
}
STICKER_ANIMATED_MAX = 500 * KB
#: The largest upload of any type (the endpoint refuses a longer body before reading it).
UPLOAD_MAX = max(MAX_BYTES.values())

#: Meta's MIME types per kind, as `filetype` names them (text/plain is told apart by hand).
KIND_OF_MIME = {
    "image/jpeg": "image",
    "image/png": "image",
    "video/mp4": "video",
    "video/3gpp": "video",
    "audio/aac": "audio",
    "audio/amr": "audio",
    "audio/mpeg": "audio",
    "audio/mp4": "audio",
    "audio/ogg": "audio",
    "text/plain": "document",
    "application/pdf": "document",
    "application/msword": "document",
    "application/vnd.ms-excel": "document",
    "application/vnd.ms-powerpoint": "document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "document",
    "image/webp": "sticker",
}
#: Bytes read from the start of a file to tell its type (filetype needs at most 8,192).
HEAD_BYTES = 8192
FILENAME_MAX = 240
#: Video sample entries (ISO BMFF `stsd` four-character codes) Meta plays: H.264 and AAC.
VIDEO_CODECS = frozenset({"avc1", "avc3"})
AUDIO_CODECS = frozenset({"mp4a"})


@dataclasses.dataclass(frozen=True, slots=True)
class MediaFile:
    """An uploaded file as stored (its bytes are kept beside it in chunks)."""

    id: str
    kind: str  # one of KINDS
    mime: str
    size: int
    sha256: str
    created_at: datetime
    filename: str | None = None
    created_by: str | None = None  # the API key's name; None: API_KEY
    #: Where its bytes are: None in the database's `media_chunks`, else an object store's
    #: URL (`s3://bucket/key`, MEDIA_URL).
    location: str | None = None


def new_id() -> str:
    """A new id of ours: `med_` and 32 hex digits (unguessable: the id is the file's handle)."""
    return PREFIX + secrets.token_hex(16)


def is_ours(media_id: object) -> bool:
    return isinstance(media_id, str) and media_id.startswith(PREFIX)


def identify(head: bytes) -> str | None:
    """The MIME type of a file from its first bytes, or None when it is no type we know."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    return "text/plain" if _plain_text(head) else None


def check(file: IO[bytes], size: int, filename: str | None = None) -> tuple[str, str]:
    """(kind, MIME) of an uploaded `file` of `size` bytes, once it follows Meta's rules;
    `errors.ValidationFailed` (422) or `errors.TooLarge` (413) naming the rule otherwise."""
    if size == 0:
        raise errors.ValidationFailed("file", "is empty")
    if filename is not None and len(filename) > FILENAME_MAX:
        raise errors.ValidationFailed(
            "filename", "must be at most {FILENAME_MAX} characters", FILENAME_MAX=FILENAME_MAX
        )
    if filename is not None and any(c < " " or c == "\x7f" for c in filename):
        raise errors.ValidationFailed("filename", "must hold no control characters")
    file.seek(0)
    head = file.read(HEAD_BYTES)
    mime = identify(head)
    kind = KIND_OF_MIME.get(mime or "")
    if mime is None or kind is None:
        found = f" (it is {mime})" if mime else ""
        raise errors.ValidationFailed(
            "file",
            "must be a file type WhatsApp takes: {formats}{found}",
            formats=_formats(),
            found=found,
        )
    most = MAX_BYTES[kind]
    if kind == "sticker" and webp_animated(head):
        most = STICKER_ANIMATED_MAX
    if size > most:
        what = (
            "an animated sticker"
            if most == STICKER_ANIMATED_MAX
            else f"a file of type {kind} ({mime})"
        )
        raise errors.TooLarge(
            "file",
            "{what} must be at most {size}; it is {size2}",
            what=what,
            size=_size(most),
            size2=_size(size),
        )
    if mime == "audio/ogg" and b"OpusHead" not in head[:HEAD_BYTES]:
        raise errors.ValidationFailed(
            "file", "an OGG audio file must hold Opus (WhatsApp plays no other)"
        )
    if kind == "video":
        _check_video(file, size, mime)
    return kind, mime


def webp_animated(head: bytes) -> bool:
    """Whether a WebP file is animated: an extended (VP8X) file with its animation flag set."""
    return len(head) > 20 and head[12:16] == b"VP8X" and bool(head[20] & 0x02)


def _check_video(file: IO[bytes], size: int, mime: str) -> None:
    codecs = sample_entries(file, size)
    video = [c for c in codecs if c not in AUDIO_CODECS]
    if not video or any(c not in VIDEO_CODECS | AUDIO_CODECS for c in codecs):
        found = ", ".join(sorted(set(codecs))) or "none found"
        raise errors.ValidationFailed(
            "file",
            "a video ({mime}) must hold H.264 video and AAC audio only (its codecs: {found})",
            mime=mime,
            found=found,
        )


# ISO base media (MP4, 3GPP) boxes: walked by hand because no well-kept pure-Python library
# reads only the track codecs without loading the file; the format is a few lines (ISO/IEC
# 14496-12: a box is a 32-bit size, a four-character type, then its body; size 1 means a
# 64-bit size follows, 0 means "to the end").
_CONTAINERS = frozenset({"moov", "trak", "mdia", "minf", "stbl"})
_MOOV_MAX = 16 * MB


def sample_entries(file: IO[bytes], size: int) -> list[str]:
    """The codec of every track of an MP4/3GPP file (the `stsd` sample entries' types)."""
    for kind, start, length in _boxes(file, 0, size):
        if kind == "moov":
            if length > _MOOV_MAX:
                return []
            file.seek(start)
            return _codecs(file.read(length))
    return []


def _boxes(file: IO[bytes], offset: int, end: int) -> list[tuple[str, int, int]]:
    """(type, body start, body length) of the top-level boxes in file[offset:end]."""
    found = []
    while offset + 8 <= end:
        file.seek(offset)
        header = file.read(16)
        if len(header) < 8:
            break
        length, kind = int.from_bytes(header[:4], "big"), header[4:8].decode("latin-1")
        body = offset + 8
        if length == 1 and len(header) == 16:
            length, body = int.from_bytes(header[8:16], "big"), offset + 16
        elif length == 0:
            length = end - offset
        if length < body - offset:
            break
        found.append((kind, body, offset + length - body))
        offset += length
    return found


def _codecs(data: bytes) -> list[str]:
    found: list[str] = []
    offset = 0
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        if length < 8 or offset + length > len(data):
            break
        body = data[offset + 8 : offset + length]
        if kind in _CONTAINERS:
            found.extend(_codecs(body))
        elif kind == "stsd" and len(body) >= 16:  # version/flags, entry count, first entry
            found.append(body[12:16].decode("latin-1"))
        offset += length
    return found


def _plain_text(head: bytes) -> bool:
    """Whether the bytes read as text: UTF-8 (a last character may be cut) without control
    characters other than tab, line breaks and form feed."""
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    return all(c >= " " or c in "\t\n\r\f" for c in text)


def _formats() -> str:
    return "JPEG, PNG, MP4, 3GPP, AAC, AMR, MP3, M4A, OGG Opus, text, PDF, Word, Excel, PowerPoint, WebP"


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB else f"{n / KB:.0f} KB"


# -- messages naming an upload ------------------------------------------------------------


def referenced_id(
    content: Mapping[str, Any] | None, template: Mapping[str, Any] | None
) -> str | None:
    """Our media id (`med_...`) that a message sends, or None: a media message's object, an
    interactive message's media header, or a template's header parameter."""
    if content is not None:  # the common cases first, without the general walk (per send)
        kind = content.get("type")
        if kind in KINDS:
            value = content.get(kind)
            # a dict first: the ABC's isinstance costs more than the rest (per message)
            found = value.get("id") if type(value) is dict or isinstance(value, Mapping) else None
            return found if is_ours(found) else None
        if kind != "interactive":
            return None
    for _path, media in media_objects(content, template):
        if is_ours(media.get("id")):
            return str(media["id"])
    return None


def references(
    content: Mapping[str, Any] | None, template: Mapping[str, Any] | None
) -> list[tuple[str, str, str]]:
    """(field, kind, id) of every upload of ours a message names, for the schedule-time
    check: `("image.id", "image", "med_...")`."""
    if content is not None and template is None:  # the common cases, without the general walk
        kind = content.get("type")
        if kind in KINDS:
            value = content.get(kind)
            # a dict first: the ABC's isinstance costs more than the rest (per message)
            media_id = (
                value.get("id") if type(value) is dict or isinstance(value, Mapping) else None
            )
            return [(f"{kind}.id", str(kind), str(media_id))] if is_ours(media_id) else []
        if kind != "interactive":
            return []
    found = []
    for path, media in media_objects(content, template):
        if is_ours(media.get("id")):
            found.append((f"{path}.id", path.rsplit(".", 1)[-1], str(media["id"])))
    return found


def with_meta_id(value: Any, ours: str, meta: str) -> Any:
    """A copy of `value` (a message's content or template) with every `{"id": ours}` given
    Meta's id instead; the stored message keeps ours."""
    if isinstance(value, Mapping):
        return {
            key: (meta if key == "id" and item == ours else with_meta_id(item, ours, meta))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [with_meta_id(item, ours, meta) for item in value]
    return value


def media_objects(
    content: Mapping[str, Any] | None, template: Mapping[str, Any] | None
) -> list[tuple[str, Mapping[str, Any]]]:
    """(field, object) of every media object a message holds, `{"id" | "link", ...}`: a
    media message's, an interactive header's, each template header parameter's."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(content, Mapping):
        kind = content.get("type")
        value = content.get(kind) if isinstance(kind, str) else None
        if kind in KINDS and isinstance(value, Mapping):
            found.append((str(kind), value))
        if kind == "interactive" and isinstance(value, Mapping):
            header = value.get("header")
            if isinstance(header, Mapping) and header.get("type") in KINDS:
                media = header.get(header["type"])
                if isinstance(media, Mapping):
                    found.append((f"interactive.header.{header['type']}", media))
    if isinstance(template, Mapping) and isinstance(template.get("components"), list):
        for i, component in enumerate(template["components"]):
            if not isinstance(component, Mapping) or component.get("type") != "header":
                continue
            for j, parameter in enumerate(component.get("parameters") or []):
                if isinstance(parameter, Mapping) and parameter.get("type") in KINDS:
                    media = parameter.get(parameter["type"])
                    if isinstance(media, Mapping):
                        path = f"template.components[{i}].parameters[{j}].{parameter['type']}"
                        found.append((path, media))
    return found
