"""Validation of send-request bodies, after docs/meta-cloud-api.md, "Sending a message" (pure).

:func:`validate_send` returns either a :class:`SendRequest` (what the stand-in needs to accept
the message) or a :class:`Rejection` (the Graph error code and ``details`` to answer). Rules:

- ``messaging_product`` must be ``"whatsapp"``                          -> 100
- ``recipient_type``, when given, is ``individual`` or ``group``        -> 100
- ``to`` present and a non-empty string                                  -> 131008
- ``to`` holds digits only besides ``+ - ( ) .`` and spaces              -> 131009
- ``type`` (default ``text``) is a known message type                    -> 131051
- a content object under the key named by ``type``                       -> 100
- ``text.body`` a non-empty string of at most 4096 characters            -> 100
- media (image, audio, video, document, sticker): exactly one of id/link,
  link is http(s), caption at most 1024 characters                        -> 100
- ``template.name`` and ``template.language.code`` present               -> 100
- ``biz_opaque_callback_data``, when given, a string of at most 512 chars -> 100
- ``context.message_id``, when ``context`` is given, a string            -> 100
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from whatsapp_scheduler.sandbox import payloads

logger = logging.getLogger(__name__)

TEXT_BODY_MAX = 4096
CAPTION_MAX = 1024
CALLBACK_DATA_MAX = 512
MEDIA_TYPES = frozenset({"image", "audio", "video", "document", "sticker"})
OTHER_TYPES = frozenset(
    {"location", "contacts", "interactive", "address", "reaction", "template", "text"}
)
KNOWN_TYPES = MEDIA_TYPES | OTHER_TYPES
_PHONE_CHARS = frozenset("0123456789+-(). ")


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A send request that passed validation."""

    to: str
    wa_id: str
    type: str
    callback_data: str | None
    summary: str
    #: What the inbox shows beside the summary (`attachment`): a link, a map, buttons.
    attachment: dict[str, Any] | None = None

    @property
    def is_template(self) -> bool:
        """Templates may be sent outside the 24-hour window and get ``message_status``."""
        return self.type == "template"


@dataclass(frozen=True, slots=True)
class Rejection:
    """A request the Cloud API would refuse: the Graph ``code`` and ``details`` to answer."""

    code: int
    details: str


def _invalid(details: str) -> Rejection:
    return Rejection(100, details)


def validate_send(body: Any) -> SendRequest | Rejection:
    """Check a decoded JSON send body; see the module docstring for the rules."""
    if not isinstance(body, dict):
        return _invalid("The request body must be a JSON object.")
    if body.get("messaging_product") != "whatsapp":
        return _invalid("The parameter messaging_product is required and must be 'whatsapp'.")
    recipient_type = body.get("recipient_type", "individual")
    if recipient_type not in ("individual", "group"):
        return _invalid("Param recipient_type must be one of {INDIVIDUAL, GROUP}.")
    to = body.get("to")
    if not isinstance(to, str) or not to.strip():
        return Rejection(131008, "The parameter to is required.")
    if not _PHONE_CHARS.issuperset(to) or not any(ch.isdigit() for ch in to):
        return Rejection(131009, f"Invalid value for parameter to: {to!r}.")
    kind = body.get("type", "text")
    if kind not in KNOWN_TYPES:
        return Rejection(131051, f"Message type {kind!r} is not supported.")
    content = _object_of(kind, body.get(kind))
    if content is None:
        return _invalid(f"The parameter {kind} is required.")
    callback_data = body.get("biz_opaque_callback_data")
    if callback_data is not None and (
        not isinstance(callback_data, str) or len(callback_data) > CALLBACK_DATA_MAX
    ):
        return _invalid(
            f"Param biz_opaque_callback_data must be a string of at most {CALLBACK_DATA_MAX} characters."
        )
    context = body.get("context")
    if context is not None and (
        not isinstance(context, dict) or not isinstance(context.get("message_id"), str)
    ):
        return _invalid("The parameter context['message_id'] is required.")
    summary = _check_content(kind, content)
    if isinstance(summary, Rejection):
        return summary
    return SendRequest(
        to, payloads.wa_id_for(to), kind, callback_data, summary, attachment(kind, body.get(kind))
    )


def _object_of(kind: str, value: Any) -> dict[str, Any] | None:
    """The type's object (for `contacts`, Meta's array, summed up by its names), or None."""
    if kind == "contacts":
        if not isinstance(value, list) or not value:
            return None
        names = [
            c["name"].get("formatted_name", "")
            for c in value
            if isinstance(c, dict) and isinstance(c.get("name"), dict)
        ]
        return {"_summary": ", ".join(str(n) for n in names if n)}
    return value if isinstance(value, dict) else None


def _check_content(kind: str, content: dict[str, Any]) -> str | Rejection:
    """Validate the type-specific object; return a one-line summary for the inbox."""
    if kind == "text":
        return _check_text(content)
    if kind == "template":
        return _check_template(content)
    if kind in MEDIA_TYPES:
        return _check_media(kind, content)
    words = content.get("_summary") or content.get("name") or ""
    body = content.get("body")
    if not words and isinstance(body, dict):
        words = body.get("text") or ""
    return f"[{kind}]" + (f" {words}" if isinstance(words, str) and words else "")


def _check_text(text: dict[str, Any]) -> str | Rejection:
    body = text.get("body")
    if not isinstance(body, str) or not body:
        return _invalid("The parameter text['body'] is required.")
    if len(body) > TEXT_BODY_MAX:
        return _invalid(f"Param text['body'] must be at most {TEXT_BODY_MAX} characters long.")
    preview = text.get("preview_url")
    if preview is not None and not isinstance(preview, bool):
        return _invalid("Param text['preview_url'] must be a boolean.")
    return body


def _check_media(kind: str, media: dict[str, Any]) -> str | Rejection:
    media_id, link = media.get("id"), media.get("link")
    if (media_id is None) == (link is None):
        return _invalid(f"Param {kind} must have exactly one of {kind}['id'] or {kind}['link'].")
    if link is not None and (
        not isinstance(link, str) or not link.startswith(("http://", "https://"))
    ):
        return _invalid(f"Param {kind}['link'] must be a valid http(s) URL.")
    if media_id is not None and (not isinstance(media_id, str) or not media_id):
        return _invalid(f"Param {kind}['id'] must be a non-empty string.")
    caption = media.get("caption")
    if caption is not None and (not isinstance(caption, str) or len(caption) > CAPTION_MAX):
        return _invalid(f"Param {kind}['caption'] must be at most {CAPTION_MAX} characters long.")
    label = media.get("filename") or link or f"id {media_id}"
    return f"[{kind}: {label}]" + (f" {caption}" if caption else "")


def _check_template(template: dict[str, Any]) -> str | Rejection:
    name = template.get("name")
    if not isinstance(name, str) or not name:
        return _invalid("The parameter template['name'] is required.")
    language = template.get("language")
    code = language.get("code") if isinstance(language, dict) else None
    if not isinstance(code, str) or not code:
        return _invalid("The parameter template['language']['code'] is required.")
    components = template.get("components", [])
    if not isinstance(components, list):
        return _invalid("Param template['components'] must be an array.")
    values = [
        str(param.get("text", param.get("fallback_value", "")))
        for component in components
        if isinstance(component, dict)
        for param in component.get("parameters", []) or []
        if isinstance(param, dict)
    ]
    shown = ", ".join(v for v in values if v)
    return f"[template {name} ({code})]" + (f" {shown}" if shown else "")


def _web_link(value: Any) -> str | None:
    """`value` if it is an http(s) URL (never `javascript:` or `data:`), else None."""
    if isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) < 2048:
        return value
    return None


def attachment(kind: str, content: Any) -> dict[str, Any] | None:
    """What the inbox renders for a media, location or interactive message, from plain
    values only (the page escapes them; links are http(s) or absent): `{"label", "link",
    "buttons"}`. None for the other types."""
    if not isinstance(content, dict):
        return None
    if kind in MEDIA_TYPES:
        link = _web_link(content.get("link"))
        inline = None
        media_id = content.get("id")
        if link is None and isinstance(media_id, str) and media_id.isdigit():
            link = f"/_sandbox/media/{media_id}"  # an upload's (sandbox/media.py)
            inline = kind if kind != "document" else None  # shown in place: our own origin
        name = content.get("filename") if isinstance(content.get("filename"), str) else None
        found: dict[str, Any] = {"label": name or f"open the {kind}", "link": link, "buttons": []}
        return found | {"inline": inline} if inline else found
    if kind == "location":
        lat, lon = content.get("latitude"), content.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            link = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}"
            label = content.get("name") if isinstance(content.get("name"), str) else "the place"
            return {"label": f"{label} on the map", "link": link, "buttons": []}
        return None
    if kind == "interactive":
        return _interactive_attachment(content)
    return None


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _interactive_attachment(content: dict[str, Any]) -> dict[str, Any]:
    """An interactive message's buttons (reply buttons, or a list's rows) and its URL button."""
    raw = content.get("action")
    action: dict[str, Any] = raw if isinstance(raw, dict) else {}
    choices: list[dict[str, str]] = []  # what the user can press: Meta's reply of each
    for button in _items(action.get("buttons")):
        reply = button.get("reply")
        if isinstance(reply, dict) and _texts(reply, "id", "title"):
            choices.append({"reply": "button_reply", "id": reply["id"], "title": reply["title"]})
    for section in _items(action.get("sections")):
        for row in _items(section.get("rows")):
            if _texts(row, "id", "title"):
                choice = {"reply": "list_reply", "id": row["id"], "title": row["title"]}
                if isinstance(row.get("description"), str):
                    choice["description"] = row["description"]
                choices.append(choice)
    raw = action.get("parameters")
    parameters: dict[str, Any] = raw if isinstance(raw, dict) else {}
    link = _web_link(parameters.get("url"))
    text = parameters.get("display_text")
    label = text if isinstance(text, str) and link else ""
    return {"label": label, "link": link, "buttons": choices[:10]}


def _texts(value: dict[str, Any], *keys: str) -> bool:
    return all(isinstance(value.get(k), str) and value[k] for k in keys)
