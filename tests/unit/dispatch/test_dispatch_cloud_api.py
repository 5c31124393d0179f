"""Mapping of Graph answers to SendError types, and the request payload (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.whatsapp import cloud_api

DUE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def graph_error(code: int, message: str = "boom") -> bytes:
    return json.dumps(
        {
            "error": {
                "message": f"(#{code}) {message}",
                "type": "OAuthException",
                "code": code,
                "error_data": {"messaging_product": "whatsapp", "details": "d"},
                "fbtrace_id": "x",
            }
        }
    ).encode()


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (1, errors.TemporaryFailure),
        (2, errors.TemporaryFailure),
        (4, errors.RateLimited),
        (17, errors.RateLimited),
        (80007, errors.RateLimited),
        (130429, errors.RateLimited),
        (131000, errors.TemporaryFailure),
        (131016, errors.TemporaryFailure),
        (131056, errors.RateLimited),
        (131057, errors.TemporaryFailure),
        (133004, errors.TemporaryFailure),
        (2494100, errors.TemporaryFailure),
        (0, errors.AccountFailure),
        (190, errors.AccountFailure),
        (368, errors.AccountFailure),
        (131031, errors.AccountFailure),
        (131042, errors.AccountFailure),
        (131048, errors.AccountFailure),
        (10, errors.AccountFailure),
        (200, errors.AccountFailure),
        (299, errors.AccountFailure),
        (33, errors.AccountFailure),
        (131045, errors.AccountFailure),
        (133010, errors.AccountFailure),
        (3, errors.PermanentFailure),
        (100, errors.PermanentFailure),
        (130403, errors.PermanentFailure),
        (131026, errors.PermanentFailure),
        (131047, errors.PermanentFailure),
        (131051, errors.PermanentFailure),
        (132000, errors.PermanentFailure),
        (132001, errors.PermanentFailure),
        (132016, errors.PermanentFailure),
        (999999, errors.PermanentFailure),
    ],
)
def test_code_decides_not_http_status(code: int, kind: type[errors.SendError]) -> None:
    for status in (400, 401, 429, 500):  # whatever the status: the code decides
        with pytest.raises(errors.SendError) as caught:
            cloud_api.parse_response(status, graph_error(code))
        assert type(caught.value) is kind
        assert caught.value.code == code
        assert caught.value.http_status == status


def test_error_text_keeps_meta_message_and_details() -> None:
    with pytest.raises(errors.PermanentFailure) as caught:
        cloud_api.parse_response(400, graph_error(131026, "Message undeliverable"))
    assert caught.value.message == "(#131026) Message undeliverable: d"


def test_body_text_is_never_matched() -> None:
    # "rate limit" in a body without a Graph code is not a rate limit
    with pytest.raises(errors.PermanentFailure):
        cloud_api.parse_response(400, b'{"detail": "rate limit hit, temporarily unavailable"}')


@pytest.mark.parametrize(
    ("status", "raw", "kind"),
    [
        (500, b"", errors.AmbiguousFailure),
        (502, b"<html>bad gateway</html>", errors.AmbiguousFailure),
        (503, b'{"oops": 1}', errors.AmbiguousFailure),
        (429, b"", errors.RateLimited),
        (404, b"", errors.PermanentFailure),
        (200, b"", errors.AmbiguousFailure),
        (200, b'{"messages": []}', errors.AmbiguousFailure),
    ],
)
def test_without_graph_error(status: int, raw: bytes, kind: type[errors.SendError]) -> None:
    with pytest.raises(errors.SendError) as caught:
        cloud_api.parse_response(status, raw)
    assert type(caught.value) is kind


def test_success_receipt() -> None:
    raw = json.dumps(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
            "messages": [{"id": "wamid.ABC"}],
        }
    ).encode()
    receipt = cloud_api.parse_response(200, raw)
    assert (receipt.wamid, receipt.wa_id, receipt.http_status) == ("wamid.ABC", "16505551234", 200)


def test_retry_after_is_carried() -> None:
    with pytest.raises(errors.RateLimited) as caught:
        cloud_api.parse_response(429, graph_error(130429), retry_after=3.0)
    assert caught.value.retry_after == 3.0


def test_text_payload() -> None:
    message = testing.make_message("msg-1", DUE, recipient="+16505551234", body="Merhaba")
    assert cloud_api.build_payload(message) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "text",
        "text": {"body": "Merhaba"},
        "biz_opaque_callback_data": "msg-1",
    }


def test_template_payload() -> None:
    template = {"name": "reminder", "language": {"code": "tr"}}
    message = testing.make_message("msg-2", DUE, template=template)
    payload = cloud_api.build_payload(message)
    assert payload["type"] == "template"
    assert payload["template"] == template
    assert "text" not in payload


@pytest.mark.parametrize(
    "body",
    [
        "Merhaba",
        "Çağrı: yarın 10:00'da görüşelim 🙂",
        'quote " backslash \\ slash / tab \t newline \n',
        "control \x00\x1f and \u2028 \u2029 line separators",
        "",
        "x" * 4096,
    ],
)
def test_encoded_payload_is_the_dict_encoded(body: str) -> None:
    """What goes on the wire is byte for byte `json.dumps` of `build_payload` (the text case
    is written from fixed parts), for any text, and a template too."""
    message = testing.make_message('id "1" \\ ğ', DUE, recipient="+16505551234", body=body)
    expected = json.dumps(cloud_api.build_payload(message), ensure_ascii=False).encode()
    assert cloud_api.encode_payload(message) == expected
    assert json.loads(cloud_api.encode_payload(message))["text"] == {"body": body}
    template = {"name": "hatırlatma", "language": {"code": "tr"}, "components": [{"x": '"'}]}
    templated = testing.make_message("msg-3", DUE, template=template)
    expected = json.dumps(cloud_api.build_payload(templated), ensure_ascii=False).encode()
    assert cloud_api.encode_payload(templated) == expected


def test_repr_hides_token() -> None:
    sender = cloud_api.CloudApiSender(
        None,  # type: ignore[arg-type]
        access_token="SECRET-TOKEN",
        phone_number_id="123",
        graph_api_url="http://x/",
        graph_api_version="v23.0",
    )
    assert "SECRET" not in repr(sender)
    assert sender.url == "http://x/v23.0/123/messages"
