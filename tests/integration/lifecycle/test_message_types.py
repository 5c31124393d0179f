"""Messages of other types than text and template (docs/message-types.md), end to end over real
HTTP: POST /schedule (and batch) with Meta's shape, stored, listed, sent by the real dispatcher
to the stand-in, which receives exactly Meta's message body; bad input is 422 naming the field
and the rule with nothing stored; the 24-hour window applies to them as to text."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.lifecycle.conftest import due_now

PHONE = "+905551230101"
IMAGE = {"link": "https://cdn.example.com/urun.jpg", "caption": "Yeni ürün"}
BUTTONS = {
    "type": "button",
    "body": {"text": "Randevunuza gelecek misiniz?"},
    "footer": {"text": "Klinik"},
    "action": {
        "buttons": [
            {"type": "reply", "reply": {"id": "yes", "title": "Evet"}},
            {"type": "reply", "reply": {"id": "move", "title": "Erteleyelim"}},
        ]
    },
}
LIST = {
    "type": "list",
    "header": {"type": "text", "text": "Saatler"},
    "body": {"text": "Bir saat seçin"},
    "action": {
        "button": "Saatler",
        "sections": [
            {
                "title": "Sabah",
                "rows": [
                    {"id": "09", "title": "09:00", "description": "Dr. Ada"},
                    {"id": "10", "title": "10:00"},
                ],
            },
            {"title": "Öğleden sonra", "rows": [{"id": "14", "title": "14:00"}]},
        ],
    },
}
CTA = {
    "type": "cta_url",
    "body": {"text": "Faturanız hazır"},
    "action": {
        "name": "cta_url",
        "parameters": {"display_text": "Faturayı aç", "url": "https://shop.example.com/f/1"},
    },
}
CONTACTS = [
    {"name": {"formatted_name": "Klinik Resepsiyon"}, "phones": [{"phone": "+902125550000"}]}
]

CASES: list[tuple[str, Any]] = [
    ("image", IMAGE),
    ("video", {"link": "https://cdn.example.com/v.mp4", "caption": "Tanıtım"}),
    ("audio", {"link": "https://cdn.example.com/a.mp3"}),
    ("document", {"link": "https://cdn.example.com/fatura.pdf", "filename": "fatura.pdf"}),
    ("sticker", {"link": "https://cdn.example.com/s.webp"}),  # by id: test_media_lifecycle.py
    ("location", {"latitude": 41.0369, "longitude": 28.985, "name": "Mağaza", "address": "Beyoğlu"}),
    ("contacts", CONTACTS),
    ("interactive", BUTTONS),
    ("interactive", LIST),
    ("interactive", CTA),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "value"), CASES)
async def test_each_type_reaches_meta_in_metas_shape(live, kind, value):
    async with live() as env:
        request = {"id": f"t-{kind}", "alici": PHONE, "type": kind, kind: value, **due_now()}
        answer = await env.client.post("/schedule", json=request)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["type"], body["mesaj"], body["template"]) == (kind, None, None)
        assert body["content"] == {"type": kind, kind: value}
        assert (await env.client.post("/schedule", json=request)).status_code == 200  # a retry
        other = {k: v for k, v in request.items() if k not in (kind, "type")}
        other |= {"type": "location", "location": {"latitude": 1, "longitude": 2}}
        assert (await env.client.post("/schedule", json=other)).status_code == 409  # same id
        listed = (await env.client.get("/schedule")).json()
        assert [(m["id"], m["type"]) for m in listed] == [(f"t-{kind}", kind)]
        await env.dispatch()
        await env.wait_status(f"t-{kind}", "read")  # sent, delivered, read by the stand-in
        (sent,) = env.standin.sends_for(f"t-{kind}")
        assert sent.body == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": PHONE,
            "biz_opaque_callback_data": f"t-{kind}",
            "type": kind,
            kind: value,
        }


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"image": IMAGE}, "type", "is required with image"),
    ({"type": "image"}, "image", "is required with type image"),
    ({"type": "image", "image": IMAGE, "video": IMAGE}, "video", "only the image object"),
    ({"type": "image", "image": IMAGE, "mesaj": "x"}, "mesaj", "give one of"),
    ({"type": "gif", "image": IMAGE}, "type", "must be one of"),
    ({"type": "image", "image": {"link": "ftp://x.example.com/a.jpg"}}, "image.link", "http(s)"),
    ({"type": "image", "image": {"link": "javascript:alert(1)"}}, "image.link", "http(s)"),
    ({"type": "image", "image": {"id": "1", "link": "https://a.example.com/a"}}, "image", "exactly one"),
    ({"type": "image", "image": {"link": "https://a.example.com/a", "caption": "x" * 1025}},
     "image.caption", "1,024"),
    ({"type": "audio", "audio": {"link": "https://a.example.com/a", "caption": "no"}},
     "audio.caption", "not a field"),
    ({"type": "location", "location": {"latitude": 91, "longitude": 0}}, "location.latitude", "-90"),
    ({"type": "contacts", "contacts": []}, "contacts", "non-empty"),
    ({"type": "contacts", "contacts": [{"phones": []}]}, "contacts[0].name", "required"),
    ({"type": "interactive", "interactive": BUTTONS | {"action": {"buttons": [
        {"type": "reply", "reply": {"id": str(i), "title": f"B{i}"}} for i in range(4)]}}},
     "interactive.action.buttons", "at most 3"),
    ({"type": "interactive", "interactive": BUTTONS | {"action": {"buttons": [
        {"type": "reply", "reply": {"id": "a", "title": "x" * 21}}]}}},
     "interactive.action.buttons[0].reply.title", "at most 20"),
    ({"type": "interactive", "interactive": BUTTONS | {"action": {"buttons": [
        {"type": "reply", "reply": {"id": "a", "title": "Evet"}},
        {"type": "reply", "reply": {"id": "b", "title": "Evet"}}]}}},
     "interactive.action.buttons[1].reply.title", "unique"),
    ({"type": "interactive", "interactive": LIST | {"action": {"button": "Saatler", "sections": [
        {"title": "A", "rows": [{"id": str(i), "title": f"R{i}"} for i in range(6)]},
        {"title": "B", "rows": [{"id": f"b{i}", "title": f"R{i}"} for i in range(5)]}]}}},
     "interactive.action.sections", "at most 10 rows"),
    ({"type": "interactive", "interactive": LIST | {"action": {"button": "Saatler", "sections": [
        {"title": "A", "rows": [{"id": "1", "title": "x" * 25}]}]}}},
     "interactive.action.sections[0].rows[0].title", "at most 24"),
    ({"type": "interactive", "interactive": CTA | {"action": {"name": "cta_url", "parameters": {
        "display_text": "Aç", "url": "file:///etc/passwd"}}}},
     "interactive.action.parameters.url", "http(s)"),
    ({"type": "interactive", "interactive": {"type": "flow", "body": {"text": "x"}}},
     "interactive.type", "must be one of"),
    ({"type": "interactive", "interactive": BUTTONS | {"body": {"text": "x" * 1025}}},
     "interactive.body.text", "1,024"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "field", "rule"), BAD)
async def test_bad_input_is_422_naming_the_field_and_the_rule_and_stores_nothing(
    live, extra, field, rule
):
    async with live() as env:
        request = {"id": "bad", "alici": PHONE, **due_now(), **extra}
        answer = await env.client.post("/schedule", json=request)
        assert answer.status_code == 422, answer.text
        (error,) = answer.json()["errors"]
        assert error["field"] == field, answer.text
        assert rule in error["rule"], answer.text
        assert (await env.client.get("/schedule")).json() == []
        batch = await env.client.post(
            "/schedule/batch",
            json={"messages": [request, {"id": "ok", "alici": PHONE, "type": "image",
                                         "image": IMAGE, **due_now()}]},
        )  # fmt: skip
        assert batch.status_code == 200, batch.text
        results = batch.json()["results"]
        assert [r["created"] for r in results if "created" in r] in ([False, True], [True])
        assert [m["id"] for m in (await env.client.get("/schedule")).json()] == ["ok"]


async def test_a_closed_window_holds_free_form_types_like_text(live):
    """WINDOW_POLICY=fail: an image to someone who never wrote is refused at schedule time as
    a text would be (naming `type`); with a fallback template (policy template) the
    fallback is sent instead of the image."""
    async with live(window_policy="fail") as env:
        image = {"id": "img", "alici": PHONE, "type": "image", "image": IMAGE, **due_now()}
        refused = await env.client.post("/schedule", json=image)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "type"
    async with live(window_policy="template") as env:
        fallback = {"name": "yeni_urun", "language": "tr", "parameters": ["Ada"]}
        image = {
            "id": "img2",
            "alici": PHONE,
            "type": "image",
            "image": IMAGE,
            "fallback_template": fallback,
            **due_now(),
        }
        stored = await env.client.post("/schedule", json=image)
        assert stored.status_code == 200, stored.text
        await env.dispatch()
        status = await env.wait_status("img2", "read")
        assert status["sent_as"] == "fallback_template"
        (sent,) = env.standin.sends_for("img2")
        assert sent.body["type"] == "template"
        assert "image" not in sent.body


async def test_an_edit_keeps_the_content_and_a_text_replaces_it(live):
    async with live() as env:
        request = {"id": "e1", "alici": PHONE, "type": "location", **due_now()}
        request["location"] = {"latitude": 41.0, "longitude": 29.0, "name": "Mağaza"}
        assert (await env.client.post("/schedule", json=request)).status_code == 200
        later = await env.client.patch("/schedule/e1", json={"tarih": "2030-01-02"})
        assert later.status_code == 200, later.text
        assert later.json()["content"]["location"]["name"] == "Mağaza"
        text = await env.client.patch("/schedule/e1", json={"mesaj": "Adresimiz değişti"})
        assert text.status_code == 200, text.text
        assert (text.json()["type"], text.json()["content"]) == ("text", None)


@pytest.mark.parametrize(
    "link",
    [
        "http://127.0.0.1/a.jpg",
        "http://10.0.0.7/a.jpg",
        "http://192.168.1.1/a.jpg",
        "http://169.254.169.254/latest/meta-data",  # a cloud's metadata address
        "http://[::1]/a.jpg",
        "http://[::ffff:127.0.0.1]/a.jpg",
        "http://localhost:8080/a.jpg",  # a name that resolves to loopback
        "http://0.0.0.0/a.jpg",
    ],
)
async def test_a_link_to_the_servers_own_network_is_refused(live, link):
    async with live() as env:
        request = {"id": "ssrf", "alici": PHONE, "type": "image", "image": {"link": link}}
        answer = await env.client.post("/schedule", json=request | due_now())
        assert answer.status_code == 422, answer.text
        (error,) = answer.json()["errors"]
        assert error["field"] == "image.link"
        assert "private, loopback or link-local" in error["rule"]
        assert (await env.client.get("/schedule")).json() == []
        header = {
            "type": "interactive",
            "interactive": BUTTONS | {"header": {"type": "image", "image": {"link": link}}},
        }
        refused = await env.client.post("/schedule", json={"alici": PHONE, **header} | due_now())
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "interactive.header.image.link"


async def test_private_links_with_the_setting_and_unresolvable_names_warn(live):
    async with live(media_allow_private_links=True) as env:
        local = {
            "id": "lan",
            "alici": PHONE,
            "type": "image",
            "image": {"link": "http://10.0.0.7/a.jpg"},
        }
        assert (await env.client.post("/schedule", json=local | due_now())).status_code == 200
    async with live() as env:
        nowhere = "https://no-such-host.invalid/a.jpg"  # .invalid never resolves (RFC 2606)
        request = {"id": "nx", "alici": PHONE, "type": "image", "image": {"link": nowhere}}
        answer = await env.client.post("/schedule", json=request | due_now())
        assert answer.status_code == 200, answer.text
        (note,) = [w for w in answer.json()["warnings"] if w.startswith("link_unresolved")]
        assert "no-such-host.invalid" in note


async def test_the_cli_schedules_an_image_and_a_location(live):
    import asyncio

    async with live() as env:

        def run(*argv: str) -> tuple[int, str, str]:
            answer: tuple[int, str, str] = env.cli(*argv)
            return answer

        at = ("--to", PHONE, "--at", "2030-01-02 09:00")
        code, _, err = await asyncio.to_thread(
            run, "schedule", *at, "--id", "c-img", "--image", IMAGE["link"], "--caption", "Yeni"
        )
        assert code == 0, err
        code, _, err = await asyncio.to_thread(
            run, "schedule", *at, "--id", "c-stk", "--sticker", "https://cdn.example.com/s.webp"
        )
        assert code == 0, err
        where = ("--location", "41.0369,28.985", "--location-name", "Mağaza")
        code, _, err = await asyncio.to_thread(run, "schedule", *at, "--id", "c-loc", *where)
        assert code == 0, err
        code, _, err = await asyncio.to_thread(run, "schedule", *at, "--location", "north")
        assert code == 2
        assert "LAT,LON" in err
        stored = {m["id"]: m["content"] for m in (await env.client.get("/schedule")).json()}
        assert stored == {
            "c-img": {"type": "image", "image": {"link": IMAGE["link"], "caption": "Yeni"}},
            "c-stk": {"type": "sticker", "sticker": {"link": "https://cdn.example.com/s.webp"}},
            "c-loc": {
                "type": "location",
                "location": {"latitude": 41.0369, "longitude": 28.985, "name": "Mağaza"},
            },
        }


async def test_an_edit_changes_the_object_or_the_type_and_is_validated(live):
    async with live() as env:
        request = {"id": "e2", "alici": PHONE, "type": "image", "image": IMAGE, **due_now()}
        assert (await env.client.post("/schedule", json=request)).status_code == 200
        new_image = {"link": "https://cdn.example.com/b.png", "caption": "İndirim"}
        moved = await env.client.patch("/schedule/e2", json={"image": new_image})
        assert moved.status_code == 200, moved.text
        assert moved.json()["content"] == {"type": "image", "image": new_image}
        place = {"latitude": 41.0, "longitude": 29.0}
        retyped = await env.client.patch(
            "/schedule/e2", json={"type": "location", "location": place}
        )
        assert retyped.status_code == 200, retyped.text
        assert retyped.json()["content"] == {"type": "location", "location": place}
        bad = await env.client.patch(
            "/schedule/e2", json={"location": {"latitude": 100, "longitude": 0}}
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "location.latitude"
        both = await env.client.patch(
            "/schedule/e2", json={"type": "image", "image": IMAGE, "mesaj": "x"}
        )
        assert both.status_code == 422, both.text
        edits = (await env.client.get("/status/e2")).json()["edits"]
        assert [sorted(e["changes"]) for e in edits] == [["content"], ["content"]]
        back = await env.client.patch("/schedule/e2", json={"mesaj": "Metin"})
        assert (back.json()["type"], back.json()["content"]) == ("text", None)


async def test_a_button_pressed_in_the_sandbox_reaches_us_as_metas_interactive_reply(live):
    """The user presses "Evet" on a sent button message (the inbox's control call): the
    stand-in posts Meta's signed webhook, `interactive.button_reply` with the pressed message
    as `context`, and our service records it as the user's message: their window opens."""
    async with live() as env:
        request = {"id": "ask", "alici": PHONE, "type": "interactive", "interactive": BUTTONS}
        assert (await env.client.post("/schedule", json=request | due_now())).status_code == 200
        await env.dispatch()
        await env.wait_status("ask", "read")
        (sent,) = env.standin.sends_for("ask")
        wamid = sent.wamid
        import aiohttp

        async with aiohttp.ClientSession() as http:
            pressed = await http.post(
                f"{env.standin.url}/_sandbox/inbound",
                headers={"X-Sandbox-Token": env.standin.control_token},
                json={
                    "from": PHONE,
                    "text": "Evet",
                    "reply": {"type": "button_reply", "id": "yes", "title": "Evet"},
                    "context": wamid,
                },
            )
            assert pressed.status == 200, await pressed.text()
            bad = await http.post(
                f"{env.standin.url}/_sandbox/inbound",
                headers={"X-Sandbox-Token": env.standin.control_token},
                json={"from": PHONE, "text": "x", "reply": {"type": "maybe"}},
            )
            assert bad.status == 400
        await env.wait_contact(PHONE.removeprefix("+"))  # our webhook took it as theirs
        (inbound,) = [m for m in env.standin.messages_to(PHONE) if m.direction == "in"]
        assert (inbound.type, inbound.text) == ("interactive", "Evet")
