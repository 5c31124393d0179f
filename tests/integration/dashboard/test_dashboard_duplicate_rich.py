"""Duplicate (`/message/{id}/duplicate`) of a file, a place, buttons, a list, a URL button and
a contact card, over real HTTP: compose opens on the message's kind with every field filled
in, and submitting that form as it is (a new id, a time chosen) stores the same content."""

from __future__ import annotations

import html.parser
from typing import Any

import pytest

from tests import media_files

BASE = {"recipient": "+905551234567", "date": "2026-03-02", "time": "10:00"}


class _Form(html.parser.HTMLParser):
    """The values compose's form would submit: inputs, checked radios, textareas and each
    select's chosen option (the first when none is marked)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._first: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        name = a.get("name")
        if tag == "input" and name and (a.get("type") != "radio" or "checked" in a):
            if a.get("type") != "file":
                self.values[name] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea, self.values[name] = name, ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            self._first.setdefault(self._select, a.get("value", ""))
            if "selected" in a:
                self.values[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select:
            self.values.setdefault(self._select, self._first.get(self._select, ""))
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def _form_of(page: str) -> dict[str, str]:
    parser = _Form()
    parser.feed(page[page.index('<form method="post" action="/compose"') :])
    return parser.values


async def _compose(dash: Any, fields: dict[str, str]) -> dict[str, Any]:
    answer = await dash.browser.post("/compose", data={**BASE, "csrf": dash.csrf, **fields})
    assert answer.status_code == 303, answer.text
    message = await dash.store.get(answer.headers["location"].split("created=")[1])
    assert message is not None
    return {"id": message.id, "content": message.content}


KINDS = {
    "document": {"kind": "media", "media_type": "document",
                 "media_link": "https://cdn.example.com/fatura.pdf", "caption": "Faturanız",
                 "filename": "fatura.pdf"},
    "location": {"kind": "location", "latitude": "41.0369", "longitude": "28.985",
                 "place_name": "Dükkân", "place_address": "İstiklal Cd. 1"},
    "buttons": {"kind": "interactive", "interactive_type": "button", "body_text": "Gelir misiniz?",
                "header_text": "Randevu", "footer_text": "Mağaza", "buttons": "Evet\nHayır"},
    "list": {"kind": "interactive", "interactive_type": "list", "body_text": "Bir saat seçin",
             "list_button": "Saatler", "list_rows": "09:00 | sabah\n14:00"},
    "cta": {"kind": "interactive", "interactive_type": "cta_url", "body_text": "Siparişiniz",
            "cta_text": "Takip et", "cta_url": "https://shop.example.com/t/1"},
    "contact": {"kind": "contact", "contact_name": "Ayşe Yılmaz",
                "contact_phone": "+90 555 123 45 67", "contact_email": "ayse@example.com",
                "contact_company": "Dükkân"},
}  # fmt: skip


@pytest.mark.parametrize("name", list(KINDS))
async def test_duplicate_opens_compose_on_the_same_content(signed_in, name):
    first = await _compose(signed_in, KINDS[name])
    page = await signed_in.browser.get(f"/message/{first['id']}/duplicate")
    assert page.status_code == 200, page.text
    values = _form_of(page.text)
    assert values["kind"] == KINDS[name]["kind"]
    assert values["id"] != first["id"]
    again = await _compose(signed_in, {**values, "time": "11:00", "date": BASE["date"]})
    assert again["content"] == first["content"]


async def test_duplicate_of_an_uploaded_photo_keeps_the_file(signed_in):
    upload = await signed_in.browser.post(
        "/dashboard/api/media",
        files={"file": ("urun.png", media_files.png(), "application/octet-stream")},
        headers={"X-CSRF-Token": signed_in.csrf},
    )
    photo = upload.json()["id"]
    first = await _compose(
        signed_in, {"kind": "media", "media_type": "image", "media_id": photo, "caption": "Yeni"}
    )
    page = await signed_in.browser.get(f"/message/{first['id']}/duplicate")
    assert f'<img src="/dashboard/files/{photo}"' in page.text  # its preview
    values = _form_of(page.text)
    assert (values["media_id"], values["media_type"], values["caption"]) == (photo, "image", "Yeni")
    again = await _compose(signed_in, {**values, "time": "11:00", "date": BASE["date"]})
    assert again["content"] == {"type": "image", "image": {"id": photo, "caption": "Yeni"}}
