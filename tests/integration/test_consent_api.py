"""Consent over real HTTP on a real SQLite file (docs/consent.md): keywords, Meta's marketing
stop, 131050 and 131026 from the webhook; /contacts; and what an opt-out does to messages."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.conftest import API_KEY, START
from tests.integration.conftest import APP_SECRET, VERIFY_TOKEN, ServedApp
from tests.integration.test_api_keys import as_key, make_key
from whatsapp_scheduler import testing
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.store import sql
from whatsapp_scheduler.whatsapp import webhooks

S = messages.MessageStatus
NUMBER = "106540352242922"  # PHONE_NUMBER_ID: the default sender's
PHONE = "+905551234567"
WA_ID = PHONE[1:]


class Catalogue:
    """A stand-in for the template catalogue (another module's): categories by name."""

    def __init__(self, categories: Mapping[str, str]) -> None:
        self.found = dict(categories)

    async def categories(self, sender: str, names: Any) -> Mapping[str, str]:
        return {n: self.found[n] for n in names if n in self.found}


@pytest.fixture
async def api(
    make_settings: Any, clock: testing.FrozenClock, sqlite_url: str
) -> AsyncIterator[Any]:
    from whatsapp_scheduler.web import app as app_mod

    message_store = sql.SqlMessageStore.from_url(sqlite_url)
    settings = make_settings(
        database_url=sqlite_url,
        app_secret=APP_SECRET,
        webhook_verify_token=VERIFY_TOKEN,
        phone_number_id=NUMBER,
        access_token="token-of-the-default-number",
        secret_key=Fernet.generate_key().decode(),
    )
    app = app_mod.create_app(settings, store=message_store, clock=clock)
    async with (
        ServedApp(app) as served,
        httpx.AsyncClient(
            base_url=served.url, headers={"X-API-Key": API_KEY}, timeout=10
        ) as client,
    ):
        client.store = message_store  # type: ignore[attr-defined]
        client.app = app  # type: ignore[attr-defined]
        yield client
    await message_store.close()


def _service(api: Any) -> Any:
    return api.app.state.runtime.service


def _value(number: str | None = NUMBER, **lists: list[dict[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {"messaging_product": "whatsapp", **lists}
    if number is not None:
        value["metadata"] = {"display_phone_number": "15550783881", "phone_number_id": number}
    field = "user_preferences" if "user_preferences" in lists else "messages"
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": field, "value": value}]}],
    }


def _ts(seconds: float = 0) -> str:
    return str(int((START + timedelta(seconds=seconds)).timestamp()))


def _text(body: str, wa_id: str = WA_ID, seconds: float = 0) -> dict[str, Any]:
    return {
        "from": wa_id,
        "id": f"wamid.in.{body.encode().hex()}.{seconds}",
        "timestamp": _ts(seconds),
        "type": "text",
        "text": {"body": body},
    }


async def _webhook(api: Any, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = {"X-Hub-Signature-256": webhooks.sign(body, APP_SECRET)}
    async with httpx.AsyncClient(base_url=str(api.base_url)) as meta:
        response = await meta.post("/webhook", content=body, headers=headers)
    assert response.status_code == 200, response.text


def _message(i: str, **extra: Any) -> dict[str, Any]:
    return {"id": i, "alici": PHONE, "tarih": "2026-03-02", "saat": "12:00", "mesaj": "hi", **extra}


def _template(i: str, name: str) -> dict[str, Any]:
    body = _message(i)
    del body["mesaj"]
    body["template"] = {"name": name, "language": {"code": "tr"}}
    return body


async def _status_of(api: Any, message_id: str) -> tuple[S, str | None]:
    message = await api.store.get(message_id)
    return message.status, message.status_reason


async def test_a_keyword_opts_out_cancels_queued_refuses_new_and_the_opt_in_undoes_it(api):
    assert (await api.post("/schedule", json=_message("q1"))).status_code == 200
    assert (await api.post("/schedule", json=_template("q2", "any"))).status_code == 200
    await _webhook(api, _value(messages=[_text("  İptal ")]))

    assert await _status_of(api, "q1") == (S.CANCELLED, "opted_out")
    assert await _status_of(api, "q2") == (S.CANCELLED, "opted_out")
    contact = (await api.get(f"/contacts/{PHONE}")).json()
    assert contact["consent"]["all"] == {
        "opted_out": True,
        "since": "2026-03-01T09:00:00Z",
        "source": "keyword",
    }
    assert contact["window_open"] is True  # their message opened it
    assert contact["last_inbound_at"] == "2026-03-01T09:00:00Z"
    (event,) = contact["history"]
    assert event["change"] == "opted_out"
    assert event["scope"] == "all"
    assert event["cancelled"] == 2
    assert "İptal" in event["detail"]

    refused = await api.post("/schedule", json=_message("q3"))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "alici"
    assert "opted out of all messages at 2026-03-01T09:00:00Z (keyword" in refused.text
    assert await api.store.get("q3") is None
    batch = await api.post("/schedule/batch", json={"messages": [_message("q4")]})
    assert batch.json()["results"][0]["error"]["errors"][0]["field"] == "alici"

    await _webhook(api, _value(messages=[_text("BAŞLA", seconds=60)]))
    assert (await api.post("/schedule", json=_message("q5"))).status_code == 200
    history = (await api.get(f"/contacts/{PHONE}")).json()["history"]
    assert [(e["change"], e["source"]) for e in history] == [
        ("opted_in", "keyword"),
        ("opted_out", "keyword"),
    ]


async def test_a_text_that_only_contains_a_keyword_changes_nothing(api):
    assert (await api.post("/schedule", json=_message("q1"))).status_code == 200
    await _webhook(api, _value(messages=[_text("lütfen durdurun, STOP")]))
    assert await _status_of(api, "q1") == (S.QUEUED, None)
    assert (await api.get(f"/contacts/{PHONE}")).json()["history"] == []


async def test_marketing_stop_from_meta_stops_marketing_templates_only(api):
    _service(api).categories = Catalogue({"promo": "MARKETING", "receipt": "UTILITY"})
    for body in (_message("text"), _template("promo1", "promo"), _template("util1", "receipt")):
        assert (await api.post("/schedule", json=body)).status_code == 200
    assert (await api.store.get("promo1")).category == "MARKETING"
    preference = {
        "wa_id": WA_ID,
        "detail": "User requested to stop marketing messages",
        "category": "marketing_messages",
        "value": "stop",
        "timestamp": int(START.timestamp()),
    }
    await _webhook(api, _value(user_preferences=[preference]))

    assert await _status_of(api, "promo1") == (S.CANCELLED, "opted_out")
    assert await _status_of(api, "util1") == (S.QUEUED, None)
    assert await _status_of(api, "text") == (S.QUEUED, None)
    refused = await api.post("/schedule", json=_template("promo2", "promo"))
    assert refused.status_code == 422
    assert "opted out of marketing messages" in refused.text
    assert "user_preferences" in refused.text
    assert (await api.post("/schedule", json=_template("util2", "receipt"))).status_code == 200
    assert (await api.post("/schedule", json=_message("text2"))).status_code == 200
    contact = (await api.get(f"/contacts/{PHONE}")).json()
    assert contact["consent"]["all"]["opted_out"] is False
    assert contact["consent"]["marketing"]["source"] == "user_preferences"

    await _webhook(api, _value(user_preferences=[{**preference, "value": "resume"}]))
    assert (await api.post("/schedule", json=_template("promo3", "promo"))).status_code == 200


async def test_preferences_of_unknown_numbers_and_contacts_are_stored_not_errors(api):
    preference = {
        "wa_id": "447911123456",
        "category": "marketing_messages",
        "value": "stop",
        "timestamp": int(START.timestamp()),
    }
    await _webhook(api, _value(number="999999999", user_preferences=[preference]))
    await _webhook(api, _value(user_preferences=[{**preference, "value": "sometimes"}]))
    contact = (await api.get("/contacts/+447911123456")).json()
    assert contact["consent"]["marketing"]["opted_out"] is False  # another number's
    rows = await api.store.consent_history("447911123456", ["999999999"], 10)
    assert [r.source for r in rows] == ["user_preferences"]


async def test_meta_errors_131050_and_131026_from_status_webhooks(api):
    failed = {
        "id": "wamid.1",
        "status": "failed",
        "timestamp": _ts(),
        "recipient_id": WA_ID,
        "errors": [{"code": 131050, "title": "User stopped marketing"}],
    }
    await _webhook(api, _value(statuses=[failed]))
    contact = (await api.get(f"/contacts/{PHONE}")).json()
    assert contact["consent"]["marketing"]["source"] == "error_131050"

    gone = {**failed, "id": "wamid.2", "recipient_id": "905551112233"}
    gone["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
    await _webhook(api, _value(statuses=[gone]))
    answer = await api.post("/schedule", json={**_message("w1"), "alici": "+905551112233"})
    assert answer.status_code == 200  # a warning, not a refusal
    assert any(w.startswith("undeliverable: Meta reported") for w in answer.json()["warnings"])
    await _webhook(api, _value(messages=[_text("merhaba", wa_id="905551112233", seconds=30)]))
    again = await api.post("/schedule", json={**_message("w2"), "alici": "+905551112233"})
    assert not any(w.startswith("undeliverable") for w in again.json()["warnings"])


async def test_put_consent_records_and_cancels_with_the_rules_of_the_api(api):
    assert (await api.post("/schedule", json=_message("q1"))).status_code == 200
    unknown = await api.put(f"/contacts/{PHONE}/consent", json={"consent": "opted_out", "why": 1})
    assert unknown.status_code == 422
    assert "why" in unknown.text
    bad_value = await api.put(f"/contacts/{PHONE}/consent", json={"consent": "maybe"})
    assert bad_value.status_code == 422
    assert "consent" in bad_value.text
    bad_phone = await api.put("/contacts/12/consent", json={"consent": "opted_out"})
    assert bad_phone.status_code == 422
    assert "phone" in bad_phone.text
    no_sender = await api.put(
        f"/contacts/{PHONE}/consent", json={"consent": "opted_out", "gonderen": "nobody"}
    )
    assert no_sender.status_code == 422
    assert "gonderen" in no_sender.text
    assert await _status_of(api, "q1") == (S.QUEUED, None)

    reader = await make_key(api, "board", "read")
    async with as_key(api, reader) as client:
        denied = await client.put(f"/contacts/{PHONE}/consent", json={"consent": "opted_out"})
        assert denied.status_code == 403
        assert (await client.get(f"/contacts/{PHONE}")).status_code == 200

    saved = await api.put(
        f"/contacts/{PHONE}/consent", json={"consent": "opted_out", "note": "called us"}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["cancelled"] == 1
    assert saved.json()["consent"]["all"]["source"] == "api"
    assert saved.json()["history"][0]["detail"] == "API_KEY: called us"
    assert await _status_of(api, "q1") == (S.CANCELLED, "opted_out")
    status = (await api.get("/status/q1")).json()
    assert status["status"] == "cancelled"
    assert status["status_reason"] == "opted_out"

    back = await api.put(f"/contacts/{PHONE}/consent", json={"consent": "opted_in"})
    assert back.json()["consent"]["all"]["opted_out"] is False
    assert (await api.post("/schedule", json=_message("q2"))).status_code == 200


async def test_keys_limited_to_a_sender_see_only_its_contacts(api):
    added = await api.post(
        "/senders",
        json={"name": "ankara", "phone_number_id": "200000000000001", "access_token": "t-ankara"},
    )
    assert added.status_code == 201, added.text
    limited = await make_key(api, "ankara-app", "write", ["ankara"])
    async with as_key(api, limited) as client:
        other = await client.get(f"/contacts/{PHONE}")
        assert other.status_code == 422
        assert "gonderen" in other.text
        own = await client.put(
            f"/contacts/{PHONE}/consent", json={"consent": "opted_out", "gonderen": "ankara"}
        )
        assert own.status_code == 200, own.text
        assert own.json()["gonderen"] == "ankara"
    # Ankara's opt-out is not the default sender's: that number may still write to them.
    default = (await api.get(f"/contacts/{PHONE}")).json()
    assert default["consent"]["all"]["opted_out"] is False
    assert (await api.post("/schedule", json=_message("d1"))).status_code == 200
    listed = (await api.get("/contacts", params={"opted_out": "true", "gonderen": "ankara"})).json()
    assert [c["alici"] for c in listed] == [PHONE]


async def test_contacts_list_filters_and_pages(api):
    numbers = [f"90555123{i:04d}" for i in range(5)]
    await _webhook(api, _value(messages=[_text("merhaba", wa_id=n) for n in numbers]))
    await _webhook(api, _value(messages=[_text("STOP", wa_id=numbers[1], seconds=5)]))
    await api.put(
        "/contacts/+447911123456/consent", json={"consent": "opted_out", "scope": "marketing"}
    )

    out = (await api.get("/contacts", params={"opted_out": "true"})).json()
    assert [c["alici"] for c in out] == ["+447911123456", "+" + numbers[1]]
    rest = (await api.get("/contacts", params={"opted_out": "false"})).json()
    assert [c["alici"] for c in rest] == ["+" + n for n in numbers if n != numbers[1]]

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await api.get("/contacts", params=params)
        seen += [c["alici"] for c in page.json()]
        cursor = page.headers.get("X-Next-Cursor")
        if cursor is None:
            break
    assert seen == sorted(["+447911123456"] + ["+" + n for n in numbers])
    assert (await api.get("/contacts", params={"cursor": "x'"})).status_code == 422
    assert (await api.get("/contacts", params={"opted_out": "perhaps"})).status_code == 422
