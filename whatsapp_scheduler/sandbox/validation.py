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
- ``location``: ``latitude`` -90..90 and ``longitude`` -180..180 numbers -> 100
- ``interactive`` (button, list, cta_url): Meta's required parts missing -> 100; a part over
  Meta's limits (3 reply buttons, titles of 20, 10 rows in all ...)       -> 131009
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
    if kind == "location":
        refused = _check_location(content)
        if refused is not None:
            return refused
    if kind == "interactive":
        refused = _check_interactive(content)
        if refused is not None:
            return refused
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


def _check_location(place: dict[str, Any]) -> Rejection | None:
    for name, most in (("latitude", 90), ("longitude", 180)):
        value = place.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > most:
            return _invalid(f"Param location['{name}'] must be a number from -{most} to {most}.")
    for name in ("name", "address"):
        if name in place and not isinstance(place[name], str):
            return _invalid(f"Param location['{name}'] must be a string.")
    return None


#: Meta's limits of interactive messages (its OpenAPI description's maxLength / maxItems).
BODY_MAX, HEADER_MAX, FOOTER_MAX = 1024, 60, 60
BUTTONS_MAX, BUTTON_TITLE_MAX, BUTTON_ID_MAX = 3, 20, 256
LIST_BUTTON_MAX, SECTIONS_MAX, ROWS_MAX = 20, 10, 10
ROW_TITLE_MAX, ROW_DESCRIPTION_MAX, ROW_ID_MAX, SECTION_TITLE_MAX = 24, 72, 200, 24
INTERACTIVE_TYPES = frozenset(
    {"button", "list", "cta_url", "product", "product_list", "flow", "location_request_message"}
)


def _too_long(value: Any, most: int) -> bool:
    return not isinstance(value, str) or not value or len(value) > most


def _check_interactive(content: dict[str, Any]) -> Rejection | None:
    """Meta's rules for reply buttons, lists and URL buttons (the other interactive types are
    taken as they are: catalogues and flows are not modelled)."""
    kind = content.get("type")
    if kind not in INTERACTIVE_TYPES:
        return _invalid(f"Param interactive['type'] must be one of {sorted(INTERACTIVE_TYPES)}.")
    if kind not in ("button", "list", "cta_url"):
        return None
    refused = _check_texts(content)
    if refused is not None:
        return refused
    action = content.get("action")
    if not isinstance(action, dict):
        return _invalid("The parameter interactive['action'] is required.")
    if kind == "button":
        return _check_buttons(action.get("buttons"))
    if kind == "list":
        return _check_list(action)
    parameters = action.get("parameters")
    if action.get("name") != "cta_url" or not isinstance(parameters, dict):
        return _invalid("Param interactive['action'] must be {name: cta_url, parameters}.")
    if _too_long(parameters.get("display_text"), BUTTON_TITLE_MAX):
        return _value(f"the URL button's display_text must be at most {BUTTON_TITLE_MAX}")
    url = parameters.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return _value("the URL button's url must be an http(s) URL")
    return None


def _check_texts(content: dict[str, Any]) -> Rejection | None:
    """The body's text (required), a text header's and the footer's lengths."""
    body = content.get("body")
    if not isinstance(body, dict) or _too_long(body.get("text"), BODY_MAX):
        return _invalid(f"Param interactive['body']['text'] is required, at most {BODY_MAX}.")
    header, footer = content.get("header"), content.get("footer")
    shown = header.get("text") if isinstance(header, dict) and header.get("type") == "text" else ""
    if shown != "" and _too_long(shown, HEADER_MAX):
        return _value(f"interactive['header']['text'] must be at most {HEADER_MAX}")
    if footer is not None and (
        not isinstance(footer, dict) or _too_long(footer.get("text"), FOOTER_MAX)
    ):
        return _value(f"interactive['footer']['text'] must be at most {FOOTER_MAX}")
    return None


def _check_buttons(buttons: Any) -> Rejection | None:
    if not isinstance(buttons, list) or not buttons:
        return _invalid("The parameter interactive['action']['buttons'] is required.")
    if len(buttons) > BUTTONS_MAX:
        return _value(f"interactive['action']['buttons'] must have at most {BUTTONS_MAX} items")
    titles: set[str] = set()
    for button in buttons:
        reply = button.get("reply") if isinstance(button, dict) else None
        if not isinstance(reply, dict) or button.get("type") != "reply":
            return _invalid("Each button must be {type: reply, reply: {id, title}}.")
        if _too_long(reply.get("id"), BUTTON_ID_MAX):
            return _value(f"a button's reply id must be 1 to {BUTTON_ID_MAX} characters")
        title = reply.get("title")
        if _too_long(title, BUTTON_TITLE_MAX):
            return _value(f"a button's title must be 1 to {BUTTON_TITLE_MAX} characters")
        if title in titles:
            return _value("buttons' titles must be unique")
        titles.add(str(title))
    return None


def _check_list(action: dict[str, Any]) -> Rejection | None:
    if _too_long(action.get("button"), LIST_BUTTON_MAX):
        return _value(f"the list's button text must be 1 to {LIST_BUTTON_MAX} characters")
    sections = action.get("sections")
    if not isinstance(sections, list) or not sections:
        return _invalid("The parameter interactive['action']['sections'] is required.")
    if len(sections) > SECTIONS_MAX:
        return _value(f"a list has at most {SECTIONS_MAX} sections")
    rows_seen = 0
    for section in sections:
        rows = section.get("rows") if isinstance(section, dict) else None
        if not isinstance(rows, list) or not rows:
            return _invalid("Each section needs rows.")
        if len(sections) > 1 and _too_long(section.get("title"), SECTION_TITLE_MAX):
            return _value(
                f"with several sections each needs a title of at most {SECTION_TITLE_MAX}"
            )
        for row in rows:
            if not isinstance(row, dict):
                return _invalid("Each row must be an object {id, title}.")
            if _too_long(row.get("id"), ROW_ID_MAX) or _too_long(row.get("title"), ROW_TITLE_MAX):
                return _value(f"a row needs an id and a title of at most {ROW_TITLE_MAX}")
            description = row.get("description")
            if description is not None and _too_long(description, ROW_DESCRIPTION_MAX):
                return _value(f"a row's description must be at most {ROW_DESCRIPTION_MAX}")
        rows_seen += len(rows)
    if rows_seen > ROWS_MAX:
        return _value(f"a list has at most {ROWS_MAX} rows in all")
    return None


def _value(rule: str) -> Rejection:
    """Meta's 131009 (Parameter value is not valid), naming the rule."""
    return Rejection(131009, f"Parameter value is not valid: {rule}.")


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
        elif link is not None and link.startswith("https://") and kind != "document":
            inline = (
                kind  # as the phone shows it: fetched from there (the inbox's CSP allows https)
            )
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
