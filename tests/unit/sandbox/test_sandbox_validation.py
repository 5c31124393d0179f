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


BUTTONS = {
    "type": "button",
    "body": {"text": "Gelecek misiniz?"},
    "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Evet"}}]},
}
LIST = {
    "type": "list",
    "body": {"text": "Bir saat seçin"},
    "action": {"button": "Saatler", "sections": [{"rows": [{"id": "9", "title": "09:00"}]}]},
}
CTA = {
    "type": "cta_url",
    "body": {"text": "Fatura"},
    "action": {"name": "cta_url", "parameters": {"display_text": "Aç", "url": "https://e.com/f"}},
}


def _buttons(n: int, title: str = "B") -> dict[str, Any]:
    items = [{"type": "reply", "reply": {"id": str(i), "title": f"{title}{i}"}} for i in range(n)]
    return {**BUTTONS, "action": {"buttons": items}}


@pytest.mark.parametrize("interactive", [BUTTONS, LIST, CTA, _buttons(3)])
def test_metas_interactive_shapes_are_taken(interactive: dict[str, Any]) -> None:
    assert isinstance(
        validate_send({**BASE, "type": "interactive", "interactive": interactive}), SendRequest
    )


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        ({"type": "location", "location": {"latitude": 91, "longitude": 0}}, 100, "latitude"),
        ({"type": "location", "location": {"latitude": "41", "longitude": 28}}, 100, "latitude"),
        ({"type": "location", "location": {"latitude": 41}}, 100, "longitude"),
        ({"type": "location", "location": {"latitude": 41, "longitude": 28, "name": 5}}, 100, "name"),
        ({"type": "interactive", "interactive": {"type": "carousel"}}, 100, "type"),
        ({"type": "interactive", "interactive": {**BUTTONS, "body": {}}}, 100, "body"),
        ({"type": "interactive", "interactive": _buttons(4)}, 131009, "at most 3"),
        ({"type": "interactive", "interactive": _buttons(1, "x" * 20)}, 131009, "title"),
        ({"type": "interactive", "interactive": {**BUTTONS, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "Evet"}},
            {"type": "reply", "reply": {"id": "b", "title": "Evet"}}]}}}, 131009, "unique"),
        ({"type": "interactive", "interactive": {**BUTTONS, "footer": {"text": "f" * 61}}}, 131009, "footer"),
        ({"type": "interactive", "interactive": {**BUTTONS, "header": {"type": "text", "text": "h" * 61}}},
         131009, "header"),
        ({"type": "interactive", "interactive": {**LIST, "action": {"button": "Saatler", "sections": [
            {"title": "A", "rows": [{"id": str(i), "title": "r"} for i in range(6)]},
            {"title": "B", "rows": [{"id": f"b{i}", "title": "r"} for i in range(5)]}]}}}, 131009, "10 rows"),
        ({"type": "interactive", "interactive": {**LIST, "action": {"button": "Saatler", "sections": [
            {"rows": [{"id": "1", "title": "t" * 25}]}]}}}, 131009, "row"),
        ({"type": "interactive", "interactive": {**CTA, "action": {"name": "cta_url", "parameters": {
            "display_text": "Aç", "url": "javascript:alert(1)"}}}}, 131009, "http(s)"),
        ({"type": "interactive", "interactive": {**CTA, "action": {"name": "x"}}}, 100, "cta_url"),
    ],
)  # fmt: skip
def test_broken_locations_and_interactives_are_refused_with_metas_codes(
    extra: dict[str, Any], code: int, words: str
) -> None:
    result = validate_send({**BASE, **extra})
    assert isinstance(result, Rejection)
    assert result.code == code
    assert words in result.details


def test_the_inbox_never_links_what_is_not_http() -> None:
    from whatsapp_scheduler.sandbox.validation import attachment

    cta = {**CTA, "action": {"name": "cta_url", "parameters": {
        "display_text": "Aç", "url": "javascript:alert(1)"}}}  # fmt: skip
    shown = attachment("interactive", cta)
    assert shown is not None
    assert shown["link"] is None
    image = attachment("image", {"link": "data:text/html,<script>alert(1)</script>"})
    assert image is not None
    assert image["link"] is None
    upload = attachment("image", {"id": "../../_sandbox/reset"})  # not an id the stand-in made
    assert upload is not None
    assert (upload["link"], upload.get("inline")) == (None, None)


def test_the_inbox_shows_https_media_in_place_and_documents_and_http_as_links() -> None:
    from whatsapp_scheduler.sandbox.validation import attachment

    photo = attachment("image", {"link": "https://cdn.example.com/a.jpg"})
    assert photo is not None
    assert (photo["link"], photo.get("inline")) == ("https://cdn.example.com/a.jpg", "image")
    clip = attachment("video", {"link": "https://cdn.example.com/a.mp4"})
    assert clip is not None
    assert clip.get("inline") == "video"
    plain = attachment("image", {"link": "http://cdn.example.com/a.jpg"})
    assert plain is not None
    assert (plain["link"], plain.get("inline")) == ("http://cdn.example.com/a.jpg", None)
    pdf = attachment("document", {"link": "https://cdn.example.com/f.pdf", "filename": "f.pdf"})
    assert pdf is not None
    assert (pdf["label"], pdf.get("inline")) == ("f.pdf", None)


def test_the_inbox_policy_lets_https_media_in_and_nothing_else() -> None:
    from whatsapp_scheduler.sandbox.standin import CONTENT_SECURITY_POLICY

    parts = dict(p.strip().split(" ", 1) for p in CONTENT_SECURITY_POLICY.split(";"))
    assert parts["img-src"] == "'self' data: https:"
    assert parts["media-src"] == "'self' https:"
    assert parts["script-src"] == "'self'"
    assert parts["connect-src"] == "'self'"
    assert parts["default-src"] == "'self'"
