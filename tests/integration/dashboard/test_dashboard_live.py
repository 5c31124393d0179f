"""Dashboard JSON endpoints over real HTTP: recipient check, live statuses (SSE), CSV import."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from whatsapp_scheduler.core import csvimport
from whatsapp_scheduler.web import i18n
from whatsapp_scheduler.whatsapp import errorcodes


async def test_recipient_check_uses_the_apis_rule(signed_in):
    ok = await signed_in.browser.get("/dashboard/api/recipient", params={"value": "0555 123 45 67"})
    assert ok.json() == {"ok": True, "e164": "+905551234567"}
    bad = await signed_in.browser.get("/dashboard/api/recipient", params={"value": "12"})
    api = await signed_in.api.post(
        "/schedule", json={"alici": "12", "tarih": "2026-03-02", "saat": "10:00", "mesaj": "x"}
    )
    assert f"{bad.json()['field']}: {bad.json()['rule']}" == api.json()["detail"]


async def test_events_stream_reports_status_changes(signed_in, make_message):
    first, second = make_message(), make_message(sender="shop")
    await signed_in.store.add_many([first, second])
    seen: list[dict[str, Any]] = []
    async with signed_in.browser.stream(
        "GET", "/dashboard/api/events", params={"ids": f"{first.id},{second.id},unknown"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            seen.append(json.loads(line[6:]))
            if len(seen) == 2:
                await signed_in.api.delete(f"/schedule/{first.id}")
            if len(seen) == 3:
                break
    assert {e["id"]: e["gonderen"] for e in seen[:2]} == {first.id: "default", second.id: "shop"}
    assert seen[2]["id"] == first.id
    assert seen[2]["status"] == "cancelled"
    assert seen[2]["label"] == "cancelled"
    assert seen[2]["transitions"]["cancelled"]


CSV = (
    "recipient;date;time;text\n"
    "+905551234567;2026-03-02;10:00;Günaydın, İstanbul! ğüşıöç\n"
    "not-a-number;2026-03-02;10:00;bad row\n"
    "+16505551234;2026-03-02;11:00:30;Second\n"
)


async def test_import_previews_without_storing_then_stores_chunks(signed_in):
    preview = await signed_in.browser.post(
        "/import/batch",
        data={"csrf": signed_in.csrf, "zone": "Europe/Istanbul"},
        files={"file": ("list.csv", CSV.encode(), "text/csv")},
    )
    assert preview.status_code == 200
    assert re.findall(r'<tr class="bad" data-line="(\d+)"', preview.text) == ["3"]
    assert "not a phone number" in preview.text
    assert (await signed_in.api.get("/schedule")).json() == []  # nothing stored yet
    found = re.search(r'id="import-rows">(.*?)</script>', preview.text, re.S)
    assert found is not None
    rows = json.loads(found[1])
    assert [r["line"] for r in rows] == [2, 4]
    stored = await signed_in.browser.post(
        "/dashboard/api/import/batch",
        json={"messages": rows},
        headers={"X-CSRF-Token": signed_in.csrf},
    )
    assert stored.json() == {"stored": 2, "already": 0, "refused": 0, "errors": []}
    listed = (await signed_in.api.get("/schedule")).json()
    assert sorted(m["mesaj"] for m in listed) == ["Günaydın, İstanbul! ğüşıöç", "Second"]
    again = await signed_in.browser.post(
        "/dashboard/api/import/batch",
        json={"messages": rows},
        headers={"X-CSRF-Token": signed_in.csrf},
    )
    # Same file, same ids: nothing stored again, and the answer says so (not "stored 2").
    assert again.json() == {"stored": 0, "already": 2, "refused": 0, "errors": []}
    assert len((await signed_in.api.get("/schedule")).json()) == 2


async def test_import_refuses_a_file_without_the_columns(signed_in):
    response = await signed_in.browser.post(
        "/import/batch",
        data={"csrf": signed_in.csrf},
        files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")},
    )
    assert response.status_code == 422
    assert "needs the columns" in response.text


def test_every_text_exists_in_both_languages():
    assert set(i18n.TEXTS["en"]) == set(i18n.TEXTS["tr"])


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, None, "en"),
        (None, "tr-TR,tr;q=0.9,en-US;q=0.8", "tr"),
        (None, "en-US,en;q=0.9,tr;q=0.8", "en"),
        (None, "de-DE,tr;q=0.5", "tr"),
        ("en", "tr", "en"),
        ("xx", "tr", "tr"),
    ],
)
def test_language_choice(cookie, header, expected):
    assert i18n.choose(cookie, header) == expected


def test_error_codes_are_explained_in_plain_words():
    english, turkish = errorcodes.explain(131047), errorcodes.explain(131047, "tr")
    assert english is not None
    assert turkish is not None
    assert "24-hour window is closed" in english
    assert "template" in english
    assert "24 saatlik" in turkish
    assert errorcodes.explain(250) == errorcodes.explain(10)
    assert errorcodes.explain(None) is None
    assert errorcodes.explain(999) is None


async def test_a_turkish_excel_file_previews_with_every_row_valid(signed_in):
    day = "03.03.2026"  # the dashboard's clock is START (2026-03-01): a day-first future date
    excel = f"Telefon;Tarih;Saat;Mesaj\r\n0555 123 45 67;{day};9:30;Günaydın, şükran ğüşıöç\r\n"
    preview = await signed_in.browser.post(
        "/import/batch",
        data={"csrf": signed_in.csrf, "zone": "Europe/Istanbul"},
        files={"file": ("liste.csv", excel.encode("cp1254"), "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    found = re.search(r'id="import-rows">(.*?)</script>', preview.text, re.S)
    assert found is not None
    [row] = json.loads(found[1])
    assert (row["alici"], row["tarih"], row["saat"]) == ("0555 123 45 67", "2026-03-03", "09:30")
    assert row["mesaj"] == "Günaydın, şükran ğüşıöç"


@pytest.mark.parametrize(
    ("language", "header"), [("en", "recipient,date"), ("tr", "Telefon;Tarih")]
)
async def test_the_sample_file_downloads_in_the_readers_language_and_reads_back(
    signed_in, language, header
):
    sample = await signed_in.browser.get(
        "/import/sample.csv", headers={"Accept-Language": language}
    )
    assert sample.status_code == 200
    assert sample.headers["content-type"].startswith("text/csv")
    assert "attachment" in sample.headers["content-disposition"]
    assert sample.content.startswith(b"\xef\xbb\xbf" + header.encode())
    rows = csvimport.read_csv(sample.content)
    assert len(rows) == 2
    assert all(r.error is None for r in rows)
    page = await signed_in.browser.get("/import", headers={"Accept-Language": language})
    assert 'href="/import/sample.csv"' in page.text
