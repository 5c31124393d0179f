"""`{{date}}` in a template's parameters: the date the message is due, in the template's
language (docs/series.md, "Dates in template parameters"). Pure.

A series' template is stored once and copied to each occurrence, so the placeholder stays in
the stored rows (what GET shows is what the client wrote) and is filled in just before the
send, from the row's own local date (`tarih`: an occurrence's date for a series). Dates are
written by Babel's CLDR data ("3 Aralık 2026", "December 3, 2026"): no hand-made month names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

#: `{{date}}`, spaces allowed inside the braces.
DATE_PLACEHOLDER = re.compile(r"\{\{\s*date\s*\}\}")


def has_date(template: Mapping[str, Any] | None) -> bool:
    """Whether a text parameter of `template` holds `{{date}}` (cheap: no copy)."""
    return template is not None and any(
        DATE_PLACEHOLDER.search(text) for text in _texts(template.get("components"))
    )


def with_date(template: Mapping[str, Any], local_date: str) -> Mapping[str, Any]:
    """`template` with each `{{date}}` in its text parameters replaced by `local_date`
    (YYYY-MM-DD) written long in the template's language; the template itself when it has
    none. A language Babel does not know, or a malformed date, gives the ISO date."""
    if not has_date(template):
        return template
    language = template.get("language")
    code = language.get("code") if isinstance(language, Mapping) else language
    written = spelled(local_date, code if isinstance(code, str) else "en")
    components = [_filled(c, written) for c in template.get("components") or []]
    return {**template, "components": components}


@lru_cache(maxsize=4096)
def spelled(local_date: str, language: str) -> str:
    """`2026-12-03` as the language writes a date in full: `3 Aralık 2026` (tr)."""
    try:
        day = date.fromisoformat(local_date[:10])
    except ValueError:
        return local_date
    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return day.isoformat()
    return format_date(day, format="long", locale=locale)


def _texts(components: Any) -> list[str]:
    if not isinstance(components, list):
        return []
    found: list[str] = []
    for component in components:
        if not isinstance(component, Mapping):
            continue
        for parameter in component.get("parameters") or []:
            if isinstance(parameter, Mapping) and isinstance(parameter.get("text"), str):
                found.append(parameter["text"])
    return found


def _filled(component: Any, written: str) -> Any:
    if not isinstance(component, Mapping) or not isinstance(component.get("parameters"), list):
        return component
    parameters = [
        {**p, "text": DATE_PLACEHOLDER.sub(written, p["text"])}
        if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        else p
        for p in component["parameters"]
    ]
    return {**component, "parameters": parameters}
