"""Recipient phone numbers: validated with `phonenumbers` and stored as E.164 (`+905551234567`).

Pure. Meta strongly recommends `+` and the country code (docs/meta-cloud-api.md,
"Phone numbers"); a number without `+` is read as international digits, and one with a national
trunk prefix (`0555...`) in the default region (setting DEFAULT_REGION).
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberDesc

from whatsapp_scheduler.core import errors

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
    if raw.isascii() and raw.lstrip("+").isdigit():
        compact = raw  # nothing to clean (`+905551234567`, the usual case): ~1 µs saved
    else:
        compact = raw.strip().translate(_ALLOWED_PUNCTUATION)
    if not compact or not compact.lstrip("+").isdigit():
        raise errors.ValidationFailed(
            field,
            "{raw!r} is not a phone number: use digits, + and the country code, e.g. +905551234567",
            raw=raw,
        )
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+"):
        fast = _valid_e164(compact[1:])
        if fast is not None:
            return fast
        candidate, region = compact, None
    elif compact.isdigit() and not compact.startswith("0"):
        candidate, region = "+" + compact, None
    else:
        candidate, region = compact, default_region
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException as exc:
        raise errors.ValidationFailed(
            field,
            "{raw!r} is not a phone number (use + and the country code, e.g. +905551234567)",
            raw=raw,
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise errors.ValidationFailed(
            field,
            "{raw!r} is not a valid phone number for any country (use + and the country code)",
            raw=raw,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _valid_e164(digits: str) -> str | None:
    """`+digits` when `phonenumbers.parse` would take these digits as they are (country code,
    then the national number, nothing stripped) and `is_valid_number` accepts them; None when
    that is not certain, and the full parse decides.

    The full parse plus `is_valid_number` cost ~35 µs a new number, most of a batch message's
    validation (bench/RESULTS.md); this costs ~3 µs for numbers already written the way Meta
    asks (+ and the country code). It follows parse's steps for a `+` number and gives up
    wherever parse could change the digits: a leading zero (Italian numbers), a national
    prefix it might strip, an unknown country code; countries sharing a code (+1, +7, +44 ...)
    go to `is_valid_number`, which picks the region. tests/unit/test_recipients_fast_path.py
    checks the answers against the full parse.
    """
    # ASCII only: str.isdigit() and regex \d also take other scripts' digits, which the full
    # parse converts (Arabic-Indic ٣ -> 3) and this shortcut would copy into the answer.
    if not (digits.isascii() and digits.isdigit()) or not 4 <= len(digits) <= 17:
        return None
    if digits[0] == "0":
        return None
    # Country calling codes are prefix-free: the first of 1, 2, 3 digits that is one is it.
    code = digits[:1]
    if code not in _CODES:
        code = digits[:2]
        if code not in _CODES:
            code = digits[:3]
            if code not in _CODES:
                return None
    rules = _country_rules(int(code))
    national = digits[len(code) :]
    if (
        rules is None
        or len(national) < 2
        or national[0] == "0"
        or rules.national_prefix.match(national)
    ):
        return None
    if rules.types is None:
        number = PhoneNumber(country_code=int(code), national_number=int(national))
        return "+" + digits if phonenumbers.is_valid_number(number) else None
    general = rules.general
    if general.lengths and len(national) not in general.lengths:
        return None
    if not general.pattern.fullmatch(national):
        return None
    return "+" + digits if _any_type(int(code), len(national)).fullmatch(national) else None


_CODES = frozenset(map(str, phonenumbers.COUNTRY_CODE_TO_REGION_CODE))


class _Rule(NamedTuple):
    lengths: frozenset[int]  # empty: any length
    pattern: re.Pattern[str]


class _CountryRules(NamedTuple):
    national_prefix: re.Pattern[str]  # what parse may strip from the national number
    general: _Rule
    types: tuple[_Rule, ...] | None  # None: a shared code, left to is_valid_number


# The number types `is_valid_number` tries after the general pattern; any match is valid.
_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_NOTHING = re.compile(r"(?!)")


def _rule(desc: PhoneNumberDesc | None) -> _Rule | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return _Rule(frozenset(desc.possible_length), re.compile(desc.national_number_pattern))


@functools.cache
def _any_type(country_code: int, length: int) -> re.Pattern[str]:
    """One pattern for "matches one of the number types allowed at this length": the types'
    patterns as alternatives, so a number costs one regex call instead of ten."""
    rules = _country_rules(country_code)
    types = rules.types if rules is not None else None
    assert types is not None, "only for codes of a single country"
    fitting = [r.pattern.pattern for r in types if not r.lengths or length in r.lengths]
    return re.compile("|".join(f"(?:{p})" for p in fitting)) if fitting else _NOTHING


@functools.cache
def _country_rules(country_code: int) -> _CountryRules | None:
    """phonenumbers' metadata for a country calling code, compiled once; None if unknown."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return None
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    national_prefix = re.compile(prefix) if prefix else _NOTHING
    general = _rule(metadata.general_desc) or _Rule(frozenset(), _NOTHING)
    if len(regions) > 1 or region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        return _CountryRules(national_prefix, general, None)
    types = tuple(r for r in (_rule(getattr(metadata, name)) for name in _TYPES) if r is not None)
    return _CountryRules(national_prefix, general, types)
