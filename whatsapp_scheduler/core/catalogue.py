"""Meta's template catalogue, read: what a synced template is, and whether a message to
schedule fits it. Pure (docs/templates.md).

`from_meta()` turns one entry of Meta's `GET /{WABA-ID}/message_templates` answer into a
`CatalogueTemplate`; `check()` compares a message's template (already in Meta's send shape,
`core/templates.normalize`) with the synced one and raises `ValidationFailed` naming the field
and what the template expects, e.g.::

    template.parameters: 'randevu_hatirlatma' (tr) takes 2 body parameters ({{1}}, {{2}}); got 1

or returns the warning to give (a PAUSED template is accepted, with a warning).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from whatsapp_scheduler.core import errors, notices

#: Statuses Meta gives a template (docs/templates.md, "Statuses").
APPROVED = "APPROVED"
PAUSED = "PAUSED"
DISABLED = "DISABLED"
REJECTED = "REJECTED"
#: Statuses whose template cannot be sent now or later without a change at Meta.
UNSENDABLE = frozenset({DISABLED, REJECTED, "PENDING_DELETION", "DELETED", "ARCHIVED"})
CATEGORIES = frozenset({"MARKETING", "UTILITY", "AUTHENTICATION"})
#: The category of a text message (Meta bills free-form messages in the 24-hour window as
#: "service" conversations).
SERVICE = "SERVICE"
POSITIONAL = "POSITIONAL"
NAMED = "NAMED"
MEDIA_FORMATS = {"IMAGE": "image", "VIDEO": "video", "DOCUMENT": "document", "LOCATION": "location"}
_POSITIONAL = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_NAMED = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
#: Meta's limits on a parameter's text (docs/templates.md, "Parameters"): a body parameter up to
#: the body's 1,024 characters, a text header's 60, a URL button's suffix and a copy code 15.
MAX_BODY_PARAMETER = 1024
MAX_HEADER_PARAMETER = 60
MAX_BUTTON_URL_PARAMETER = 2000
MAX_COPY_CODE = 15


@dataclasses.dataclass(frozen=True, slots=True)
class CatalogueTemplate:
    """One template of a WhatsApp Business Account, as last synced (or updated by webhook)."""

    waba_id: str
    name: str
    language: str
    status: str
    category: str
    parameter_format: str  # POSITIONAL or NAMED
    components: tuple[Mapping[str, Any], ...]  # Meta's shape (HEADER, BODY, FOOTER, BUTTONS)
    updated_at: datetime
    template_id: str | None = None
    quality: str | None = None  # GREEN, YELLOW, RED, UNKNOWN
    # The body's variables, parsed once (the schedule-time check reads them per message).
    _body_variables: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text = str(self.part("BODY").get("text", ""))
        object.__setattr__(self, "_body_variables", tuple(_variables(text, self.named)))

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.language)

    def label(self) -> str:
        return f"{self.name!r} ({self.language})"

    def body_variables(self) -> list[str]:
        """The body's variables in order of appearance: ['1', '2'] or ['customer', ...]."""
        return list(self._body_variables)

    def header(self) -> Mapping[str, Any]:
        return self.part("HEADER")

    def buttons(self) -> list[Mapping[str, Any]]:
        found = self.part("BUTTONS").get("buttons")
        return [b for b in found if isinstance(b, Mapping)] if isinstance(found, list) else []

    @property
    def named(self) -> bool:
        return self.parameter_format == NAMED

    def part(self, kind: str) -> Mapping[str, Any]:
        for part in self.components:
            if str(part.get("type", "")).upper() == kind:
                return part
        return {}

    def to_json(self) -> dict[str, Any]:
        """The template as the REST API shows it."""
        return {
            "waba_id": self.waba_id,
            "name": self.name,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "parameter_format": self.parameter_format,
            "quality": self.quality,
            "components": [dict(c) for c in self.components],
            "template_id": self.template_id,
            "updated_at": self.updated_at.isoformat(),
        }


def from_meta(raw: Any, waba_id: str, now: datetime) -> CatalogueTemplate | None:
    """One entry of Meta's list answer; None for an entry without a name or language."""
    if not isinstance(raw, Mapping):
        return None
    name, language = raw.get("name"), raw.get("language")
    if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
        return None
    if len(name) > 512 or len(language) > 16:
        return None
    components = raw.get("components")
    parts = (
        tuple(c for c in components if isinstance(c, Mapping))
        if isinstance(components, list)
        else ()
    )
    quality = raw.get("quality_score")
    score = quality.get("score") if isinstance(quality, Mapping) else None
    fmt = str(raw.get("parameter_format") or POSITIONAL).upper()
    template_id = raw.get("id")
    return CatalogueTemplate(
        waba_id=waba_id,
        name=name,
        language=language,
        status=str(raw.get("status") or "UNKNOWN").upper()[:32],
        category=str(raw.get("category") or "UNKNOWN").upper()[:32],
        parameter_format=NAMED if fmt == NAMED else POSITIONAL,
        components=parts,
        updated_at=now,
        template_id=str(template_id)[:32] if template_id is not None else None,
        quality=str(score).upper()[:16] if score is not None else None,
    )


def _variables(text: str, named: bool) -> list[str]:
    seen: list[str] = []
    for match in (_NAMED if named else _POSITIONAL).finditer(text):
        if match.group(1) not in seen:
            seen.append(match.group(1))
    return seen


# -- the check when scheduled ---------------------------------------------------------------


def unchecked_warning(template: Mapping[str, Any], reason: str) -> notices.ScheduleWarning:
    """The warning when there is no catalogue to check against (no WABA id, never synced)."""
    label = _send_label(template)
    return notices.ScheduleWarning(
        notices.WarningCode.TEMPLATE_UNCHECKED,
        f"template_unchecked: template could not be checked ({reason}); {label} is checked by "
        "Meta when it is sent",
        {"template": label, "reason": reason},
    )


def check(
    entries: Mapping[tuple[str, str], CatalogueTemplate],
    template: Mapping[str, Any],
    field: str = "template",
) -> notices.ScheduleWarning | None:
    """Check `template` (Meta's send shape) against a WABA's synced `entries` (by name and
    language). Raises ValidationFailed for each broken rule; returns a warning for a PAUSED one.
    """
    name = str(template.get("name"))
    language = template.get("language")
    code = str(language.get("code")) if isinstance(language, Mapping) else str(language)
    found = entries.get((name, code))
    if found is None:
        others = sorted(lang for (n, lang) in entries if n == name)
        if others:
            raise errors.ValidationFailed(
                f"{field}.language",
                "{name!r} has no {code!r} translation (it has: {items})",
                name=name,
                code=code,
                items=", ".join(others),
            )
        raise errors.ValidationFailed(
            f"{field}.name",
            "no template {name!r} in this WhatsApp Business Account (GET /templates)",
            name=name,
        )
    if found.status != APPROVED and found.status != PAUSED:
        raise errors.ValidationFailed(
            f"{field}.name",
            "{label} is {status}; only APPROVED templates can be sent",
            label=found.label(),
            status=found.status,
        )
    sent = _components(template)
    _check_header(found, sent, field)
    _check_body(found, sent, field)
    _check_buttons(found, sent, field)
    if found.status == PAUSED:
        return notices.ScheduleWarning(
            notices.WarningCode.TEMPLATE_PAUSED,
            f"template_paused: template {found.label()} is PAUSED by Meta; the message waits "
            "until it is unpaused (or expires)",
            {"template": found.label()},
        )
    return None


def _send_label(template: Mapping[str, Any]) -> str:
    language = template.get("language")
    code = language.get("code") if isinstance(language, Mapping) else language
    return f"{template.get('name')!r} ({code})"


def _components(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = template.get("components") or []
    return [c for c in found if isinstance(c, Mapping)] if isinstance(found, list) else []


def _parameters(parts: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    result: list[Mapping[str, Any]] = []
    for part in parts:
        if part.get("type") == kind:
            found = part.get("parameters")
            if isinstance(found, list):
                result.extend(p for p in found if isinstance(p, Mapping))
    return result


def _check_header(found: CatalogueTemplate, sent: Sequence[Mapping[str, Any]], field: str) -> None:
    header = found.header()
    given = _parameters(sent, "header")
    fmt = str(header.get("format", "TEXT")).upper() if header else ""
    if fmt in MEDIA_FORMATS:
        kind = MEDIA_FORMATS[fmt]
        if len(given) != 1 or given[0].get("type") != kind:
            got = ", ".join(str(p.get("type")) for p in given) or "none"
            raise errors.ValidationFailed(
                f"{field}.components",
                "{label} has a {fmt} header: give a header component with one {kind} parameter ({{'type': 'header', 'parameters': [{{'type': '{kind}', ...}}]}}); got {got}",
                label=found.label(),
                fmt=fmt,
                kind=kind,
                got=got,
            )
        return
    wanted = _variables(str(header.get("text", "")), found.named) if header else []
    if len(given) != len(wanted):
        raise errors.ValidationFailed(
            f"{field}.components",
            "{label} takes {count} header parameter(s); got {count2}",
            label=found.label(),
            count=len(wanted),
            count2=len(given),
        )
    for index, parameter in enumerate(given):
        _length(
            parameter, MAX_HEADER_PARAMETER, f"{field}.components", f"header parameter {index + 1}"
        )


def _check_body(found: CatalogueTemplate, sent: Sequence[Mapping[str, Any]], field: str) -> None:
    wanted = found.body_variables()
    given = _parameters(sent, "body")
    target = f"{field}.parameters"
    shown = ", ".join("{{" + v + "}}" for v in wanted)
    if found.named:
        names = [str(p.get("parameter_name")) for p in given]
        if sorted(names) != sorted(wanted):
            missing = [w for w in wanted if w not in names]
            extra = [n for n in names if n not in wanted]
            detail = "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"not in the template: {', '.join(extra)}" if extra else "",
                )
                if part
            )
            raise errors.ValidationFailed(
                target,
                "{label} takes the named body parameters {value}; {value2} (give components with parameter_name for each)",
                label=found.label(),
                value=shown or "none",
                value2=detail or "got duplicates",
            )
    elif len(given) != len(wanted):
        takes = f"takes {len(wanted)} body parameter{'s' if len(wanted) != 1 else ''}"
        raise errors.ValidationFailed(
            target,
            "{label} {takes}{value}; got {count}",
            label=found.label(),
            takes=takes,
            value=f" ({shown})" if wanted else "",
            count=len(given),
        )
    for index, parameter in enumerate(given):
        _length(parameter, MAX_BODY_PARAMETER, target, f"body parameter {index + 1}")


def _check_buttons(found: CatalogueTemplate, sent: Sequence[Mapping[str, Any]], field: str) -> None:
    for index, button in enumerate(found.buttons()):
        kind = str(button.get("type", "")).upper()
        if kind == "URL" and _POSITIONAL.search(str(button.get("url", ""))):
            need, limit = "url", MAX_BUTTON_URL_PARAMETER
        elif kind == "COPY_CODE":
            need, limit = "copy_code", MAX_COPY_CODE
        else:
            continue
        given = [
            p
            for p in sent
            if p.get("type") == "button"
            and str(p.get("index")) == str(index)
            and p.get("parameters")
        ]
        if not given:
            what = "the URL's variable part" if need == "url" else "the code to copy"
            raise errors.ValidationFailed(
                f"{field}.components",
                "{label} has a {kind} button at index {index}: give a button component (sub_type {need}, index '{index}') with {what}",
                label=found.label(),
                kind=kind,
                index=index,
                need=need,
                what=what,
            )
        for parameter in given[0].get("parameters") or []:
            if isinstance(parameter, Mapping):
                _length(parameter, limit, f"{field}.components", f"button {index} parameter")


def _length(parameter: Mapping[str, Any], limit: int, field: str, what: str) -> None:
    for key in ("text", "coupon_code", "payload"):
        value = parameter.get(key)
        if isinstance(value, str) and len(value) > limit:
            raise errors.ValidationFailed(
                field,
                "{what} is {count} characters; at most {limit}",
                what=what,
                count=len(value),
                limit=limit,
            )


# -- a preview: the template as the recipient would see it ----------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Preview:
    """A synced template with its body (and text header) filled in with given parameters, as
    the dashboard shows it while a message is composed. A missing parameter stays `{{1}}`."""

    header: str | None  # the text header, filled in; None without a text header
    header_format: str | None  # TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION; None: no header
    body: str
    footer: str | None
    buttons: tuple[str, ...]  # each button's text
    variables: tuple[str, ...]  # the body's variables in order: ('1', '2') or ('name', ...)
    missing: tuple[str, ...]  # variables that got no parameter

    def to_json(self) -> dict[str, Any]:
        return {
            "header": self.header,
            "header_format": self.header_format,
            "body": self.body,
            "footer": self.footer,
            "buttons": list(self.buttons),
            "variables": list(self.variables),
            "missing": list(self.missing),
        }


def preview(template: CatalogueTemplate, parameters: Mapping[str, str]) -> Preview:
    """`template` with `parameters` (variable -> text: '1' -> 'Ada', or 'name' -> 'Ada') put in
    its text header and body. Nothing is checked: `check()` does that when scheduled."""
    pattern = _NAMED if template.named else _POSITIONAL
    missing: list[str] = []

    def fill(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            value = parameters.get(match.group(1))
            if value is None or value == "":
                if match.group(1) not in missing:
                    missing.append(match.group(1))
                return match.group(0)
            return value

        return pattern.sub(one, text)

    header = template.header()
    fmt = str(header.get("format", "TEXT")).upper() if header else None
    header_text = fill(str(header.get("text", ""))) if header and fmt == "TEXT" else None
    body = fill(str(template.part("BODY").get("text", "")))
    footer = template.part("FOOTER").get("text")
    return Preview(
        header=header_text,
        header_format=fmt,
        body=body,
        footer=str(footer) if footer else None,
        buttons=tuple(str(b.get("text", "")) for b in template.buttons()),
        variables=tuple(template.body_variables()),
        missing=tuple(missing),
    )


def send_key(template: Mapping[str, Any]) -> tuple[str, str]:
    """(name, language code) of a template message in Meta's send shape."""
    language = template.get("language")
    code = language.get("code") if isinstance(language, Mapping) else language
    return str(template.get("name")), str(code)


def sent_parameters(template: Mapping[str, Any]) -> dict[str, str]:
    """The body parameters of a template message in Meta's send shape, as `preview()`'s
    mapping: {'1': 'Ada', '2': '10:00'} (positional) or {'customer': 'Ada'} (named)."""
    found: dict[str, str] = {}
    for index, parameter in enumerate(_parameters(_components(template), "body")):
        key = parameter.get("parameter_name") or str(index + 1)
        found[str(key)] = str(parameter.get("text", ""))
    return found
