"""Meta's webhook over real HTTP: handshake, signatures, receipts, replays, inbound."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import httpx

from tests.conftest import START
from tests.integration.conftest import APP_SECRET, VERIFY_TOKEN
from whatsapp_scheduler import store
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.whatsapp import webhooks

S = messages.MessageStatus


def _envelope(
    statuses: Iterable[dict[str, Any]] = (), inbound: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
    }
    if statuses:
        value["statuses"] = list(statuses)
    if inbound:
        value["messages"] = list(inbound)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": value}]}],
    }


def _status(wamid: str, status: str, seconds: float, **extra: Any) -> dict[str, Any]:
    ts = str(int((START + timedelta(seconds=seconds)).timestamp()))
    return {"id": wamid, "status": status, "timestamp": ts, "recipient_id": "905551234567", **extra}


async def _post(api: Any, payload: Any, secret: str = APP_SECRET) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "X-Hub-Signature-256": webhooks.sign(body, secret),
        "Content-Type": "application/json",
    }
    # Meta sends no API key. A deadline, not a speed: beside a CPU hog, applying 1,000
    # statuses took longer than httpx's default 5 s.
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=60) as meta:
        return await meta.post("/webhook", content=body, headers=headers)


async def _sent_message(api: Any, wamid: str = "wamid.HBgL1") -> None:
    await api.post(
        "/schedule",
        json={
            "id": "m1",
            "alici": "+905551234567",
            "tarih": "2026-03-01",
            "saat": "12:00",
            "mesaj": "hi",
        },
    )
    await api.store.claim_due(START, 1, "w1", START + timedelta(minutes=1))
    outcome = store.Outcome(
        message_id="m1",
        worker="w1",
        status=S.SENT,
        finished_at=START,
        attempt=messages.AttemptOutcome.SENT,
        wamid=wamid,
    )
    assert await api.store.record([outcome]) == 1


async def test_handshake_echoes_the_challenge_only_for_the_right_token(api):
    async with httpx.AsyncClient(base_url=str(api.base_url)) as meta:
        good = await meta.get(
            "/webhook",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "1158201444",
            },
        )
        assert (good.status_code, good.text) == (200, "1158201444")
        for params in (
            {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
            {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
            {},
        ):
            assert (await meta.get("/webhook", params=params)).status_code == 403


async def test_receipts_take_a_message_to_read_and_show_in_status(api):
    await _sent_message(api)
    payload = _envelope(
        [
            _status("wamid.HBgL1", "sent", 1, biz_opaque_callback_data="m1"),
            _status("wamid.HBgL1", "delivered", 2),
            _status("wamid.HBgL1", "read", 3),
        ]
    )
    response = await _post(api, payload)
    assert response.status_code == 200
    assert response.json()["applied"] == 2
    status = (await api.get("/status/m1")).json()
    assert status["status"] == "read"
    assert status["whatsapp_message_id"] == "wamid.HBgL1"
    assert status["timeline"]["delivered"] is not None
    assert status["timeline"]["read"] is not None


async def test_a_forged_signature_is_refused_and_changes_nothing(api):
    await _sent_message(api)
    payload = _envelope([_status("wamid.HBgL1", "read", 3)])
    response = await _post(api, payload, secret="not-the-app-secret")
    assert response.status_code == 403
    async with httpx.AsyncClient(base_url=str(api.base_url)) as meta:
        assert (await meta.post("/webhook", json=payload)).status_code == 403
    assert (await api.get("/status/m1")).json()["status"] == "sent"


async def test_a_replayed_batch_is_harmless_and_out_of_order_never_goes_back(api):
    await _sent_message(api)
    read = _envelope([_status("wamid.HBgL1", "read", 3)])
    assert (await _post(api, read)).json()["applied"] == 1
    assert (await _post(api, read)).json()["duplicate"] == 1
    late = await _post(api, _envelope([_status("wamid.HBgL1", "delivered", 2)]))
    assert late.json()["stale"] == 1
    assert (await api.get("/status/m1")).json()["status"] == "read"


async def test_a_message_that_fails_later_ends_failed_with_metas_code(api):
    await _sent_message(api)
    failed = _status(
        "wamid.HBgL1",
        "failed",
        4,
        errors=[
            {"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}
        ],
    )
    assert (await _post(api, _envelope([failed]))).status_code == 200
    status = (await api.get("/status/m1")).json()
    assert status["status"] == "failed"
    assert status["last_error"] == {"code": 131047, "message": "Re-engagement message"}


async def test_unknown_ids_are_kept_not_errors_and_inbound_opens_the_window(api):
    inbound = {
        "from": "905551234567",
        "id": "wamid.IN1",
        "timestamp": str(int(START.timestamp())),
        "type": "text",
        "text": {"body": "merhaba"},
    }
    payload = _envelope([_status("wamid.UNKNOWN", "delivered", 1)], [inbound])
    response = await _post(api, payload)
    assert response.status_code == 200
    assert (response.json()["unmatched"], response.json()["inbound"]) == (1, 1)
    # the window is with the number written to (the change's metadata.phone_number_id) only
    assert await api.store.last_inbound("905551234567", ["106540352242922"]) == START
    assert await api.store.last_inbound("905551234567", ["106540352242923"]) is None


async def test_a_signed_body_that_is_not_json_is_400(api):
    body = b"not json"
    headers = {"X-Hub-Signature-256": webhooks.sign(body, APP_SECRET)}
    async with httpx.AsyncClient(base_url=str(api.base_url)) as meta:
        assert (await meta.post("/webhook", content=body, headers=headers)).status_code == 400


async def test_a_batch_of_1000_statuses_is_applied(api):
    payload = _envelope([_status(f"wamid.X{i}", "delivered", 1) for i in range(1000)])
    response = await _post(api, payload)
    assert response.status_code == 200
    assert response.json()["unmatched"] == 1000


async def test_status_webhooks_are_answered_before_the_routing(make_settings, clock, sqlite_url):
    """`POST /webhook` is answered by `FastPath`, without FastAPI's routing and dependencies:
    with the runtime dependency of every route broken, a signed webhook is still applied (and
    has the security headers), while the GET handshake, a route, fails."""
    from tests.integration.conftest import ServedApp
    from whatsapp_scheduler.store import sql
    from whatsapp_scheduler.web import app as app_mod
    from whatsapp_scheduler.web import deps

    settings = make_settings(
        database_url=sqlite_url, app_secret=APP_SECRET, webhook_verify_token=VERIFY_TOKEN
    )
    message_store = sql.SqlMessageStore.from_url(sqlite_url)
    app = app_mod.create_app(settings, store=message_store, clock=clock)

    async def routed() -> None:
        raise RuntimeError("went through the routing")

    app.dependency_overrides[deps.get_runtime] = routed
    body = json.dumps(_envelope([_status("wamid.X", "delivered", 1)])).encode()
    signed = {"X-Hub-Signature-256": webhooks.sign(body, APP_SECRET)}
    try:
        async with ServedApp(app) as served, httpx.AsyncClient(base_url=served.url) as meta:
            answer = await meta.post("/webhook", content=body, headers=signed)
            forged = await meta.post("/webhook", content=body + b" ", headers=signed)
            handshake = await meta.get(
                "/webhook",
                params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                        "hub.challenge": "1"},
            )  # fmt: skip
    finally:
        await message_store.close()
    assert (answer.status_code, answer.json()["unmatched"]) == (200, 1)
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert forged.status_code == 403
    assert handshake.status_code == 500
