"""Bad input that used to get in and then break things (issue 13, part 5), over real HTTP on a
real SQLite file: JSON bounds, lone surrogates in a batch, rows stored before the bounds."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import APP_SECRET, VERIFY_TOKEN, ServedApp
from tests.integration.dashboard.conftest import Dashboard
from whatsapp_scheduler.core import jsonbounds
from whatsapp_scheduler.store import sql
from whatsapp_scheduler.web import app as app_mod

# START (tests/conftest.py) is 2026-03-01 09:00 UTC = 12:00 in Istanbul.
GOOD = {
    "alici": "+905551234567",
    "tarih": "2026-03-02",
    "saat": "09:30",
    "mesaj": "Merhaba",
}


class Site(Dashboard):
    """The dashboard's browser, the API client, the store and the SQLite file's path."""

    path: str


@pytest.fixture
async def site(make_settings: Any, clock: Any, sqlite_url: str) -> AsyncIterator[Site]:
    message_store = sql.SqlMessageStore.from_url(sqlite_url)
    settings = make_settings(
        database_url=sqlite_url, app_secret=APP_SECRET, webhook_verify_token=VERIFY_TOKEN
    )
    app = app_mod.create_app(settings, store=message_store, clock=clock)
    async with ServedApp(app) as served:
        client = Site(served.url, message_store)
        client.path = sqlite_url.removeprefix("sqlite:///")
        try:
            assert (await client.sign_in()).status_code == 303
            yield client
        finally:
            await client.close()
    await message_store.close()


def nested(levels: int) -> dict[str, Any]:
    """A currency parameter's object nested `levels` objects deep."""
    value: dict[str, Any] = {"amount_1000": 1}
    for _ in range(levels - 1):
        value = {"inner": value}
    return value


def deep_template(levels: int) -> dict[str, Any]:
    parameter = {"type": "currency", "currency": nested(levels)}
    return {
        "name": "receipt",
        "language": "tr",
        "components": [{"type": "body", "parameters": [parameter]}],
    }


async def stored_count(site: Site) -> int:
    response = await site.api.get("/schedule", params={"status": ["queued", "sent"], "limit": 1})
    assert response.status_code == 200, response.text
    return int(response.headers["X-Total-Count"])


def raw_post(client: httpx.AsyncClient, path: str, text: str, **headers: str) -> Any:
    """POST JSON text as written (json= would refuse a lone surrogate before sending)."""
    return client.post(
        path, content=text.encode(), headers={"Content-Type": "application/json", **headers}
    )


# --- 1. JSON depth and size ---------------------------------------------------------------


@pytest.mark.parametrize("field", ["template", "fallback_template"])
async def test_a_template_nested_300_deep_is_422_and_stores_nothing(site, field):
    body: dict[str, Any] = dict(GOOD)
    if field == "template":
        del body["mesaj"]
    body[field] = deep_template(300)
    response = await site.api.post("/schedule", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == field
    assert f"deeper than {jsonbounds.MAX_DEPTH}" in error["rule"]
    assert await stored_count(site) == 0
    batch = await site.api.post("/schedule/batch", json={"messages": [body, GOOD]})
    assert batch.status_code == 200, batch.text
    first, second = batch.json()["results"]
    assert (first["stored"], first["error"]["errors"][0]["field"]) == (False, field)
    assert second["stored"]
    assert await stored_count(site) == 1


async def test_the_depth_limit_is_the_limit_not_under_it(site):
    # 32 levels in all: template > components > [0] > parameters > [0] > currency (27 deep).
    ok = GOOD | {"mesaj": None, "template": deep_template(jsonbounds.MAX_DEPTH - 5)}
    assert (await site.api.post("/schedule", json=ok)).status_code == 200
    over = GOOD | {"mesaj": None, "template": deep_template(jsonbounds.MAX_DEPTH - 4)}
    assert (await site.api.post("/schedule", json=over)).status_code == 422


async def test_an_oversized_template_is_422(site):
    big = {"type": "currency", "currency": {"fallback_value": "x" * (jsonbounds.MAX_BYTES + 1)}}
    body = {"type": "body", "parameters": [big]}
    template = {"name": "receipt", "language": "tr", "components": [body]}
    response = await site.api.post(
        "/schedule/batch", json={"messages": [GOOD | {"mesaj": None, "template": template}]}
    )
    error = response.json()["results"][0]["error"]["errors"][0]
    assert error["field"] == "template"
    assert f"at most {jsonbounds.MAX_BYTES}" in error["rule"]


def _corrupt(site: Site, message_id: str, column: str, text: str) -> None:
    """Write `text` into a message's column directly (as a row stored before the bounds)."""
    with sqlite3.connect(site.path) as db:
        db.execute(f"UPDATE messages SET {column} = ? WHERE id = ?", (text, message_id))


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (json.dumps(deep_template(300)), False),
        # Too deep for Python's json.loads itself:
        ('{"name": "receipt", "components": ' + "[" * 3000 + "]" * 3000 + "}", False),
        ("{not json", False),
        (json.dumps(["a", "list"]), False),
        (json.dumps({"name": {"x": 1}, "language": 5, "components": "text"}), True),
    ],
    ids=["deep300", "deep3000", "not-json", "a-list", "odd-shape"],
)
async def test_every_read_path_survives_a_row_stored_before_the_bounds(site, stored, shown):
    template = GOOD | {"id": "odd", "mesaj": None, "template": deep_template(1)}
    assert (await site.api.post("/schedule", json=template)).status_code == 200
    assert (await site.api.post("/schedule", json=GOOD | {"id": "plain"})).status_code == 200
    _corrupt(site, "odd", "template", stored)
    listed = await site.api.get("/schedule")
    assert listed.status_code == 200, listed.text
    by_id = {m["id"]: m for m in listed.json()}
    assert set(by_id) == {"odd", "plain"}
    if shown:  # JSON within the bounds is answered as stored, whatever its shape
        assert by_id["odd"]["template"] == json.loads(stored)
    else:
        assert set(by_id["odd"]["template"]) == {"unreadable"}
    assert (await site.api.get("/status/odd")).status_code == 200
    for page in ("/", "/message/odd", "/message/odd/cancel"):
        response = await site.browser.get(page)
        assert response.status_code == 200, (page, response.text[-500:])
    async with site.browser.stream("GET", "/dashboard/api/events", params={"ids": "odd"}) as events:
        async for line in events.aiter_lines():
            if line.startswith("data: "):
                assert json.loads(line[6:])["id"] == "odd"
                break


# --- 2. Lone surrogates in a batch; nothing half-stored, no 500 after a commit -------------

SURROGATE_FIELDS = ["id", "alici", "tarih", "saat", "mesaj", "timezone", "olusturmaTarihi"]


def _with_surrogate(field: str) -> str:
    """GOOD with `field` holding a lone surrogate, as JSON text."""
    body = GOOD | {"id": "bad-one", field: "SURROGATE"}
    return json.dumps(body).replace('"SURROGATE"', '"\\ud800x"')


@pytest.mark.parametrize("field", SURROGATE_FIELDS)
async def test_a_lone_surrogate_in_any_field_is_422_on_schedule(site, field):
    response = await raw_post(site.api, "/schedule", _with_surrogate(field))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert await stored_count(site) == 0


@pytest.mark.parametrize("field", SURROGATE_FIELDS)
async def test_a_batch_with_a_lone_surrogate_refuses_that_entry_and_a_retry_stores_once(
    site, field
):
    good = json.dumps(GOOD | {"id": "good-one"})
    text = f'{{"messages": [{good}, {_with_surrogate(field)}]}}'
    for attempt in range(2):
        response = await raw_post(site.api, "/schedule/batch", text)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["stored"], body["refused"]) == (1, 1)
        first, second = body["results"]
        assert first["created"] is (attempt == 0)
        assert second["error"]["errors"][0]["field"] == field
        assert await stored_count(site) == 1


@pytest.mark.parametrize("field", SURROGATE_FIELDS)
async def test_the_dashboard_import_refuses_a_lone_surrogate_and_stores_the_rest_once(site, field):
    good = json.dumps(GOOD | {"id": "good-one", "line": 2})
    bad = _with_surrogate(field).replace("{", '{"line": "\\udc00", ', 1)  # echoed back
    text = f'{{"messages": [{good}, {bad}]}}'
    for _ in range(2):
        response = await raw_post(
            site.browser, "/dashboard/api/import/batch", text, **{"X-CSRF-Token": site.csrf}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["stored"], body["refused"]) == (1, 1)
        assert body["errors"][0]["index"] == 1
        assert await stored_count(site) == 1
