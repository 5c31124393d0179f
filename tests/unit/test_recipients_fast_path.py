"""`recipients._valid_e164` (the shortcut for `+` numbers) agrees with phonenumbers' full parse.

Wherever the shortcut answers, the answer must be the full parse's E.164; wherever it is unsure
it must say None. Checked on every region's example numbers and on random digit strings behind
every country calling code.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest

from whatsapp_scheduler.core import recipients


def _full_parse(digits: str) -> str | None:
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _example_digits() -> list[str]:
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE,
            phonenumbers.PhoneNumberType.TOLL_FREE,
            phonenumbers.PhoneNumberType.VOIP,
        ):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
                found.append(e164[1:])
    return found


def test_every_example_number_gets_the_full_parses_answer():
    examples = _example_digits()
    assert len(examples) > 500
    answered = 0
    for digits in examples:
        fast = recipients._valid_e164(digits)
        if fast is not None:
            answered += 1
            assert fast == _full_parse(digits), digits
    # The shortcut must be worth having: most real numbers take it.
    assert answered > len(examples) * 0.6


@pytest.mark.parametrize("seed", range(4))
def test_random_digits_behind_every_country_code_agree(seed):
    rng = random.Random(seed)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    answered = 0
    for code in codes:
        for _ in range(40):
            length = rng.randint(4, 14)
            digits = f"{code}" + "".join(rng.choice("0123456789") for _ in range(length))
            fast = recipients._valid_e164(digits)
            if fast is not None:
                answered += 1
                assert fast == _full_parse(digits), digits
    assert answered > 200  # ~380 of 8,600 random strings are valid numbers the shortcut takes


@pytest.mark.parametrize(
    "raw",
    ["+905551234567", "+1 212 555 1234", "+44 20 7946 0958", "+39 06 1234 5678", "+5491123456789"],
)
def test_normalize_gives_the_same_e164_with_or_without_the_shortcut(raw):
    compact = raw.replace(" ", "")
    assert recipients.normalize(raw, "TR") == _full_parse(compact[1:])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1\u0662\u0661\u0662\u0665\u0665\u0665\u0661\u0662\u0663\u0664", "+12125551234"),
        ("+90\u0665\u0665\u0665\u0661\u0662\u0663\u0664\u0665\u0666\u0667", "+905551234567"),
    ],
)
def test_digits_of_other_scripts_come_back_as_ascii(raw, expected):
    """Arabic-Indic digits are digits to str.isdigit and regex \\d: the shortcut must leave
    them to the full parse, which converts them."""
    assert recipients._valid_e164(raw[1:]) is None
    assert recipients.normalize(raw, "TR") == expected
