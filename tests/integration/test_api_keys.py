"""Scoped API keys over real HTTP on a real SQLite file: /keys, scopes, senders, revocation,
who created a message (`anahtar`), and when a key was last used."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import START
from tests.integration.test_api_schedule import GOOD
from whatsapp_scheduler import service
from whatsapp_scheduler.core import keys
from whatsapp_scheduler.service import validation
from whatsapp_scheduler.store import tables


async def make_key(api: Any, name: str, scope: str, senders: list[str] | None = None) -> str:
    body: dict[str, Any] = {"name": name, "scope": scope}
    if senders is not None:
        body["senders"] = senders
    response = await api.post("/keys", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def as_key(api: Any, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=str(api.base_url), headers={"X-API-Key": key}, timeout=10)


def add_sender(api: Any, name: str, phone_number_id: str) -> None:
    """A row of the senders table (their CRUD is another module's)."""
    with api.store._engine.begin() as conn:
        conn.execute(
            sa.insert(tables.senders).values(
                name=name,
                phone_number_id=phone_number_id,
                token_encrypted="x",
                created_at=START,
                updated_at=START,
            )
        )


async def test_a_made_key_is_shown_once_and_only_its_hash_is_stored(api):
    response = await api.post("/keys", json={"name": "app", "scope": "write"})
    assert response.status_code == 201
    made = response.json()
    key = made["key"]
    assert key.startswith("wsk_")
    assert len(key) >= 36
    assert made["name"] == "app"
    assert made["scope"] == "write"
    assert made["senders"] is None
    listed = (await api.get("/keys")).json()
    assert [k["name"] for k in listed] == ["app"]
    assert "key" not in listed[0]
    assert key not in (await api.get("/keys")).text
    with api.store._engine.connect() as conn:
        row = conn.execute(sa.select(tables.api_keys)).one()
    assert row.key_hash == keys.key_hash(key)
    assert key not in str(tuple(row))


async def test_each_scope_does_what_it_allows_and_names_what_it_lacks(api):
    read = as_key(api, await make_key(api, "board", "read"))
    write = as_key(api, await make_key(api, "app", "write"))
    async with read, write:
        assert (await read.get("/schedule")).status_code == 200
        assert (await read.get("/openapi.json")).status_code == 200
        assert (await read.get("/docs")).status_code == 200
        assert (await read.get("/metrics")).status_code == 200
        assert "version" in (await read.get("/health")).json()
        refused = await read.post("/schedule", json=GOOD)
        assert refused.status_code == 403
        assert "needs the write scope" in refused.json()["detail"]
        assert "board" in refused.json()["detail"]
        assert (await read.post("/schedule/batch", json={"messages": [GOOD]})).status_code == 403
        assert (await read.delete("/schedule/x")).status_code == 403
        assert await api.store.get(GOOD["id"]) is None  # nothing stored
        assert (await write.post("/schedule", json=GOOD)).status_code == 200
        assert (await write.delete(f"/schedule/{GOOD['id']}")).status_code == 200
        for client in (read, write):
            denied = await client.get("/keys")
            assert denied.status_code == 403
            assert "needs the admin scope" in denied.json()["detail"]
        denied = await write.post("/keys", json={"name": "mine", "scope": "admin"})
        assert denied.status_code == 403
    assert [k["name"] for k in (await api.get("/keys")).json()] == ["app", "board"]


async def test_a_revoked_key_is_refused_at_once(api):
    key = await make_key(api, "app", "write")
    async with (
        as_key(api, key) as app,
        httpx.AsyncClient(
            base_url=str(api.base_url), headers={"Authorization": f"Bearer {key}"}, timeout=10
        ) as bearer,
    ):
        assert (await app.get("/schedule")).status_code == 200
        assert (await bearer.get("/schedule")).status_code == 200
        revoked = await api.delete("/keys/app")
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None
        for client in (app, bearer):
            refused = await client.get("/schedule")
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "APIKey"
        assert (await app.post("/schedule", json=GOOD)).status_code == 401
        assert "version" not in (await app.get("/health")).json()
    assert await api.store.get(GOOD["id"]) is None
    assert (await api.delete("/keys/app")).status_code == 200  # again: harmless
    missing = await api.delete("/keys/nobody")
    assert missing.status_code == 404
    assert "nobody" in missing.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "app", "scope": "read"}, 409, "name"),  # taken (made first below)
        ({"name": "App!", "scope": "read"}, 422, "name"),
        ({"name": "x", "scope": "owner"}, 422, "scope"),
        ({"name": "x", "scope": "read", "senders": ["nope"]}, 422, "senders"),
        ({"name": "x", "scope": "read", "senders": []}, 422, "senders"),
        ({"name": "x", "scope": "read", "colour": "red"}, 422, "colour"),
    ],
)
async def test_bad_key_requests_are_refused_and_change_nothing(api, body, status, field):
    await make_key(api, "app", "write")
    before = (await api.get("/keys")).json()
    response = await api.post("/keys", json=body)
    assert response.status_code == status
    assert field in response.json()["detail"]
    assert (await api.get("/keys")).json() == before


async def test_wrong_keys_are_refused(api):
    for key in ("wsk_" + "x" * 43, "not-a-key", "", "wsk_" + "x" * 600):
        async with as_key(api, key) as client:
            assert (await client.get("/schedule")).status_code == 401


async def test_each_message_records_the_key_that_made_it(api):
    async with as_key(api, await make_key(api, "app", "write")) as app:
        assert (await app.post("/schedule", json=GOOD)).status_code == 200
        batch = {"messages": [dict(GOOD, id="b-1")]}
        assert (await app.post("/schedule/batch", json=batch)).json()["stored"] == 1
        assert (await app.get(f"/status/{GOOD['id']}")).json()["anahtar"] == "app"
    assert (await api.get("/status/b-1")).json()["anahtar"] == "app"
    assert (await api.post("/schedule", json=dict(GOOD, id="env-1"))).status_code == 200
    status = (await api.get("/status/env-1")).json()
    assert status["anahtar"] is None  # the environment's API_KEY
    assert status["id"] == "env-1"
    assert status["status"] == "queued"


async def test_a_key_limited_to_senders_sees_only_their_messages(api):
    add_sender(api, "shop", "111111")
    assert (await api.post("/schedule", json=GOOD)).status_code == 200  # sender "default"
    shop = as_key(api, await make_key(api, "shop-app", "write", ["shop"]))
    both = as_key(api, await make_key(api, "both", "read", ["shop", "default"]))
    async with shop, both:
        listed = await shop.get("/schedule")
        assert listed.json() == []
        assert listed.headers["x-total-count"] == "0"
        missing = await shop.get(f"/status/{GOOD['id']}")
        assert missing.status_code == 404
        assert missing.json() == (await api.get("/status/nothing-here")).json() | {
            "detail": missing.json()["detail"]
        }
        assert (await shop.delete(f"/schedule/{GOOD['id']}")).status_code == 404
        assert (await api.store.get(GOOD["id"])).status == "queued"  # not cancelled
        # It sends only from its senders: the message's sender is "default" here.
        refused = await shop.post("/schedule", json=dict(GOOD, id="s-1"))
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "gonderen"
        assert "shop" in refused.json()["detail"]
        batch = await shop.post("/schedule/batch", json={"messages": [dict(GOOD, id="s-1")]})
        assert batch.json()["results"][0]["error"]["errors"][0]["field"] == "gonderen"
        assert await api.store.get("s-1") is None
        assert [m["id"] for m in (await both.get("/schedule")).json()] == [GOOD["id"]]
        assert (await both.get(f"/status/{GOOD['id']}")).status_code == 200
        denied = await api.get("/keys")
        assert denied.status_code == 200
    admin = as_key(api, await make_key(api, "shop-admin", "admin", ["shop"]))
    async with admin:
        refused = await admin.get("/keys")
        assert refused.status_code == 403
        assert "every sender" in refused.json()["detail"]


async def test_last_used_is_written_at_most_once_a_minute(api, clock):
    async with as_key(api, await make_key(api, "app", "read")) as app:
        assert (await app.get("/schedule")).status_code == 200
        first = await _last_used(api, "app", lambda t: t is not None)
        assert first == START
        clock.advance(30)
        assert (await app.get("/schedule")).status_code == 200
        await asyncio.sleep(0.5)  # a write it should not make would land by now
        assert (await api.store.get_key("app")).last_used_at == START
        clock.advance(31)
        assert (await app.get("/schedule")).status_code == 200
        later = await _last_used(api, "app", lambda t: t != START)
        assert later == START + timedelta(seconds=61)


async def _last_used(api: Any, name: str, until: Any) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        key = await api.store.get_key(name)
        if until(key.last_used_at):
            return key.last_used_at
        await asyncio.sleep(0.05)
    raise AssertionError("last_used_at was not written")


async def test_a_repeat_of_another_senders_id_is_a_reused_id_never_that_message(api, clock):
    """The same id and content as a message of a sender the key does not see: 409, not the
    message (its content hash matches, so the store alone would answer it as a retry)."""
    request = service.ScheduleRequest(
        alici=GOOD["alici"],
        tarih=GOOD["tarih"],
        saat=GOOD["saat"],
        mesaj=GOOD["mesaj"],
        id=GOOD["id"],
    )
    message = validation.build(request, clock.now(), "Europe/Istanbul", "TR")
    add_sender(api, "shop", "111111")
    await api.store.add(dataclasses.replace(message, sender="shop"))
    body = {k: GOOD[k] for k in ("id", "alici", "tarih", "saat", "mesaj")}
    async with as_key(api, await make_key(api, "plain", "write", ["default"])) as plain:
        repeat = await plain.post("/schedule", json=body)
        assert repeat.status_code == 409
        assert GOOD["mesaj"] not in repeat.text
        batch = (await plain.post("/schedule/batch", json={"messages": [body]})).json()
        assert batch["stored"] == 0
        assert batch["results"][0]["error"]["detail"].endswith(
            "is already used by a different message"
        )
    async with as_key(api, await make_key(api, "all", "write")) as every:
        assert (await every.post("/schedule", json=body)).status_code == 200  # a retry
