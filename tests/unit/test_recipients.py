import pytest

from whatsapp_scheduler.core import errors, recipients


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+905551234567", "+905551234567"),
        ("905551234567", "+905551234567"),  # international digits without +
        ("+90 555 123 45 67", "+905551234567"),
        ("0090 555 123 45 67", "+905551234567"),
        ("0555 123 45 67", "+905551234567"),  # national format, default region TR
        ("+1 (650) 555-1234", "+16505551234"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_numbers_are_stored_as_e164(raw: str, e164: str) -> None:
    assert recipients.normalize(raw, "TR") == e164


@pytest.mark.parametrize(
    "raw", ["abc", "", "   ", "+90", "12345", "+999123456789", "+90555abc4567"]
)
def test_non_numbers_are_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(errors.ValidationFailed) as caught:
        recipients.normalize(raw, "TR")
    assert caught.value.field == "alici"
