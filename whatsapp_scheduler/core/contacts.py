"""A contact's profile in a sender's address book (docs/contacts.md). Pure.

A contact is a phone number (E.164) per sender, with a name, a language, a time zone (IANA),
labels and free attributes (a JSON object). The window and consent of the same number
(docs/consent.md) are kept apart, by the business number: this module is only the profile.
`check_*` validate one field each and raise `errors.ValidationFailed` naming it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from whatsapp_scheduler.core import errors, jsonbounds, localtime

#: Contacts one POST /contacts (or one import) may hold.
MAX_UPSERT = 10_000
MAX_NAME = 256
MAX_LABELS = 50
MAX_LABEL = 64
#: Attributes: a smaller bound than a template's (they are copied into every campaign).
MAX_ATTRIBUTES_BYTES = 4 * 1024
MAX_ATTRIBUTES_DEPTH = 4
#: An attribute key: what `{{attributes.key}}` and `attr.key=value` can name.
ATTRIBUTE_KEY = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
KEY_RULE = "letters, digits and _, starting with a letter or _, at most 64"
#: A language tag as Meta's templates name them (tr, en_US, pt_BR) or BCP 47 (en-US).
LANGUAGE = re.compile(r"\A[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*\Z")
LABEL = re.compile(r"\A[^\x00-\x1f\x7f,]{1,64}\Z")

#: The profile fields a request may set (besides the phone number).
FIELDS = ("name", "language", "timezone", "labels", "attributes")


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    """A contact of one sender as stored. `labels` sorted, without repeats."""

    sender: str
    phone: str  # E.164 with '+'
    name: str | None = None
    language: str | None = None
    timezone: str | None = None
    labels: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """What one upsert or PATCH sets: only the fields in `given` (the rest stay as stored)."""

    phone: str
    values: Mapping[str, Any]  # field -> checked value (None clears it)

    @property
    def given(self) -> frozenset[str]:
        return frozenset(self.values)


def check_name(value: Any, field: str = "name") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.ValidationFailed(field, "must be a string")
    value = value.strip()
    if len(value) > MAX_NAME:
        raise errors.ValidationFailed(field, "at most {MAX_NAME} characters", MAX_NAME=MAX_NAME)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise errors.ValidationFailed(field, "must not contain control characters")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise errors.ValidationFailed(field, "must not contain lone surrogates")
    return value or None


def check_language(value: Any, field: str = "language") -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not LANGUAGE.match(value) or len(value) > 16:
        raise errors.ValidationFailed(
            field, "{value!r} is not a language code (e.g. tr, en_US, pt-BR)", value=value
        )
    return value


def check_timezone(value: Any, field: str = "timezone") -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise errors.ValidationFailed(field, "must be an IANA time zone name")
    localtime.parse_zone(value, field)
    return value


def check_labels(value: Any, field: str = "labels") -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise errors.ValidationFailed(field, "must be a list of strings")
    labels = sorted({v.strip() for v in value if v.strip()})
    if len(labels) > MAX_LABELS:
        raise errors.ValidationFailed(field, "at most {MAX_LABELS} labels", MAX_LABELS=MAX_LABELS)
    for label in labels:
        if not LABEL.match(label) or any(0xD800 <= ord(c) <= 0xDFFF for c in label):
            raise errors.ValidationFailed(
                field,
                "{value!r}: a label is 1-{MAX_LABEL} characters, no comma or control character",
                value=label[:70],
                MAX_LABEL=MAX_LABEL,
            )
    return tuple(labels)


def check_attributes(value: Any, field: str = "attributes") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise errors.ValidationFailed(field, "must be a JSON object")
    for key in value:
        if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key):
            raise errors.ValidationFailed(
                f"{field}.{str(key)[:70]}", "a key is {KEY_RULE}", KEY_RULE=KEY_RULE
            )
    if jsonbounds.depth_over(value, MAX_ATTRIBUTES_DEPTH):
        raise errors.ValidationFailed(
            field,
            "is nested deeper than {MAX_ATTRIBUTES_DEPTH} levels (at most {MAX_ATTRIBUTES_DEPTH})",
            MAX_ATTRIBUTES_DEPTH=MAX_ATTRIBUTES_DEPTH,
        )
    broken = jsonbounds.broken_rule(value)
    if broken is not None:
        raise errors.ValidationFailed(field, broken)
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > MAX_ATTRIBUTES_BYTES:
        raise errors.ValidationFailed(
            field,
            "is {size} bytes as JSON; at most {MAX_ATTRIBUTES_BYTES}",
            size=size,
            MAX_ATTRIBUTES_BYTES=MAX_ATTRIBUTES_BYTES,
        )
    if _has_surrogate(value):
        raise errors.ValidationFailed(field, "must not contain lone surrogates")
    return dict(value)


def _has_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and any(0xD800 <= ord(c) <= 0xDFFF for c in item):
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


_CHECKS = {
    "name": check_name,
    "language": check_language,
    "timezone": check_timezone,
    "labels": check_labels,
    "attributes": check_attributes,
}


def check_fields(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The profile fields of `values` checked (only those given); ValidationFailed naming the
    first field that breaks a rule (with `prefix`, e.g. `contacts[3].`)."""
    checked: dict[str, Any] = {}
    for name in FIELDS:
        if name in values:
            checked[name] = _CHECKS[name](values[name], prefix + name)
    return checked


def apply(current: Profile | None, sender: str, change: Change, now: datetime) -> Profile:
    """The profile after `change` (a new one when `current` is None)."""
    base = current or Profile(sender=sender, phone=change.phone, created_at=now)
    values = dict(change.values)
    if "labels" in values:
        values["labels"] = tuple(values["labels"])
    return dataclasses.replace(base, **values, updated_at=now)


def field_value(profile: Profile, path: str) -> tuple[bool, Any]:
    """The value at `path` of a contact (`name`, `language`, `timezone`, `phone`,
    `attributes.key`, `attributes.key.sub`): (found, value). Missing or null: (False, None)."""
    head, _, rest = path.partition(".")
    if head in {"name", "language", "timezone", "phone"} and not rest:
        value = getattr(profile, head)
        return (value is not None and value != ""), value
    if head != "attributes" or not rest:
        return False, None
    item: Any = profile.attributes
    for part in rest.split("."):
        if not isinstance(item, Mapping) or part not in item:
            return False, None
        item = item[part]
    return item is not None, item


def attribute_filters(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """`attr.key=value` query parameters as {key: value}; ValidationFailed for a bad key."""
    found: dict[str, str] = {}
    for name, value in pairs:
        key = name[len("attr.") :]
        if not ATTRIBUTE_KEY.match(key):
            raise errors.ValidationFailed(
                name[:80], "an attribute key is {KEY_RULE}", KEY_RULE=KEY_RULE
            )
        if len(value) > 256:
            raise errors.ValidationFailed(name, "at most 256 characters")
        found[key] = value
    if len(found) > 10:
        raise errors.ValidationFailed("attr", "at most 10 attribute filters")
    return found


def attribute_text(value: Any) -> str | None:
    """An attribute's value as the filter and templates compare it: strings as they are,
    numbers and booleans as JSON writes them (5, 2.5, true); objects and lists: None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return value
    return None
