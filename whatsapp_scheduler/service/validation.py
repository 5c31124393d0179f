"""Validation: a request to schedule becomes a `ScheduledMessage`, or a `ValidationFailed`
naming the field and the rule. Pure functions of the request and `now` (no store, no clock);
the use cases in `service.scheduler` call them before anything is stored.

Also the 24-hour-window check of a new message under WINDOW_POLICY (`window_decision`): a
refusal, or the warnings to give with the stored message.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from whatsapp_scheduler.core import (
    catalogue,
    errors,
    jsonbounds,
    localtime,
    messages,
    notices,
    recipients,
    senders,
    templates,
    window,
)
from whatsapp_scheduler.core import content as content_mod
from whatsapp_scheduler.service.requests import ScheduleRequest

MAX_TEXT_LENGTH = 4096  # Meta's limit for text.body (docs/meta-cloud-api.md, "Text")
#: Matched whole (`fullmatch`): `$` would also accept a trailing newline ("abc\n").
ID_PATTERN = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
#: Ids a client's URL could not address: `/schedule/.` and `/schedule/..` are path segments.
UNADDRESSABLE_IDS = frozenset({".", ".."})


def build(
    request: ScheduleRequest,
    now: datetime,
    default_timezone: str,
    default_region: str,
    default_sender: str = senders.DEFAULT_SENDER_NAME,
    known_senders: Mapping[str, bool] | None = None,
    category: str | None = None,
) -> messages.ScheduledMessage:
    """Validate `request` into a message ready to store; raises ValidationFailed naming the
    field and the rule. Pure: `now` is passed in; nothing is read or stored.

    `known_senders` maps each sender's name to whether it is enabled; a `gonderen` must name
    an enabled one (None: only `default_sender` is known). Without `gonderen` the message is
    `default_sender`'s. `category` is its template's category from the catalogue (None: a text,
    or a template the catalogue does not know)."""
    message_id = _check_id(request.id) if request.id is not None else uuid.uuid4().hex
    sender = (
        default_sender
        if request.gonderen is None
        else check_sender(request.gonderen, default_sender, known_senders)
    )
    recipient = recipients.normalize(request.alici, default_region)
    zone = request.timezone if request.timezone is not None else default_timezone
    due_at = localtime.resolve_due_time(request.tarih, request.saat, zone, now)
    _check_one_kind(request)
    body = _check_body(request.mesaj) if request.mesaj is not None else None
    _check_bounds(request)
    content = _checked_content(request)
    template = None
    if request.template is not None:
        template = templates.normalize(request.template, "template")
    fallback = None
    if request.fallback_template is not None:
        if template is not None:
            raise errors.ValidationFailed(
                "fallback_template", "only a text (mesaj) can have a fallback template"
            )
        fallback = templates.normalize(request.fallback_template, "fallback_template")
    if request.olusturmaTarihi is not None:
        if len(request.olusturmaTarihi) > 64:
            raise errors.ValidationFailed("olusturmaTarihi", "must be at most 64 characters")
        _check_storable("olusturmaTarihi", request.olusturmaTarihi)
    for name, value in (("template", template), ("fallback_template", fallback)):
        if value is not None:
            _check_storable(name, _joined_strings(value))
    message = messages.ScheduledMessage(
        id=message_id,
        recipient=recipient,
        due_at=due_at,
        run_at=due_at,
        timezone=zone,
        local_date=request.tarih,
        local_time=request.saat,
        content_hash=content_hash(recipient, due_at, body, template, fallback, sender, content),
        created_at=now,
        updated_at=now,
        body=body,
        template=template,
        client_created=request.olusturmaTarihi,
        fallback_template=fallback,
        content=content,
        sender=sender,
        created_by=request.created_by,
        category=(category if template is not None else catalogue.SERVICE),
        quiet_hours=False if request.quiet_hours is False else None,
        campaign_id=request.campaign_id,
    )
    allowed = request.allowed_senders
    if allowed is not None and message.sender not in allowed:
        # 422 like an unknown sender: to a key limited to some senders the others do not exist
        raise errors.ValidationFailed(
            "gonderen",
            "this API key sends only from {value}",
            value=", ".join(sorted(allowed)) or "no sender",
        )
    return message


def build_like(
    base: messages.ScheduledMessage,
    *,
    message_id: str,
    recipient: str,
    due_at: datetime,
    timezone: str,
    local_date: str,
    local_time: str,
    body: str | None,
    template: Mapping[str, Any] | None,
    now: datetime,
    content: Mapping[str, Any] | None = None,
) -> messages.ScheduledMessage:
    """A message like `base` (made by `build`: its sender, key, zone rules and category are
    checked) to another recipient (already E.164), at another time and with its own content:
    the rules that depend on those are checked again (a time not in the past, the text's
    length and storable Unicode, the template's bounds, shape and strings). A campaign's
    messages (docs/campaigns.md): the same rules as `build`, without repeating per message
    the checks whose answer is the campaign's."""
    _check_not_past(due_at, now, timezone, local_date, local_time)
    stored = None
    if content is not None:  # another type (docs/message-types.md), of `base`'s type
        assert base.content is not None
        stored = _checked_content(
            ScheduleRequest("", "", "", type=base.content["type"], objects=content)
        )
        body, normalized = None, None
    elif template is None:
        body = _like_body(body)
        normalized = None
    else:
        rule = jsonbounds.broken_rule(template)
        if rule is not None:
            raise errors.ValidationFailed("template", rule)
        normalized = templates.normalize(template, "template")
        _check_storable("template", _joined_strings(normalized))
    text = body if template is None and stored is None else None
    return _new_message(  # not dataclasses.replace: 3x the cost, per message
        id=message_id,
        recipient=recipient,
        due_at=due_at,
        run_at=due_at,
        timezone=timezone,
        local_date=local_date,
        local_time=local_time,
        content_hash=content_hash(recipient, due_at, text, normalized, None, base.sender, stored),
        content=stored,
        created_at=now,
        updated_at=now,
        body=text,
        template=normalized,
        sender=base.sender,
        created_by=base.created_by,
        category=base.category,
        campaign_id=base.campaign_id,
    )


def text_like(
    base: messages.ScheduledMessage,
    *,
    recipient: str,
    due_at: datetime,
    timezone: str,
    local_date: str,
    local_time: str,
    body: str | None,
    now: datetime,
) -> tuple[str, str]:
    """What `build_like` checks and computes for a text, without the message: (the text,
    the message's content hash), or the same ValidationFailed. A campaign's rows on SQLite
    are written from these (service/campaigns.py), not from messages."""
    _check_not_past(due_at, now, timezone, local_date, local_time)
    text = _like_body(body)
    return text, content_hash(recipient, due_at, text, None, None, base.sender, None)


def _check_not_past(
    due_at: datetime, now: datetime, timezone: str, local_date: str, local_time: str
) -> None:
    if due_at < now - localtime.PAST_TOLERANCE:
        raise errors.ValidationFailed(
            "tarih",
            "{local_date} {local_time} {timezone} is in the past; schedule a time from now on",
            local_date=local_date,
            local_time=local_time,
            timezone=timezone,
        )


def _like_body(body: str | None) -> str:
    text = _check_body(body)
    if text is None:
        raise errors.ValidationFailed("mesaj", "is required (or a template)")
    return text


#: The fields `build_like` gives; the others keep their defaults.
_LIKE_FIELDS = (
    "id", "recipient", "due_at", "run_at", "timezone", "local_date", "local_time",
    "content_hash", "content", "created_at", "updated_at", "body", "template", "sender",
    "created_by", "category", "campaign_id",
)  # fmt: skip


def _message_constructor() -> Callable[..., messages.ScheduledMessage]:
    """A `ScheduledMessage` from the keyword arguments `_LIKE_FIELDS` (the other fields at
    their defaults), each slot set through its descriptor: half the cost of the dataclass's
    own `__init__` (a frozen dataclass sets each of its 30 fields by name through
    `object.__setattr__`), which was the largest cost of building a campaign's message. It
    skips `__post_init__`, whose rules `build_like` keeps by construction: its due time was
    compared with the aware `now` (a naive one cannot be), its other times are `now`, and it
    gives exactly one of body, template and content.
    Generated as dataclasses generates `__init__`, so a new field is set too."""
    cls = messages.ScheduledMessage
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    lines = ["def new_message(*, " + ", ".join(_LIKE_FIELDS) + "):", "    m = new(cls)"]
    for index, field in enumerate(dataclasses.fields(cls)):
        namespace[f"set{index}"] = getattr(cls, field.name).__set__
        if field.name in _LIKE_FIELDS:
            value = field.name
        else:
            assert field.default is not dataclasses.MISSING, field.name  # no factories
            namespace[f"default{index}"] = field.default
            value = f"default{index}"
        lines.append(f"    set{index}(m, {value})")
    lines.append("    return m")
    exec("\n".join(lines), namespace)  # our own source, as dataclasses does
    made: Callable[..., messages.ScheduledMessage] = namespace["new_message"]
    return made


_new_message = _message_constructor()


def check_sender(name: object, default_sender: str, known: Mapping[str, bool] | None) -> str:
    """`gonderen`: the name of an enabled sender."""
    if not isinstance(name, str) or not senders.valid_name(name):
        raise errors.ValidationFailed(
            "gonderen", "must be a sender's name ({NAME_RULE})", NAME_RULE=senders.NAME_RULE
        )
    enabled = (name == default_sender or None) if known is None else known.get(name)
    if enabled is None:
        raise errors.ValidationFailed(
            "gonderen", "no sender named {name!r} (GET /senders lists them)", name=name
        )
    if not enabled:
        raise errors.ValidationFailed("gonderen", "sender {name!r} is disabled", name=name)
    return name


def _check_one_kind(request: ScheduleRequest) -> None:
    """Exactly one of a text, a template or another type."""
    given = [
        name
        for name, value in (
            ("mesaj", request.mesaj),
            ("template", request.template),
            ("type", request.type or (request.objects or None)),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise errors.ValidationFailed(
            given[0],
            "give one of mesaj, template or type, not {value} and {value2}",
            value=given[0],
            value2=given[1],
        )
    if not given:
        raise errors.ValidationFailed("mesaj", "is required (or a template, or a type)")


def _checked_content(request: ScheduleRequest) -> dict[str, Any] | None:
    """The other type's object as stored (core/content.py), or None for a text or template."""
    if request.type is None and not request.objects:
        return None
    kind, value = _content_of(request.type, request.objects or {})
    if type(value) is dict and kind in content_mod.MEDIA_TYPES:
        return _checked_media(kind, value)
    if isinstance(value, Mapping | list):
        rule = jsonbounds.broken_rule(value)
        if rule is not None:
            raise errors.ValidationFailed(kind, rule)
    content = content_mod.normalize(kind, value)
    _check_storable(kind, _joined_strings(content))
    return content


def _checked_media(kind: str, value: dict[str, Any]) -> dict[str, Any]:
    """A media type's object as stored. Meta's rules first: an object that follows them (its
    fields Meta's, each a text of bounded length) is within the JSON bounds by construction
    (at most ~20 KB as JSON: tests/unit/test_media_validation.py), so they are not measured for
    every message; they are when it breaks a rule, so that the refusal is the one the
    general order gives (a bound before Meta's rules)."""
    try:
        content = content_mod.normalize(kind, value)
    except errors.ValidationFailed:
        rule = jsonbounds.broken_rule(value)
        if rule is not None:
            raise errors.ValidationFailed(kind, rule) from None
        raise
    _check_storable(kind, "".join(content[kind].values()))  # its values are strings
    return content


def _content_of(kind: str | None, objects: Mapping[str, Any]) -> tuple[str, Any]:
    """(type, its object) of a request with another type: `type` given, one of
    `content.TYPES`, with its object and no other's."""
    if kind in objects and len(objects) == 1 and kind in content_mod.TYPES:  # the usual case
        return kind, objects[kind]
    named = list(objects)
    if kind is None:
        raise errors.ValidationFailed("type", "is required with {value}", value=named[0])
    if kind not in content_mod.TYPES:
        raise errors.ValidationFailed(
            "type", "must be one of {items}", items=", ".join(content_mod.TYPES)
        )
    extra = [name for name in named if name != kind]
    if extra:
        raise errors.ValidationFailed(
            extra[0], "only the {kind} object goes with type {kind}", kind=kind
        )
    if kind not in objects:
        raise errors.ValidationFailed(kind, "is required with type {kind}", kind=kind)
    return kind, objects[kind]


def content_hash(
    recipient: str,
    due_at: datetime,
    body: str | None,
    template: Mapping[str, Any] | None,
    fallback_template: Mapping[str, Any] | None = None,
    sender: str = senders.DEFAULT_SENDER_NAME,
    content: Mapping[str, Any] | None = None,
) -> str:
    """What makes two requests under one id "the same message" (a safe client retry). The
    sender counts: the same id from another sender is a conflict, not a repeat."""
    default = sender == senders.DEFAULT_SENDER_NAME  # left out: older hashes stay valid
    if content is not None:  # another type (docs/message-types.md): hashed with its object
        written = _flat_content_json(content) if fallback_template is None else None
        if written is not None:  # the bytes of the general case below, written out
            payload = (
                f"[{_json_str(recipient)}, {_json_str(due_at.isoformat())}, null, null, null, "
                f'{{"content": {written}, "gonderen": {_json_str(sender)}}}]'
            )
            return hashlib.sha256(payload.encode()).hexdigest()
        parts_: list[Any] = [recipient, due_at.isoformat(), None, None, fallback_template]
        parts_.append({"content": content, "gonderen": sender})
        return hashlib.sha256(_HASH_JSON.encode(parts_).encode()).hexdigest()
    if template is None and fallback_template is None and body is not None and default:
        # A text: the same bytes as the general case below, written out (3x cheaper).
        due = _utc_json(due_at) if due_at.tzinfo is UTC else _json_str(due_at.isoformat())
        payload = f"[{_json_str(recipient)}, {due}, {_json_str(body)}, null]"
        return hashlib.sha256(payload.encode()).hexdigest()
    parts: list[Any] = [recipient, due_at.isoformat(), body, template]
    if fallback_template is not None:  # left out when absent: older hashes stay valid
        parts.append(fallback_template)
    if not default:
        parts.append({"gonderen": sender})
    return hashlib.sha256(_HASH_JSON.encode(parts).encode()).hexdigest()


@functools.lru_cache(maxsize=4096)
def _utc_json(due_at: datetime) -> str:
    """`_json_str(due_at.isoformat())` of a UTC time, cached (a batch's and a campaign's
    messages share a few due times; writing it was a third of a text's hash). Only for
    `tzinfo is UTC`: equal instants in other zones are equal keys but other texts."""
    return _json_str(due_at.isoformat())


def _flat_content_json(content: Mapping[str, Any]) -> str | None:
    """`_HASH_JSON.encode(content)` of a media message's content, `{"type": kind, kind:
    {...}}` with Meta's fields (id, link, caption, filename) holding strings, written out
    (the encoder cost twice as much); None for any other content (the encoder writes it)."""
    kind = content.get("type")
    if kind not in content_mod.MEDIA_TYPES or len(content) != 2:
        return None
    value = content.get(kind)
    if type(value) is not dict or not value.keys() <= _MEDIA_KEYS:
        return None
    members = []
    for key in sorted(value):  # sort_keys; the names are plain ASCII, written as they are
        item = value[key]
        if type(item) is not str:
            return None
        members.append(f'"{key}": {_json_str(item)}')
    inner = f'"{kind}": {{{", ".join(members)}}}'
    return (
        f'{{{inner}, "type": "{kind}"}}' if str(kind) < "type" else f'{{"type": "{kind}", {inner}}}'
    )


_MEDIA_KEYS = frozenset({"id", "link", "caption", "filename"})


# What `json.dumps(parts, sort_keys=True, ensure_ascii=False)` uses, made once: building an
# encoder per call was a third of the hash's cost. Changing the output would make stored
# hashes disagree with a client's safe retry.
_HASH_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
_json_str: Callable[[str], str] = json.encoder.encode_basestring


def window_decision(
    policy: window.WindowPolicy,
    is_template: bool,
    last_inbound: datetime | None,
    at: datetime,
    fallback_label: str | None,
) -> tuple[str | None, tuple[notices.ScheduleWarning, ...]]:
    """(the refusal's rule, or None; the warnings) for one message under `policy`."""
    decision = window.decide(
        policy,
        is_template=is_template,
        has_fallback=fallback_label is not None,
        last_inbound=last_inbound,
        at=at,
    )
    if decision.action == window.Action.FAIL and decision.window_closed:
        return window.refusal(decision), ()
    note = window.warning(decision, fallback_label)
    return None, (note,) if note is not None else ()


@functools.lru_cache(maxsize=4096)
def window_answer(
    policy: window.WindowPolicy, is_template: bool, last_inbound: datetime | None, at: datetime
) -> tuple[str | None, tuple[notices.ScheduleWarning, ...]]:
    """`window_decision` without a fallback template, cached: a batch's messages, and a
    shop's reminders, share a few due times and mostly contacts who never wrote."""
    return window_decision(policy, is_template, last_inbound, at, None)


def _check_bounds(request: ScheduleRequest) -> None:
    """The JSON values' depth and size (`core/jsonbounds.py`), before anything reads them."""
    for name, raw in (
        ("template", request.template),
        ("fallback_template", request.fallback_template),
    ):
        if raw is not None:
            rule = jsonbounds.broken_rule(raw)
            if rule is not None:
                raise errors.ValidationFailed(name, rule)


def _check_id(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise errors.ValidationFailed(
            "id", "must be 1-128 characters of letters, digits and . _ : @ -"
        )
    if value in UNADDRESSABLE_IDS:
        raise errors.ValidationFailed("id", "must not be '.' or '..' (not addressable in a URL)")
    return value


def _check_body(text: str | None) -> str | None:
    if text is None:
        return None
    if not text.strip():
        raise errors.ValidationFailed("mesaj", "must not be empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise errors.ValidationFailed(
            "mesaj",
            "is {count} characters; WhatsApp allows at most {MAX_TEXT_LENGTH}",
            count=len(text),
            MAX_TEXT_LENGTH=MAX_TEXT_LENGTH,
        )
    _check_storable("mesaj", text)
    return text


def _joined_strings(value: Any) -> str:
    """Every string in a JSON value, keys included, joined: one `_check_storable` of them
    all (a NUL or half a surrogate pair in any is in the whole)."""
    return "".join(jsonbounds.strings(value, keys=True))


def _check_storable(field: str, text: str) -> None:
    """Text a database can keep: PostgreSQL refuses NUL in text, and half of a UTF-16
    surrogate pair (JSON allows `"\\ud83d"` alone) is not Unicode that any database stores."""
    if "\x00" in text:
        raise errors.ValidationFailed(field, "must not contain the NUL character (\\u0000)")
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            raise errors.ValidationFailed(
                field, "must be valid Unicode text (it holds half of a surrogate pair)"
            ) from exc
