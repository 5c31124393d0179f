"""What validate_send hands on: recipient, type, callback data and the inbox summary line."""

from __future__ import annotations

from typing import Any

import pytest

from whatsapp_scheduler.sandbox.validation import Rejection, SendRequest, validate_send

BASE = {"messaging_product": "whatsapp", "to": "+1 (650) 555-1234"}


@pytest.mark.parametrize(
    ("extra", "summary"),
    [
        ({"type": "text", "text": {"body": "Hi\nthere"}}, "Hi\nthere"),
        ({"type": "image", "image": {"id": "77", "caption": "Look"}}, "[image: id 77] Look"),
        (
            {"type": "document", "document": {"link": "https://e.com/x.pdf", "filename": "x.pdf"}},
            "[document: x.pdf]",
        ),
        (
            {
                "type": "template",
                "template": {
                    "name": "reminder",
                    "language": {"code": "en_US"},
                    "components": [
                        {"type": "body", "parameters": [{"type": "text", "text": "Ada"},
                                                        {"type": "text", "text": "10:00"}]}
                    ],
                },
            },
            "[template reminder (en_US)] Ada, 10:00",
        ),
        ({"type": "location", "location": {"latitude": 1, "longitude": 2}}, "[location]"),
    ],
)  # fmt: skip
def test_summary_for_the_inbox(extra: dict[str, Any], summary: str) -> None:
    result = validate_send({**BASE, **extra})
    assert isinstance(result, SendRequest)
    assert result.summary == summary
    assert (result.to, result.wa_id) == ("+1 (650) 555-1234", "16505551234")


def test_template_flag_and_callback_data() -> None:
    result = validate_send(
        {**BASE, "type": "template", "template": {"name": "t", "language": {"code": "en"}},
         "biz_opaque_callback_data": "job-1"}
    )  # fmt: skip
    assert isinstance(result, SendRequest)
    assert result.is_template
    assert result.callback_data == "job-1"


def test_rejection_names_the_parameter() -> None:
    result = validate_send({**BASE, "type": "text", "text": {"body": "x" * 4097}})
    assert result == Rejection(100, "Param text['body'] must be at most 4096 characters long.")
