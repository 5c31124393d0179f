"""Consent rules (core/consent.py): keywords as a whole message, what an opt-out blocks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from whatsapp_scheduler import settings
from whatsapp_scheduler.core import consent

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
K = consent.DEFAULT_KEYWORDS


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        "  Stop \n",
        "DUR",
        "dur",
        "Dur.",
        "IPTAL",
        "İPTAL",
        "iptal",
        "ıptal",  # dotless i, as a Turkish keyboard may type it
        "İptal",
        "I\u0307PTAL",  # I + combining dot above: the decomposed form of İ
        "ABONELİKTEN ÇIK",
        "abonelikten   çık",
        "Abonelikten cik",
        "UNSUBSCRIBE",
        "ＳＴＯＰ",  # full-width letters
    ],
)
def test_opt_out_keywords_match_whatever_the_case_accents_and_spaces(text):
    expected = None if text == "Dur." else consent.Change.OPTED_OUT
    assert K.classify(text) == expected


@pytest.mark.parametrize("text", ["START", "başla", "BAŞLA", "basla", " Başla "])
def test_opt_in_keywords(text):
    assert K.classify(text) == consent.Change.OPTED_IN


@pytest.mark.parametrize(
    "text", ["stop sending me these", "please STOP", "durum", "", None, "iptal et", "x" * 5000]
)
def test_only_the_whole_message_is_a_keyword(text):
    assert K.classify(text) is None


def test_keywords_from_settings_and_their_errors():
    config = settings.Settings(_env_file=None, opt_out_keywords="HAYIR, Yeter", opt_in_keywords="")
    keywords = config.keywords()
    assert keywords.classify("yeter") == consent.Change.OPTED_OUT
    assert keywords.classify("STOP") is None
    assert keywords.classify("START") is None
    with pytest.raises(ValueError, match="OPT_OUT_KEYWORDS: an empty keyword"):
        settings.Settings(_env_file=None, opt_out_keywords="STOP,,DUR")
    with pytest.raises(ValueError, match="share 'stop'"):
        settings.Settings(_env_file=None, opt_in_keywords="Stop")
    with pytest.raises(ValueError, match="longer than 64"):
        settings.Settings(_env_file=None, opt_in_keywords="x" * 65)


def _change(
    change: consent.Change, scope: consent.Scope, source: consent.Source = consent.Source.API
) -> consent.ConsentChange:
    return consent.ConsentChange("905551234567", change, scope, source, AT)


def test_a_full_opt_out_blocks_everything_a_marketing_one_only_marketing():
    full = consent.apply(
        consent.NO_CONSENT_RECORD, _change(consent.Change.OPTED_OUT, consent.Scope.ALL)
    )
    assert full.blocking(None) == (consent.Scope.ALL, consent.OptOut(AT, consent.Source.API))
    assert full.blocking("UTILITY") is not None
    marketing = consent.apply(
        consent.NO_CONSENT_RECORD,
        _change(consent.Change.OPTED_OUT, consent.Scope.MARKETING, consent.Source.ERROR_131050),
    )
    assert marketing.blocking(None) is None  # a text, or a template of unknown category
    assert marketing.blocking("UTILITY") is None
    assert marketing.blocking("AUTHENTICATION") is None
    assert marketing.blocking("MARKETING") == (
        consent.Scope.MARKETING,
        consent.OptOut(AT, consent.Source.ERROR_131050),
    )


def test_opting_in_to_all_clears_both_and_to_marketing_only_that():
    both = consent.apply(
        consent.apply(
            consent.NO_CONSENT_RECORD, _change(consent.Change.OPTED_OUT, consent.Scope.ALL)
        ),
        _change(consent.Change.OPTED_OUT, consent.Scope.MARKETING),
    )
    after_marketing_in = consent.apply(
        both, _change(consent.Change.OPTED_IN, consent.Scope.MARKETING)
    )
    assert after_marketing_in.marketing_out is None
    assert after_marketing_in.all_out is not None
    cleared = consent.apply(both, _change(consent.Change.OPTED_IN, consent.Scope.ALL))
    assert not cleared.opted_out
    keyword = consent.apply(
        both, _change(consent.Change.OPTED_IN, consent.Scope.ALL, consent.Source.KEYWORD)
    )
    assert keyword.all_out is None
    assert keyword.marketing_out is not None  # Meta's stop ends with Meta's resume


def test_undeliverable_is_a_fact_not_an_opt_out():
    value = consent.apply(
        consent.NO_CONSENT_RECORD,
        _change(consent.Change.UNDELIVERABLE, consent.Scope.ALL, consent.Source.ERROR_131026),
    )
    assert value.undeliverable_at == AT
    assert value.blocking("MARKETING") is None
    assert not value.opted_out


def test_the_refusal_says_when_and_how():
    text = consent.refusal(
        "+905551234567", consent.Scope.ALL, consent.OptOut(AT, consent.Source.KEYWORD)
    )
    assert "opted out of all messages at 2026-03-01T09:00:00Z" in text
    assert "keyword" in text
