"""Template messages in the dashboard over real HTTP: compose (stored in Meta's shape, refused
with the API's exact `detail`), a text's fallback template, the schedule warnings in both
languages, templates in the lists and on the message page, and "Previous page" paging."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import START, MakeMessage
from tests.integration.conftest import ServedApp
from tests.integration.dashboard.conftest import Dashboard
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.core.messages import MessageStatus as S
from whatsapp_scheduler.store import sql
from whatsapp_scheduler.web import app as app_mod
from whatsapp_scheduler.web import i18n

WHEN = {"alici": "+905551234567", "tarih": "2026-03-02", "saat": "10:00"}
REMINDER = {"name": "appointment_reminder", "language": "tr", "parameters": ["Ada", "10:00"]}
META_REMINDER = {
    "name": "appointment_reminder",
    "language": {"code": "tr"},
    "components": [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "10:00"}],
        }
    ],
}


def _form(csrf: str, *, template: dict[str, Any] | None = None, **fields: Any) -> dict[str, str]:
    """The compose form for an API body (`alici`, `tarih`, `saat`, `mesaj`, templates)."""
    form = {
        "csrf": csrf,
        "recipient": fields.get("alici", WHEN["alici"]),
        "date": fields.get("tarih", WHEN["tarih"]),
        "time": fields.get("saat", WHEN["saat"]),
        "zone": fields.get("timezone", ""),
        "kind": "template" if template is not None else "text",
        "text": fields.get("mesaj", ""),
    }
    for prefix, value in (("template", template), ("fallback", fields.get("fallback_template"))):
        if value is not None:
            form[f"{prefix}_name"] = value.get("name", "")
            form[f"{prefix}_language"] = value.get("language", "")
            form[f"{prefix}_params"] = "\n".join(value.get("parameters", [])) + "\n"
    return form


def _created(response: Any) -> str:
    assert response.status_code == 303, response.text
    return str(response.headers["location"].split("created=")[1])


def _shown_error(page_html: str) -> str:
    shown = re.search(r'id="compose-error"[^>]*>([^<]*)<', page_html)
    assert shown is not None, page_html
    return html.unescape(shown[1])


def _ids(page_html: str) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)"', page_html)


@pytest.fixture
async def template_policy(make_settings: Any, clock: Any, sqlite_url: str) -> AsyncIterator[Any]:
    """A signed-in dashboard on a service started with WINDOW_POLICY=template."""
    message_store = sql.SqlMessageStore.from_url(sqlite_url)
    settings = make_settings(database_url=sqlite_url, window_policy="template")
    app = app_mod.create_app(settings, store=message_store, clock=clock)
    async with ServedApp(app) as served:
        client = Dashboard(served.url, message_store)
        try:
            assert (await client.sign_in()).status_code == 303
            yield client
        finally:
            await client.close()
    await message_store.close()


async def test_compose_offers_text_or_template(signed_in):
    page = await signed_in.browser.get("/compose")
    assert 'name="kind" value="text" id="kind-text" checked' in page.text
    assert 'id="kind-template"' in page.text
    assert 'name="template_name"' in page.text
    assert 'name="template_params"' in page.text
    assert 'id="fallback"' in page.text
    assert "WINDOW_POLICY=send" in page.text  # the running policy, explained
    turkish = await signed_in.browser.get("/compose", headers={"Accept-Language": "tr"})
    assert "Yedek şablon" in turkish.text


async def test_a_composed_template_is_stored_in_metas_shape_like_the_api(signed_in):
    page = await signed_in.browser.post("/compose", data=_form(signed_in.csrf, template=REMINDER))
    message = await signed_in.store.get(_created(page))
    assert message.body is None
    assert dict(message.template) == META_REMINDER
    api = await signed_in.api.post("/schedule", json={**WHEN, "template": REMINDER})
    assert api.status_code == 200
    # templates pass a closed window; without WABA_ID there is no catalogue to check against
    assert [w.split(":")[0] for w in api.json()["warnings"]] == ["template_unchecked"]
    assert dict((await signed_in.store.get(api.json()["id"])).template) == dict(message.template)
    upcoming = await signed_in.browser.get(page.headers["location"])
    assert 'data-code="template_unchecked"' in upcoming.text
    assert 'data-code="window_closed"' not in upcoming.text


async def test_compose_ignores_the_fields_of_the_kind_not_chosen(signed_in):
    form = _form(signed_in.csrf, template=REMINDER, fallback_template=REMINDER)
    form["text"] = "left over in the hidden text box"
    message = await signed_in.store.get(
        _created(await signed_in.browser.post("/compose", data=form))
    )
    assert message.body is None
    assert message.fallback_template is None
    form = _form(signed_in.csrf, mesaj="Merhaba")
    form.update(template_name="appointment_reminder", template_language="tr")
    message = await signed_in.store.get(
        _created(await signed_in.browser.post("/compose", data=form))
    )
    assert message.body == "Merhaba"
    assert message.template is None


@pytest.mark.parametrize(
    ("body", "invalid"),
    [
        ({"template": {**REMINDER, "name": "Bad-Name"}}, "template-name"),
        ({"template": {**REMINDER, "name": ""}}, "template-name"),
        ({"template": {**REMINDER, "language": "turkish"}}, "template-language"),
        ({"template": {**REMINDER, "parameters": ["Ada", "", "10:00"]}}, "template-params"),
        ({"template": {**REMINDER, "parameters": ["x" * 1025]}}, "template-params"),
        ({"mesaj": "Merhaba", "fallback_template": {**REMINDER, "name": "Nope!"}}, "fallback-name"),
        ({"mesaj": "", "fallback_template": REMINDER}, "text"),
    ],
)
async def test_a_bad_template_shows_the_apis_exact_detail(signed_in, body, invalid):
    api = await signed_in.api.post("/schedule", json={**WHEN, **body})
    assert api.status_code == 422
    form = _form(signed_in.csrf, **body)
    page = await signed_in.browser.post("/compose", data=form)
    assert page.status_code == 422
    assert _shown_error(page.text) == api.json()["detail"]
    field = re.search(rf'<(?:input|textarea)[^>]*id="{invalid}"[^>]*>', page.text)
    assert field is not None
    assert 'aria-invalid="true"' in field[0]
    if "fallback_template" in body:
        assert '<details id="fallback" open' in page.text  # the fallback stays visible
    else:
        assert 'id="kind-template" checked' in page.text  # the choice is kept


async def test_a_text_with_a_fallback_template_and_its_warning(template_policy):
    dash = template_policy
    page = await dash.browser.post(
        "/compose", data=_form(dash.csrf, mesaj="Merhaba Ada", fallback_template=REMINDER)
    )
    message_id = _created(page)
    message = await dash.store.get(message_id)
    assert message.body == "Merhaba Ada"
    assert dict(message.fallback_template) == META_REMINDER
    upcoming = await dash.browser.get(page.headers["location"])
    text = html.unescape(upcoming.text)
    assert 'id="warnings"' in text
    assert (
        "the fallback template appointment_reminder (tr) will be sent instead of the text" in text
    )
    assert "window_closed: 24-hour window closed" in text  # the API's own warning, as returned
    message_page = html.unescape((await dash.browser.get(f"/message/{message_id}")).text)
    fallback = message_page.split('id="fallback-template"')[1]
    assert "appointment_reminder" in fallback
    assert "<li>Ada</li><li>10:00</li>" in fallback
    assert "(WINDOW_POLICY=template)" in message_page
    # Without a fallback this policy refuses the text: the page says what the API says.
    api = await dash.api.post("/schedule", json={**WHEN, "mesaj": "Merhaba"})
    assert api.status_code == 422
    refused = await dash.browser.post("/compose", data=_form(dash.csrf, mesaj="Merhaba"))
    assert refused.status_code == 422
    assert _shown_error(refused.text) == api.json()["detail"]


async def test_warnings_show_once_in_both_languages(signed_in):
    api = await signed_in.api.post("/schedule", json={**WHEN, "mesaj": "API"})
    (api_warning,) = api.json()["warnings"]
    page = await signed_in.browser.post("/compose", data=_form(signed_in.csrf, mesaj="Merhaba"))
    _created(page)
    turkish = await signed_in.browser.get(
        page.headers["location"], headers={"Accept-Language": "tr"}
    )
    text = html.unescape(turkish.text)
    assert "Zamanlandı; bir uyarı var:" in text
    assert "24 saatlik penceresi gönderim zamanında kapalı olacak" in text
    assert 'data-code="window_closed"' in text
    # The API's own words too (same due time, a contact who never wrote: the same warning).
    assert api_warning in text
    again = await signed_in.browser.get(page.headers["location"])
    assert 'id="warnings"' not in again.text  # shown once: the flash is gone
    page = await signed_in.browser.post("/compose", data=_form(signed_in.csrf, mesaj="Hi"))
    english = html.unescape((await signed_in.browser.get(page.headers["location"])).text)
    assert "Scheduled, with a warning:" in english
    assert "WhatsApp will refuse this text (131047)" in english
    # These settings are the sandbox's (make_settings): its stand-in delivers it anyway.
    assert "In this sandbox it will be delivered anyway" in english


async def test_a_forged_flash_cookie_shows_nothing(signed_in):
    page = await signed_in.browser.post("/compose", data=_form(signed_in.csrf, mesaj="Merhaba"))
    message_id = _created(page)
    signed_in.browser.cookies.set("wsched_flash", "eyJmbGFzaCI6e319.AAAA")
    shown = await signed_in.browser.get(f"/?created={message_id}")
    assert shown.status_code == 200
    assert 'id="warnings"' not in shown.text


async def test_lists_and_the_message_page_show_templates(signed_in, make_message):
    queued = make_message(body=None, template=META_REMINDER, due_at=START + timedelta(hours=1))
    sent = make_message(
        body=None,
        template={"name": "order_update", "language": {"code": "en_US"}},
        status=S.SENT,
        due_at=START - timedelta(hours=1),
    )
    text = make_message(body="plain text", fallback_template=META_REMINDER, status=S.DELIVERED)
    await signed_in.store.add_many([queued, sent, text])
    upcoming = html.unescape((await signed_in.browser.get("/")).text)
    row = upcoming.split(f'data-id="{queued.id}"')[1].split("</tr>")[0]
    assert 'data-kind="template"' in row
    assert '<code class="template-name">appointment_reminder</code>' in row
    assert "(tr)" in row
    assert "<q>Ada</q> · <q>10:00</q>" in row
    history = html.unescape((await signed_in.browser.get("/history")).text)
    row = history.split(f'data-id="{sent.id}"')[1].split("</tr>")[0]
    assert 'data-kind="template"' in row
    assert "order_update" in row
    assert "(en_US)" in row
    row = history.split(f'data-id="{text.id}"')[1].split("</tr>")[0]
    assert "plain text" in row
    assert 'data-kind="fallback"' in row
    turkish = await signed_in.browser.get("/history", headers={"Accept-Language": "tr"})
    assert ">şablon</span>" in turkish.text
    page = html.unescape((await signed_in.browser.get(f"/message/{queued.id}")).text)
    assert 'id="template"' in page
    assert '<dd class="template-language">tr</dd>' in page
    assert "<li>Ada</li><li>10:00</li>" in page
    assert 'class="body"' not in page  # no empty text field for a template
    cancel = html.unescape((await signed_in.browser.get(f"/message/{queued.id}/cancel")).text)
    assert "appointment_reminder" in cancel


async def _history(
    signed_in: Dashboard, make_message: MakeMessage, count: int = 120
) -> list[messages.ScheduledMessage]:
    statuses = [S.SENT, S.DELIVERED, S.READ, S.FAILED, S.CANCELLED]
    made = [
        make_message(due_at=START + timedelta(hours=i), status=statuses[i % 5])
        for i in range(count)
    ]
    await signed_in.store.add_many(made)
    return sorted(made, key=lambda m: (m.due_at, m.id), reverse=True)


def _link(page_html: str, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}"', page_html)
    return html.unescape(found[1]) if found else None


async def test_previous_page_returns_to_the_pages_before(signed_in, make_message):
    newest = [m.id for m in await _history(signed_in, make_message, count=160)]
    first = await signed_in.browser.get("/history")
    assert _link(first.text, "prev") is None
    second = await signed_in.browser.get(_link(first.text, "next"))
    third = await signed_in.browser.get(_link(second.text, "next"))
    assert _ids(third.text) == newest[100:150]
    back_to_second = await signed_in.browser.get(_link(third.text, "prev"))
    assert _ids(back_to_second.text) == newest[50:100]
    back_to_first = await signed_in.browser.get(_link(back_to_second.text, "prev"))
    assert _ids(back_to_first.text) == newest[:50]
    assert _link(back_to_first.text, "prev") is None
    assert _link(back_to_first.text, "next") == _link(first.text, "next")


async def test_previous_page_keeps_the_filters(signed_in, make_message):
    made = await _history(signed_in, make_message, count=300)
    failed = [m.id for m in made if m.status == S.FAILED]  # 60: two pages
    first = await signed_in.browser.get("/history?status=failed&recipient=")
    second = await signed_in.browser.get(_link(first.text, "next"))
    assert _ids(second.text) == failed[50:]
    previous = _link(second.text, "prev")
    assert previous == "/history?status=failed"
    assert _ids((await signed_in.browser.get(previous)).text) == failed[:50]


async def test_upcoming_has_a_previous_page_too(signed_in, make_message):
    made = [make_message(due_at=START + timedelta(minutes=5 + i)) for i in range(110)]
    await signed_in.store.add_many(made)
    first = await signed_in.browser.get("/")
    third = await signed_in.browser.get(
        _link((await signed_in.browser.get(_link(first.text, "next"))).text, "next")
    )
    assert _ids(third.text) == [m.id for m in made[100:]]
    second = await signed_in.browser.get(_link(third.text, "prev"))
    assert _ids(second.text) == [m.id for m in made[50:100]]


async def test_a_forged_prev_cursor_is_refused_like_any_bad_cursor(signed_in, make_message):
    await _history(signed_in, make_message, count=60)
    first = await signed_in.browser.get("/history")
    next_link = _link(first.text, "next")
    assert next_link is not None
    second = await signed_in.browser.get(next_link + "&prev=garbage")
    back = await signed_in.browser.get(_link(second.text, "prev"))
    refusal = i18n.translator("en")("error.cursor")
    assert back.status_code == 422  # the parameter is refused, in the reader's words
    assert refusal in html.unescape(back.text)
    upcoming = await signed_in.browser.get("/?cursor=garbage")
    assert upcoming.status_code == 422
    assert refusal in html.unescape(upcoming.text)
