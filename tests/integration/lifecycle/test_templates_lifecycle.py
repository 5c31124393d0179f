"""Template messages over the REST API: validation (422 naming the field), storage in Meta's
shape, idempotency, listing, and the JSON that reaches the stand-in."""

from __future__ import annotations

import pytest

from tests.integration.lifecycle.conftest import due_now

PHONE = "+905551230003"
TEMPLATE = {
    "name": "appointment_reminder",
    "language": {"code": "en_US", "policy": "deterministic"},
    "parameters": ["Ada", "10:00"],
}
META_SHAPE = {
    "name": "appointment_reminder",
    "language": {"code": "en_US", "policy": "deterministic"},
    "components": [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "10:00"}],
        }
    ],
}


async def test_template_is_stored_listed_and_sent_as_meta_expects(live):
    async with live(window_policy="fail", window_check="sync") as env:
        request = {"id": "tpl-1", "alici": PHONE, "template": TEMPLATE, **due_now()}
        answer = await env.client.post("/schedule", json=request)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["mesaj"], body["template"]) == (None, META_SHAPE)
        # no WABA_ID, so no catalogue: only the shape is checked, and the answer says so
        assert [w.split(":")[0] for w in body["warnings"]] == ["template_unchecked"]
        listed = (await env.client.get("/schedule")).json()
        assert [(m["id"], m["mesaj"], m["template"]) for m in listed] == [
            ("tpl-1", None, META_SHAPE)
        ]
        repeat = await env.client.post("/schedule", json=request)  # a safe retry
        assert repeat.status_code == 200
        other = {**request, "template": {**TEMPLATE, "parameters": ["Bob", "10:00"]}}
        assert (await env.client.post("/schedule", json=other)).status_code == 409
        await env.dispatch()
        status = await env.wait_status("tpl-1", "read")  # templates pass a closed window
        assert status["sent_as"] == "template"
        (sent,) = env.standin.sends_for("tpl-1")
        assert sent.body == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": PHONE,
            "biz_opaque_callback_data": "tpl-1",
            "type": "template",
            "template": META_SHAPE,
        }
        (shown,) = env.standin.messages_to(PHONE)
        assert shown.text.startswith("[template appointment_reminder (en_US)] Ada, 10:00")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"template": {"name": "Bad Name", "language": "tr"}}, "template.name"),
        ({"template": {"name": "ok", "language": "turkish"}}, "template.language"),
        (
            {"template": {"name": "ok", "language": "tr", "parameters": [""]}},
            "template.parameters[0]",
        ),
        (
            {"template": {"name": "ok", "language": "tr", "components": [{"type": "nope"}]}},
            "template.components[0].type",
        ),
        ({"template": "hello_world"}, "template"),
        ({"template": {"name": "ok", "language": "tr"}, "mesaj": "both"}, "mesaj"),
        ({"mesaj": "x", "fallback_template": {"name": "ok"}}, "fallback_template.language"),
        (
            {
                "template": {"name": "ok", "language": "tr"},
                "fallback_template": {"name": "ok", "language": "tr"},
            },
            "fallback_template",
        ),
    ],
)
async def test_template_refusals_name_the_field(live, extra, field):
    async with live() as env:
        request = {"alici": PHONE, **due_now(), **extra}
        answer = await env.client.post("/schedule", json=request)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == field
        assert answer.json()["detail"].startswith(f"{field}: ")


async def test_date_placeholder_is_each_occurrences_date_in_the_templates_language(live):
    """A daily series whose template says `{{date}}`: the stored rows keep the placeholder
    (what GET shows is what the client wrote); each occurrence reaches Meta with its own date,
    written in the template's language (Turkish: "3 Aralık 2026"). Docs: docs/series.md, "Dates in template parameters"."""
    from datetime import UTC, date, datetime, timedelta

    from babel.dates import format_date

    from tests.integration.lifecycle.conftest import OffsetClock

    async with live() as env:
        template = {"name": "randevu", "language": "tr", "parameters": ["Ada", "{{date}}"]}
        request = {
            "id": "daily",
            "alici": PHONE,
            "template": template,
            "tekrar": "FREQ=DAILY;COUNT=2",
            **due_now(),
        }
        answer = await env.client.post("/schedule", json=request)
        assert answer.status_code == 200, answer.text
        first_id = answer.json()["id"]
        first_day = date.fromisoformat(request["tarih"])
        params = answer.json()["template"]["components"][0]["parameters"]
        assert params[1]["text"] == "{{date}}"  # stored as written
        await env.dispatch()
        await env.wait_status(first_id, "read")  # sent; the stand-in's receipts follow
        # the next occurrence, a day later: a dispatcher whose clock is a day ahead
        await env.dispatch(OffsetClock(timedelta(days=1, minutes=1)))
        sent = sorted(
            (r for r in env.standin.requests if r.body and r.body.get("type") == "template"),
            key=lambda r: r.body["biz_opaque_callback_data"],
        )
        texts = [s.body["template"]["components"][0]["parameters"][1]["text"] for s in sent]
        days = [first_day, first_day + timedelta(days=1)]
        assert texts == [format_date(d, format="long", locale="tr") for d in days]
        assert texts[0].split()[1] in {
            "Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz",
            "Ağustos", "Eylül", "Ekim", "Kasım", "Aralık",
        }  # fmt: skip
        assert datetime.now(UTC).year <= int(texts[1].split()[-1])
