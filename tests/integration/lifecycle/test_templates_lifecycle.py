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
