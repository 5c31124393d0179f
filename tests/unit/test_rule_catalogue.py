"""The service's rules in Turkish (web/locale/tr/LC_MESSAGES/rules.po, docs/dashboard.md
"Languages"): every rule the code writes is in the catalogue with a translation that keeps
its placeholders, and a refusal is said from it with its own values."""

from __future__ import annotations

import io
import string
from pathlib import Path

import pytest
from babel.messages import extract, pofile

from whatsapp_scheduler.core import errors, localtime
from whatsapp_scheduler.web import i18n

PACKAGE = Path(i18n.__file__).parents[1]
KEYWORDS = {"ValidationFailed": (2,), "TooLarge": (2,)}


def _rules_in_code() -> dict[str, bool]:
    """Every rule literal (msgid) in the package -> whether it is a template (has params)."""
    found: dict[str, bool] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        with path.open("rb") as file:
            for _line, message, _comments, _context in extract.extract(
                "python", file, keywords=KEYWORDS
            ):
                assert isinstance(message, str)
                found[message] = found.get(message, False)
    return found


def _fields(text: str) -> list[tuple[str, str, str]] | None:
    """A template's placeholders (name, conversion, spec); None for a rule whose braces are
    literal (it has no values: `must be one of {'a', 'b'}` is written as it is)."""
    try:
        found = [
            (name, conversion or "", spec or "")
            for _literal, name, spec, conversion in string.Formatter().parse(text)
            if name is not None
        ]
    except ValueError:
        return None
    if not found or not all(name.isidentifier() for name, _c, _s in found):
        return None
    return sorted(found)


def _words(text: str) -> str:
    """The text without its placeholders: what there is to translate."""
    fields = _fields(text)
    if fields is None:
        return text
    return "".join(literal for literal, *_rest in string.Formatter().parse(text)).strip(" :")


def test_every_rule_in_the_code_has_a_turkish_translation() -> None:
    catalogue = i18n.rule_catalogue("tr")
    missing = sorted(set(_rules_in_code()) - set(catalogue))
    assert missing == [], f"run scripts/i18n and translate: {missing[:5]}"


@pytest.mark.parametrize("msgid", sorted(i18n.rule_catalogue("tr")))
def test_a_translation_keeps_the_placeholders(msgid: str) -> None:
    translated = i18n.rule_catalogue("tr")[msgid]
    assert translated != msgid or not any(c.isalpha() for c in _words(msgid))
    fields = _fields(msgid)
    if fields is None:  # a rule without values: its braces are literal
        assert (translated.count("{"), translated.count("}")) == (
            msgid.count("{"),
            msgid.count("}"),
        )
        return
    assert _fields(translated) == fields
    translated.format(**{name: 1 for name, _conversion, _spec in fields})


def test_the_catalogue_file_is_what_scripts_i18n_writes() -> None:
    path = i18n.LOCALE_DIR / "tr" / "LC_MESSAGES" / "rules.po"
    with path.open("rb") as file:
        catalog = pofile.read_po(file)
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == [], "changed rules need their translation checked (remove #, fuzzy)"
    out = io.BytesIO()
    pofile.write_po(out, catalog)  # it reads and writes back: a well-formed catalogue
    assert out.getvalue()


def test_a_refusal_is_said_in_turkish_with_its_own_values() -> None:
    with pytest.raises(errors.ValidationFailed) as caught:
        localtime.parse_time("25:00")
    error = caught.value
    assert error.rule == "'25:00' is not a real time of day"
    turkish = i18n.error_text(error, "tr")
    assert turkish.startswith("saat: ")
    assert "'25:00'" in turkish
    assert turkish != error.message
    assert i18n.error_text(error, "en") == error.message


def test_a_rule_the_catalogue_lacks_or_cannot_fill_stays_english(monkeypatch) -> None:
    error = errors.ValidationFailed("x", "a rule nobody translated {n}", n=3)
    assert i18n.rule_text(error, "tr") == "a rule nobody translated 3"
    broken = {"a rule nobody translated {n}": "{m} çevirisi bozuk"}
    monkeypatch.setattr(i18n, "rule_catalogue", lambda _lang: broken)
    assert i18n.rule_text(error, "tr") == "a rule nobody translated 3"


def test_the_dashboards_words_hold_the_same_keys_and_placeholders_in_both_languages() -> None:
    english, turkish = i18n.TEXTS["en"], i18n.TEXTS["tr"]
    assert len(english) > 300  # read from web/locale/*/LC_MESSAGES/dashboard.po
    assert set(english) == set(turkish)
    for key, words in english.items():
        assert _fields(turkish[key]) == _fields(words), key
    assert english["compose.title"] != turkish["compose.title"]
