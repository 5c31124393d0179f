"""The dashboard's words in English and Turkish, and how a request's language is chosen.

Pure, but for reading gettext catalogues (with Babel) once. The words are in
`web/locale/<lang>/LC_MESSAGES/dashboard.po`, keyed (msgid `compose.title`, msgstr the
words with their `{placeholders}`). The language comes from the `lang` cookie (set by the
switch link on every page), else from the browser's Accept-Language, else English. The
service's validation rules are English templates with their values
(`errors.ValidationFailed`: `template`, `params`); `rule_text` says one in the reader's
language from `web/locale/<lang>/LC_MESSAGES/rules.po` (`scripts/i18n` extracts the rules
from the code into it), and keeps the English when the catalogue has none.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages import pofile

from whatsapp_scheduler.core import errors

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "tr")
DEFAULT = "en"
COOKIE = "lang"

#: The gettext catalogues: the dashboard's words (`dashboard`) and the service's rules
#: (`rules`), per language.
LOCALE_DIR = Path(__file__).parent / "locale"
RULES_DOMAIN = "rules"
WORDS_DOMAIN = "dashboard"


def _catalogue(language: str, domain: str) -> dict[str, str]:
    """msgid -> msgstr of `locale/<language>/LC_MESSAGES/<domain>.po` (fuzzy and empty
    entries left out); {} when there is no such file."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
    if not path.is_file():
        return {}
    with path.open("rb") as file:
        catalog = pofile.read_po(file, locale=language, domain=domain)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    }


#: The dashboard's words: key -> text per language, read at import from the catalogues
#: (`locale/<lang>/LC_MESSAGES/dashboard.po`; edit the words there). The two languages hold
#: the same keys (tests/unit hold them so).
TEXTS: dict[str, dict[str, str]] = {lang: _catalogue(lang, WORDS_DOMAIN) for lang in LANGUAGES}


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The language for a request: the cookie if valid, else the best Accept-Language match."""
    if cookie in LANGUAGES:
        return str(cookie)
    best, best_q = DEFAULT, -1.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGUAGES:
            continue
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        quality -= position * 1e-6  # earlier wins a tie
        if quality > best_q:
            best, best_q = primary, quality
    return best


@functools.cache
def rule_catalogue(language: str) -> dict[str, str]:
    """msgid (the English template) -> its translation, from `locale/<language>/LC_MESSAGES/
    rules.po`; {} for English or a language without one. Fuzzy entries are left out."""
    return {} if language == DEFAULT else _catalogue(language, RULES_DOMAIN)


def rule_text(error: errors.ValidationFailed, language: str) -> str:
    """`error`'s rule in `language`: its template's translation filled in with its values;
    the English rule when the catalogue has no translation (or it does not fill in)."""
    found = rule_catalogue(language).get(error.template)
    if found is None:
        return error.rule
    try:
        return found.format(**error.params) if error.params else found
    except (KeyError, IndexError, ValueError):  # a translation that lost a placeholder
        logger.warning("rule translation does not fill in: %r (%s)", error.template, language)
        return error.rule


def error_text(error: errors.SchedulerError, language: str) -> str:
    """An error as a reader of `language` sees it: a refused field as `field: rule` in their
    words (the field is the API's name, kept); any other error in the service's words."""
    if isinstance(error, errors.ValidationFailed):
        key = getattr(error, "i18n_key", None)  # a refusal the dashboard words itself
        if isinstance(key, str) and key in TEXTS.get(language, {}):
            return f"{error.field}: {translator(language)(key, **error.params)}"
        return f"{error.field}: {rule_text(error, language)}"
    return error.message


def translator(language: str) -> Callable[..., str]:
    """`t(key, **values)` for templates; a missing key shows itself (and is logged)."""
    texts = TEXTS.get(language, TEXTS[DEFAULT])

    def t(key: str, **values: object) -> str:
        text = texts.get(key)
        if text is None:
            logger.warning("missing dashboard text %r for %s", key, language)
            text = TEXTS[DEFAULT].get(key, key)
        return text.format(**values) if values else text

    return t


#: The `status_reason` codes explained in words (`reason.<code>`); the API gives both languages.
REASONS = ("quiet_hours", "messaging_limit", "marketing_limit", "frequency_cap", "opted_out")


def reason_texts(code: str | None, **values: object) -> dict[str, str] | None:
    """`status_reason` in plain words, `{"en": ..., "tr": ...}`; None for no (or an unknown)
    code. `values`: `when` (the new time, as shown) and `zone`."""
    if code not in REASONS:
        return None
    return {lang: TEXTS[lang][f"reason.{code}"].format(**values) for lang in LANGUAGES}


# -- dates, numbers and relative times in the reader's language (Babel's CLDR data) ----------
#: Dates as each language's readers write them: ISO in English (as the API and the CSVs have
#: them), day first with dots in Turkish ("03.12.2026"). CLDR patterns, formatted by Babel.
DATE_PATTERNS = {"en": "yyyy-MM-dd", "tr": "dd.MM.yyyy"}


def _locale(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT


def format_day(day: date | str, language: str) -> str:
    """A calendar day (a date, or the `YYYY-MM-DD...` the client gave) in `language`; a string
    that is not a date is shown as it is."""
    if isinstance(day, str):
        text = day[:10]
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return text
    lang = _locale(language)
    return babel_dates.format_date(day, DATE_PATTERNS[lang], locale=lang)


def format_moment(when: datetime, language: str) -> str:
    """A local date and time to the second: `2026-12-03 14:30:05`, `03.12.2026 14:30:05`."""
    lang = _locale(language)
    return babel_dates.format_datetime(when, f"{DATE_PATTERNS[lang]} HH:mm:ss", locale=lang)


def time_left(due_at: datetime, now: datetime, language: str) -> str:
    """How long until `due_at`, in words: "in 2 days", "2 gün sonra", "3 saat sonra" (Babel's
    rounding: the largest unit that is at least 0.85 of one); "" when due."""
    left = due_at - now
    if left.total_seconds() <= 0:
        return ""
    return babel_dates.format_timedelta(left, add_direction=True, locale=_locale(language))


def format_duration(seconds: float, language: str) -> str:
    """A length of time in words, in its largest unit (Babel's rounding): "1 minute",
    "10 dakika", "2 saat"."""
    return babel_dates.format_timedelta(timedelta(seconds=seconds), locale=_locale(language))


def format_number(value: int | float, language: str) -> str:
    """`12,345` in English, `12.345` in Turkish."""
    return babel_numbers.format_decimal(value, locale=_locale(language))
