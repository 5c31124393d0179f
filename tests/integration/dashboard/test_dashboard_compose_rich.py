"""Compose's buttons, lists and contact cards over real HTTP (docs/dashboard.md, "Files and
places"; docs/message-types.md): the form becomes exactly the API's `interactive` or
`contacts` object, the service's rules refuse it with the form shown again as typed and the
offending input marked, and the message page shows the buttons, rows or card readably."""

from __future__ import annotations

import re
from typing import Any

import pytest

BASE = {"recipient": "+905551234567", "date": "2026-03-02", "time": "10:00"}
#: The ids of the inputs a page marks `aria-invalid`.
INVALID = re.compile(r'<(?:input|textarea|select)[^>]*\bid="([^"]+)"[^>]*aria-invalid="true"')


def _form(dash: Any, **fields: str) -> dict[str, str]:
    return {**BASE, "csrf": dash.csrf, **fields}


async def _stored(dash: Any, page: Any) -> dict[str, Any]:
    """The message a compose answer created, as the API's `GET /schedule` lists it (its
    `type` and `content`: what the store holds)."""
    assert page.status_code == 303, page.text
    message_id = page.headers["location"].split("created=")[1]
    listed = await dash.api.get("/schedule", params={"durum": "all"})
    assert listed.status_code == 200, listed.text
    (found,) = [m for m in listed.json() if m["id"] == message_id]
    message = await dash.store.get(message_id)
    assert message is not None
    assert found["content"] == message.content
    return dict(found)


async def _nothing_stored(dash: Any) -> None:
    listed = await dash.api.get("/schedule", params={"durum": "all"})
    assert listed.status_code == 200, listed.text
    assert listed.json() == []


async def test_reply_buttons_become_metas_interactive_object(signed_in):
    form = _form(
        signed_in, kind="interactive", interactive_type="button",
        body_text="Randevunuza gelecek misiniz?\r\n", header_text="Randevu",
        footer_text="Mağaza", buttons="Evet\r\nErteleyelim\r\n",
        list_button="ignored", list_rows="ignored", cta_text="ignored", cta_url="https://x.example",
    )  # fmt: skip
    stored = await _stored(signed_in, await signed_in.browser.post("/compose", data=form))
    assert stored["type"] == "interactive"
    assert stored["content"] == {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "text", "text": "Randevu"},
            "body": {"text": "Randevunuza gelecek misiniz?"},
            "footer": {"text": "Mağaza"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "b1", "title": "Evet"}},
                    {"type": "reply", "reply": {"id": "b2", "title": "Erteleyelim"}},
                ]
            },
        },
    }


async def test_a_list_is_one_section_of_rows_with_descriptions(signed_in):
    form = _form(
        signed_in, kind="interactive", interactive_type="list", body_text="Bir saat seçin",
        list_button="Saatler", list_rows="Sabah | 09:00-12:00\nÖğleden sonra\n Akşam |  ",
        buttons="ignored",
    )  # fmt: skip
    stored = await _stored(signed_in, await signed_in.browser.post("/compose", data=form))
    assert stored["content"]["interactive"] == {
        "type": "list",
        "body": {"text": "Bir saat seçin"},
        "action": {
            "button": "Saatler",
            "sections": [
                {
                    "rows": [
                        {"id": "r1", "title": "Sabah", "description": "09:00-12:00"},
                        {"id": "r2", "title": "Öğleden sonra"},
                        {"id": "r3", "title": "Akşam"},
                    ]
                }
            ],
        },
    }


async def test_a_url_button(signed_in):
    form = _form(
        signed_in, kind="interactive", interactive_type="cta_url", body_text="Siparişiniz yolda",
        cta_text="Kargoyu izle", cta_url=" https://kargo.example.com/t?n=1&x=2 ",
    )  # fmt: skip
    stored = await _stored(signed_in, await signed_in.browser.post("/compose", data=form))
    assert stored["content"]["interactive"] == {
        "type": "cta_url",
        "body": {"text": "Siparişiniz yolda"},
        "action": {
            "name": "cta_url",
            "parameters": {
                "display_text": "Kargoyu izle",
                "url": "https://kargo.example.com/t?n=1&x=2",
            },
        },
    }


@pytest.mark.parametrize(
    ("phone", "phones"),
    [
        ("+90 555 123 45 67", [{"phone": "+90 555 123 45 67", "type": "CELL",
                                "wa_id": "905551234567"}]),
        ("0555 123 45 67", [{"phone": "0555 123 45 67", "type": "CELL"}]),  # no country code
        ("+90 12", [{"phone": "+90 12", "type": "CELL"}]),  # not a valid number: no wa_id
    ],
)  # fmt: skip
async def test_a_contact_card_becomes_metas_contacts_list(signed_in, phone, phones):
    form = _form(
        signed_in, kind="contact", contact_name=" Ayşe Yılmaz ", contact_phone=phone,
        contact_email="ayse@example.com", contact_company="Yılmaz Ltd.",
    )  # fmt: skip
    stored = await _stored(signed_in, await signed_in.browser.post("/compose", data=form))
    assert stored["type"] == "contacts"
    assert stored["content"] == {
        "type": "contacts",
        "contacts": [
            {
                "name": {"formatted_name": "Ayşe Yılmaz", "first_name": "Ayşe Yılmaz"},
                "phones": phones,
                "emails": [{"email": "ayse@example.com"}],
                "org": {"company": "Yılmaz Ltd."},
            }
        ],
    }


async def test_a_contact_with_a_name_only(signed_in):
    form = _form(signed_in, kind="contact", contact_name="Ali")
    stored = await _stored(signed_in, await signed_in.browser.post("/compose", data=form))
    assert stored["content"]["contacts"] == [
        {"name": {"formatted_name": "Ali", "first_name": "Ali"}}
    ]


BUTTONS = {"kind": "interactive", "interactive_type": "button", "body_text": "Gelecek misiniz?"}
LIST = {"kind": "interactive", "interactive_type": "list", "body_text": "Seçin",
        "list_button": "Saatler", "list_rows": "Sabah"}  # fmt: skip
CTA = {"kind": "interactive", "interactive_type": "cta_url", "body_text": "Yolda",
       "cta_text": "İzle", "cta_url": "https://kargo.example.com"}  # fmt: skip
CONTACT = {"kind": "contact", "contact_name": "Ayşe", "contact_phone": "+905551234567"}


@pytest.mark.parametrize(
    ("fields", "field", "rule", "input_id", "typed"),
    [
        (BUTTONS | {"buttons": "Evet\nHayır\nBelki\nSonra"}, "interactive.action.buttons",
         "at most 3 buttons", "buttons", ">Evet\nHayır\nBelki\nSonra</textarea>"),
        (BUTTONS | {"buttons": "Evet\n" + "x" * 21}, "interactive.action.buttons[1].reply.title",
         "must be at most 20 characters", "buttons", "x" * 21 + "</textarea>"),
        (BUTTONS | {"buttons": "Evet\nEvet"}, "interactive.action.buttons[1].reply.title",
         "must be unique among the buttons", "buttons", ">Evet\nEvet</textarea>"),
        (BUTTONS | {"buttons": ""}, "interactive.action.buttons", "is required: 1 to 3",
         "buttons", 'id="buttons" rows="3"'),
        (BUTTONS | {"buttons": "Evet", "body_text": "  "}, "interactive.body.text",
         "is required: a non-empty text", "body-text", ">Evet</textarea>"),
        (BUTTONS | {"buttons": "Evet", "header_text": "h" * 61}, "interactive.header.text",
         "must be at most 60 characters", "header-text", 'value="' + "h" * 61 + '"'),
        (BUTTONS | {"buttons": "Evet", "footer_text": "f" * 61}, "interactive.footer.text",
         "must be at most 60 characters", "footer-text", 'value="' + "f" * 61 + '"'),
        (LIST | {"list_rows": "\n".join(f"Satır {n}" for n in range(1, 12))},
         "interactive.action.sections", "at most 10 rows in all", "list-rows", "Satır 11"),
        (LIST | {"list_rows": "Sabah | " + "d" * 73},
         "interactive.action.sections[0].rows[0].description", "must be at most 72 characters",
         "list-rows", "d" * 73),
        (LIST | {"list_button": "b" * 21}, "interactive.action.button",
         "must be at most 20 characters", "list-button", 'value="' + "b" * 21 + '"'),
        (CTA | {"cta_url": "javascript:alert(1)"}, "interactive.action.parameters.url",
         "must be an http(s) URL with a host", "cta-url", 'value="javascript:alert(1)"'),
        (CTA | {"cta_text": "t" * 21}, "interactive.action.parameters.display_text",
         "must be at most 20 characters", "cta-text", 'value="' + "t" * 21 + '"'),
        (CONTACT | {"contact_name": " "}, "contacts[0].name.formatted_name",
         "is required: a non-empty text", "contact-name", 'value="+905551234567"'),
        (CONTACT | {"contact_name": "n" * 513}, "contacts[0].name.formatted_name",
         "must be at most 512 characters", "contact-name", 'value="' + "n" * 513 + '"'),
    ],
)  # fmt: skip
async def test_a_refusal_names_the_rule_marks_the_input_and_stores_nothing(
    signed_in, fields, field, rule, input_id, typed
):
    page = await signed_in.browser.post("/compose", data=_form(signed_in, **fields))
    assert page.status_code == 422, page.text
    shown = re.search(r'id="compose-error" data-field="([^"]*)">([^<]*)<', page.text)
    assert shown is not None, page.text
    assert shown[1] == field
    assert shown[2].startswith(f"{field}: {rule}"), shown[2]
    assert INVALID.findall(page.text) == [input_id]
    assert typed in page.text  # shown again as typed
    kind = fields["kind"]
    assert f'value="{kind}" id="kind-{kind}" checked' in page.text
    if "interactive_type" in fields and fields["interactive_type"] != "button":
        assert f'<option value="{fields["interactive_type"]}" selected>' in page.text
    await _nothing_stored(signed_in)


async def test_the_compose_page_offers_them_in_turkish_and_english(signed_in):
    page = (await signed_in.browser.get("/compose")).text
    for words in ("buttons or a list", "a contact card", "reply buttons", "a link button",
                  "Button titles, one a line", "Rows, one a line"):  # fmt: skip
        assert words in page
    assert page.count(" selected>") == 1  # the zone only: no default option is marked
    assert page.count(" checked>") == 1  # a text
    signed_in.browser.cookies.set("lang", "tr")
    page = (await signed_in.browser.get("/compose")).text
    for words in ("düğmeli ya da listeli mesaj", "kişi kartı", "yanıt düğmeleri", ">liste<",
                  "bağlantı düğmesi", "Düğme yazıları, her satıra bir tane", "Ad soyad",
                  "Listeyi açan düğmenin yazısı", "Alt bilgi (isteğe bağlı"):  # fmt: skip
        assert words in page
    assert "reply buttons" not in page


async def test_the_message_page_shows_buttons_and_a_card_readably_and_escaped(signed_in):
    form = _form(signed_in, **BUTTONS | {"buttons": "Evet\n<script>1</script>",
                                          "header_text": "<b>"})  # fmt: skip
    stored = await _stored(signed_in, await signed_in.browser.post("/compose", data=form))
    page = (await signed_in.browser.get(f"/message/{stored['id']}")).text
    buttons = re.search(r'<ul class="preview-buttons" id="shown-buttons">(.*?)</ul>', page)
    assert buttons is not None, page
    assert buttons[1] == (
        '<li data-reply-id="b1">Evet</li><li data-reply-id="b2">&lt;script&gt;1&lt;/script&gt;</li>'
    )
    assert '<p class="preview-header">&lt;b&gt;</p>' in page
    assert '<p class="preview-body body">Gelecek misiniz?</p>' in page
    assert "<script>1</script>" not in page
    assert "<b>" not in page
    assert 'id="content"' in page  # the JSON stays below

    listed = _form(signed_in, **LIST | {"list_rows": "Sabah | 09:00-12:00\nAkşam"})
    stored = await _stored(signed_in, await signed_in.browser.post("/compose", data=listed))
    page = (await signed_in.browser.get(f"/message/{stored['id']}")).text
    assert '<li id="shown-list-button">Saatler</li>' in page
    assert (
        '<li data-row-id="r1"><strong>Sabah</strong><br><small>09:00-12:00</small></li>'
        '<li data-row-id="r2"><strong>Akşam</strong></li>'
    ) in page

    link = _form(signed_in, **CTA | {"cta_url": "https://kargo.example.com/?a=1&b=<2>"})
    stored = await _stored(signed_in, await signed_in.browser.post("/compose", data=link))
    page = (await signed_in.browser.get(f"/message/{stored['id']}")).text
    assert '<li id="shown-cta">İzle</li>' in page
    assert '<code id="shown-url">https://kargo.example.com/?a=1&amp;b=&lt;2&gt;</code>' in page

    card = _form(signed_in, **CONTACT | {"contact_name": "Ayşe <i>Y</i>",
                                          "contact_company": "Yılmaz & Oğulları"})  # fmt: skip
    stored = await _stored(signed_in, await signed_in.browser.post("/compose", data=card))
    page = (await signed_in.browser.get(f"/message/{stored['id']}")).text
    shown = re.search(r'<ul class="contacts" id="contacts-shown">(.*?)</ul>', page, re.S)
    assert shown is not None, page
    assert '<strong class="contact-name">Ayşe &lt;i&gt;Y&lt;/i&gt;</strong>' in shown[1]
    assert '<span class="contact-phone">+905551234567</span>' in shown[1]
    assert '<span class="contact-company">Yılmaz &amp; Oğulları</span>' in shown[1]
    assert "<i>Y</i>" not in page
