"""The address book over real HTTP on a real SQLite file (docs/contacts.md): POST /contacts
(each entry on its own), GET with filters and paging, PATCH, DELETE, the CSV import (UTF-8
with BOM, Windows-1254, `;`, Turkish headers), per-sender keys, and the CLI."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from tests.conftest import API_KEY
from tests.integration.test_api_keys import add_sender, as_key, make_key
from whatsapp_scheduler import cli
from whatsapp_scheduler.cli import book


def _contacts(*entries: Any, **extra: Any) -> dict[str, Any]:
    return {"contacts": list(entries), **extra}


async def test_upsert_validates_each_entry_on_its_own(api):
    answer = await api.post(
        "/contacts",
        json=_contacts(
            {
                "phone": "+905551110001",
                "name": "Ayşe",
                "timezone": "Europe/Istanbul",
                "labels": ["vip"],
            },
            {"phone": "0555 111 00 02", "language": "tr", "attributes": {"appointment": "10:30"}},
            {"phone": "not a phone"},
            {"phone": "+905551110004", "timezone": "Mars/Olympus"},
            {"phone": "+905551110005", "attributes": {"bad key": 1}},
            {"phone": "+905551110006", "colour": "red"},
            {"name": "no phone"},
            {"phone": "+905551110008", "attributes": {"a": {"b": {"c": {"d": {"e": 1}}}}}},
            "not an object",
        ),
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert (data["stored"], data["created"], data["updated"], data["refused"]) == (2, 2, 0, 7)
    fields = {e["index"]: e["error"]["errors"][0]["field"] for e in data["errors"]}
    assert fields == {
        2: "contacts[2].phone",
        3: "contacts[3].timezone",
        4: "contacts[4].attributes.bad key",
        5: "contacts[5].colour",
        6: "contacts[6].phone",
        7: "contacts[7].attributes",
        8: "contacts[8]",
    }
    shown = (await api.get("/contacts/+905551110002")).json()
    assert shown["in_book"] is True
    assert shown["alici"] == "+905551110002"  # the national form, normalised
    assert shown["attributes"] == {"appointment": "10:30"}
    assert shown["consent"]["all"]["opted_out"] is False  # the consent part is still there
    again = await api.post(
        "/contacts", json=_contacts({"phone": "+905551110001", "language": "tr"})
    )
    assert again.json()["updated"] == 1
    first = (await api.get("/contacts/+905551110001")).json()
    assert (first["name"], first["language"], first["labels"]) == ("Ayşe", "tr", ["vip"])


async def test_unknown_fields_and_too_many_are_refused_whole(api):
    extra = await api.post("/contacts", json=_contacts({"phone": "+905551110001"}, colour="red"))
    assert extra.status_code == 422
    assert "colour" in extra.text
    many = [{"phone": f"+90555{i:07d}"} for i in range(10_001)]
    too_many = await api.post("/contacts", json=_contacts(*many))
    assert too_many.status_code == 422
    assert "contacts" in too_many.json()["detail"]
    assert (await api.get("/contacts")).json() == []


async def test_list_filters_and_paging(api):
    await api.post(
        "/contacts",
        json=_contacts(
            {
                "phone": "+905551110001",
                "name": "Ayşe Yılmaz",
                "labels": ["vip"],
                "attributes": {"city": "Izmir"},
            },
            {
                "phone": "+905551110002",
                "name": "Mehmet",
                "labels": ["vip"],
                "attributes": {"city": "Ankara", "n": 3},
            },
            {"phone": "+905551110003", "name": "Zeynep", "attributes": {"city": "Izmir"}},
        ),
    )

    async def phones(**params: Any) -> list[str]:
        response = await api.get("/contacts", params=params)
        assert response.status_code == 200, response.text
        return [c["alici"] for c in response.json()]

    assert await phones(label="vip") == ["+905551110001", "+905551110002"]
    assert await phones(**{"attr.city": "Izmir"}) == ["+905551110001", "+905551110003"]
    assert await phones(**{"attr.city": "Izmir", "label": "vip"}) == ["+905551110001"]
    assert await phones(**{"attr.n": "3"}) == ["+905551110002"]
    assert await phones(q="yılmaz") == ["+905551110001"]
    assert await phones(q="1110003") == ["+905551110003"]
    page = await api.get("/contacts", params={"limit": 2})
    assert [c["alici"] for c in page.json()] == ["+905551110001", "+905551110002"]
    rest = await api.get("/contacts", params={"limit": 2, "cursor": page.headers["x-next-cursor"]})
    assert [c["alici"] for c in rest.json()] == ["+905551110003"]
    assert "x-next-cursor" not in rest.headers
    bad = await api.get("/contacts", params={"attr.bad-key": "x"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "attr.bad-key"


async def test_patch_and_delete(api):
    await api.post(
        "/contacts", json=_contacts({"phone": "+905551110001", "name": "A", "labels": ["x"]})
    )
    patched = await api.patch("/contacts/+905551110001", json={"labels": ["y", "z"], "name": None})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["labels"], patched.json()["name"]) == (["y", "z"], None)
    assert (await api.patch("/contacts/+905551110001", json={"timezone": "Nowhere/City"})).json()[
        "errors"
    ][0]["field"] == "timezone"
    assert (await api.patch("/contacts/+905551110001", json={"colour": 1})).status_code == 422
    assert (await api.patch("/contacts/+905551119999", json={"name": "x"})).status_code == 404
    assert (await api.delete("/contacts/+905551110001")).json() == {
        "phone": "+905551110001",
        "deleted": True,
    }
    assert (await api.delete("/contacts/+905551110001")).status_code == 404
    assert (await api.get("/contacts/+905551110001")).json()["in_book"] is False


async def test_csv_import_turkish_excel(api):
    text = "Telefon;Ad Soyad;Saat Dilimi;Etiketler;Randevu\r\n"
    text += "0555 111 00 01;Şükrü Öztürk;Europe/Istanbul;vip|izmir;10:30\r\n"
    text += "yanlış;İpek;;;\r\n"
    text += ";Nobody;;;\r\n"
    answer = await api.post(
        "/contacts/import", content=text.encode("cp1254"), headers={"Content-Type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert (data["stored"], data["refused"]) == (1, 2)
    assert [e["index"] for e in data["errors"]] == [3, 4]  # CSV line numbers
    assert data["errors"][0]["error"]["errors"][0]["field"] == "line[3].phone"
    shown = (await api.get("/contacts/+905551110001")).json()
    assert shown["name"] == "Şükrü Öztürk"
    assert shown["labels"] == ["izmir", "vip"]
    assert shown["attributes"] == {"randevu": "10:30"}
    bom = "\ufeffphone,name\n+905551110002,Ada\n".encode()
    assert (await api.post("/contacts/import", content=bom)).json()["stored"] == 1
    no_phone = await api.post("/contacts/import", content=b"name\nAda\n")
    assert no_phone.status_code == 422
    assert no_phone.json()["errors"][0]["field"] == "file"


async def test_a_key_limited_to_senders_sees_only_their_contacts(api):
    add_sender(api, "shop", "111111")
    await api.post("/contacts", json=_contacts({"phone": "+905551110001", "name": "default's"}))
    shop = as_key(api, await make_key(api, "shop-app", "write", ["shop"]))
    async with shop:
        refused = await shop.post("/contacts", json=_contacts({"phone": "+905551110009"}))
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "gonderen"
        assert (await shop.get("/contacts", params={"gonderen": "default"})).status_code == 422
        assert (await shop.delete("/contacts/+905551110001")).status_code == 422
    mine = as_key(api, await make_key(api, "default-app", "write", ["default"]))
    async with mine:
        stored = await mine.post("/contacts", json=_contacts({"phone": "+905551110002"}))
        assert stored.json()["stored"] == 1
        listed = await mine.get("/contacts")
        assert [c["alici"] for c in listed.json()] == ["+905551110001", "+905551110002"]
    reader = as_key(api, await make_key(api, "reader", "read"))
    async with reader:
        assert (await reader.post("/contacts", json=_contacts({"phone": "+1"}))).status_code == 403


def _cli(api: Any, *argv: str) -> tuple[int, str, str]:
    args = cli._parser().parse_args(
        ["contacts", *argv, "--url", str(api.base_url), "--api-key", API_KEY]
    )
    out, err = io.StringIO(), io.StringIO()
    code = book.run(args, out, err)
    return code, out.getvalue(), err.getvalue()


async def test_cli_add_list_import_remove(api, tmp_path):
    code, out, _ = await asyncio.to_thread(
        _cli,
        api,
        "add",
        "+905551110001",
        "--name",
        "Ayşe",
        "--label",
        "vip",
        "--attr",
        "city=Izmir",
    )
    assert (code, out.strip()) == (0, "created +905551110001")
    file = tmp_path / "c.csv"
    file.write_bytes(b"telefon,ad\n+905551110002,Can\nbad,X\n")
    code, out, err = await asyncio.to_thread(_cli, api, "import", str(file))
    assert code == 1  # a refused row
    assert "stored 1" in out
    assert "refused line 3" in err
    code, out, _ = await asyncio.to_thread(_cli, api, "list", "--label", "vip")
    assert code == 0
    assert out.splitlines() == ["+905551110001\tAyşe\t\t\tvip\t"]
    code, out, _ = await asyncio.to_thread(_cli, api, "remove", "+905551110001")
    assert (code, out.strip()) == (0, "removed +905551110001")
    code, _, err = await asyncio.to_thread(_cli, api, "add", "+905551110003", "--timezone", "X/Y")
    assert code == 1
    assert "timezone" in err


async def test_the_upsert_is_logged_at_info(api, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="whatsapp_scheduler")
    answer = await api.post("/contacts", json=_contacts({"phone": "+905551110001"}))
    assert answer.status_code == 200, answer.text  # an `extra` key clashing with LogRecord: 500
    (record,) = [r for r in caplog.records if r.getMessage() == "contacts upserted"]
    assert record.contacts_created == 1
