"""Meta's template webhooks, read (pure): a change of the WhatsApp Business Account itself,
`entry[].id` the WABA id, `entry[].changes[].field` one of (docs/templates.md, "Webhooks")::

    message_template_status_update   value.event: APPROVED, REJECTED, PAUSED, DISABLED, ...
    template_category_update         value.new_category
    message_template_quality_update  value.new_quality_score

each with `message_template_name` and `message_template_language`. Other fields are passed
over; an entry without the name, language or new value is left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

STATUS_FIELD = "message_template_status_update"
CATEGORY_FIELD = "template_category_update"
QUALITY_FIELD = "message_template_quality_update"
#: field -> (the value's key of the new value, the catalogue column it sets)
FIELDS = {
    STATUS_FIELD: ("event", "status"),
    CATEGORY_FIELD: ("new_category", "category"),
    QUALITY_FIELD: ("new_quality_score", "quality"),
}
#: Status events that are not a status of their own: the template is approved again.
EVENT_STATUS = {"REINSTATED": "APPROVED", "UNPAUSED": "APPROVED"}
LIMITS = {"status": 32, "category": 32, "quality": 16}


@dataclasses.dataclass(frozen=True, slots=True)
class TemplateEvent:
    """One template of one WABA changed: `changes` maps a catalogue column to its new value."""

    waba_id: str
    name: str
    language: str
    changes: Mapping[str, str]
    field: str


def parse(payload: Any) -> list[TemplateEvent]:
    """The template events of a webhook body (already decoded JSON); [] when it has none."""
    found: list[TemplateEvent] = []
    if not isinstance(payload, Mapping):
        return found
    entries = payload.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        waba = entry.get("id")
        if not isinstance(waba, str | int) or isinstance(waba, bool):
            continue
        waba_id = str(waba)
        if not waba_id.isascii() or not waba_id.isdigit() or len(waba_id) > 32:
            continue
        changes = entry.get("changes")
        for change in changes if isinstance(changes, list) else []:
            event = _event(waba_id, change)
            if event is not None:
                found.append(event)
    return found


def _event(waba_id: str, change: Any) -> TemplateEvent | None:
    if not isinstance(change, Mapping) or change.get("field") not in FIELDS:
        return None
    field = str(change["field"])
    value = change.get("value")
    if not isinstance(value, Mapping):
        return None
    name, language = value.get("message_template_name"), value.get("message_template_language")
    key, column = FIELDS[field]
    new = value.get(key)
    if not (isinstance(name, str) and isinstance(language, str) and isinstance(new, str)):
        return None
    if not (name and language and new):
        return None
    if len(name) > 512 or len(language) > 16 or "\x00" in name + language + new:
        return None
    text = new.upper()
    if column == "status":
        text = EVENT_STATUS.get(text, text)
    return TemplateEvent(waba_id, name, language, {column: text[: LIMITS[column]]}, field)
