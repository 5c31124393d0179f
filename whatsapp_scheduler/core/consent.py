"""Consent: whether a contact wants messages from a business number, and why (docs/consent.md).

Pure: no I/O, no wall clock. A contact's consent is kept per business number
(`phone_number_id`) and `wa_id`, in two independent parts: opted out of everything (a keyword
such as STOP / DUR, or the API) and opted out of marketing only (Meta's `user_preferences`
webhook, error 131050, or the API). A third fact, "undeliverable" (error 131026), warns at
schedule time and refuses nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import unicodedata
from collections.abc import Iterable
from datetime import datetime

#: The template category that a marketing-only opt-out stops (Meta's categories: MARKETING,
#: UTILITY, AUTHENTICATION).
MARKETING = "MARKETING"

DEFAULT_OPT_OUT_KEYWORDS = ("STOP", "DUR", "IPTAL", "İPTAL", "ABONELİKTEN ÇIK", "UNSUBSCRIBE")
DEFAULT_OPT_IN_KEYWORDS = ("START", "BAŞLA", "BASLA")
#: The longest keyword accepted (a longer inbound text is never a keyword: not normalised).
MAX_KEYWORD_LENGTH = 64


class Scope(enum.StrEnum):
    """What an opt-out covers."""

    ALL = "all"  # every message
    MARKETING = "marketing"  # templates of category MARKETING only


class Change(enum.StrEnum):
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    UNDELIVERABLE = "undeliverable"  # Meta's 131026: a warning, not an opt-out


class Source(enum.StrEnum):
    """Where a consent change came from (the history's `source`)."""

    KEYWORD = "keyword"  # the contact wrote an opt-out / opt-in keyword
    USER_PREFERENCES = "user_preferences"  # Meta's webhook: marketing stop / resume
    ERROR_131050 = "error_131050"  # Meta refused a send: the user stopped marketing messages
    ERROR_131026 = "error_131026"  # Meta: the message is undeliverable to this number
    API = "api"  # PUT /contacts/{phone}/consent (consent obtained elsewhere)


#: Plain words per source, for refusals and the dashboard (English; Turkish in web/i18n.py).
SOURCE_TEXT = {
    Source.KEYWORD: "they sent an opt-out keyword",
    Source.USER_PREFERENCES: "they stopped marketing messages in WhatsApp",
    Source.ERROR_131050: "Meta refused a message with 131050 (marketing stopped)",
    Source.ERROR_131026: "Meta reported the number undeliverable (131026)",
    Source.API: "recorded through the API",
}


@dataclasses.dataclass(frozen=True, slots=True)
class OptOut:
    """One standing opt-out: since when, and from what source."""

    at: datetime
    source: Source


@dataclasses.dataclass(frozen=True, slots=True)
class Consent:
    """A contact's consent with one business number. The default: nothing opted out."""

    all_out: OptOut | None = None
    marketing_out: OptOut | None = None
    undeliverable_at: datetime | None = None

    @property
    def opted_out(self) -> bool:
        """Opted out of anything (everything, or marketing)."""
        return self.all_out is not None or self.marketing_out is not None

    def blocking(self, category: str | None) -> tuple[Scope, OptOut] | None:
        """The opt-out that stops a message of template `category` (None: a text, or a
        template whose category is unknown), or None when it may go."""
        if self.all_out is not None:
            return Scope.ALL, self.all_out
        if self.marketing_out is not None and category == MARKETING:
            return Scope.MARKETING, self.marketing_out
        return None


NO_CONSENT_RECORD = Consent()


@dataclasses.dataclass(frozen=True, slots=True)
class ConsentChange:
    """A change to record: `change` of `scope` for the contact `wa_id`, at `at`."""

    wa_id: str
    change: Change
    scope: Scope
    source: Source
    at: datetime
    detail: str | None = None  # e.g. the keyword, the wamid of the refused message, the key


@dataclasses.dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One row of a contact's consent history."""

    change: Change
    scope: Scope
    source: Source
    occurred_at: datetime
    recorded_at: datetime
    detail: str | None = None
    cancelled: int = 0  # queued messages cancelled by this change (an opt-out)


def apply(current: Consent, change: ConsentChange) -> Consent:
    """`current` after `change`. Opting in to everything through the API clears both opt-outs
    (consent for everything was given); an opt-in keyword clears only the full opt-out (a
    marketing stop made in WhatsApp is Meta's, ended by its `resume`); opting in to marketing
    clears only the marketing one."""
    if change.change == Change.UNDELIVERABLE:
        return dataclasses.replace(current, undeliverable_at=change.at)
    if change.change == Change.OPTED_OUT:
        out = OptOut(change.at, change.source)
        if change.scope == Scope.ALL:
            return dataclasses.replace(current, all_out=out)
        return dataclasses.replace(current, marketing_out=out)
    if change.scope == Scope.MARKETING:
        return dataclasses.replace(current, marketing_out=None)
    if change.source == Source.KEYWORD:
        return dataclasses.replace(current, all_out=None)
    return dataclasses.replace(current, all_out=None, marketing_out=None)


def normalise(text: str) -> str:
    """`text` as keywords are compared: accents removed, case folded, whitespace collapsed.

    Turkish: `İ` folds to `i` + a combining dot (removed with the accents) and the dotless `ı`
    is taken as `i`, so IPTAL, İPTAL, iptal and ıptal are one word; `ç`, `ş`, `ğ` lose their
    marks (BAŞLA = BASLA). The text is decomposed (NFKD) so precomposed and combining forms
    compare equal, and full-width letters become plain ones.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.replace("ı", "i").split())


@dataclasses.dataclass(frozen=True, slots=True)
class Keywords:
    """The opt-out and opt-in keywords (normalised). A message is a keyword only as a whole."""

    opt_out: frozenset[str]
    opt_in: frozenset[str]

    @classmethod
    def of(cls, opt_out: Iterable[str], opt_in: Iterable[str]) -> Keywords:
        """From the settings' words; raises ValueError for an empty word, one longer than
        MAX_KEYWORD_LENGTH, or a word in both lists."""
        outs = _normalised(opt_out, "OPT_OUT_KEYWORDS")
        ins = _normalised(opt_in, "OPT_IN_KEYWORDS")
        both = outs & ins
        if both:
            raise ValueError(
                f"OPT_OUT_KEYWORDS and OPT_IN_KEYWORDS share {', '.join(sorted(both))!r}"
            )
        return cls(outs, ins)

    def classify(self, text: str | None) -> Change | None:
        """OPTED_OUT or OPTED_IN when the whole of `text` is a keyword; else None."""
        if not text or len(text) > MAX_KEYWORD_LENGTH * 4:
            return None
        word = normalise(text)
        if word in self.opt_out:
            return Change.OPTED_OUT
        if word in self.opt_in:
            return Change.OPTED_IN
        return None


def _normalised(words: Iterable[str], setting: str) -> frozenset[str]:
    found: set[str] = set()
    for word in words:
        norm = normalise(word)
        if not norm:
            raise ValueError(f"{setting}: an empty keyword (check the commas)")
        if len(norm) > MAX_KEYWORD_LENGTH:
            raise ValueError(f"{setting}: {word[:20]!r}... is longer than {MAX_KEYWORD_LENGTH}")
        found.add(norm)
    return frozenset(found)


DEFAULT_KEYWORDS = Keywords.of(DEFAULT_OPT_OUT_KEYWORDS, DEFAULT_OPT_IN_KEYWORDS)


def refusal(recipient: str, scope: Scope, out: OptOut) -> str:
    """The rule a refused message breaks, for ValidationFailed("alici", ...)."""
    what = "all messages" if scope == Scope.ALL else "marketing messages"
    return (
        f"{recipient} opted out of {what} at {out.at.isoformat().replace('+00:00', 'Z')} "
        f"({out.source}: {SOURCE_TEXT[out.source]}); PUT /contacts/{recipient}/consent "
        "records a consent given since"
    )


def undeliverable_text(at: datetime) -> str:
    """The warning for a number Meta reported undeliverable (131026)."""
    return (
        f"Meta reported this number undeliverable at {at.isoformat().replace('+00:00', 'Z')} "
        "(131026: not on WhatsApp, old app, or terms not accepted); the message may fail again"
    )
