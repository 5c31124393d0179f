from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from whatsapp_scheduler.core.messages import MessageStatus as S
from whatsapp_scheduler.whatsapp import webhooks


def test_signature_is_hmac_sha256_of_the_raw_body():
    body = b'{"object":"whatsapp_business_account"}'
    header = webhooks.sign(body, "secret")
    assert webhooks.signature_valid(body, header, "secret")
    assert webhooks.signature_valid(body, header.upper().replace("SHA256=", "sha256="), "secret")
    assert not webhooks.signature_valid(body + b" ", header, "secret")
    assert not webhooks.signature_valid(body, header, "other")
    assert not webhooks.signature_valid(body, None, "secret")
    assert not webhooks.signature_valid(body, header[7:], "secret")  # no "sha256=" prefix
    assert not webhooks.signature_valid(body, header, "")


NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _value(**value: Any) -> dict[str, Any]:
    return {"entry": [{"changes": [{"field": "messages", "value": value}]}]}


def test_parse_reads_statuses_and_inbound_and_skips_what_it_does_not_know():
    payload = _value(
        statuses=[
            {
                "id": "wamid.A",
                "status": "delivered",
                "timestamp": "1750030073",
                "biz_opaque_callback_data": "m1",
            },
            {
                "id": "wamid.B",
                "status": "failed",
                "timestamp": "1751142888",
                "errors": [{"code": 131049, "title": "healthy ecosystem"}],
            },
            {"id": "wamid.C", "status": "played", "timestamp": "1751142888"},
            {"id": "wamid.D", "status": "read", "timestamp": "not a number"},
            "garbage",
        ],
        messages=[
            {
                "from": "16505551234",
                "id": "wamid.IN",
                "timestamp": "1749416383",
                "type": "text",
                "text": {"body": "hello"},
            }
        ],
    )
    delivery = webhooks.parse(payload, NOW)
    assert [(u.wamid, u.status) for u in delivery.statuses] == [
        ("wamid.A", S.DELIVERED),
        ("wamid.B", S.FAILED),
    ]
    assert delivery.statuses[0].callback_data == "m1"
    assert (delivery.statuses[1].error_code, delivery.statuses[1].error_text) == (
        131049,
        "healthy ecosystem",
    )
    assert [(m.wa_id, m.text) for m in delivery.inbound] == [("16505551234", "hello")]


@pytest.mark.parametrize("payload", [{}, {"entry": "x"}, {"entry": [{"changes": [{"value": 3}]}]}])
def test_odd_shapes_parse_to_nothing(payload):
    delivery = webhooks.parse(payload, NOW)
    assert delivery.statuses == []
    assert delivery.inbound == []


@pytest.mark.parametrize("payload", [[], "text", None, 3])
def test_a_body_that_is_not_an_object_is_an_error(payload):
    with pytest.raises(ValueError, match="not a JSON object"):
        webhooks.parse(payload, NOW)


def _stamp(when: datetime) -> str:
    return str(int(when.timestamp()))


@pytest.mark.parametrize(
    ("when", "kept"),
    [
        (webhooks.EARLIEST, True),
        (NOW + webhooks.MAX_SKEW, True),
        (NOW - timedelta(days=400), True),
        (webhooks.EARLIEST - timedelta(seconds=1), False),
        (NOW + webhooks.MAX_SKEW + timedelta(seconds=1), False),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), False),
    ],
)
def test_implausible_times_are_taken_as_received_with_a_note(when, kept):
    inbound = {"from": "16505551234", "id": "wamid.IN", "timestamp": _stamp(when), "type": "text"}
    status = {"id": "wamid.A", "status": "delivered", "timestamp": _stamp(when)}
    delivery = webhooks.parse(_value(statuses=[status], messages=[inbound]), NOW)
    for entry in (delivery.statuses[0], delivery.inbound[0]):
        assert entry.timestamp == (when if kept else NOW)
        assert (entry.note is None) is kept


def test_entries_that_cannot_be_applied_are_skipped_with_the_reason():
    statuses = [
        {"id": "wamid.\ud800", "status": "read", "timestamp": "1772355600"},
        {"id": "wamid.B", "status": "read", "timestamp": "later"},
        {"id": "wamid.C", "status": "played", "timestamp": "1772355600"},  # never ours: passed
        "garbage",
    ]
    inbound = [{"from": "1650\x00", "id": "wamid.IN", "timestamp": "1772355600"}]
    delivery = webhooks.parse(_value(statuses=statuses, messages=inbound), NOW)
    assert (delivery.statuses, delivery.inbound) == ([], [])
    assert [(s.kind, s.reason.split(":")[0]) for s in delivery.skipped] == [
        ("status", "id"),
        ("status", "timestamp"),
        ("status", "not an object"),
        ("message", "from, id"),
    ]
    assert "\\ud800" in delivery.skipped[0].excerpt  # kept, escaped, in the log line


def test_each_change_names_its_business_number():
    """Issue #15: inbound messages (and statuses) are routed by the change's
    `value.metadata.phone_number_id`; one POST may carry changes of several numbers."""
    inbound = {"from": "16505551234", "id": "wamid.IN1", "timestamp": "1749416383", "type": "text"}
    payload = {
        "entry": [
            {
                "changes": [
                    {
                        "value": {
                            "metadata": {"phone_number_id": "106540352242922"},
                            "messages": [inbound],
                            "statuses": [
                                {"id": "wamid.A", "status": "sent", "timestamp": "1750030073"}
                            ],
                        }
                    },
                    {
                        "value": {
                            "metadata": {"phone_number_id": "106540352242923"},
                            "messages": [{**inbound, "id": "wamid.IN2"}],
                        }
                    },
                    {"value": {"metadata": {"phone_number_id": "no id"}, "messages": [inbound]}},
                    {"value": {"messages": [inbound]}},
                ]
            }
        ]
    }
    delivery = webhooks.parse(payload, NOW)
    assert [m.phone_number_id for m in delivery.inbound] == [
        "106540352242922",
        "106540352242923",
        None,  # not one of Meta's ids: the default sender's number is assumed
        None,
    ]
    assert [u.phone_number_id for u in delivery.statuses] == ["106540352242922"]
