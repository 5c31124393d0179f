"""WhatsApp template messages: shape checks and normalisation to Meta's send shape. Pure.

A client gives a template in a short form or in Meta's own form (docs/meta-cloud-api.md,
"Templates")::

    {"name": "appointment_reminder", "language": "tr", "parameters": ["Ada", "10:00"]}
    {"name": "appointment_reminder", "language": {"code": "en_US", "policy": "deterministic"},
     "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}]}

`normalize()` checks the shape (each broken rule is a `ValidationFailed` naming the field, e.g.
`template.name`) and returns Meta's form, which is what is stored, hashed and sent::

    {"name": "appointment_reminder", "language": {"code": "tr"},
     "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}, ...]}]}

Only the shape is checked here: whether the template exists, is approved in that language and
takes that many parameters is Meta's to say (132000, 132001, 132012 come back as failures).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from whatsapp_scheduler.core import errors

#: Meta's naming rule for templates: lower-case letters, digits and underscores; 512 at most.
NAME_PATTERN = re.compile(r"^[a-z0-9_]{1,512}$")
#: Language codes as Meta lists them: `tr`, `en`, `en_US`, `pt_BR`, `zh_HK`, `fil`.
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
LANGUAGE_POLICIES = frozenset({"deterministic"})
#: Component types accepted by the send endpoint.
COMPONENT_TYPES = frozenset({"header", "body", "button", "carousel", "limited_time_offer"})
BUTTON_SUB_TYPES = frozenset(
    {"quick_reply", "url", "copy_code", "flow", "catalog", "mpm", "voice_call", "order_details"}
)
#: Meta caps a template body at 1,024 characters; no single parameter can be longer.
MAX_PARAMETER_LENGTH = 1024
MAX_PARAMETERS = 100
MAX_COMPONENTS = 20
ALLOWED_KEYS = frozenset({"name", "language", "parameters", "components"})


def normalize(raw: Any, field: str = "template") -> dict[str, Any]:
    """Check `raw` and return it in Meta's shape; raises `errors.ValidationFailed`."""
    if not isinstance(raw, Mapping):
        raise errors.ValidationFailed(field, "must be an object with name and language")
    unknown = sorted(str(k) for k in raw if k not in ALLOWED_KEYS)
    if unknown:
        raise errors.ValidationFailed(
            f"{field}.{unknown[0]}",
            "is not a template field (name, language, parameters, components)",
        )
    result: dict[str, Any] = {
        "name": _name(raw.get("name"), f"{field}.name"),
        "language": _language(raw.get("language"), f"{field}.language"),
    }
    parameters, components = raw.get("parameters"), raw.get("components")
    if parameters is not None and components is not None:
        raise errors.ValidationFailed(field, "give either parameters or components, not both")
    if parameters is not None:
        texts = _parameters(parameters, f"{field}.parameters")
        if texts:
            result["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": t} for t in texts]}
            ]
    elif components is not None:
        checked = _components(components, f"{field}.components")
        if checked:
            result["components"] = checked
    return result


def describe(template: Mapping[str, Any]) -> str:
    """A short label for logs and warnings: `name (code)`; no parameter values."""
    language = template.get("language")
    code = language.get("code") if isinstance(language, Mapping) else language
    return f"{template.get('name')} ({code})"


def _name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise errors.ValidationFailed(field, "is required (the approved template's name)")
    if len(value) > 512:
        raise errors.ValidationFailed(field, "is {count} characters; at most 512", count=len(value))
    if not NAME_PATTERN.match(value):
        raise errors.ValidationFailed(
            field, "may hold only lower-case letters, digits and underscores (Meta's naming)"
        )
    return value


def _language(value: Any, field: str) -> dict[str, str]:
    if isinstance(value, str):
        return {"code": _language_code(value, field)}
    if not isinstance(value, Mapping):
        raise errors.ValidationFailed(field, "is required: a code like 'tr' or 'en_US'")
    extra = sorted(str(k) for k in value if k not in ("code", "policy"))
    if extra:
        raise errors.ValidationFailed(f"{field}.{extra[0]}", "is not a language field")
    language = {"code": _language_code(value.get("code"), f"{field}.code")}
    policy = value.get("policy")
    if policy is not None:
        if policy not in LANGUAGE_POLICIES:
            raise errors.ValidationFailed(f"{field}.policy", "must be 'deterministic'")
        language["policy"] = policy
    return language


def _language_code(value: Any, field: str) -> str:
    if not isinstance(value, str) or not LANGUAGE_PATTERN.match(value):
        raise errors.ValidationFailed(field, "must be a language code like 'tr' or 'en_US'")
    return value


def _parameters(value: Any, field: str) -> list[str]:
    if not isinstance(value, list):
        raise errors.ValidationFailed(field, "must be a list of strings (body text parameters)")
    if len(value) > MAX_PARAMETERS:
        raise errors.ValidationFailed(
            field, "at most {MAX_PARAMETERS} parameters", MAX_PARAMETERS=MAX_PARAMETERS
        )
    for index, text in enumerate(value):
        _text(text, f"{field}[{index}]")
    return list(value)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise errors.ValidationFailed(field, "must be a non-empty string")
    if len(value) > MAX_PARAMETER_LENGTH:
        raise errors.ValidationFailed(
            field,
            "is {count} characters; at most {MAX_PARAMETER_LENGTH}",
            count=len(value),
            MAX_PARAMETER_LENGTH=MAX_PARAMETER_LENGTH,
        )
    return value


def _components(value: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise errors.ValidationFailed(field, "must be a list of component objects")
    if len(value) > MAX_COMPONENTS:
        raise errors.ValidationFailed(
            field, "at most {MAX_COMPONENTS} components", MAX_COMPONENTS=MAX_COMPONENTS
        )
    return [_component(item, f"{field}[{index}]") for index, item in enumerate(value)]


def _component(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise errors.ValidationFailed(field, "must be an object with a type")
    kind = value.get("type")
    if kind not in COMPONENT_TYPES:
        allowed = ", ".join(sorted(COMPONENT_TYPES))
        raise errors.ValidationFailed(f"{field}.type", "must be one of {allowed}", allowed=allowed)
    if kind == "button":
        if value.get("sub_type") not in BUTTON_SUB_TYPES:
            allowed = ", ".join(sorted(BUTTON_SUB_TYPES))
            raise errors.ValidationFailed(
                f"{field}.sub_type", "must be one of {allowed}", allowed=allowed
            )
        index = value.get("index")
        if not (isinstance(index, str) and index.isdigit()) and not (
            isinstance(index, int) and not isinstance(index, bool) and index >= 0
        ):
            raise errors.ValidationFailed(
                f"{field}.index", "must be the button's position, e.g. '0'"
            )
    parameters = value.get("parameters")
    if parameters is not None:
        if not isinstance(parameters, list):
            raise errors.ValidationFailed(f"{field}.parameters", "must be a list of objects")
        if len(parameters) > MAX_PARAMETERS:
            raise errors.ValidationFailed(
                f"{field}.parameters", "at most {MAX_PARAMETERS}", MAX_PARAMETERS=MAX_PARAMETERS
            )
        for index, parameter in enumerate(parameters):
            _parameter(parameter, f"{field}.parameters[{index}]")
    return dict(value)


def _parameter(value: Any, field: str) -> None:
    if not isinstance(value, Mapping):
        raise errors.ValidationFailed(field, "must be an object with a type")
    kind = value.get("type")
    if not isinstance(kind, str) or not kind:
        raise errors.ValidationFailed(f"{field}.type", "is required (text, currency, image ...)")
    if kind == "text":
        _text(value.get("text"), f"{field}.text")
    elif kind in ("image", "video", "document") and not isinstance(value.get(kind), Mapping):
        raise errors.ValidationFailed(f"{field}.{kind}", "is required: an object with id or link")
