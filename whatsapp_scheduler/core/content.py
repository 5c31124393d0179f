"""Messages other than text and templates, in Meta's own shape (docs/message-types.md). Pure.

A client gives `type` and the object it names, as in the Cloud API's message body::

    {"type": "image", "image": {"link": "https://example.com/a.jpg", "caption": "Yeni ürün"}}
    {"type": "location", "location": {"latitude": 41.04, "longitude": 28.99, "name": "Mağaza"}}
    {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Gelecek misiniz?"},
     "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Evet"}}]}}}

`normalize(kind, value)` checks it against Meta's rules (the limits of Meta's OpenAPI
description: a button title at most 20 characters, at most 3 reply buttons, at most 10 list
rows in all, ...) and returns what is stored and sent: `{"type": kind, kind: value}`. Each
broken rule is a `ValidationFailed` naming the field's path (`interactive.action.buttons[3]`).
Whether a link's host is a public address is the service's to check (it needs DNS):
`links(content)` lists the links to check.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Set
from typing import Any
from urllib.parse import urlsplit

from whatsapp_scheduler.core import errors

#: The media types, and those that take a caption (audio and stickers do not).
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
CAPTIONED = frozenset({"image", "video", "document"})
#: Every type `normalize` takes (text is `mesaj`, templates `template`).
TYPES = (*MEDIA_TYPES, "location", "contacts", "interactive")
INTERACTIVE_TYPES = ("button", "list", "cta_url")

CAPTION_MAX = 1024
FILENAME_MAX = 240
BODY_MAX = 1024
HEADER_TEXT_MAX = 60
FOOTER_MAX = 60
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_BUTTON_MAX = 20
SECTIONS_MAX = 10
ROWS_MAX = 10
SECTION_TITLE_MAX = 24
ROW_ID_MAX = 200
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
CTA_TEXT_MAX = 20
LOCATION_TEXT_MAX = 1000
CONTACTS_MAX = 20


def normalize(kind: str, value: Any) -> dict[str, Any]:
    """`{"type": kind, kind: value}` once `value` follows Meta's rules for `kind`."""
    if type(value) is dict and kind in MEDIA_TYPES:  # the common case, for every message
        return {"type": kind, kind: _media(kind, value, kind)}
    if kind not in TYPES:
        raise errors.ValidationFailed("type", "must be one of {items}", items=", ".join(TYPES))
    if kind == "contacts":
        return {"type": kind, kind: _contacts(value)}
    if not isinstance(value, Mapping):
        raise errors.ValidationFailed(kind, "must be an object")
    if kind in MEDIA_TYPES:
        return {"type": kind, kind: _media(kind, value, kind)}
    if kind == "location":
        return {"type": kind, kind: _location(value)}
    return {"type": kind, kind: _interactive(value)}


def summary(content: Mapping[str, Any] | None) -> str:
    """One line for lists and the dashboard: `[image] caption`, `[location] name`, ..."""
    if not isinstance(content, Mapping):
        return ""
    kind = content.get("type")
    value = content.get(kind) if isinstance(kind, str) else None
    words = ""
    if isinstance(value, Mapping):
        for key in ("caption", "filename", "name", "address"):
            if isinstance(value.get(key), str):
                words = value[key]
                break
        body = value.get("body")
        if not words and isinstance(body, Mapping) and isinstance(body.get("text"), str):
            words = body["text"]
    elif isinstance(value, list) and value and isinstance(value[0], Mapping):
        name = value[0].get("name")
        if isinstance(name, Mapping) and isinstance(name.get("formatted_name"), str):
            words = name["formatted_name"]
    return f"[{kind}] {words}".strip()


def links(content: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, url) of every link the message makes Meta fetch (media, a media header)."""
    kind = content.get("type")
    value = content.get(kind) if isinstance(kind, str) else None
    found: list[tuple[str, str]] = []
    # type() first: the ABC's isinstance costs more than the rest, for every media message
    if kind in MEDIA_TYPES and (type(value) is dict or isinstance(value, Mapping)):
        if "link" in value:
            found.append((f"{kind}.link", str(value["link"])))
    elif kind == "interactive" and isinstance(value, Mapping):
        header = value.get("header")
        if isinstance(header, Mapping):
            media = header.get(header.get("type"))
            if isinstance(media, Mapping) and "link" in media:
                found.append((f"interactive.header.{header['type']}.link", str(media["link"])))
    return found


def _text(value: Any, field: str, most: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise errors.ValidationFailed(field, "is required: a non-empty text")
    if len(value) > most:
        raise errors.ValidationFailed(field, "must be at most {most:,} characters", most=most)
    return value


def _url(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > 2048:
        raise errors.ValidationFailed(field, "must be an http(s) URL of at most 2,048 characters")
    if not _web_url(value):
        raise errors.ValidationFailed(field, "must be an http(s) URL with a host")
    return value


@functools.lru_cache(maxsize=4096)  # a campaign's or a shop's messages share a few links
def _web_url(value: str) -> bool:
    """Whether `value` is an http(s) URL with a host."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _only(value: Mapping[str, Any], allowed: Set[str], field: str) -> None:
    if value.keys() <= allowed:
        return
    unknown = sorted(set(value) - allowed)
    raise errors.ValidationFailed(f"{field}.{unknown[0]}", "is not a field Meta takes here")


#: The fields Meta takes in each media type's object.
_MEDIA_FIELDS = {
    kind: frozenset(
        {"id", "link"}
        | ({"caption"} if kind in CAPTIONED else set())
        | ({"filename"} if kind == "document" else set())
    )
    for kind in MEDIA_TYPES
}


def _media(kind: str, value: Mapping[str, Any], field: str) -> dict[str, Any]:
    _only(value, _MEDIA_FIELDS[kind], field)
    if ("id" in value) == ("link" in value):
        raise errors.ValidationFailed(field, "give exactly one of id (an upload) or link")
    out: dict[str, Any] = {}
    if "id" in value:
        media_id = value["id"]
        if not isinstance(media_id, str) or not media_id.strip() or len(media_id) > 128:
            raise errors.ValidationFailed(f"{field}.id", "must be a media id of 1-128 characters")
        out["id"] = media_id
    else:
        out["link"] = _url(value["link"], f"{field}.link")
    if "caption" in value:
        out["caption"] = _text(value["caption"], f"{field}.caption", CAPTION_MAX)
    if "filename" in value:
        out["filename"] = _text(value["filename"], f"{field}.filename", FILENAME_MAX)
    return out


def _number(value: Any, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise errors.ValidationFailed(
            field, "must be a number from {low:g} to {high:g}", low=low, high=high
        )
    return float(value)


def _location(value: Mapping[str, Any]) -> dict[str, Any]:
    _only(value, {"latitude", "longitude", "name", "address"}, "location")
    out: dict[str, Any] = {
        "latitude": _number(value.get("latitude"), "location.latitude", -90, 90),
        "longitude": _number(value.get("longitude"), "location.longitude", -180, 180),
    }
    for key in ("name", "address"):
        if key in value:
            out[key] = _text(value[key], f"location.{key}", LOCATION_TEXT_MAX)
    return out


def _contacts(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise errors.ValidationFailed("contacts", "must be a non-empty list of contact objects")
    if len(value) > CONTACTS_MAX:
        raise errors.ValidationFailed(
            "contacts", "at most {CONTACTS_MAX} contacts", CONTACTS_MAX=CONTACTS_MAX
        )
    out = []
    for index, contact in enumerate(value):
        field = f"contacts[{index}]"
        if not isinstance(contact, Mapping):
            raise errors.ValidationFailed(field, "must be an object")
        name = contact.get("name")
        if not isinstance(name, Mapping):
            raise errors.ValidationFailed(f"{field}.name", "is required: {formatted_name, ...}")
        _text(name.get("formatted_name"), f"{field}.name.formatted_name", 512)
        phones = contact.get("phones", [])
        if not isinstance(phones, list) or not all(isinstance(p, Mapping) for p in phones):
            raise errors.ValidationFailed(f"{field}.phones", "must be a list of objects")
        out.append(dict(contact))
    return out


def _interactive(value: Mapping[str, Any]) -> dict[str, Any]:
    kind = value.get("type")
    if kind not in INTERACTIVE_TYPES:
        raise errors.ValidationFailed(
            "interactive.type", "must be one of {items}", items=", ".join(INTERACTIVE_TYPES)
        )
    _only(value, {"type", "header", "body", "footer", "action"}, "interactive")
    body = value.get("body")
    if not isinstance(body, Mapping):
        raise errors.ValidationFailed("interactive.body", "is required: {text}")
    _text(body.get("text"), "interactive.body.text", BODY_MAX)
    footer = value.get("footer")
    if footer is not None:
        if not isinstance(footer, Mapping):
            raise errors.ValidationFailed("interactive.footer", "must be an object {text}")
        _text(footer.get("text"), "interactive.footer.text", FOOTER_MAX)
    header = value.get("header")
    if header is not None:
        _header(header, kind)
    action = value.get("action")
    if not isinstance(action, Mapping):
        raise errors.ValidationFailed("interactive.action", "is required: an object")
    if kind == "button":
        _buttons(action)
    elif kind == "list":
        _sections(action)
    else:
        _cta(action)
    return dict(value)


def _header(header: Any, kind: str) -> None:
    field = "interactive.header"
    if not isinstance(header, Mapping):
        raise errors.ValidationFailed(field, "must be an object {type, ...}")
    allowed = ("text",) if kind == "list" else ("text", "image", "video", "document")
    htype = str(header.get("type"))
    if htype not in allowed:
        raise errors.ValidationFailed(
            f"{field}.type", "must be one of {items}", items=", ".join(allowed)
        )
    if htype == "text":
        _text(header.get("text"), f"{field}.text", HEADER_TEXT_MAX)
    elif not isinstance(header.get(htype), Mapping):
        raise errors.ValidationFailed(f"{field}.{htype}", "is required: {id} or {link}")
    else:
        _media(htype, header[htype], f"{field}.{htype}")


def _buttons(action: Mapping[str, Any]) -> None:
    field = "interactive.action.buttons"
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not buttons:
        raise errors.ValidationFailed(field, "is required: 1 to 3 reply buttons")
    if len(buttons) > BUTTONS_MAX:
        raise errors.ValidationFailed(
            field, "at most {BUTTONS_MAX} buttons", BUTTONS_MAX=BUTTONS_MAX
        )
    ids: set[str] = set()
    titles: set[str] = set()
    for index, button in enumerate(buttons):
        at = f"{field}[{index}]"
        if not isinstance(button, Mapping) or button.get("type") != "reply":
            raise errors.ValidationFailed(f"{at}.type", "must be 'reply'")
        reply = button.get("reply")
        if not isinstance(reply, Mapping):
            raise errors.ValidationFailed(f"{at}.reply", "is required: {id, title}")
        button_id = _text(reply.get("id"), f"{at}.reply.id", BUTTON_ID_MAX)
        title = _text(reply.get("title"), f"{at}.reply.title", BUTTON_TITLE_MAX)
        if button_id in ids:
            raise errors.ValidationFailed(f"{at}.reply.id", "must be unique among the buttons")
        if title in titles:
            raise errors.ValidationFailed(f"{at}.reply.title", "must be unique among the buttons")
        ids.add(str(button_id))
        titles.add(str(title))


def _sections(action: Mapping[str, Any]) -> None:
    field = "interactive.action"
    _text(action.get("button"), f"{field}.button", LIST_BUTTON_MAX)
    sections = action.get("sections")
    if not isinstance(sections, list) or not sections:
        raise errors.ValidationFailed(f"{field}.sections", "is required: 1 to 10 sections")
    if len(sections) > SECTIONS_MAX:
        raise errors.ValidationFailed(
            f"{field}.sections", "at most {SECTIONS_MAX} sections", SECTIONS_MAX=SECTIONS_MAX
        )
    total = 0
    ids: set[str] = set()
    for index, section in enumerate(sections):
        at = f"{field}.sections[{index}]"
        if not isinstance(section, Mapping):
            raise errors.ValidationFailed(at, "must be an object {title, rows}")
        _text(section.get("title"), f"{at}.title", SECTION_TITLE_MAX, required=len(sections) > 1)
        rows = section.get("rows")
        if not isinstance(rows, list) or not rows:
            raise errors.ValidationFailed(f"{at}.rows", "is required: a non-empty list")
        for position, row in enumerate(rows):
            where = f"{at}.rows[{position}]"
            if not isinstance(row, Mapping):
                raise errors.ValidationFailed(where, "must be an object {id, title}")
            row_id = _text(row.get("id"), f"{where}.id", ROW_ID_MAX)
            if row_id in ids:
                raise errors.ValidationFailed(f"{where}.id", "must be unique in the list")
            ids.add(str(row_id))
            _text(row.get("title"), f"{where}.title", ROW_TITLE_MAX)
            _text(row.get("description"), f"{where}.description", ROW_DESCRIPTION_MAX,
                  required=False)  # fmt: skip
        total += len(rows)
    if total > ROWS_MAX:
        raise errors.ValidationFailed(
            f"{field}.sections", "at most {ROWS_MAX} rows in all", ROWS_MAX=ROWS_MAX
        )


def _cta(action: Mapping[str, Any]) -> None:
    field = "interactive.action"
    if action.get("name") != "cta_url":
        raise errors.ValidationFailed(f"{field}.name", "must be 'cta_url'")
    parameters = action.get("parameters")
    if not isinstance(parameters, Mapping):
        raise errors.ValidationFailed(f"{field}.parameters", "is required: {display_text, url}")
    _text(parameters.get("display_text"), f"{field}.parameters.display_text", CTA_TEXT_MAX)
    _url(parameters.get("url"), f"{field}.parameters.url")
