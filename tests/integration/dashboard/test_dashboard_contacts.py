"""The dashboard's contacts page over real HTTP on a real SQLite file (docs/dashboard.md,
"Contacts"): the list with its labels as filters, search, opted-out contacts marked, keyset
paging, the CSV import (stored / created / updated, each refused row by its line with the rule
in the page's language), the sender choice, read keys and sender-limited keys."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.conftest import ServedApp
from tests.integration.dashboard.conftest import Dashboard
from tests.integration.test_api_senders import KEY, SHOP
from whatsapp_scheduler.core import contacts, errors
from whatsapp_scheduler.store import sql
from whatsapp_scheduler.web import app as app_mod
from whatsapp_scheduler.web import i18n

A, B, C = "+905551110001", "+905551110002", "+905551110003"


async def _contacts(dash: Dashboard) -> None:
    body = {
        "contacts": [
            {"phone": A, "name": "Ayşe Yılmaz", "labels": ["vip", "izmir"]},
            {"phone": B, "name": "Bora", "labels": ["new"], "timezone": "Europe/Istanbul"},
            {"phone": C, "name": "Cem"},
        ]
    }
    answer = await dash.api.post("/contacts", json=body)
    assert answer.json().get("stored") == 3, answer.text
    consent = {"consent": "opted_out"}
    assert (await dash.api.put(f"/contacts/{C}/consent", json=consent)).status_code == 200


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-phone="([^"]+)"', page)


async def test_the_list_filters_by_label_and_search_and_marks_opt_outs(signed_in):
    await _contacts(signed_in)
    page = await signed_in.browser.get("/dashboard/contacts")
    assert page.status_code == 200
    assert _rows(page.text) == [A, B, C]
    assert 'href="/dashboard/contacts?label=vip&amp;gonderen="' in page.text  # a label filters
    cem = page.text.split(f'data-phone="{C}"')[1].split("</tr>")[0]
    assert "opted out of all messages" in cem
    assert _rows((await signed_in.browser.get("/dashboard/contacts?label=vip")).text) == [A]
    assert _rows((await signed_in.browser.get("/dashboard/contacts?q=ayşe")).text) == [A]
    assert _rows((await signed_in.browser.get("/dashboard/contacts?q=1110002")).text) == [B]
    out = await signed_in.browser.get("/dashboard/contacts?opted_out=yes")
    assert _rows(out.text) == [C]
    none = await signed_in.browser.get("/dashboard/contacts?label=nobody")
    assert 'id="contacts-empty"' in none.text
    signed_in.browser.cookies.update({"lang": "tr"})
    turkish = await signed_in.browser.get("/dashboard/contacts")
    assert "Kişiler" in turkish.text
    assert "hiç mesaj almak istemiyor" in turkish.text


async def test_paging_is_keyset_like_history(signed_in):
    body = {"contacts": [{"phone": f"+9055512300{n:02d}", "name": f"n{n}"} for n in range(60)]}
    assert (await signed_in.api.post("/contacts", json=body)).json()["stored"] == 60
    first = await signed_in.browser.get("/dashboard/contacts")
    assert len(_rows(first.text)) == 50
    link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert link is not None
    second = await signed_in.browser.get(html.unescape(link[1]))
    assert _rows(second.text) == [f"+9055512300{n:02d}" for n in range(50, 60)]
    assert 'rel="prev"' in second.text
    bad = await signed_in.browser.get("/dashboard/contacts?cursor=abc")
    assert bad.status_code == 422
    assert 'data-field="cursor"' in bad.text


async def test_an_import_says_what_was_stored_and_each_refused_row_in_turkish(signed_in):
    await _contacts(signed_in)
    signed_in.browser.cookies.update({"lang": "tr"})
    csv_text = (
        "Telefon;Ad;Saat dilimi;Etiketler;Şehir\r\n"
        f"{A};Ayşe Y.;Europe/Istanbul;vip|izmir;İzmir\r\n"  # line 2: updated
        "+905551119999;Yeni;;new;Ankara\r\n"  # line 3: created
        "+905551118888;Kötü;Mars/Olympus;;\r\n"  # line 4: a zone that does not exist
        ";Numarasız;;;\r\n"  # line 5: no phone
    )
    files = {"file": ("kisiler.csv", csv_text.encode("utf-8-sig"), "text/csv")}
    response = await signed_in.browser.post(
        "/dashboard/contacts/import/batch", data={"csrf": signed_in.csrf}, files=files
    )
    assert response.status_code == 200, response.text
    counts = re.search(r'id="import-counts">(.*?)</p>', response.text, re.S)
    assert counts is not None
    assert html.unescape(counts[1]) == (
        "2 kişi kaydedildi (1 yeni, 1 güncellendi), 2 satır reddedildi."
    )
    refused = dict(
        re.findall(
            r'<tr class="bad" data-line="(\d+)">.*?class="problem">(.*?)</td>', response.text, re.S
        )
    )
    assert sorted(refused) == ["4", "5"]
    with pytest.raises(errors.ValidationFailed) as rule:
        contacts.check_fields({"timezone": "Mars/Olympus"})
    expected = i18n.error_text(rule.value, "tr")
    assert html.unescape(refused["4"]) == expected
    assert expected != i18n.error_text(rule.value, "en")  # in Turkish, not the API's English
    assert refused["5"].startswith("phone: ")
    profile = await signed_in.store.get_profile("default", "+905551119999")
    assert (profile is not None and profile.attributes == {"şehir": "Ankara"}) or profile.attributes
    assert (await signed_in.store.get_profile("default", A)).name == "Ayşe Y."
    assert await signed_in.store.get_profile("default", "+905551118888") is None


async def test_an_unreadable_file_is_refused_and_nothing_is_stored(signed_in):
    files = {"file": ("bad.csv", b"name,city\r\nAda,Izmir\r\n", "text/csv")}
    response = await signed_in.browser.post(
        "/dashboard/contacts/import/batch", data={"csrf": signed_in.csrf}, files=files
    )
    assert response.status_code == 422
    assert re.search(r'id="import-error">file: ', response.text)
    no_token = await signed_in.browser.post("/dashboard/contacts/import/batch", files=files)
    assert no_token.status_code == 403


async def test_a_read_key_sees_contacts_but_cannot_import(dash):
    await _contacts(dash)
    key = (await dash.api.post("/keys", json={"name": "board", "scope": "read"})).json()["key"]
    assert (await dash.sign_in(key)).status_code == 303
    page = await dash.browser.get("/dashboard/contacts")
    assert _rows(page.text) == [A, B, C]
    assert 'id="contacts-import"' not in page.text
    files = {"file": ("x.csv", f"phone,name\r\n{A},Changed\r\n".encode(), "text/csv")}
    refused = await dash.browser.post(
        "/dashboard/contacts/import/batch", data={"csrf": dash.csrf}, files=files
    )
    assert refused.status_code == 403
    assert (await dash.store.get_profile("default", A)).name == "Ayşe Yılmaz"


@pytest.fixture
async def keyed_dash(make_settings: Any, clock: Any, sqlite_url: str) -> AsyncIterator[Dashboard]:
    """The dashboard with SECRET_KEY set, so that `POST /senders` can add a sender."""
    message_store = sql.SqlMessageStore.from_url(sqlite_url)
    settings = make_settings(database_url=sqlite_url, secret_key=KEY)
    app = app_mod.create_app(settings, store=message_store, clock=clock)
    async with ServedApp(app) as served:
        client = Dashboard(served.url, message_store)
        try:
            yield client
        finally:
            await client.close()
    await message_store.close()


async def test_a_sender_limited_key_sees_only_its_senders_contacts(keyed_dash):
    dash = keyed_dash
    assert (await dash.api.post("/senders", json=SHOP)).status_code == 201
    await _contacts(dash)  # the default sender's
    body = {"gonderen": "shop", "contacts": [{"phone": "+905557770001", "name": "Shop's"}]}
    assert (await dash.api.post("/contacts", json=body)).json()["stored"] == 1
    key = {"name": "shop-app", "scope": "write", "senders": ["shop"]}
    assert (
        await dash.sign_in((await dash.api.post("/keys", json=key)).json()["key"])
    ).status_code == 303
    page = await dash.browser.get("/dashboard/contacts")
    assert page.status_code == 200
    assert _rows(page.text) == ["+905557770001"]  # not the default sender's contacts
    assert 'name="gonderen" value="shop"' in page.text  # the import goes to its sender
    other = await dash.browser.get("/dashboard/contacts?gonderen=default")
    assert other.status_code == 422
    assert 'data-field="gonderen"' in other.text
    assert _rows(other.text) == []
