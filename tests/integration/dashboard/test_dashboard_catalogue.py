"""The dashboard's template catalogue over real HTTP: the sync button reads Meta's templates
from the stand-in (served on loopback), the catalogue page shows them with status and
category in both languages and filters them, the compose form offers them by name with a
preview, and a NAMED template's parameters typed one a line are sent with their names."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import API_KEY
from tests.integration.conftest import ServedApp
from tests.integration.dashboard.conftest import Dashboard
from whatsapp_scheduler.core.senders import Scope
from whatsapp_scheduler.sandbox import StandIn, StandInConfig, catalogue
from whatsapp_scheduler.store import sql
from whatsapp_scheduler.web import app as app_mod
from whatsapp_scheduler.web import i18n

TOKEN = "dashboard-catalogue-token"
WABA = "102290129340398"
SEEDED = catalogue.seeded()


class CatalogueDash(Dashboard):
    def __init__(self, url: str, store: sql.SqlMessageStore, standin: StandIn) -> None:
        super().__init__(url, store)
        self.standin = standin


@pytest.fixture
async def synced_dash(
    make_settings: Any, clock: Any, sqlite_url: str
) -> AsyncIterator[CatalogueDash]:
    """A signed-in dashboard whose default sender has a WABA id, next to a stand-in holding
    the seeded catalogue (not yet synced)."""
    async with StandIn(StandInConfig(access_token=TOKEN)) as standin:
        message_store = sql.SqlMessageStore.from_url(sqlite_url)
        settings = make_settings(
            database_url=sqlite_url,
            sandbox=False,
            graph_api_url=standin.url,
            access_token=TOKEN,
            phone_number_id="106540352242922",
            waba_id=WABA,
        )
        app = app_mod.create_app(settings, store=message_store, clock=clock)
        async with ServedApp(app) as served:
            client = CatalogueDash(served.url, message_store, standin)
            try:
                assert (await client.sign_in()).status_code == 303
                yield client
            finally:
                await client.close()
        await message_store.close()


async def _sync(dash: Dashboard) -> None:
    response = await dash.browser.post("/catalogue/sync", data={"csrf": dash.csrf})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/catalogue?synced=ok"


def _rows(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-template="([^"]+)" data-language="([^"]+)"', page)


async def test_sync_button_then_the_catalogue_page_lists_and_filters(synced_dash: Dashboard):
    page = await synced_dash.browser.get("/catalogue")
    assert page.status_code == 200
    assert _rows(page.text) == []  # never synced: nothing yet, and it says why
    assert 'id="catalogue-empty"' in page.text
    await _sync(synced_dash)
    page = await synced_dash.browser.get("/catalogue?synced=ok")
    expected = sorted((t["name"], t["language"]) for t in SEEDED)
    assert sorted(_rows(page.text)) == expected
    assert i18n.TEXTS["en"]["catalogue.synced_ok"] in html.unescape(page.text)
    paused = await synced_dash.browser.get("/catalogue", params={"status": "PAUSED"})
    assert _rows(paused.text) == sorted(
        (t["name"], t["language"]) for t in SEEDED if t["status"] == "PAUSED"
    )
    marketing = await synced_dash.browser.get("/catalogue", params={"category": "MARKETING"})
    assert {n for n, _ in _rows(marketing.text)} == {
        t["name"] for t in SEEDED if t["category"] == "MARKETING"
    }
    by_name = await synced_dash.browser.get("/catalogue", params={"q": "RANDEVU"})
    assert _rows(by_name.text) == [("randevu_hatirlatma", "en_US"), ("randevu_hatirlatma", "tr")]


async def test_the_page_speaks_turkish_and_offers_use_only_for_sendable(synced_dash: Dashboard):
    await _sync(synced_dash)
    synced_dash.browser.cookies.set("lang", "tr")
    page = html.unescape((await synced_dash.browser.get("/catalogue")).text)
    tr = i18n.TEXTS["tr"]
    assert tr["catalogue.title"] in page
    assert tr["category.MARKETING"] in page
    assert tr["catalogue.status.PAUSED"] in page
    uses = set(re.findall(r'href="/compose\?template=([^&"]+)&language=([^"]+)"', page))
    sendable = {(t["name"], t["language"]) for t in SEEDED if t["status"] in {"APPROVED", "PAUSED"}}
    assert uses == sendable
    assert any(t["status"] == "DISABLED" for t in SEEDED)  # so a row without the link exists


async def test_the_preview_answers_the_synced_template(synced_dash: Dashboard):
    await _sync(synced_dash)
    answer = await synced_dash.browser.get(
        "/dashboard/api/template", params={"name": "siparis_durumu", "language": "tr"}
    )
    data = answer.json()
    assert (data["found"], data["parameter_format"], data["variables"]) == (
        True,
        "NAMED",
        ["customer", "order_id"],
    )
    assert data["buttons"] == ["Kargoyu izle"]
    assert data["category_label"] == "utility"
    other = await synced_dash.browser.get(
        "/dashboard/api/template", params={"name": "randevu_hatirlatma", "language": "de"}
    )
    assert other.json() == {"found": False, "languages": ["en_US", "tr"]}


async def test_compose_offers_the_names_and_opens_on_a_template(synced_dash: Dashboard):
    await _sync(synced_dash)
    page = (
        await synced_dash.browser.get(
            "/compose", params={"template": "randevu_hatirlatma", "language": "tr"}
        )
    ).text
    offered = re.search(r'<datalist id="template-names">(.*?)</datalist>', page)
    assert offered is not None
    names = set(re.findall(r'<option value="([^"]+)">', offered[1]))
    assert names == {t["name"] for t in SEEDED if t["status"] in {"APPROVED", "PAUSED"}}
    assert 'id="kind-template" checked' in page
    assert 'id="template-name" value="randevu_hatirlatma"' in page


NAMED = {
    "name": "teslimat_bilgisi",
    "language": "tr",
    "status": "APPROVED",
    "category": "UTILITY",
    "parameter_format": "NAMED",
    "components": [
        {
            "type": "BODY",
            "text": "Sayın {{customer}}, {{order_id}} numaralı siparişiniz bugün geliyor.",
        }
    ],
}


async def test_a_named_template_typed_one_a_line_is_sent_with_its_names(
    synced_dash: CatalogueDash,
):
    synced_dash.standin.add_template(dict(NAMED))
    await _sync(synced_dash)
    form = {
        "csrf": synced_dash.csrf,
        "recipient": "+905551234567",
        "date": "2026-03-02",
        "time": "10:00",
        "kind": "template",
        "template_name": "teslimat_bilgisi",
        "template_language": "tr",
        "template_params": "Ayşe\nA-1001\n",
    }
    response = await synced_dash.browser.post("/compose", data=form)
    assert response.status_code == 303, html.unescape(response.text)
    created = response.headers["location"].split("created=")[1]
    listed = (await synced_dash.api.get("/schedule")).json()
    assert [m["id"] for m in listed] == [created]
    assert listed[0]["template"]["components"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "customer", "text": "Ayşe"},
                {"type": "text", "parameter_name": "order_id", "text": "A-1001"},
            ],
        }
    ]
    # One line too few: the catalogue's own rule, naming what is missing.
    short = await synced_dash.browser.post(
        "/compose", data=form | {"template_params": "Ayşe\n", "id": "web-short"}
    )
    assert short.status_code == 422
    assert "missing order_id" in html.unescape(short.text)


async def test_a_read_key_sees_the_catalogue_but_cannot_sync(synced_dash: Dashboard):
    await _sync(synced_dash)
    created = await synced_dash.api.post("/keys", json={"name": "reader", "scope": "read"})
    assert created.status_code == 201, created.text
    reader = Dashboard(synced_dash.url, synced_dash.store)
    try:
        assert (await reader.sign_in(created.json()["key"])).status_code == 303
        page = await reader.browser.get("/catalogue")
        assert page.status_code == 200
        assert len(_rows(page.text)) == len(SEEDED)
        assert 'id="sync"' not in page.text
        assert "/compose?template=" not in page.text
        refused = await reader.browser.post("/catalogue/sync", data={"csrf": reader.csrf})
        assert refused.status_code == 403
        assert Scope.ADMIN in refused.text
    finally:
        await reader.close()
    assert API_KEY  # the admin's session is untouched


async def test_the_message_page_shows_the_template_as_the_recipient_sees_it(
    synced_dash: CatalogueDash,
):
    synced_dash.standin.add_template(dict(NAMED))
    await _sync(synced_dash)
    for id_, template in (
        ("pos", {"name": "randevu_hatirlatma", "language": "tr", "parameters": ["Ada", "10:30"]}),
        (
            "named",
            {
                "name": "teslimat_bilgisi",
                "language": "tr",
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "parameter_name": "order_id", "text": "A-7"},
                            {"type": "text", "parameter_name": "customer", "text": "Ece"},
                        ],
                    }
                ],
            },
        ),
    ):
        body = {"id": id_, "alici": "+905551234567", "tarih": "2026-03-02", "saat": "10:00"}
        answer = await synced_dash.api.post("/schedule", json=body | {"template": template})
        assert answer.status_code == 200, answer.text
    page = html.unescape((await synced_dash.browser.get("/message/pos")).text)
    assert "Merhaba Ada, randevunuz yarın saat 10:30." in page
    assert "Yanıtlamak için yazın" in page  # its footer
    page = html.unescape((await synced_dash.browser.get("/message/named")).text)
    assert "Sayın Ece, A-7 numaralı siparişiniz bugün geliyor." in page


async def test_each_message_records_its_category_when_scheduled(synced_dash: CatalogueDash):
    await _sync(synced_dash)
    base: dict[str, Any] = {"alici": "+905551234567", "tarih": "2026-03-02", "saat": "10:00"}
    bodies: dict[str, dict[str, Any]] = {
        "c-text": {"mesaj": "Merhaba"},
        "c-utility": {
            "template": {"name": "randevu_hatirlatma", "language": "tr", "parameters": ["A", "B"]}
        },
    }
    for id_, body in bodies.items():
        answer = await synced_dash.api.post("/schedule", json=base | body | {"id": id_})
        assert answer.status_code == 200, answer.text
        assert answer.json()["category"] == {"c-text": "SERVICE", "c-utility": "UTILITY"}[id_]
    listed = {m["id"]: m["category"] for m in (await synced_dash.api.get("/schedule")).json()}
    assert listed == {"c-text": "SERVICE", "c-utility": "UTILITY"}
    status = (await synced_dash.api.get("/status/c-utility")).json()
    assert status["category"] == "UTILITY"
    synced_dash.browser.cookies.set("lang", "tr")
    page = (await synced_dash.browser.get("/message/c-utility")).text
    assert '<dd data-category="UTILITY">hizmet bildirimi</dd>' in page


def _import_rows(page: str) -> list[dict[str, Any]]:
    found = re.search(r'id="import-rows">(.*?)</script>', page, re.S)
    assert found is not None, page
    return json.loads(html.unescape(found[1]))  # type: ignore[no-any-return]


async def test_import_sends_one_template_to_every_row_with_its_parameters(
    synced_dash: CatalogueDash,
):
    """A file without a text column, one template chosen for it: each row's other columns are
    its parameters (positional by number, NAMED by name), each row is checked against the
    catalogue (one parameter too few is refused naming the rule), the preview shows the body
    filled in, and the stored messages are template messages with those parameters."""
    synced_dash.standin.add_template(
        {"name": "kargo_bilgisi", "language": "tr", "status": "APPROVED", "category": "UTILITY",
         "parameter_format": "NAMED",
         "components": [{"type": "BODY", "text": "Sayın {{customer}}, {{order_id}} yolda.",
                         "example": {"body_text_named_params": [
                             {"param_name": "customer", "example": "Ada"},
                             {"param_name": "order_id", "example": "B-1"}]}}]}
    )  # fmt: skip
    await _sync(synced_dash)
    form = await synced_dash.browser.get("/import")
    assert '<option value="randevu_hatirlatma">' in form.text  # the picker's suggestions
    positional = (
        "Telefon;Tarih;Saat;{{1}};{{2}}\n"
        "+905551234567;02.03.2026;10:00;Ayşe;14:30\n"
        "+905551234568;02.03.2026;10:00;Can;\n"
    )
    preview = await synced_dash.browser.post(
        "/import/batch",
        data={
            "csrf": synced_dash.csrf,
            "zone": "Europe/Istanbul",
            "template_name": "randevu_hatirlatma",
            "template_language": "tr",
        },
        files={"file": ("liste.csv", positional.encode(), "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    page = html.unescape(preview.text)
    assert "Merhaba Ayşe, randevunuz yarın saat 14:30." in page  # the body filled in
    assert re.findall(r'<tr class="bad" data-line="(\d+)"', preview.text) == ["3"]
    assert "template.parameters[1]: must be a non-empty string" in page  # an empty {{2}}
    rows = _import_rows(preview.text)
    assert [r["template"] for r in rows] == [
        {"name": "randevu_hatirlatma", "language": "tr", "parameters": ["Ayşe", "14:30"]}
    ]
    stored = await synced_dash.browser.post(
        "/dashboard/api/import/batch",
        json={"messages": rows},
        headers={"X-CSRF-Token": synced_dash.csrf},
    )
    assert stored.json()["stored"] == 1, stored.text
    [message] = (await synced_dash.api.get("/schedule")).json()
    assert (message["mesaj"], message["category"]) == (None, "UTILITY")
    assert message["template"]["name"] == "randevu_hatirlatma"

    named = "recipient,date,time,customer,order_id\n+905551234569,2026-03-02,11:00,Ece,A-7\n"
    preview = await synced_dash.browser.post(
        "/import/batch",
        data={
            "csrf": synced_dash.csrf,
            "template_name": "kargo_bilgisi",
            "template_language": "tr",
        },
        files={"file": ("named.csv", named.encode(), "text/csv")},
    )
    assert "Sayın Ece, A-7 yolda." in html.unescape(preview.text)
    [row] = _import_rows(preview.text)
    assert row["template"]["components"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "parameter_name": "customer", "text": "Ece"},
                {"type": "text", "parameter_name": "order_id", "text": "A-7"},
            ],
        }
    ]
    assert "mesaj" not in row


async def test_import_with_a_template_the_catalogue_lacks_refuses_every_row(
    synced_dash: CatalogueDash,
):
    await _sync(synced_dash)
    body = "recipient,date,time,1\n+905551234567,2026-03-02,10:00,Ayşe\n"
    preview = await synced_dash.browser.post(
        "/import/batch",
        data={"csrf": synced_dash.csrf, "template_name": "yok_boyle", "template_language": "tr"},
        files={"file": ("x.csv", body.encode(), "text/csv")},
    )
    assert preview.status_code == 200
    assert re.findall(r'<tr class="bad" data-line="(\d+)"', preview.text) == ["2"]
    assert "yok_boyle" in html.unescape(preview.text)
    assert 'id="import-rows"' not in preview.text
