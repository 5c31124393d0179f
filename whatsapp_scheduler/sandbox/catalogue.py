"""The stand-in's template catalogue: what ``GET /{version}/{WABA-ID}/message_templates``
lists, and the checks Meta makes when a template is sent (pure; docs/sandbox.md, "Templates").

Templates are kept in Meta's shape (Meta's OpenAPI description, the ``message_templates``
``GET`` answer): ``id, name, language, status, category, parameter_format, components,
quality_score``. Listing pages with Meta's cursors: ``paging.cursors.before/after`` and, when
there is more, ``paging.next`` (the URL of the next page, ``after=`` the last cursor).

Send checks (:func:`check_send`), in Meta's order, each a Graph error code:

- the name in that language not in the catalogue, or not APPROVED/PAUSED/DISABLED -> 132001
- PAUSED -> 132015; DISABLED -> 132016
- a media or location header without a header parameter of that kind -> 132012
- body parameters: their number (positional) or their names (named) differ -> 132000
- a text header with a variable, a URL button with a variable or a copy-code button without
  its parameter -> 132000

Kept apart from ``core/templates.py`` on purpose: the stand-in plays Meta and must not learn
Meta's rules from the client it tests.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from whatsapp_scheduler.sandbox.config import TemplateCheck
from whatsapp_scheduler.sandbox.validation import Rejection

#: Meta's default page size of a Graph edge, and the largest `limit` the stand-in takes.
DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
_POSITIONAL = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_NAMED = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
MEDIA_FORMATS = {"IMAGE": "image", "VIDEO": "video", "DOCUMENT": "document", "LOCATION": "location"}


def _body(text: str, example: dict[str, Any] | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "BODY", "text": text}
    if example:
        part["example"] = example
    return part


#: What ``POST /{WABA-ID}/message_templates`` takes (Meta's create request).
CREATE_FIELDS = frozenset(
    {"name", "language", "category", "components", "parameter_format", "allow_category_change"}
)
CREATE_CATEGORIES = frozenset({"MARKETING", "UTILITY", "AUTHENTICATION"})
COMPONENT_TYPES = frozenset({"HEADER", "BODY", "FOOTER", "BUTTONS"})
_CREATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_CREATE_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")


def new_template(body: Any) -> dict[str, Any]:
    """A create request as the catalogue's entry (status PENDING, component types upper-case
    as Meta lists them); ValueError naming the field for what Meta refuses with code 100."""
    if not isinstance(body, dict):
        raise ValueError("The request body must be a JSON object.")
    unknown = sorted(set(body) - CREATE_FIELDS)
    if unknown:
        raise ValueError(f"(#100) Param {unknown[0]} is not a valid parameter")
    name, language = body.get("name"), body.get("language")
    if not isinstance(name, str) or not _CREATE_NAME.match(name):
        raise ValueError(
            "(#100) Param name must be 1-512 lower-case letters, digits and underscores"
        )
    if not isinstance(language, str) or not _CREATE_LANGUAGE.match(language):
        raise ValueError("(#100) Param language must be a language code such as en_US")
    category = str(body.get("category", "")).upper()
    if category not in CREATE_CATEGORIES:
        raise ValueError("(#100) Param category must be one of MARKETING, UTILITY, AUTHENTICATION")
    components = body.get("components")
    if not isinstance(components, list) or not components:
        raise ValueError("(#100) Param components must be a non-empty array")
    parts: list[dict[str, Any]] = []
    for index, component in enumerate(components):
        kind = str(component.get("type", "")).upper() if isinstance(component, dict) else ""
        if kind not in COMPONENT_TYPES:
            raise ValueError(
                f"(#100) Param components[{index}][type] must be HEADER, BODY, FOOTER or BUTTONS"
            )
        parts.append({**copy.deepcopy(component), "type": kind})
    if sum(1 for p in parts if p["type"] == "BODY") != 1:
        raise ValueError("(#100) Param components must have exactly one BODY")
    fmt = str(body.get("parameter_format", "POSITIONAL")).upper()
    if fmt not in {"POSITIONAL", "NAMED"}:
        raise ValueError("(#100) Param parameter_format must be POSITIONAL or NAMED")
    return {
        "name": name,
        "language": language,
        "status": "PENDING",
        "category": category,
        "parameter_format": fmt,
        "components": parts,
        "quality_score": {"score": "UNKNOWN"},
    }


def seeded() -> list[dict[str, Any]]:
    """The catalogue a stand-in starts with: several languages, positional and named
    parameters, a header image, buttons, a MARKETING one, a PAUSED and a DISABLED one."""
    green = {"score": "GREEN"}
    return [
        {
            "id": "1000000000000001",
            "name": "randevu_hatirlatma",
            "language": "tr",
            "status": "APPROVED",
            "category": "UTILITY",
            "parameter_format": "POSITIONAL",
            "components": [
                _body(
                    "Merhaba {{1}}, randevunuz yarın saat {{2}}.",
                    {"body_text": [["Ayşe", "10:00"]]},
                ),
                {"type": "FOOTER", "text": "Yanıtlamak için yazın"},
            ],
            "quality_score": green,
        },
        {
            "id": "1000000000000002",
            "name": "randevu_hatirlatma",
            "language": "en_US",
            "status": "APPROVED",
            "category": "UTILITY",
            "parameter_format": "POSITIONAL",
            "components": [
                _body(
                    "Hello {{1}}, your appointment is tomorrow at {{2}}.",
                    {"body_text": [["Ada", "10:00"]]},
                ),
            ],
            "quality_score": green,
        },
        {
            "id": "1000000000000003",
            "name": "siparis_durumu",
            "language": "tr",
            "status": "APPROVED",
            "category": "UTILITY",
            "parameter_format": "NAMED",
            "components": [
                _body(
                    "Sayın {{customer}}, {{order_id}} numaralı siparişiniz yola çıktı.",
                    {
                        "body_text_named_params": [
                            {"param_name": "customer", "example": "Ayşe"},
                            {"param_name": "order_id", "example": "A-1001"},
                        ]
                    },
                ),
                {
                    "type": "BUTTONS",
                    "buttons": [
                        {
                            "type": "URL",
                            "text": "Kargoyu izle",
                            "url": "https://example.com/track/{{1}}",
                            "example": ["https://example.com/track/A-1001"],
                        }
                    ],
                },
            ],
            "quality_score": green,
        },
        {
            "id": "1000000000000004",
            "name": "kampanya_duyurusu",
            "language": "tr",
            "status": "APPROVED",
            "category": "MARKETING",
            "parameter_format": "POSITIONAL",
            "components": [
                {
                    "type": "HEADER",
                    "format": "IMAGE",
                    "example": {"header_handle": ["https://example.com/kampanya.jpg"]},
                },
                _body("{{1}} tüm ürünlerde %20 indirim!", {"body_text": [["Bu hafta"]]}),
                {"type": "FOOTER", "text": "Almak istemiyorsanız DUR yazın"},
                {
                    "type": "BUTTONS",
                    "buttons": [
                        {"type": "QUICK_REPLY", "text": "Beni bilgilendirme"},
                        {"type": "COPY_CODE", "example": "INDIRIM20"},
                    ],
                },
            ],
            "quality_score": green,
        },
        {
            "id": "1000000000000005",
            "name": "eski_kampanya",
            "language": "tr",
            "status": "PAUSED",
            "category": "MARKETING",
            "parameter_format": "POSITIONAL",
            "components": [_body("Kaçırmayın: {{1}}", {"body_text": [["son gün"]]})],
            "quality_score": {"score": "RED"},
        },
        {
            "id": "1000000000000006",
            "name": "kapanan_kampanya",
            "language": "tr",
            "status": "DISABLED",
            "category": "MARKETING",
            "parameter_format": "POSITIONAL",
            "components": [_body("Bu kampanya kapandı.")],
            "quality_score": {"score": "RED"},
        },
        {
            "id": "1000000000000007",
            "name": "giris_kodu",
            "language": "tr",
            "status": "APPROVED",
            "category": "AUTHENTICATION",
            "parameter_format": "POSITIONAL",
            "components": [
                _body("{{1}} doğrulama kodunuzdur.", {"body_text": [["123456"]]}),
                {
                    "type": "BUTTONS",
                    "buttons": [
                        {
                            "type": "URL",
                            "text": "Kodu kopyala",
                            "url": "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code={{1}}",
                        }
                    ],
                },
            ],
            "quality_score": {"score": "UNKNOWN"},
        },
    ]


class Catalogue:
    """The templates of each WhatsApp Business Account the stand-in knows, in Meta's shape."""

    def __init__(self, templates: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
        self.by_waba: dict[str, list[dict[str, Any]]] = {
            waba: [copy.deepcopy(dict(t)) for t in items] for waba, items in templates.items()
        }
        self._next_id = 2_000_000_000_000_000

    def templates(self, waba_id: str) -> list[dict[str, Any]] | None:
        """The WABA's templates (None: no such WABA)."""
        return self.by_waba.get(waba_id)

    def find(self, waba_id: str, name: str, language: str) -> dict[str, Any] | None:
        for template in self.by_waba.get(waba_id, ()):
            if template.get("name") == name and template.get("language") == language:
                return template
        return None

    def knows_name(self, waba_id: str, name: str) -> bool:
        return any(t.get("name") == name for t in self.by_waba.get(waba_id, ()))

    def add(self, waba_id: str, template: Mapping[str, Any]) -> dict[str, Any]:
        """Add (or replace, by name and language) a template; it gets an id if it has none."""
        entry = copy.deepcopy(dict(template))
        if "id" not in entry:
            self._next_id += 1
            entry["id"] = str(self._next_id)
        items = self.by_waba.setdefault(waba_id, [])
        items[:] = [
            t
            for t in items
            if (t.get("name"), t.get("language")) != (entry.get("name"), entry.get("language"))
        ]
        items.append(entry)
        return entry

    def page(
        self,
        waba_id: str,
        *,
        base_url: str,
        after: str | None = None,
        limit: int = DEFAULT_LIMIT,
        filters: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One page of Meta's list answer: ``{"data": [...], "paging": {...}}``."""
        items = [t for t in self.by_waba.get(waba_id, ()) if _matches(t, filters or {})]
        start = decode_cursor(after) if after else 0
        chosen = items[start : start + limit]
        answer: dict[str, Any] = {"data": copy.deepcopy(chosen)}
        if chosen:
            end = start + len(chosen)
            paging: dict[str, Any] = {
                "cursors": {"before": encode_cursor(start), "after": encode_cursor(end)}
            }
            if end < len(items):
                query = "&".join(f"{k}={v}" for k, v in sorted((filters or {}).items()))
                more = f"&{query}" if query else ""
                paging["next"] = f"{base_url}?limit={limit}&after={encode_cursor(end)}{more}"
            answer["paging"] = paging
        return answer


def encode_cursor(index: int) -> str:
    """An opaque cursor like Meta's (base64 without padding)."""
    return base64.urlsafe_b64encode(str(index).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position a cursor stands for; ValueError for one the stand-in never gave."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        index = int(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"Invalid cursor {cursor!r}") from exc
    if index < 0:
        raise ValueError(f"Invalid cursor {cursor!r}")
    return index


def _matches(template: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    return all(
        str(template.get(key, "")).upper() == value.upper() for key, value in filters.items()
    )


# -- the send checks -----------------------------------------------------------------------


def check_send(
    catalogue: Catalogue, waba_id: str, template: Mapping[str, Any], mode: TemplateCheck
) -> Rejection | None:
    """Meta's template checks of a send (module docstring); None: it may go out.

    ``mode``: ``off`` checks nothing; ``known`` checks the templates whose name the catalogue
    has and lets other names through (what tests of other things send); ``strict`` refuses
    every name the catalogue does not have in that language, as Meta does."""
    if mode == "off":
        return None
    name = str(template.get("name"))
    language = template.get("language")
    code = str(language.get("code")) if isinstance(language, Mapping) else ""
    found = catalogue.find(waba_id, name, code)
    if found is None:
        if mode == "known" and not catalogue.knows_name(waba_id, name):
            return None
        return Rejection(132001, f"template name ({name}) does not exist in {code}")
    status = found.get("status")
    if status == "PAUSED":
        return Rejection(132015, f"Template {name} ({code}) is paused.")
    if status == "DISABLED":
        return Rejection(132016, f"Template {name} ({code}) is disabled.")
    if status != "APPROVED":
        return Rejection(132001, f"template name ({name}) in {code} is not approved ({status})")
    return _check_parameters(found, template)


def _sent_components(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    parts = template.get("components") or []
    return [p for p in parts if isinstance(p, Mapping)] if isinstance(parts, list) else []


def _parameters(part: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = part.get("parameters") or []
    return [p for p in found if isinstance(p, Mapping)] if isinstance(found, list) else []


def _check_parameters(found: Mapping[str, Any], template: Mapping[str, Any]) -> Rejection | None:
    sent = _sent_components(template)
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for part in sent:
        if part.get("type") in ("header", "body"):
            by_type.setdefault(str(part.get("type")), []).extend(_parameters(part))
    named = str(found.get("parameter_format", "POSITIONAL")).upper() == "NAMED"
    for part in found.get("components", []):
        kind = part.get("type")
        if kind == "HEADER":
            rejection = _check_header(part, by_type.get("header", []), named)
        elif kind == "BODY":
            rejection = _check_body(part, by_type.get("body", []), named)
        elif kind == "BUTTONS":
            rejection = _check_buttons(part.get("buttons", []), sent)
        else:
            rejection = None
        if rejection is not None:
            return rejection
    return None


def _variables(text: str, named: bool) -> list[str]:
    pattern = _NAMED if named else _POSITIONAL
    seen: list[str] = []
    for match in pattern.finditer(text):
        if match.group(1) not in seen:
            seen.append(match.group(1))
    return seen


def _check_header(
    part: Mapping[str, Any], given: Sequence[Mapping[str, Any]], named: bool
) -> Rejection | None:
    fmt = str(part.get("format", "TEXT")).upper()
    if fmt in MEDIA_FORMATS:
        kind = MEDIA_FORMATS[fmt]
        if len(given) != 1 or given[0].get("type") != kind:
            return Rejection(
                132012, f"header: Format mismatch, expected {fmt}, received {_kinds(given)}"
            )
        return None
    wanted = _variables(str(part.get("text", "")), named)
    if len(given) != len(wanted):
        return Rejection(
            132000,
            f"Number of parameters does not match the expected number of params "
            f"(header: expected {len(wanted)}, received {len(given)})",
        )
    return None


def _check_body(
    part: Mapping[str, Any], given: Sequence[Mapping[str, Any]], named: bool
) -> Rejection | None:
    wanted = _variables(str(part.get("text", "")), named)
    if len(given) != len(wanted):
        return Rejection(
            132000,
            f"Number of parameters does not match the expected number of params "
            f"(body: expected {len(wanted)}, received {len(given)})",
        )
    if named:
        names = sorted(str(p.get("parameter_name")) for p in given)
        if names != sorted(wanted):
            return Rejection(
                132000,
                f"body: parameter names {names} do not match the template's {sorted(wanted)}",
            )
    return None


def _check_buttons(
    buttons: Sequence[Mapping[str, Any]], sent: Sequence[Mapping[str, Any]]
) -> Rejection | None:
    for index, button in enumerate(buttons):
        kind = str(button.get("type", "")).upper()
        needs = (kind == "URL" and _POSITIONAL.search(str(button.get("url", "")))) or (
            kind == "COPY_CODE"
        )
        if not needs:
            continue
        given = [
            p
            for p in sent
            if p.get("type") == "button" and str(p.get("index")) == str(index) and _parameters(p)
        ]
        if not given:
            return Rejection(
                132000,
                f"Number of parameters does not match the expected number of params "
                f"(button at index {index}: expected 1, received 0)",
            )
    return None


def _kinds(given: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(str(p.get("type")).upper() for p in given) or "nothing"
