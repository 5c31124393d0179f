"""The stand-in's template catalogue over real HTTP: Meta's list answer with cursor paging,
and template sends refused with Meta's codes (132000, 132001, 132012, 132015, 132016)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.integration.sandbox.conftest import PHONE_ID, TOKEN, WAIT, Receiver
from whatsapp_scheduler.sandbox import StandIn, catalogue

WABA = "102290129340398"  # StandInConfig's default waba_id


async def _list(
    http: aiohttp.ClientSession, url: str, *, token: str | None = TOKEN, **query: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(url, headers=headers, params=query or None) as reply:
        return reply.status, await reply.json()


def _url(standin: StandIn, waba: str = WABA) -> str:
    return f"{standin.url}/v23.0/{waba}/message_templates"


def _template(name: str, language: str, *components: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "to": "+905551112233",
        "type": "template",
        "template": {"name": name, "language": {"code": language}},
    }
    if components:
        body["template"]["components"] = list(components)
    return body


def _body(*texts: str) -> dict[str, Any]:
    return {"type": "body", "parameters": [{"type": "text", "text": t} for t in texts]}


async def test_pages_follow_next_through_the_whole_catalogue(standin: StandIn, http) -> None:
    seeded = catalogue.seeded()
    status, first = await _list(http, _url(standin), limit=3)
    assert status == 200
    assert len(first["data"]) == 3
    assert set(first["paging"]["cursors"]) == {"before", "after"}
    names: list[tuple[str, str]] = [(t["name"], t["language"]) for t in first["data"]]
    page = first
    while "next" in page["paging"]:
        async with http.get(
            page["paging"]["next"], headers={"Authorization": f"Bearer {TOKEN}"}
        ) as reply:
            assert reply.status == 200
            page = await reply.json()
        names += [(t["name"], t["language"]) for t in page["data"]]
    assert names == [(t["name"], t["language"]) for t in seeded]
    assert "next" not in page["paging"], "the last page has no next"
    # the seed has what the issue asks for
    formats = {t["parameter_format"] for t in seeded}
    assert formats == {"POSITIONAL", "NAMED"}
    assert {t["status"] for t in seeded} >= {"APPROVED", "PAUSED", "DISABLED"}
    assert {t["category"] for t in seeded} >= {"MARKETING", "UTILITY"}
    assert len({t["language"] for t in seeded}) >= 2


async def test_filters_and_an_after_cursor(standin: StandIn, http) -> None:
    status, answer = await _list(http, _url(standin), name="randevu_hatirlatma")
    assert status == 200
    assert sorted(t["language"] for t in answer["data"]) == ["en_US", "tr"]
    _, paused = await _list(http, _url(standin), status="PAUSED")
    assert [t["name"] for t in paused["data"]] == ["eski_kampanya"]
    _, first = await _list(http, _url(standin), limit=1)
    _, second = await _list(http, _url(standin), limit=1, after=first["paging"]["cursors"]["after"])
    assert second["data"][0]["id"] != first["data"][0]["id"]
    _, empty = await _list(http, _url(standin), name="no_such_template")
    assert empty == {"data": []}


async def test_refusals_of_the_list(standin: StandIn, http) -> None:
    status, body = await _list(http, _url(standin), token="wrong")
    assert (status, body["error"]["code"]) == (401, 190)
    status, body = await _list(http, _url(standin, "999"))
    assert (status, body["error"]["code"]) == (400, 100)
    status, body = await _list(http, _url(standin), after="not-a-cursor!")
    assert (status, body["error"]["code"]) == (400, 100)
    status, body = await _list(http, _url(standin), limit="0")
    assert (status, body["error"]["code"]) == (400, 100)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (_template("randevu_hatirlatma", "tr", _body("Ayşe")), 132000),
        (_template("randevu_hatirlatma", "tr"), 132000),
        (_template("randevu_hatirlatma", "de", _body("Ayşe", "10:00")), 132001),
        (_template("eski_kampanya", "tr", _body("son gün")), 132015),
        (_template("kapanan_kampanya", "tr"), 132016),
        (_template("kampanya_duyurusu", "tr", _body("Bu hafta")), 132012),
        (
            _template(
                "kampanya_duyurusu",
                "tr",
                {"type": "header", "parameters": [{"type": "video", "video": {"id": "1"}}]},
                _body("Bu hafta"),
            ),
            132012,
        ),
        (
            _template(
                "siparis_durumu",
                "tr",
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "parameter_name": "customer", "text": "Ayşe"},
                        {"type": "text", "parameter_name": "order", "text": "A-1"},
                    ],
                },
            ),
            132000,
        ),
    ],
    ids=[
        "one-of-two",
        "none-of-two",
        "language",
        "paused",
        "disabled",
        "no-header-image",
        "video-for-image",
        "named-wrong-name",
    ],
)
async def test_template_sends_refused_as_meta_does(standin: StandIn, send, body, code) -> None:
    status, reply = await send(standin, body)
    assert status == 400
    assert reply["error"]["code"] == code
    assert not standin.conversations, "nothing reached a phone"


async def test_template_sends_that_match_go_out(standin: StandIn, send) -> None:
    image = {"type": "image", "image": {"link": "https://example.com/a.jpg"}}
    named = [
        {"type": "text", "parameter_name": "order_id", "text": "A-1"},
        {"type": "text", "parameter_name": "customer", "text": "Ayşe"},
    ]
    url_button = {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "A-1"}],
    }
    code_button = {
        "type": "button",
        "sub_type": "copy_code",
        "index": "1",
        "parameters": [{"type": "coupon_code", "coupon_code": "INDIRIM20"}],
    }
    for body in (
        _template("randevu_hatirlatma", "tr", _body("Ayşe", "10:00")),
        _template("randevu_hatirlatma", "en_US", _body("Ada", "10:00")),
        _template("siparis_durumu", "tr", {"type": "body", "parameters": named}, url_button),
        _template(
            "kampanya_duyurusu",
            "tr",
            {"type": "header", "parameters": [image]},
            _body("Bu hafta"),
            code_button,
        ),
        _template("some_template_of_another_test", "en_US", _body("x")),  # "known" mode
    ):
        status, reply = await send(standin, body)
        assert status == 200, reply


async def test_buttons_need_their_parameters(standin: StandIn, send) -> None:
    named = [
        {"type": "text", "parameter_name": "order_id", "text": "A-1"},
        {"type": "text", "parameter_name": "customer", "text": "Ayşe"},
    ]
    status, reply = await send(
        standin, _template("siparis_durumu", "tr", {"type": "body", "parameters": named})
    )
    assert (status, reply["error"]["code"]) == (400, 132000)
    assert "button at index 0" in reply["error"]["error_data"]["details"]


async def test_strict_refuses_names_it_does_not_have(make_standin, send) -> None:
    strict = await make_standin(template_check="strict")
    status, reply = await send(strict, _template("appointment_reminder", "en_US"))
    assert (status, reply["error"]["code"]) == (400, 132001)
    off = await make_standin(template_check="off")
    status, _ = await send(off, _template("kapanan_kampanya", "tr"))
    assert status == 200


async def test_a_number_of_another_waba_checks_that_wabas_catalogue(make_standin, send) -> None:
    from whatsapp_scheduler.sandbox import Number

    other = Number("200000000000009", "other-token", waba_id="300000000000009")
    standin = await make_standin(extra_numbers=(other,))
    standin.add_template(
        {
            "name": "randevu_hatirlatma",
            "language": "tr",
            "status": "PAUSED",
            "category": "UTILITY",
            "parameter_format": "POSITIONAL",
            "components": [{"type": "BODY", "text": "{{1}}"}],
        },
        waba_id="300000000000009",
    )
    body = _template("randevu_hatirlatma", "tr", _body("Ayşe", "10:00"))
    assert (await send(standin, body))[0] == 200  # the main number's WABA: APPROVED
    status, reply = await send(standin, body, token="other-token", phone_id=other.phone_number_id)
    assert (status, reply["error"]["code"]) == (400, 132015)


async def test_status_changes_post_metas_template_webhooks(
    make_standin, receiver: Receiver, send
) -> None:
    standin = await make_standin(webhook_url=receiver.url)
    assert standin.set_template_status("randevu_hatirlatma", "tr", "PAUSED", reason="LOW_QUALITY")
    assert standin.set_template_category("randevu_hatirlatma", "tr", "MARKETING")
    assert standin.set_template_quality("randevu_hatirlatma", "tr", "YELLOW")
    assert not standin.set_template_status("no_such", "tr", "PAUSED")
    async with asyncio.timeout(WAIT):
        await receiver.wait_for(lambda: len(receiver.posts) >= 3)
    by_field = {}
    for post in receiver.posts:
        entry = post.json["entry"][0]
        assert entry["id"] == WABA
        change = entry["changes"][0]
        by_field[change["field"]] = change["value"]
    assert by_field["message_template_status_update"] == {
        "event": "PAUSED",
        "message_template_id": 1000000000000001,
        "message_template_name": "randevu_hatirlatma",
        "message_template_language": "tr",
        "reason": "LOW_QUALITY",
    }
    assert by_field["template_category_update"]["new_category"] == "MARKETING"
    assert by_field["template_category_update"]["previous_category"] == "UTILITY"
    assert by_field["message_template_quality_update"]["new_quality_score"] == "YELLOW"
    status, reply = await send(standin, _template("randevu_hatirlatma", "tr", _body("a", "b")))
    assert (status, reply["error"]["code"]) == (400, 132015), "the send sees the new status"
    assert PHONE_ID in standin.numbers


async def _create(
    http: aiohttp.ClientSession, url: str, body: Any, token: str = TOKEN
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.post(url, json=body, headers=headers) as reply:
        return reply.status, await reply.json()


NEW = {
    "name": "kargo_yolda",
    "language": "tr",
    "category": "UTILITY",
    "components": [
        {
            "type": "body",
            "text": "Siparişiniz {{1}} yola çıktı.",
            "example": {"body_text": [["A-1"]]},
        }
    ],
}


async def test_a_created_template_is_pending_then_approved_with_metas_webhook(
    make_standin, receiver: Receiver, http, send
) -> None:
    standin = await make_standin(webhook_url=receiver.url, template_review_seconds=0.2)
    status, created = await _create(http, _url(standin), NEW)
    assert status == 200, created
    assert (created["status"], created["category"]) == ("PENDING", "UTILITY")
    status, listed = await _list(http, _url(standin), name="kargo_yolda")
    assert [(t["status"], t["components"][0]["type"]) for t in listed["data"]] == [
        ("PENDING", "BODY")
    ]
    async with asyncio.timeout(WAIT):
        await receiver.wait_for(lambda: len(receiver.posts) >= 1)
    change = receiver.posts[0].json["entry"][0]["changes"][0]
    assert change["field"] == "message_template_status_update"
    assert change["value"]["event"] == "APPROVED"
    assert change["value"]["message_template_id"] == int(created["id"])
    status, reply = await send(standin, _template("kargo_yolda", "tr", _body("A-1")))
    assert status == 200, reply
    # The same name and language again: Meta's 100 with subcode 2388024.
    status, again = await _create(http, _url(standin), NEW)
    assert (status, again["error"]["code"], again["error"]["error_subcode"]) == (400, 100, 2388024)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"category": "PROMO"}, "category"),
        ({"name": "Kargo Yolda"}, "name"),
        ({"components": []}, "components"),
        ({"components": [{"type": "FOOTER", "text": "x"}]}, "BODY"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_malformed_create_is_metas_100_naming_the_field(
    standin: StandIn, http, change: dict[str, Any], named: str
) -> None:
    status, reply = await _create(http, _url(standin), NEW | change)
    assert (status, reply["error"]["code"]) == (400, 100)
    assert named in reply["error"]["message"]
    _, listed = await _list(http, _url(standin), name="kargo_yolda")
    assert listed["data"] == []
    status, refused = await _create(http, _url(standin), NEW, token="wrong")
    assert (status, refused["error"]["code"]) == (401, 190)
