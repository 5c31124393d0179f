"""The send endpoint over real HTTP: success shape, auth, routing and every validation rule."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from whatsapp_scheduler.sandbox import StandIn

TOKEN = "test-token"
PHONE_ID = "106540352242922"


async def test_text_success_matches_meta_reply(standin: StandIn, send, text_body) -> None:
    status, reply = await send(standin, text_body(to="+1 (650) 555-1234"))

    assert status == 200
    assert reply["messaging_product"] == "whatsapp"
    assert reply["contacts"] == [{"input": "+1 (650) 555-1234", "wa_id": "16505551234"}]
    [message] = reply["messages"]
    assert set(message) == {"id"}, "message_status is only for templates"
    assert re.fullmatch(r"wamid\.[A-Za-z0-9+/]+=*", message["id"])
    assert b"16505551234" in base64.b64decode(message["id"].removeprefix("wamid."))


async def test_template_success_carries_message_status(
    standin: StandIn, send, template_body
) -> None:
    status, reply = await send(standin, template_body())

    assert status == 200
    assert reply["messages"][0]["message_status"] == "accepted"


async def test_every_send_gets_a_distinct_wamid(standin: StandIn, send, text_body) -> None:
    ids = {(await send(standin, text_body()))[1]["messages"][0]["id"] for _ in range(20)}
    assert len(ids) == 20


@pytest.mark.parametrize("version", ["v17.0", "v23.0", "v25.0", "v26.0"])
async def test_any_version_is_accepted(standin: StandIn, send, text_body, version: str) -> None:
    status, _ = await send(standin, text_body(), version=version)
    assert status == 200


async def test_path_without_version_is_a_graph_error(standin: StandIn, send, text_body) -> None:
    status, reply = await send(standin, text_body(), version="v1")
    assert status == 400
    assert reply["error"]["type"] == "OAuthException"
    assert "Unknown path components" in reply["error"]["message"]


async def test_wrong_token_is_190_oauth_401(standin: StandIn, send, text_body) -> None:
    status, reply = await send(standin, text_body(), token="wrong")

    assert status == 401
    error = reply["error"]
    assert error["code"] == 190
    assert error["type"] == "OAuthException"
    assert error["message"].startswith("(#190) ")
    assert error["error_data"]["messaging_product"] == "whatsapp"
    assert error["fbtrace_id"]
    assert standin.requests[-1].error_code == 190
    assert standin.messages_to("+16505551234") == [], "rejected sends never arrive"


async def test_missing_token_is_rejected_with_code_104(standin: StandIn, send, text_body) -> None:
    status, reply = await send(standin, text_body(), token=None)
    assert (status, reply["error"]["code"]) == (401, 104)
    assert reply["error"]["type"] == "OAuthException"
    assert "An access token is required to request this resource." in reply["error"]["message"]


async def test_auth_status_is_configurable(make_standin, send, text_body) -> None:
    standin = await make_standin(auth_http_status=400)
    status, reply = await send(standin, text_body(), token="expired")
    assert (status, reply["error"]["code"]) == (400, 190)


async def test_unknown_phone_number_id_is_100(standin: StandIn, send, text_body) -> None:
    status, reply = await send(standin, text_body(), phone_id="999")
    assert (status, reply["error"]["code"]) == (400, 100)
    assert "999" in reply["error"]["error_data"]["details"]


async def test_extra_phone_number_ids_are_served(make_standin, send, text_body) -> None:
    standin = await make_standin(extra_phone_number_ids=("222",))
    assert (await send(standin, text_body(), phone_id="222"))[0] == 200


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


BASE = {"messaging_product": "whatsapp", "to": "+16505551234"}
INVALID_BODIES = [
    ("not json", b"{nope", 100),
    ("array", [1, 2], 100),
    ("no messaging_product", {**_without(BASE, "messaging_product"), "text": {"body": "x"}}, 100),
    ("wrong messaging_product", {**BASE, "messaging_product": "sms", "text": {"body": "x"}}, 100),
    ("bad recipient_type", {**BASE, "recipient_type": "crowd", "text": {"body": "x"}}, 100),
    ("no to", {**_without(BASE, "to"), "type": "text", "text": {"body": "x"}}, 131008),
    ("empty to", {**BASE, "to": " ", "type": "text", "text": {"body": "x"}}, 131008),
    ("letters in to", {**BASE, "to": "+1650CALLME", "type": "text", "text": {"body": "x"}}, 131009),
    ("unknown type", {**BASE, "type": "hologram", "hologram": {}}, 131051),
    ("no content object", {**BASE, "type": "text"}, 100),
    ("content under other key", {**BASE, "type": "image", "text": {"body": "x"}}, 100),
    ("empty text body", {**BASE, "type": "text", "text": {"body": ""}}, 100),
    ("no text body", {**BASE, "type": "text", "text": {"preview_url": True}}, 100),
    ("text body too long", {**BASE, "type": "text", "text": {"body": "x" * 4097}}, 100),
    (
        "preview_url not bool",
        {**BASE, "type": "text", "text": {"body": "x", "preview_url": "y"}},
        100,
    ),
    ("media with neither", {**BASE, "type": "image", "image": {"caption": "c"}}, 100),
    (
        "media with both",
        {**BASE, "type": "document", "document": {"id": "1", "link": "https://e.com/a.pdf"}},
        100,
    ),
    ("media link not http", {**BASE, "type": "image", "image": {"link": "ftp://e.com/a.png"}}, 100),
    (
        "caption too long",
        {**BASE, "type": "image", "image": {"id": "1", "caption": "c" * 1025}},
        100,
    ),
    (
        "template without name",
        {**BASE, "type": "template", "template": {"language": {"code": "en"}}},
        100,
    ),
    ("template without language", {**BASE, "type": "template", "template": {"name": "t"}}, 100),
    (
        "template language without code",
        {
            **BASE,
            "type": "template",
            "template": {"name": "t", "language": {"policy": "deterministic"}},
        },
        100,
    ),
    (
        "callback data too long",
        {**BASE, "type": "text", "text": {"body": "x"}, "biz_opaque_callback_data": "j" * 513},
        100,
    ),
    (
        "context without message_id",
        {**BASE, "type": "text", "text": {"body": "x"}, "context": {}},
        100,
    ),
]


@pytest.mark.parametrize(
    ("body", "code"), [(b, c) for _, b, c in INVALID_BODIES], ids=[n for n, _, _ in INVALID_BODIES]
)
async def test_invalid_body_is_rejected_with_graph_code(
    standin: StandIn, send, body: object, code: int
) -> None:
    status, reply = await send(standin, body)

    assert status == 400
    error = reply["error"]
    assert error["code"] == code
    assert error["message"].startswith(f"(#{code}) ")
    assert error["error_data"]["details"]
    assert standin.requests[-1].status == 400
    assert standin.conversations == {}


VALID_BODIES = [
    ("type defaults to text", {**BASE, "text": {"body": "x"}}),
    ("text at the 4096 limit", {**BASE, "type": "text", "text": {"body": "x" * 4096}}),
    # An image by id: tests/integration/sandbox/test_sandbox_media.py (the id must be uploaded).
    (
        "document by link",
        {
            **BASE,
            "type": "document",
            "document": {"link": "https://e.com/i.pdf", "filename": "i.pdf"},
        },
    ),
    (
        "contextual reply",
        {**BASE, "type": "text", "text": {"body": "x"}, "context": {"message_id": "wamid.X"}},
    ),
    (
        "reaction",
        {**BASE, "type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}},
    ),
    ("digits without plus", {**BASE, "to": "16505551234", "type": "text", "text": {"body": "x"}}),
]


@pytest.mark.parametrize("body", [b for _, b in VALID_BODIES], ids=[n for n, _ in VALID_BODIES])
async def test_valid_bodies_are_accepted(standin: StandIn, send, body: dict[str, Any]) -> None:
    status, reply = await send(standin, body)
    assert status == 200, reply
    assert reply["contacts"][0]["wa_id"] == "16505551234"


async def test_requests_are_recorded_with_their_answer(standin: StandIn, send, text_body) -> None:
    _, reply = await send(standin, text_body(biz_opaque_callback_data="job-7"))
    await send(standin, text_body(biz_opaque_callback_data="job-8"), token="bad")

    [ok] = standin.sends_for("job-7")
    assert ok.status == 200
    assert ok.wamid == reply["messages"][0]["id"]
    assert ok.answer == reply
    assert ok.body["text"] == {"body": "hello"}
    assert ok.to == "+16505551234"
    assert ok.received_at > 1.7e9
    assert [r.biz_opaque_callback_data for r in standin.requests] == ["job-7", None]
    assert standin.requests[1].error_code == 190


async def test_accepted_message_arrives_in_the_conversation(
    standin: StandIn, send, text_body
) -> None:
    _, reply = await send(standin, text_body(body="Your appointment is at 10:00"))

    [message] = standin.messages_to("+16505551234")
    assert message.wamid == reply["messages"][0]["id"]
    assert message.text == "Your appointment is at 10:00"
    assert message.direction == "out"


async def test_request_log_is_bounded(make_standin, send, text_body) -> None:
    standin = await make_standin(request_log_size=5, throughput_per_second=None)
    for n in range(8):
        await send(standin, text_body(biz_opaque_callback_data=f"job-{n}"))
    assert [r.biz_opaque_callback_data for r in standin.requests] == [
        f"job-{n}" for n in range(3, 8)
    ]


async def test_phone_number_info(standin: StandIn, http) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with http.get(f"{standin.url}/v23.0/{PHONE_ID}?fields=throughput", headers=headers) as r:
        assert r.status == 200
        assert (await r.json())["throughput"] == {"level": "STANDARD"}


async def test_mark_as_read_answers_success_for_an_inbound_message(standin, send) -> None:
    """Meta's mark-as-read: `{"status": "read", "message_id": <the user's wamid>}` answers
    `{"success": true}`; an outbound or unknown id is Meta's 100."""
    inbound = await standin.inbound("+16505551234", "Merhaba")
    status, answer = await send(
        standin, {"messaging_product": "whatsapp", "status": "read", "message_id": inbound}
    )
    assert (status, answer) == (200, {"success": True})
    status, answer = await send(
        standin, {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.nope"}
    )
    assert status == 400
    assert answer["error"]["code"] == 100
