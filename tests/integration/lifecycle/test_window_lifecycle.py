"""End to end over loopback HTTP: API -> store -> dispatcher -> stand-in -> signed webhooks
-> /webhook -> GET /status, and WINDOW_POLICY at schedule time and at send time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.integration.lifecycle.conftest import OffsetClock, due_now

PHONE = "+905551230001"
WA_ID = "905551230001"
LATER = OffsetClock(timedelta(hours=25))  # a dispatcher sending after the window closed
FALLBACK = {"name": "appointment_reminder", "language": "tr", "parameters": ["Ada"]}


async def _open_window(env) -> None:
    await env.standin.inbound(WA_ID, "merhaba")
    await env.wait_contact(WA_ID)


async def test_sent_delivered_read_seen_in_status(live):
    async with live() as env:
        await _open_window(env)
        answer = await env.client.post(
            "/schedule", json={"id": "life-1", "alici": PHONE, "mesaj": "hi", **due_now()}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["warnings"] == []
        await env.dispatch()
        body = await env.wait_status("life-1", "read")
        timeline = body["timeline"]
        assert all(timeline[s] for s in ("sent", "delivered", "read"))
        assert body["whatsapp_message_id"].startswith("wamid.")
        assert body["last_error"] is None
        assert body["sent_as"] == "text"
        assert [a["sent_as"] for a in body["attempt_history"]] == ["text"]


async def test_failed_later_by_webhook_keeps_metas_code(live):
    async with live(window_check="async") as env:
        answer = await env.client.post(
            "/schedule", json={"id": "late-fail", "alici": PHONE, "mesaj": "hi", **due_now()}
        )
        assert answer.status_code == 200
        (warning,) = answer.json()["warnings"]
        assert warning.startswith("window_closed: ")
        await env.dispatch()
        body = await env.wait_status("late-fail", "failed")
        assert body["last_error"]["code"] == 131047
        assert body["attempts"] == 1
        assert len(env.standin.sends_for("late-fail")) == 1


async def test_fail_policy_refuses_until_the_contact_writes(live):
    async with live(window_policy="fail") as env:
        request = {"id": "f1", "alici": PHONE, "mesaj": "hi", **due_now()}
        refused = await env.client.post("/schedule", json=request)
        assert refused.status_code == 422
        detail = refused.json()["detail"]
        assert detail.startswith("mesaj: the recipient's 24-hour window will be closed")
        assert "send a template" in detail
        assert refused.json()["errors"][0]["field"] == "mesaj"
        assert await env.store.get("f1") is None
        template = {"id": "t1", "alici": PHONE, "template": FALLBACK, **due_now()}
        assert (await env.client.post("/schedule", json=template)).status_code == 200
        await _open_window(env)
        accepted = await env.client.post("/schedule", json=request)
        assert accepted.status_code == 200
        assert accepted.json()["warnings"] == []


async def test_fail_policy_at_send_time_fails_without_asking_meta(live):
    async with live(window_policy="fail") as env:
        await _open_window(env)
        request = {"id": "f2", "alici": PHONE, "mesaj": "hi", **due_now()}
        assert (await env.client.post("/schedule", json=request)).status_code == 200
        await env.dispatch(clock=LATER)
        body = (await env.client.get("/status/f2")).json()
        assert body["status"] == "failed"
        assert body["last_error"]["code"] is None
        assert body["last_error"]["message"].startswith("window closed: 24-hour window closed")
        assert body["attempt_history"][0]["outcome"] == "failed"
        assert body["attempt_history"][0]["sent_as"] is None  # nothing was asked of Meta
        assert body["sent_as"] is None
        assert env.standin.sends_for("f2") == []


async def test_template_policy_without_fallback_is_refused_and_with_one_warned(live):
    async with live(window_policy="template") as env:
        bare = {"id": "p1", "alici": PHONE, "mesaj": "hi", **due_now()}
        assert (await env.client.post("/schedule", json=bare)).status_code == 422
        answer = await env.client.post("/schedule", json={**bare, "fallback_template": FALLBACK})
        assert answer.status_code == 200, answer.text
        unchecked, warning = answer.json()["warnings"]
        assert "fallback template appointment_reminder (tr) will be sent" in warning
        assert unchecked.startswith("template_unchecked: ")  # no WABA_ID: no catalogue
        assert answer.json()["fallback_template"]["language"] == {"code": "tr"}
        await env.dispatch()
        status = await env.wait_status("p1", "read")
        assert status["sent_as"] == "fallback_template"  # the user sees what went out
        assert status["attempt_history"][0]["sent_as"] == "fallback_template"
        (sent,) = env.standin.sends_for("p1")
        assert sent.body["type"] == "template"
        assert "text" not in sent.body
        assert sent.body["template"] == {
            "name": "appointment_reminder",
            "language": {"code": "tr"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}],
        }


async def test_template_policy_at_send_time_sends_the_fallback(live):
    async with live(window_policy="template", window_check="async") as env:
        await _open_window(env)
        request = {"id": "p2", "alici": PHONE, "mesaj": "hi", "fallback_template": FALLBACK}
        answer = await env.client.post("/schedule", json={**request, **due_now()})
        assert _window_warnings(answer.json()) == []  # open now
        await env.dispatch(clock=LATER)
        (sent,) = env.standin.sends_for("p2")
        assert sent.body["type"] == "template"
        body = (await env.client.get("/status/p2")).json()
        assert body["status"] in {"sent", "delivered", "read"}
        assert body["sent_as"] == "fallback_template"


async def test_send_policy_at_send_time_sends_the_text_anyway(live):
    async with live(window_policy="send") as env:
        await _open_window(env)
        request = {"id": "s1", "alici": PHONE, "mesaj": "hi", **due_now()}
        assert _window_warnings((await env.client.post("/schedule", json=request)).json()) == []
        await env.dispatch(clock=LATER)
        (sent,) = env.standin.sends_for("s1")
        assert sent.body["type"] == "text"
        assert (await env.client.get("/status/s1")).json()["sent_as"] == "text"


async def test_batch_items_carry_warnings_and_refusals(live):
    async with live(window_policy="fail") as env:
        await _open_window(env)
        other = "+905551230002"
        answer = await env.client.post(
            "/schedule/batch",
            json={
                "messages": [
                    {"id": "b1", "alici": PHONE, "mesaj": "open", **due_now()},
                    {"id": "b2", "alici": other, "mesaj": "closed", **due_now()},
                    {"id": "b3", "alici": other, "template": FALLBACK, **due_now()},
                ]
            },
        )
        body = answer.json()
        assert (body["stored"], body["refused"]) == (2, 1)
        results = body["results"]
        assert results[0]["warnings"] == []
        assert results[1]["error"]["detail"].startswith("mesaj: the recipient's 24-hour window")
        assert results[2]["stored"] is True
    async with live(window_policy="send") as env:
        answer = await env.client.post(
            "/schedule/batch",
            json={"messages": [{"id": "b4", "alici": PHONE, "mesaj": "x", **due_now()}]},
        )
        (item,) = answer.json()["results"]
        assert item["stored"] is True
        assert item["warnings"][0].startswith("window_closed: ")


def _window_warnings(body: dict[str, Any]) -> list[str]:
    """The answer's warnings but the fallback template's "could not be checked" (no WABA_ID)."""
    return [w for w in body["warnings"] if not w.startswith("template_unchecked: ")]
