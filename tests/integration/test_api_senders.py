"""`/senders` and the message field `gonderen`, over real HTTP on a real SQLite file."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from cryptography.fernet import Fernet

from tests.conftest import API_KEY
from tests.integration.conftest import served_api
from whatsapp_scheduler import cli
from whatsapp_scheduler.cli import client as cli_client
from whatsapp_scheduler.store import tokens

KEY = Fernet.generate_key().decode()
ENV_TOKEN = "EAAG-environment-token-1234"
SHOP_TOKEN = "EAAG-shop-token-abcdef"
SHOP = {
    "name": "shop",
    "phone_number_id": "1001",
    "access_token": SHOP_TOKEN,
    "waba_id": "2001",
    "messages_per_second": 20,
}
MESSAGE = {
    "id": "m-1",
    "alici": "+905551234567",
    "tarih": "2026-03-02",
    "saat": "09:30",
    "mesaj": "Merhaba",
}


@pytest.fixture
async def api(make_settings, clock, sqlite_url):
    settings = make_settings(
        database_url=sqlite_url,
        secret_key=KEY,
        phone_number_id="111",
        access_token=ENV_TOKEN,
        waba_id="222",
    )
    async with served_api(settings, clock, sqlite_url) as client:
        yield client


@pytest.fixture
async def keyless_api(make_settings, clock, sqlite_url):
    settings = make_settings(database_url=sqlite_url, phone_number_id="111", access_token="t")
    async with served_api(settings, clock, sqlite_url) as client:
        yield client


async def test_add_list_get_update_remove_and_never_the_token(api, caplog):
    caplog.set_level(logging.DEBUG)
    added = await api.post("/senders", json=SHOP)
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["name"] == "shop"
    assert body["phone_number_id"] == "1001"
    assert body["messages_per_second"] == 20.0
    assert body["pair_interval"] is None
    assert body["enabled"] is True
    assert body["from_environment"] is False
    listed = await api.get("/senders")
    assert [(s["name"], s["from_environment"]) for s in listed.json()] == [
        ("default", True),
        ("shop", False),
    ]
    assert listed.json()[0]["phone_number_id"] == "111"
    assert listed.json()[0]["waba_id"] == "222"
    changed = await api.patch(
        "/senders/shop", json={"enabled": False, "waba_id": None, "access_token": "EAAG-new-1"}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["enabled"], changed.json()["waba_id"]) == (False, None)
    assert changed.json()["messages_per_second"] == 20.0  # not given: unchanged
    got = await api.get("/senders/shop")
    assert got.json() == changed.json()
    # In the table the token is encrypted with SECRET_KEY, and decrypts to the new one.
    stored = await api.store.get_sender("shop")
    assert "EAAG" not in stored.token_encrypted
    assert tokens.TokenCipher.from_secret(KEY).decrypt(stored.token_encrypted) == "EAAG-new-1"
    removed = await api.delete("/senders/shop")
    assert removed.status_code == 200
    assert (await api.get("/senders/shop")).status_code == 404
    everything = " ".join(
        [added.text, listed.text, changed.text, got.text, removed.text, caplog.text]
    )
    for secret in (SHOP_TOKEN, "EAAG-new-1", ENV_TOKEN, KEY):
        assert secret not in everything


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Shop!"}, "name"),
        ({"name": "x" * 33}, "name"),
        ({"phone_number_id": "12ab"}, "phone_number_id"),
        ({"waba_id": "+90"}, "waba_id"),
        ({"messages_per_second": 0}, "messages_per_second"),
        ({"messages_per_second": 1000.5}, "messages_per_second"),
        ({"pair_interval": -1}, "pair_interval"),
        ({"access_token": "  "}, "access_token"),
        ({"access_token": "two words"}, "access_token"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_a_bad_sender_is_422_naming_the_field_and_nothing_is_stored(api, change, field):
    answer = await api.post("/senders", json=SHOP | change)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert "two words" not in answer.text  # a token is not echoed, even a bad one
    assert await api.store.list_senders() == []


async def test_taken_names_and_numbers_are_409_and_unknown_is_404(api):
    assert (await api.post("/senders", json=SHOP)).status_code == 201
    for clash, field in (
        ({"phone_number_id": "9"}, "name"),
        ({"name": "other"}, "phone_number_id"),
        ({"name": "default", "phone_number_id": "9"}, "name"),  # the environment's
        ({"name": "other", "phone_number_id": "111"}, "phone_number_id"),
    ):
        answer = await api.post("/senders", json=SHOP | clash)
        assert answer.status_code == 409, (clash, answer.text)
        assert answer.json()["detail"].startswith(f"{field}: ")
    assert (
        await api.post("/senders", json=SHOP | {"name": "b", "phone_number_id": "3"})
    ).status_code == 201
    taken = await api.patch("/senders/b", json={"phone_number_id": "1001"})
    assert taken.status_code == 409
    assert (await api.get("/senders/b")).json()["phone_number_id"] == "3"
    for method in ("GET", "PATCH", "DELETE"):
        kwargs = {"json": {"enabled": True}} if method == "PATCH" else {}
        assert (await api.request(method, "/senders/nobody", **kwargs)).status_code == 404
    assert (await api.patch("/senders/shop", json={})).status_code == 422
    renamed = await api.patch("/senders/shop", json={"name": "x"})
    assert renamed.status_code == 422
    assert renamed.json()["errors"][0]["field"] == "name"


async def test_the_environments_sender_is_read_only(api):
    for method, kwargs in (("PATCH", {"json": {"enabled": False}}), ("DELETE", {})):
        answer = await api.request(method, "/senders/default", **kwargs)
        assert answer.status_code == 409
        assert "from the environment" in answer.json()["detail"]
    got = await api.get("/senders/default")
    assert got.json()["from_environment"] is True
    assert got.json()["enabled"] is True


async def test_without_secret_key_adding_is_refused_clearly_listing_still_works(keyless_api):
    answer = await keyless_api.post("/senders", json=SHOP)
    assert answer.status_code == 503
    assert "SECRET_KEY is not set" in answer.json()["detail"]
    assert [s["name"] for s in (await keyless_api.get("/senders")).json()] == ["default"]
    assert await keyless_api.store.list_senders() == []


async def test_a_default_sender_that_does_not_exist_is_warned_about(
    make_settings, clock, sqlite_url, caplog
):
    settings = make_settings(database_url=sqlite_url, secret_key=KEY, default_sender="shop")
    with caplog.at_level(logging.WARNING):
        async with served_api(settings, clock, sqlite_url) as client:
            assert (await client.get("/senders")).json() == []
    warned = [r for r in caplog.records if "DEFAULT_SENDER names no sender" in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].default_sender == "shop"
    caplog.clear()
    fine = make_settings(database_url=sqlite_url, phone_number_id="111", access_token="t")
    with caplog.at_level(logging.WARNING):
        async with served_api(fine, clock, sqlite_url) as client:
            assert [s["name"] for s in (await client.get("/senders")).json()] == ["default"]
    assert "DEFAULT_SENDER names no sender" not in caplog.text


async def test_senders_need_the_api_key(api):
    for method in ("GET", "POST"):
        answer = await api.request(method, "/senders", headers={"X-API-Key": "wrong"}, json=SHOP)
        assert answer.status_code == 401
    assert await api.store.list_senders() == []


async def test_a_sender_with_queued_messages_is_not_removed(api):
    await api.post("/senders", json=SHOP)
    assert (await api.post("/schedule", json=MESSAGE | {"gonderen": "shop"})).status_code == 200
    refused = await api.delete("/senders/shop")
    assert refused.status_code == 409
    assert "1 message(s) queued or sending" in refused.json()["detail"]
    assert (await api.get("/senders/shop")).status_code == 200
    assert (await api.delete("/schedule/m-1")).status_code == 200
    assert (await api.delete("/senders/shop")).status_code == 200


# -- gonderen on messages -------------------------------------------------------------------


async def test_gonderen_is_stored_returned_and_filtered(api):
    await api.post("/senders", json=SHOP)
    own = await api.post("/schedule", json=MESSAGE | {"gonderen": "shop"})
    assert own.status_code == 200, own.text
    assert own.json()["gonderen"] == "shop"
    plain = await api.post("/schedule", json=MESSAGE | {"id": "m-2"})
    assert plain.json()["gonderen"] == "default"  # no gonderen: DEFAULT_SENDER
    stored = await api.store.get("m-1")
    assert stored.sender == "shop"
    shop = await api.get("/schedule", params={"gonderen": "shop"})
    assert [(m["id"], m["gonderen"]) for m in shop.json()] == [("m-1", "shop")]
    assert shop.headers["X-Total-Count"] == "1"
    both = await api.get("/schedule", params=[("gonderen", "shop"), ("gonderen", "default")])
    assert sorted(m["id"] for m in both.json()) == ["m-1", "m-2"]
    everyone = await api.get("/schedule")
    assert len(everyone.json()) == 2
    paged = await api.get("/schedule", params={"gonderen": "default", "limit": 1})
    assert "gonderen=default" in paged.headers.get("Link", "gonderen=default")
    bad = await api.get("/schedule", params={"gonderen": "No Such!"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "gonderen"
    status = await api.get("/status/m-1")
    assert status.json()["gonderen"] == "shop"


async def test_unknown_or_disabled_gonderen_is_422_naming_it_nothing_stored(api):
    await api.post("/senders", json=SHOP | {"enabled": False})
    for name, rule in (("nobody", "no sender named 'nobody'"), ("shop", "is disabled")):
        answer = await api.post("/schedule", json=MESSAGE | {"gonderen": name})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "gonderen"
        assert rule in answer.json()["detail"]
    assert await api.store.get("m-1") is None


async def test_the_same_id_from_another_sender_is_a_conflict(api):
    await api.post("/senders", json=SHOP)
    assert (await api.post("/schedule", json=MESSAGE)).status_code == 200
    assert (await api.post("/schedule", json=MESSAGE)).status_code == 200  # a retry
    other = await api.post("/schedule", json=MESSAGE | {"gonderen": "shop"})
    assert other.status_code == 409
    same = await api.post("/schedule", json=MESSAGE | {"gonderen": "default"})
    assert same.status_code == 200  # naming the default is the same message


async def test_unknown_fields_are_refused_naming_them_also_per_batch_entry(api):
    typo = await api.post("/schedule", json=MESSAGE | {"mesage": "oops"})
    assert typo.status_code == 422
    assert [e["field"] for e in typo.json()["errors"]] == ["mesage"]
    assert await api.store.get("m-1") is None
    # The Flutter client's exact fields still pass.
    seed = MESSAGE | {
        "tarih": "2026-03-02T00:00:00.000",
        "olusturmaTarihi": "2026-03-01T11:59:00.000",
    }
    assert (await api.post("/schedule", json=seed)).status_code == 200
    await api.post("/senders", json=SHOP)
    await api.post(
        "/senders", json=SHOP | {"name": "off", "phone_number_id": "5", "enabled": False}
    )
    batch = await api.post(
        "/schedule/batch",
        json={
            "messages": [
                MESSAGE | {"id": "b-1", "gonderen": "shop"},
                MESSAGE | {"id": "b-2", "extra": 1},
                MESSAGE | {"id": "b-3", "gonderen": "nobody"},
                MESSAGE | {"id": "b-4", "gonderen": "off"},
                MESSAGE | {"id": "b-5"},
            ]
        },
    )
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    assert [r["stored"] for r in results] == [True, False, False, False, True]
    assert [r["gonderen"] for r in results] == ["shop", None, None, None, "default"]
    assert [r["error"]["errors"][0]["field"] for r in results[1:4]] == [
        "messages[1].extra",
        "gonderen",
        "gonderen",
    ]


async def test_the_cli_client_schedules_from_and_lists_by_sender(api):
    await api.post("/senders", json=SHOP)
    url = str(api.base_url)

    def client(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        args = cli._parser().parse_args([*argv, "--url", url, "--api-key", API_KEY])
        return cli_client.run(args, out, err), out.getvalue(), err.getvalue()

    # The sync client runs on a thread: the served app lives in this test's event loop.
    made = await asyncio.to_thread(
        client, "schedule", "--to", "+905551234567", "--at", "2026-03-02 09:30",
        "--text", "Merhaba", "--id", "c-1", "--from", "shop",
    )  # fmt: skip
    assert made[0] == 0, made[2]
    await asyncio.to_thread(
        client, "schedule", "--to", "+905551234567", "--at", "2026-03-02 09:30",
        "--text", "Merhaba", "--id", "c-2",
    )  # fmt: skip
    code, out, _ = await asyncio.to_thread(client, "list", "--plain", "--from", "shop")
    assert code == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == ["c-1"]
    assert out.split("\t")[4] == "shop"  # id, status, time, to, sender, text
    code, out, _ = await asyncio.to_thread(client, "list", "--plain")
    assert sorted(line.split("\t")[4] for line in out.splitlines()) == ["default", "shop"]
    unknown = await asyncio.to_thread(
        client, "schedule", "--to", "+905551234567", "--at", "2026-03-02 09:30",
        "--text", "x", "--from", "nobody",
    )  # fmt: skip
    assert unknown[0] == 1
    assert "gonderen: no sender named 'nobody'" in unknown[2]
