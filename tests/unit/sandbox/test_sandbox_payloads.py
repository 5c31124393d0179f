"""Pure JSON builders and the webhook signature."""

from __future__ import annotations

import base64

import pytest

from whatsapp_scheduler.sandbox import graph_errors, payloads


@pytest.mark.parametrize(
    ("to", "wa_id"),
    [
        ("+16505551234", "16505551234"),
        ("+1 (650) 555-1234", "16505551234"),
        ("16505551234", "16505551234"),
        ("+90 532 123 45 67", "905321234567"),
    ],
)
def test_wa_id_is_the_digits(to: str, wa_id: str) -> None:
    assert payloads.wa_id_for(to) == wa_id


def test_wamid_looks_like_metas() -> None:
    wamid = payloads.new_outbound_wamid("16467043595")
    raw = base64.b64decode(wamid.removeprefix("wamid."))
    assert raw.startswith(b"\x1c\x18\x0b16467043595\x15\x02\x00\x11\x18\x12")
    assert raw.endswith(b"\x00")
    assert payloads.new_outbound_wamid("1") != payloads.new_outbound_wamid("1")
    inbound = base64.b64decode(payloads.new_inbound_wamid("16503879439").removeprefix("wamid."))
    assert b"\x12\x18\x14" in inbound


def test_send_success_shape() -> None:
    text = payloads.send_success("+1 650", "1650", "wamid.A", template=False)
    assert text == {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "+1 650", "wa_id": "1650"}],
        "messages": [{"id": "wamid.A"}],
    }
    template = payloads.send_success("+1650", "1650", "wamid.B", template=True)
    assert template["messages"] == [{"id": "wamid.B", "message_status": "accepted"}]


def test_status_entry_shape() -> None:
    entry = payloads.status_entry(
        "wamid.A", "sent", timestamp=1750030073.9, recipient_id="1650",
        callback_data="job-1", pricing=payloads.pricing_for(template=False),
    )  # fmt: skip
    assert entry == {
        "id": "wamid.A",
        "status": "sent",
        "timestamp": "1750030073",
        "recipient_id": "1650",
        "biz_opaque_callback_data": "job-1",
        "pricing": {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "service",
        },
    }
    bare = payloads.status_entry("wamid.A", "read", timestamp=1, recipient_id="1")
    assert set(bare) == {"id", "status", "timestamp", "recipient_id"}


def test_failed_status_carries_errors() -> None:
    error = graph_errors.status_error(131049)
    entry = payloads.status_entry(
        "wamid.A", "failed", timestamp=1, recipient_id="1", errors=[error]
    )
    assert entry["errors"][0]["code"] == 131049
    assert entry["errors"][0]["title"] == entry["errors"][0]["message"]
    assert entry["errors"][0]["error_data"]["details"]
    assert entry["errors"][0]["href"].endswith("error-codes")


def test_envelope_shape() -> None:
    env = payloads.envelope(
        payloads.statuses_value([{"id": "x"}]),
        waba_id="W", phone_number_id="P", display_phone_number="D",
    )  # fmt: skip
    assert env == {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "W",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "D", "phone_number_id": "P"},
                            "statuses": [{"id": "x"}],
                        },
                    }
                ],
            }
        ],
    }


def test_inbound_text_value() -> None:
    value = payloads.inbound_text_value(
        "1650", "Hi", wamid="wamid.I", timestamp=1749416383.2, profile_name="Sheena"
    )
    assert value == {
        "contacts": [{"profile": {"name": "Sheena"}, "wa_id": "1650"}],
        "messages": [
            {
                "from": "1650",
                "id": "wamid.I",
                "timestamp": "1749416383",
                "type": "text",
                "text": {"body": "Hi"},
            }
        ],
    }


def test_signature_known_vector() -> None:
    body = b"The quick brown fox jumps over the lazy dog"
    assert payloads.sign(body, "key") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )
    assert payloads.signature_valid(body, "key", payloads.sign(body, "key"))
    assert not payloads.signature_valid(body + b" ", "key", payloads.sign(body, "key"))
    assert not payloads.signature_valid(body, "other", payloads.sign(body, "key"))
    assert not payloads.signature_valid(body, "key", None)


def test_error_envelope_format() -> None:
    body = graph_errors.error_body(130429)
    error = body["error"]
    assert error["message"] == "(#130429) Rate limit hit"
    assert error["type"] == "OAuthException"
    assert error["code"] == 130429
    assert error["error_data"] == {
        "messaging_product": "whatsapp",
        "details": "Cloud API message throughput has been reached.",
    }
    assert len(error["fbtrace_id"]) == 23
    assert graph_errors.error_body(100, "bad to")["error"]["error_data"]["details"] == "bad to"


@pytest.mark.parametrize(
    ("code", "status"),
    [(190, 401), (0, 401), (200, 401), (130429, 429), (131056, 429), (4, 429), (100, 400),
     (131047, 400), (131000, 500), (2, 503), (133004, 503), (999999, 400)],
)  # fmt: skip
def test_http_status_for_code(code: int, status: int) -> None:
    assert graph_errors.http_status_for(code) == status


def test_http_status_is_configurable() -> None:
    assert graph_errors.http_status_for(190, auth_status=400) == 400
    assert graph_errors.http_status_for(130429, rate_limit_status=400) == 400


def test_catalogue_covers_the_reference_table() -> None:
    table = {0, 1, 2, 3, 4, 10, 17, 33, 100, 190, 200, 368, 80007, 130403, 130429, 130472,
             130497, 131000, 131005, 131008, 131009, 131016, 131021, 131026, 131030, 131031,
             131037, 131042, 131045, 131047, 131048, 131049, 131050, 131051, 131052, 131053,
             131056, 131057, 131063, 131064, 132000, 132001, 132005, 132007, 132012, 132015,
             132016, 132068, 132069, 133000, 133004, 133010, 133016, 134011, 135000, 2494100}  # fmt: skip
    assert table <= set(graph_errors.CATALOGUE)


def test_a_button_press_is_metas_interactive_reply_and_we_read_it_as_the_users_message():
    """The stand-in's webhook for a pressed button (payloads.inbound_reply_value) in Meta's
    shape, and our parser (whatsapp/webhooks.py) takes it as an inbound message of the user:
    it opens their window."""
    from datetime import UTC, datetime

    from whatsapp_scheduler.whatsapp import webhooks

    value = payloads.inbound_reply_value(
        "905551230101",
        {"type": "list_reply", "id": "09", "title": "09:00", "description": "Dr. Ada"},
        wamid="wamid.in1",
        timestamp=1_780_000_000,
        profile_name="Ada",
        context="wamid.out1",
        business_number="15550783881",
    )
    (message,) = value["messages"]
    assert message["type"] == "interactive"
    assert message["interactive"] == {
        "type": "list_reply",
        "list_reply": {"id": "09", "title": "09:00", "description": "Dr. Ada"},
    }
    assert message["context"] == {"from": "15550783881", "id": "wamid.out1"}
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106"},
            **value}}]}],
    }  # fmt: skip
    delivery = webhooks.parse(payload, datetime(2026, 6, 1, tzinfo=UTC))
    (inbound,) = delivery.inbound
    assert inbound.type == "interactive"
    assert inbound.opens_window
