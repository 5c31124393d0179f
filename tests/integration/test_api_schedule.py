"""The seed's REST contract over real HTTP, on a real SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, START
from whatsapp_scheduler import store
from whatsapp_scheduler.core.messages import MessageStatus
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.web import schemas

# START is 2026-03-01 09:00 UTC = 12:00 in Istanbul.
GOOD = {
    "id": "flutter-1",
    "alici": "+905551234567",
    "tarih": "2026-03-02T00:00:00.000",
    "saat": "09:30",
    "mesaj": "Merhaba! Randevunuz yarın.",
    "olusturmaTarihi": "2026-03-01T11:59:00.000",
}


def query(
    statuses: Iterable[MessageStatus], limit: int, cursor: str | None = None, **filters: Any
) -> MessageQuery:
    """The store's `MessageQuery` for these statuses and filters."""
    return MessageQuery(tuple(statuses), limit, cursor, **filters)


def _msg(**changes: Any) -> dict[str, Any]:
    body = dict(GOOD)
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


async def _count(api: Any) -> int:
    page: store.Page = await api.store.list(query([], limit=1))
    return page.total


async def test_schedule_returns_the_stored_message_as_the_seed_did(api):
    response = await api.post("/schedule", json=GOOD)
    assert response.status_code == 200
    body = response.json()
    for field in ("id", "tarih", "saat", "mesaj", "olusturmaTarihi"):
        assert body[field] == GOOD[field]
    assert body["alici"] == "+905551234567"
    assert body["status"] == "queued"
    assert body["scheduled_at"] == "2026-03-02T06:30:00Z"
    assert body["timezone"] == "Europe/Istanbul"
    assert datetime.fromisoformat(body["created_at"]) == START
    assert "updated_at" in body


@pytest.mark.parametrize(
    ("tarih", "saat", "utc"),
    [
        ("2026-03-02", "09:30", "2026-03-02T06:30:00Z"),
        ("2026-03-02T00:00:00.000000", "09:30:15", "2026-03-02T06:30:15Z"),
        ("2026-03-02T00:00:00.000Z", "23:59", "2026-03-02T20:59:00Z"),
    ],
)
async def test_date_and_time_forms_are_accepted_and_echoed(api, tarih, saat, utc):
    response = await api.post("/schedule", json=_msg(id=None, tarih=tarih, saat=saat))
    assert response.status_code == 200, response.text
    assert (response.json()["tarih"], response.json()["saat"]) == (tarih, saat)
    assert response.json()["scheduled_at"] == utc


async def test_timezone_field_overrides_the_default(api):
    response = await api.post("/schedule", json=_msg(timezone="America/New_York"))
    assert response.json()["scheduled_at"] == "2026-03-02T14:30:00Z"


async def test_id_is_made_when_left_out(api):
    first = await api.post("/schedule", json=_msg(id=None))
    second = await api.post("/schedule", json=_msg(id=None))
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] != second.json()["id"]
    assert await _count(api) == 2


async def test_a_repeated_request_is_safe_and_a_reused_id_conflicts(api):
    first = await api.post("/schedule", json=GOOD)
    again = await api.post("/schedule", json=GOOD)
    assert again.status_code == 200
    assert again.json() == first.json()
    other = await api.post("/schedule", json=_msg(mesaj="something else"))
    assert other.status_code == 409
    assert "id" in other.json()["detail"]
    assert await _count(api) == 1


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"alici": "abc"}, "alici", "phone number"),
        ({"alici": "+90"}, "alici", "phone number"),
        ({"alici": None}, "alici", "required"),
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA"),
        ({"tarih": "2026-02-30"}, "tarih", "not a real date"),
        ({"tarih": "next week"}, "tarih", "YYYY-MM-DD"),
        ({"saat": "25:00"}, "saat", "real time"),
        ({"saat": "9.30"}, "saat", "HH:MM"),
        ({"tarih": "2026-03-01", "saat": "11:58"}, "tarih", "in the past"),
        (
            {"tarih": "2026-03-08", "saat": "02:30", "timezone": "America/New_York"},
            "saat",
            "does not exist",
        ),
        ({"mesaj": ""}, "mesaj", "empty"),
        ({"mesaj": "   "}, "mesaj", "empty"),
        ({"mesaj": "x" * 4097}, "mesaj", "4096"),
        ({"mesaj": None}, "mesaj", "required"),
        ({"mesaj": "a\x00b"}, "mesaj", "NUL"),  # PostgreSQL cannot store it: never a 503
        ({"olusturmaTarihi": "x\x00"}, "olusturmaTarihi", "NUL"),
        (
            {"mesaj": None, "template": {"name": "t", "language": "tr", "parameters": ["\x00"]}},
            "template",
            "NUL",
        ),
        ({"id": "has space"}, "id", "characters"),
        ({"id": "abc\n"}, "id", "characters"),  # `$` alone matched before a final newline
        ({"id": "."}, "id", "addressable"),
        ({"id": ".."}, "id", "addressable"),
        ({"alici": 905551234567}, "alici", "string"),
    ],
)
async def test_bad_input_is_422_naming_field_and_rule_and_stores_nothing(
    api, changes, field, words
):
    response = await api.post(
        "/schedule", json=_msg(**changes) | {k: v for k, v in changes.items() if v is not None}
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errors"][0]["field"] == field
    assert words in body["detail"]
    assert body["detail"].startswith(field)
    assert await _count(api) == 0


@pytest.mark.parametrize("path", ["/schedule", "/schedule/batch"])
async def test_half_a_surrogate_pair_is_422_not_a_database_error(api, path):
    one = json.dumps(_msg(mesaj="x")).replace('"x"', '"\\ud83d alone"')
    raw = one if path == "/schedule" else f'{{"messages": [{one}]}}'
    response = await api.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (200, 422), response.text
    body = response.json()
    detail = body["detail"] if path == "/schedule" else body["results"][0]["error"]["detail"]
    assert detail.startswith("mesaj")
    assert "surrogate" in detail
    assert await _count(api) == 0


async def test_4096_characters_is_the_limit_not_over_it(api):
    assert (await api.post("/schedule", json=_msg(mesaj="x" * 4096))).status_code == 200


async def test_within_a_minute_in_the_past_is_due_now(api):
    response = await api.post("/schedule", json=_msg(tarih="2026-03-01", saat="11:59"))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"[]", b'"text"', b"null", b'{"alici": "+905551234567"', b"\xff\xfe"]
)
async def test_malformed_bodies_are_422_never_500(api, raw):
    response = await api.post(
        "/schedule", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    assert await _count(api) == 0


async def test_oversized_bodies_are_413(api):
    big = _msg(mesaj="x" * (70 * 1024))
    response = await api.post("/schedule", json=big)
    assert response.status_code == 413
    assert "body" in response.json()["detail"]
    batch = {"messages": [_msg(id=f"b{i}", mesaj="y" * 4000) for i in range(300)]}
    assert (await api.post("/schedule/batch", json=batch)).status_code == 413
    assert await _count(api) == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/schedule"),
        ("GET", "/schedule"),
        ("DELETE", "/schedule/x"),
        ("GET", "/status/x"),
        ("POST", "/schedule/batch"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
    ],
)
@pytest.mark.parametrize("key", [None, "wrong", "test-api-key-012345678"])
async def test_every_endpoint_but_health_needs_the_key(api, method, path, key):
    headers = {"X-API-Key": key} if key is not None else {}
    async with httpx.AsyncClient(base_url=str(api.base_url), headers=headers) as anonymous:
        response = await anonymous.request(method, path, json=GOOD if method == "POST" else None)
    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]
    assert "test-api-key" not in response.text
    assert await _count(api) == 0


async def test_health_is_open_with_the_status_only_and_reports_the_queue_with_the_key(api):
    await api.post("/schedule", json=GOOD)
    async with httpx.AsyncClient(base_url=str(api.base_url)) as anonymous:
        response = await anonymous.get("/health")
        wrong = await anonymous.get("/health", headers={"X-API-Key": "w" * 30})
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert wrong.json() == {"status": "ok", "database": "ok"}
    # The Flutter client sends its key to /health: it gets everything.
    full = await api.get("/health")
    assert full.status_code == 200
    body = full.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["queue"]["queued"] == 1
    assert body["version"]
    bearer = await anonymous_bearer(str(api.base_url))
    assert bearer["queue"]["queued"] == 1


async def anonymous_bearer(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/health", headers={"Authorization": f"Bearer {API_KEY}"})
    return dict(answer.json())


async def test_list_is_a_json_array_of_queued_messages_soonest_first(api):
    for i, saat in enumerate(["10:00", "09:00", "11:00"]):
        await api.post("/schedule", json=_msg(id=f"m{i}", saat=saat))
    await api.delete("/schedule/m2")
    response = await api.get("/schedule")
    assert response.status_code == 200
    assert [m["id"] for m in response.json()] == ["m1", "m0"]
    assert response.headers["X-Total-Count"] == "2"
    assert "Link" not in response.headers


async def test_list_pages_through_link_headers(api):
    ids = [f"m{i:02d}" for i in range(7)]
    batch = {"messages": [_msg(id=i, saat=f"10:{n:02d}") for n, i in enumerate(ids)]}
    assert (await api.post("/schedule/batch", json=batch)).json()["stored"] == 7
    seen: list[str] = []
    url: str | None = "/schedule?limit=3"
    while url:
        response = await api.get(url)
        assert response.headers["X-Total-Count"] == "7"
        seen += [m["id"] for m in response.json()]
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    assert seen == ids


async def test_list_filters_by_status(api):
    await api.post("/schedule", json=_msg(id="a"))
    await api.post("/schedule", json=_msg(id="b"))
    await api.delete("/schedule/a")
    cancelled = await api.get("/schedule", params={"status": "cancelled"})
    assert [m["id"] for m in cancelled.json()] == ["a"]
    both = await api.get("/schedule", params=[("status", "cancelled"), ("status", "queued")])
    assert {m["id"] for m in both.json()} == {"a", "b"}
    bad = await api.get("/schedule", params={"status": "lost"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "status.0"
    assert (await api.get("/schedule", params={"limit": 1001})).status_code == 422
    assert (await api.get("/schedule", params={"cursor": "garbage"})).status_code == 422


async def test_cancel_keeps_the_row_and_refuses_what_is_under_way(api):
    await api.post("/schedule", json=GOOD)
    response = await api.delete("/schedule/flutter-1")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert (await api.delete("/schedule/flutter-1")).status_code == 200  # harmless repeat
    status = (await api.get("/status/flutter-1")).json()
    assert status["status"] == "cancelled"
    assert status["timeline"]["cancelled"] is not None
    assert (await api.delete("/schedule/unknown")).status_code == 404
    await api.post("/schedule", json=_msg(id="busy", tarih="2026-03-01", saat="12:00"))
    await api.store.claim_due(START, 10, "w1", START + timedelta(minutes=1))
    refused = await api.delete("/schedule/busy")
    assert refused.status_code == 409
    assert "sending" in refused.json()["detail"]


async def test_status_is_the_seed_shape_plus_history(api):
    await api.post("/schedule", json=GOOD)
    response = await api.get("/status/flutter-1")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"]) == ("flutter-1", "queued")
    assert body["attempts"] == 0
    assert body["attempt_history"] == []
    assert body["last_error"] is None
    assert body["whatsapp_message_id"] is None
    assert body["timeline"]["queued"] is not None
    assert (await api.get("/status/nope")).status_code == 404


async def test_batch_stores_the_good_and_explains_each_refusal(api):
    await api.post("/schedule", json=GOOD)
    await api.post("/schedule", json=_msg(id="prior"))
    batch = {
        "messages": [
            _msg(id="ok-1"),
            _msg(id="bad-phone", alici="abc"),
            GOOD,  # repeat of a stored one: fine
            _msg(id="prior", mesaj="different"),  # reused id
            {"id": "missing-fields"},
            _msg(id="ok-2", saat="10:00"),
            _msg(id="ok-2", saat="11:00"),  # same id twice with different content
            "not an object",
        ]
    }
    response = await api.post("/schedule/batch", json=batch)
    assert response.status_code == 200
    body = response.json()
    assert schemas.BatchPublic.model_validate(body).model_dump(mode="json") == body
    assert (body["stored"], body["refused"]) == (3, 5)
    by_index = {r["index"]: r for r in body["results"]}
    assert by_index[0]["stored"]
    assert by_index[0]["created"]
    assert by_index[1]["error"]["errors"][0]["field"] == "alici"
    assert by_index[2]["stored"]
    assert not by_index[2]["created"]
    assert "already used" in by_index[3]["error"]["detail"]
    assert by_index[4]["error"]["errors"][0]["field"].startswith("messages[4].")
    assert by_index[5]["stored"]
    assert "twice" in by_index[6]["error"]["detail"]
    assert by_index[7]["error"]["errors"][0]["field"] == "messages[7]"
    assert by_index[7]["id"] is None
    assert await _count(api) == 4


async def test_batch_over_1000_is_refused_whole(api):
    batch = {"messages": [_msg(id=f"x{i}", mesaj="a") for i in range(1001)]}
    response = await api.post("/schedule/batch", json=batch)
    assert response.status_code == 422
    assert await _count(api) == 0


async def test_openapi_and_docs_are_served_with_the_key(api):
    schema = (await api.get("/openapi.json")).json()
    assert {"/schedule", "/schedule/{message_id}", "/status/{message_id}", "/health"} <= set(
        schema["paths"]
    )
    docs = await api.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert json.dumps(schema["info"]["title"])[1:-1] in docs.text


async def test_times_come_back_with_their_offset(api):
    body = (await api.post("/schedule", json=GOOD)).json()
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert datetime.fromisoformat(body["scheduled_at"]).astimezone(UTC).hour == 6
