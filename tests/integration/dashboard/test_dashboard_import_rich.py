"""The dashboard's import with files, places and series (docs/message-types.md, "Import"),
over real HTTP on a real SQLite file: a Turkish Excel sheet whose rows are a text, a PDF by
link, an uploaded photo named only by its id, a place and a weekly series previews each row
as what it is and stores exactly the API's objects; rows that are two things at once, or
whose file's kind cannot be told, are refused by name and nothing of theirs is stored; the
same file again stores nothing more; a template file's `medya` column is the template's
header media."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from tests import media_files
from whatsapp_scheduler.core import messages
from whatsapp_scheduler.core.query import MessageQuery


async def _upload(dash: Any, data: bytes, name: str) -> str:
    answer = await dash.browser.post(
        "/dashboard/api/media",
        files={"file": (name, data, "application/octet-stream")},
        headers={"X-CSRF-Token": dash.csrf},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def _preview(dash: Any, data: bytes, **form: str) -> Any:
    return await dash.browser.post(
        "/import/batch",
        data={"csrf": dash.csrf, "zone": "Europe/Istanbul", **form},
        files={"file": ("liste.csv", data, "text/csv")},
    )


def _rows(preview: Any) -> list[dict[str, Any]]:
    found = re.search(r'id="import-rows">(.*?)</script>', preview.text, re.S)
    assert found is not None, preview.text
    return list(json.loads(found[1]))


async def _store(dash: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    answer = await dash.browser.post(
        "/dashboard/api/import/batch", json={"messages": rows},
        headers={"X-CSRF-Token": dash.csrf},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _stored(dash: Any) -> list[messages.ScheduledMessage]:
    return list((await dash.store.list(MessageQuery((), 1000, None))).items)


def _sheet(photo: str) -> bytes:
    head = (
        "Telefon;Tarih;Saat;Mesaj;Medya;Medya Türü;Açıklama;Dosya Adı;Enlem;Boylam;Yer Adı;Tekrar"
    )
    lines = [
        head,
        "+905551234501;02.03.2026;9:30;Randevunuz yarın;;;;;;;;",
        "+905551234502;02.03.2026;9:31;;https://cdn.example.com/fatura.pdf;;Faturanız;fatura.pdf;;;;",
        f"+905551234503;02.03.2026;9:32;;{photo};;Yeni ürün;;;;;",
        "+905551234504;02.03.2026;9:33;;;;;;41,0369;28,9850;Dükkânımız;",
        '+905551234505;02.03.2026;9:34;Haftalık hatırlatma;;;;;;;;"FREQ=WEEKLY;COUNT=4"',  # Excel quotes a cell with a ;
        "+905551234506;02.03.2026;9:35;İkisi birden;https://cdn.example.com/a.jpg;;;;;;;",
        "+905551234507;02.03.2026;9:36;;https://cdn.example.com/dosya;;;;;;;",
        "+905551234508;02.03.2026;9:37;;med_00000000000000000000000000000000;;;;;;;",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("cp1254")


async def test_files_places_and_series_are_imported_as_the_api_takes_them(signed_in):
    photo = await _upload(signed_in, media_files.png(), "urun.png")
    preview = await _preview(signed_in, _sheet(photo))
    assert preview.status_code == 200, preview.text
    page = html.unescape(preview.text)
    bad = dict(
        re.findall(r'<tr class="bad" data-line="(\d+)">.*?class="problem">(.*?)</td>', page, re.S)
    )
    assert set(bad) == {"7", "8", "9"}, bad
    assert "mesaj and medya: a row is a text (mesaj), a file (medya) or a place" in bad["7"]
    assert "medya turu: say which kind of file it is" in bad["8"]
    assert f"medya: no uploaded file has the id 'med_{'0' * 32}'" in bad["9"]
    good = re.findall(r'<tr class="good" data-line="(\d+)">(.*?)</tr>', page, re.S)
    shown = dict(good)
    assert 'data-kind="document"' in shown["3"]
    assert "Faturanız" in shown["3"]
    assert 'data-kind="image"' in shown["4"]
    assert "Yeni ürün" in shown["4"]
    assert 'data-kind="location"' in shown["5"]
    assert "Dükkânımız" in shown["5"]
    assert "↻ FREQ=WEEKLY;COUNT=4" in shown["6"]
    rows = _rows(preview)
    assert [r["line"] for r in rows] == [2, 3, 4, 5, 6]
    answer = await _store(signed_in, rows)
    assert (answer["stored"], answer["already"], answer["refused"]) == (5, 0, 0), answer

    by_phone = {m.recipient: m for m in await _stored(signed_in)}
    assert set(by_phone) == {f"+9055512345{i:02d}" for i in range(1, 6)}
    assert by_phone["+905551234501"].body == "Randevunuz yarın"
    assert by_phone["+905551234502"].content == {
        "type": "document",
        "document": {
            "link": "https://cdn.example.com/fatura.pdf",
            "caption": "Faturanız",
            "filename": "fatura.pdf",
        },
    }
    assert by_phone["+905551234503"].content == {
        "type": "image",
        "image": {"id": photo, "caption": "Yeni ürün"},
    }
    assert by_phone["+905551234504"].content == {
        "type": "location",
        "location": {"latitude": 41.0369, "longitude": 28.985, "name": "Dükkânımız"},
    }
    weekly = by_phone["+905551234505"]
    assert weekly.series_id is not None
    series = await signed_in.api.get(f"/series/{weekly.series_id}")
    assert series.status_code == 200, series.text
    assert series.json()["tekrar"] == "FREQ=WEEKLY;COUNT=4"

    again = await _store(signed_in, _rows(await _preview(signed_in, _sheet(photo))))
    assert (again["stored"], again["already"], again["refused"]) == (0, 5, 0), again
    assert len(await _stored(signed_in)) == 5


async def test_a_bad_series_rule_is_refused_in_the_preview_and_stores_nothing(signed_in):
    data = (
        b"recipient,date,time,text,tekrar\n"
        b"+905551234567,2026-03-02,09:30,Hello,FREQ=MINUTELY\n"
        b"+905551234568,2026-03-02,09:30,Hello,FREQ=WEEKLY;COUNT=20000\n"
    )
    preview = await _preview(signed_in, data)
    page = html.unescape(preview.text)
    problems = re.findall(r'class="problem">(.*?)</td>', page, re.S)
    assert len(problems) == 2
    assert all(p.startswith("tekrar") for p in problems), problems
    assert 'id="import-rows"' not in preview.text  # nothing to store
    assert await _stored(signed_in) == []


async def test_a_template_files_media_column_is_the_templates_header(signed_in):
    data = (
        "recipient,date,time,medya,medya turu,1\n"
        "+905551234567,2026-03-02,09:30,https://cdn.example.com/kampanya,görsel,Ayşe\n"
        "+905551234568,2026-03-02,09:30,https://cdn.example.com/katalog.pdf,,Mehmet\n"
        "+905551234569,2026-03-02,09:30,https://cdn.example.com/bilinmez,,Zeynep\n"
    ).encode()
    preview = await _preview(signed_in, data, template_name="kampanya", template_language="tr")
    assert preview.status_code == 200, preview.text
    page = html.unescape(preview.text)
    problems = re.findall(r'class="problem">(.*?)</td>', page, re.S)
    assert len(problems) == 1
    assert problems[0].startswith("line 4: medya turu: say which kind of file the template's")
    rows = _rows(preview)
    assert [r["line"] for r in rows] == [2, 3]
    assert rows[0]["template"] == {
        "name": "kampanya",
        "language": "tr",
        "components": [
            {
                "type": "header",
                "parameters": [
                    {"type": "image", "image": {"link": "https://cdn.example.com/kampanya"}}
                ],
            },
            {"type": "body", "parameters": [{"type": "text", "text": "Ayşe"}]},
        ],
    }
    assert rows[1]["template"]["components"][0]["parameters"][0]["type"] == "document"
    answer = await _store(signed_in, rows)
    assert answer["stored"] == 2, answer
