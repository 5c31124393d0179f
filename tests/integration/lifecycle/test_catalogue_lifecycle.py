"""Meta's template catalogue end to end over loopback HTTP: POST /templates/sync pages through
the stand-in's GET message_templates, GET /templates answers from the table, POST /schedule and
the batch refuse a template that does not fit (422 naming the field), accept a PAUSED one with
a warning, and Meta's template webhooks change the catalogue at once."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from tests.integration.lifecycle.conftest import APP_SECRET, due_now
from whatsapp_scheduler import bootstrap
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.dispatch import dispatcher as dispatcher_mod
from whatsapp_scheduler.sandbox import catalogue
from whatsapp_scheduler.whatsapp import webhooks

PHONE = "+905551230009"
WABA = "102290129340398"  # the stand-in's (StandInConfig.waba_id)


def _request(message_id: str, template: dict[str, Any]) -> dict[str, Any]:
    return {"id": message_id, "alici": PHONE, "template": template, **due_now()}


async def _synced(env: Any) -> list[dict[str, Any]]:
    answer = await env.client.post("/templates/sync")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_sync_pages_through_meta_and_lists_from_the_table(live):
    async with live(waba_id=WABA) as env:
        for i in range(300):  # more than one page of the client's (250 a page): next is followed
            env.standin.add_template(
                {
                    "name": f"extra_{i:03d}",
                    "language": "tr",
                    "status": "APPROVED",
                    "category": "UTILITY",
                    "components": [{"type": "BODY", "text": "x"}],
                }
            )
        [result] = await _synced(env)
        total = len(catalogue.seeded()) + 300
        assert result == {
            "waba_id": WABA,
            "senders": ["default"],
            "templates": total,
            "error": None,
        }
        listed = (await env.client.get("/templates")).json()
        assert len(listed) == total
        one = (await env.client.get("/templates/randevu_hatirlatma")).json()
        assert [(t["language"], t["body_parameters"]) for t in one] == [
            ("en_US", ["1", "2"]),
            ("tr", ["1", "2"]),
        ]
        named = (await env.client.get("/templates", params={"name": "siparis_durumu"})).json()
        assert named[0]["parameter_format"] == "NAMED"
        assert named[0]["body_parameters"] == ["customer", "order_id"]
        paused = (await env.client.get("/templates", params={"status": "paused"})).json()
        assert [t["name"] for t in paused] == ["eski_kampanya"]
        marketing = (await env.client.get("/templates", params={"category": "MARKETING"})).json()
        assert {t["name"] for t in marketing} == {
            "kampanya_duyurusu",
            "eski_kampanya",
            "kapanan_kampanya",
        }
        missing = await env.client.get("/templates/no_such_template")
        assert missing.status_code == 404
        assert "no synced template named 'no_such_template'" in missing.json()["detail"]


async def test_a_template_that_does_not_fit_is_refused_when_scheduled(live):
    async with live(waba_id=WABA) as env:
        await _synced(env)
        refusals: list[tuple[dict[str, Any], str, str]] = [
            (
                {"name": "randevu_hatirlatma", "language": "tr", "parameters": ["Ayşe"]},
                "template.parameters",
                "'randevu_hatirlatma' (tr) takes 2 body parameters ({{1}}, {{2}}); got 1",
            ),
            (
                {"name": "randevu_hatirlatma", "language": "de", "parameters": ["a", "b"]},
                "template.language",
                "'randevu_hatirlatma' has no 'de' translation (it has: en_US, tr)",
            ),
            (
                {"name": "randevu_hatirlatmasi", "language": "tr"},
                "template.name",
                "no template 'randevu_hatirlatmasi' in this WhatsApp Business Account",
            ),
            (
                {"name": "kapanan_kampanya", "language": "tr"},
                "template.name",
                "'kapanan_kampanya' (tr) is DISABLED; only APPROVED templates can be sent",
            ),
            (
                {"name": "kampanya_duyurusu", "language": "tr", "parameters": ["Bu hafta"]},
                "template.components",
                "'kampanya_duyurusu' (tr) has a IMAGE header",
            ),
            (
                {
                    "name": "siparis_durumu",
                    "language": "tr",
                    "components": [
                        {
                            "type": "body",
                            "parameters": [
                                {"type": "text", "parameter_name": "customer", "text": "Ayşe"}
                            ],
                        }
                    ],
                },
                "template.parameters",
                "missing order_id",
            ),
        ]
        for index, (template, field, rule) in enumerate(refusals):
            answer = await env.client.post("/schedule", json=_request(f"bad-{index}", template))
            assert answer.status_code == 422, (template, answer.text)
            [error] = answer.json()["errors"]
            assert error["field"] == field
            assert rule in error["rule"], error["rule"]
            assert await env.store.get(f"bad-{index}") is None, "nothing stored"
        batch = await env.client.post(
            "/schedule/batch",
            json={
                "messages": [
                    _request(
                        "ok-1",
                        {
                            "name": "randevu_hatirlatma",
                            "language": "tr",
                            "parameters": ["Ayşe", "10:00"],
                        },
                    ),
                    _request("bad-b", refusals[0][0]),
                ]
            },
        )
        assert batch.status_code in (200, 207), batch.text
        results = {r["id"]: r for r in batch.json()["results"]}
        assert results["ok-1"]["warnings"] == []
        assert "takes 2 body parameters" in json.dumps(results["bad-b"])
        assert await env.store.get("bad-b") is None


async def test_paused_is_accepted_with_a_warning_and_webhooks_update_at_once(live):
    async with live(waba_id=WABA) as env:
        await _synced(env)
        paused = {"name": "eski_kampanya", "language": "tr", "parameters": ["son gün"]}
        answer = await env.client.post("/schedule", json=_request("p-1", paused))
        assert answer.status_code == 200, answer.text
        [warning] = answer.json()["warnings"]
        assert warning.startswith("template_paused: template 'eski_kampanya' (tr) is PAUSED")
        # Meta pauses another one: the stand-in posts message_template_status_update
        reminder = {"name": "randevu_hatirlatma", "language": "tr", "parameters": ["a", "b"]}
        assert (await env.client.post("/schedule", json=_request("r-1", reminder))).json()[
            "warnings"
        ] == []
        env.standin.set_template_status("randevu_hatirlatma", "tr", "PAUSED", reason="LOW_QUALITY")
        env.standin.set_template_category("randevu_hatirlatma", "tr", "MARKETING")
        env.standin.set_template_quality("randevu_hatirlatma", "tr", "RED")
        deadline = time.monotonic() + 30  # only against a hang
        while True:
            [shown] = (
                await env.client.get("/templates/randevu_hatirlatma", params={"language": "tr"})
            ).json()
            if (shown["status"], shown["category"], shown["quality"]) == (
                "PAUSED",
                "MARKETING",
                "RED",
            ):
                break
            assert time.monotonic() < deadline, shown
            await asyncio.sleep(0.05)
        answer = await env.client.post("/schedule", json=_request("r-2", reminder))
        assert answer.json()["warnings"][0].startswith("template_paused: "), "no wait for a sync"


async def test_without_a_catalogue_only_the_shape_is_checked(live):
    async with live() as env:  # no WABA_ID
        answer = await env.client.post(
            "/schedule", json=_request("u-1", {"name": "anything_at_all", "language": "tr"})
        )
        assert answer.status_code == 200
        assert answer.json()["warnings"] == [
            "template_unchecked: template could not be checked (sender 'default' has no WABA "
            "id); 'anything_at_all' (tr) is checked by Meta when it is sent"
        ]
    async with live(waba_id=WABA) as env:  # a WABA never synced
        answer = await env.client.post(
            "/schedule", json=_request("u-2", {"name": "anything_at_all", "language": "tr"})
        )
        assert "were never synced" in answer.json()["warnings"][0]


async def test_a_template_webhook_for_an_unknown_template_is_harmless(live):
    async with live(waba_id=WABA) as env:
        body = json.dumps(
            {
                "object": "whatsapp_business_account",
                "entry": [
                    {
                        "id": WABA,
                        "changes": [
                            {
                                "field": "message_template_status_update",
                                "value": {
                                    "event": "APPROVED",
                                    "message_template_name": "brand_new",
                                    "message_template_language": "tr",
                                },
                            }
                        ],
                    }
                ],
            }
        ).encode()
        answer = await env.client.post(
            "/webhook",
            content=body,
            headers={"X-Hub-Signature-256": webhooks.sign(body, APP_SECRET)},
        )
        assert answer.status_code == 200
        # a template the table lacks: the WABA is synced in the background
        deadline = time.monotonic() + 30
        while not (await env.client.get("/templates")).json():
            assert time.monotonic() < deadline, "no sync after the webhook"
            await asyncio.sleep(0.05)


async def test_a_marketing_opt_out_refuses_the_catalogues_marketing_templates_only(live):
    """The catalogue gives each template its category at schedule time (consent's
    `CategoryLookup`): after Meta's marketing stop, a MARKETING template is refused naming
    `alici`, a UTILITY one still goes."""
    async with live(waba_id=WABA) as env:
        env.standin.add_template(
            {"name": "hafta_sonu_indirimi", "language": "tr", "status": "APPROVED",
             "category": "MARKETING", "components": [{"type": "BODY", "text": "İndirim!"}]}
        )  # fmt: skip
        await _synced(env)
        stop = await env.client.put(
            f"/contacts/{PHONE}/consent", json={"consent": "opted_out", "scope": "marketing"}
        )
        assert stop.status_code == 200, stop.text
        promo = {"name": "hafta_sonu_indirimi", "language": "tr"}
        refused = await env.client.post("/schedule", json=_request("promo-1", promo))
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"].startswith("alici:")
        reminder = {"name": "randevu_hatirlatma", "language": "tr", "parameters": ["a", "b"]}
        accepted = await env.client.post("/schedule", json=_request("util-1", reminder))
        assert accepted.status_code == 200, accepted.text


async def _until_status(env: Any, name: str, language: str, status: str) -> None:
    deadline = time.monotonic() + 30  # only against a hang
    while True:
        listed = (await env.client.get(f"/templates/{name}", params={"language": language})).json()
        if listed and listed[0]["status"] == status:
            return
        assert time.monotonic() < deadline, listed
        await asyncio.sleep(0.05)


async def test_at_send_time_a_disabled_template_fails_unsent_and_a_paused_one_waits(live):
    """Scheduled while APPROVED; then Meta disables one language and pauses the other (its
    webhooks). The dispatcher sends neither: the disabled one fails with the reason and no
    request to Meta, the paused one stays queued with no attempt spent."""
    async with live(waba_id=WABA) as env:
        await _synced(env)
        reminder = {"name": "randevu_hatirlatma", "parameters": ["Ayşe", "10:00"]}
        for message_id, language in (("gone-1", "tr"), ("wait-1", "en_US")):
            made = await env.client.post(
                "/schedule", json=_request(message_id, reminder | {"language": language})
            )
            assert made.status_code == 200, made.text
        env.standin.set_template_status("randevu_hatirlatma", "tr", "DISABLED")
        env.standin.set_template_status("randevu_hatirlatma", "en_US", "PAUSED")
        await _until_status(env, "randevu_hatirlatma", "tr", "DISABLED")
        await _until_status(env, "randevu_hatirlatma", "en_US", "PAUSED")
        templates = bootstrap.build_templates(env.settings, env.store, clock_mod.SystemClock())
        d = await bootstrap.build_dispatcher(env.settings, env.store, templates=templates)
        try:
            await d.run(burst=True)
        finally:
            await d.stop()
        gone = (await env.client.get("/status/gone-1")).json()
        assert gone["status"] == "failed"
        assert "is DISABLED at Meta since it was scheduled: nothing was sent" in str(
            gone["last_error"]
        )
        waiting = (await env.client.get("/status/wait-1")).json()
        assert (waiting["status"], waiting["attempts"]) == ("queued", 0)
        asked = {r.biz_opaque_callback_data for r in env.standin.requests}
        assert not asked & {"gone-1", "wait-1"}  # neither reached "Meta"


async def test_a_template_created_at_meta_becomes_usable_when_approved(live):
    """Created through the stand-in's POST message_templates: PENDING, then APPROVED with
    Meta's status webhook, which makes the service sync that WABA: the template is then
    accepted when scheduled, with no sync asked for."""
    async with live(waba_id=WABA) as env:
        await _synced(env)
        template = {"name": "kargo_yolda", "language": "tr", "parameters": ["A-1"]}
        refused = await env.client.post("/schedule", json=_request("k-0", template))
        assert refused.status_code == 422
        assert "no template 'kargo_yolda'" in refused.json()["detail"]
        create = {
            "name": "kargo_yolda",
            "language": "tr",
            "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Siparişiniz {{1}} yola çıktı."}],
        }
        token = env.settings.access_token
        assert token is not None
        async with httpx.AsyncClient(base_url=env.standin.url, timeout=30) as meta:
            reply = await meta.post(
                f"/v23.0/{WABA}/message_templates",
                json=create,
                headers={"Authorization": f"Bearer {token.get_secret_value()}"},
            )
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "PENDING"
        deadline = time.monotonic() + 30  # only against a hang: approved ~2 s after it is made
        while True:
            answer = await env.client.post("/schedule", json=_request("k-1", template))
            if answer.status_code == 200:
                break
            assert answer.status_code == 422, answer.text
            assert time.monotonic() < deadline, answer.text
            await asyncio.sleep(0.1)
        listed = (await env.client.get("/templates", params={"name": "kargo_yolda"})).json()
        assert [(t["status"], t["category"]) for t in listed] == [("APPROVED", "UTILITY")]


async def test_a_template_recategorised_since_scheduling_is_sent_under_todays_rules(live):
    """Scheduled as UTILITY; then Meta re-categorises it as MARKETING (its webhook) and one
    recipient stops marketing. At send time the dispatcher applies today's category: that
    recipient's message is cancelled unsent (opted_out), the other one goes and its attempt,
    the metrics and /status record MARKETING next to the UTILITY it was scheduled as."""
    other = "+905551230010"
    async with live(waba_id=WABA) as env:
        await _synced(env)
        reminder = {"name": "randevu_hatirlatma", "language": "tr", "parameters": ["a", "b"]}
        for message_id, phone in (("rc-stop", PHONE), ("rc-go", other)):
            body = _request(message_id, reminder) | {"alici": phone}
            made = await env.client.post("/schedule", json=body)
            assert (made.status_code, made.json()["category"]) == (200, "UTILITY"), made.text
        text = await env.client.post("/schedule", json=_request("rc-text", {}) | {
            "template": None, "mesaj": "Merhaba", "alici": other
        })  # fmt: skip
        assert text.status_code == 200, text.text
        env.standin.set_template_category("randevu_hatirlatma", "tr", "MARKETING")
        deadline = time.monotonic() + 30  # only against a hang
        while (
            await env.client.get("/templates/randevu_hatirlatma", params={"language": "tr"})
        ).json()[0]["category"] != "MARKETING":
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        stop = await env.client.put(
            f"/contacts/{PHONE}/consent", json={"consent": "opted_out", "scope": "marketing"}
        )
        assert stop.status_code == 200, stop.text
        # Stored as UTILITY, so the opt-out's own transaction left it queued.
        assert (await env.client.get("/status/rc-stop")).json()["status"] == "queued"
        templates = bootstrap.build_templates(env.settings, env.store, clock_mod.SystemClock())
        d = await bootstrap.build_dispatcher(env.settings, env.store, templates=templates)
        try:
            await d.run(burst=True)
        finally:
            await d.stop()
        stopped = (await env.client.get("/status/rc-stop")).json()
        assert (stopped["status"], stopped["status_reason"]) == ("cancelled", "opted_out")
        gone = (await env.client.get("/status/rc-go")).json()
        # sent, and maybe already delivered or read: the stand-in's receipts follow in ms
        assert gone["status"] in ("sent", "delivered", "read")
        assert gone["category"] == "UTILITY"  # as scheduled
        assert [a["category"] for a in gone["attempt_history"]] == ["MARKETING"]  # as sent
        sent_text = (await env.client.get("/status/rc-text")).json()
        assert [a["category"] for a in sent_text["attempt_history"]] == ["SERVICE"]
        metrics = dispatcher_mod.render_metrics(d).decode()
        assert 'messages_sent_total{category="MARKETING",sender="default"} 1.0' in metrics
        assert 'messages_sent_total{category="SERVICE",sender="default"} 1.0' in metrics
        asked = {r.biz_opaque_callback_data for r in env.standin.requests}
        assert "rc-stop" not in asked
        assert "rc-go" in asked
