"""Recipient phone numbers: validated with `phonenumbers` and stored as E.164 (`+905551234567`).

Pure. Meta strongly recommends `+` and the country code (whatsapp-cloud-api.md §2.6); a number
without `+` is read as international digits, and one with a national trunk prefix (`0555...`) in
the default region (setting DEFAULT_REGION).
"""

from __future__ import annotations

import functools

import phonenumbers

from whatsapp_scheduler import errors

_ALLOWED_PUNCTUATION = str.maketrans("", "", " -()./")


def normalize(raw: str, default_region: str, field: str = "alici") -> str:
    """Return `raw` as E.164, or raise ValidationFailed naming `field`."""
    result = _normalize_cached(raw, default_region)
    if isinstance(result, str):
        return result
    raise errors.ValidationFailed(field, result[0])


@functools.lru_cache(maxsize=65536)
def _normalize_cached(raw: str, default_region: str) -> str | tuple[str]:
    """E.164, or a 1-tuple holding the rule broken. Cached: a shop messages the same customers
    again and again, and parsing with full metadata costs ~20 µs a number."""
    try:
        return _normalize(raw, default_region)
    except errors.ValidationFailed as exc:
        return (exc.rule,)


def _normalize(raw: str, default_region: str, field: str = "alici") -> str:
    text = raw.strip()
    compact = text.translate(_ALLOWED_PUNCTUATION)
    if not compact or not compact.lstrip("+").isdigit():
        raise errors.ValidationFailed(
            field,
            f"{raw!r} is not a phone number: use digits, + and the country code, e.g. +905551234567",
        )
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        candidate, region = compact, None
    elif compact.isdigit() and not compact.startswith("0"):
        candidate, region = "+" + compact, None
    else:
        candidate, region = compact, default_region
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException as exc:
        raise errors.ValidationFailed(
            field, f"{raw!r} is not a phone number (use + and the country code, e.g. +905551234567)"
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise errors.ValidationFailed(
            field,
            f"{raw!r} is not a valid phone number for any country (use + and the country code)",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
