"""Recent imports and "cancel the still-queued ones" of one import, over real HTTP on a real
SQLite file: only that import's queued messages are cancelled (not another import's, not a
message scheduled on its own, not one already sent or being sent)."""

from __future__ import annotations

import html
import json
import re
import sqlite3
from typing import Any

import sqlalchemy as sa

from tests.integration.dashboard.test_dashboard_keys import _key
from tests.integration.test_api_schedule import GOOD
from whatsapp_scheduler.store import tables
from whatsapp_scheduler.web import i18n

EN = i18n.TEXTS["en"]


def _csv(*texts: str) -> bytes:
    lines = ["recipient,date,time,text"]
    lines += [
        f"+90555123456{i},2026-03-0{2 + i % 5},09:{10 + i:02d},{t}" for i, t in enumerate(texts)
    ]
    return ("\n".join(lines) + "\n").encode()


async def _import(dash: Any, data: bytes) -> str:
    """Preview and store a file as the page does; the import's id the preview names."""
    preview = await dash.browser.post(
        "/import/batch",
        data={"csrf": dash.csrf, "zone": "Europe/Istanbul"},
        files={"file": ("list.csv", data, "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    rows = json.loads(re.search(r'id="import-rows">(.*?)</script>', preview.text, re.S)[1])  # type: ignore[index]
    stored = await dash.browser.post(
        "/dashboard/api/import/batch", json={"messages": rows},
        headers={"X-CSRF-Token": dash.csrf},
    )  # fmt: skip
    assert stored.json()["stored"] == len(rows)
    shown = re.search(r'id="this-import">[^<]*<a href="/imports/(csv-[0-9a-f]{12})"', preview.text)
    assert shown is not None
    return shown[1]


def _status_of(dash: Any, message_id: str) -> str:
    with dash.store._engine.begin() as conn:
        return str(
            conn.execute(
                sa.select(tables.messages.c.status).where(tables.messages.c.id == message_id)
            ).scalar()
        )


async def test_cancel_an_import_cancels_only_its_queued_messages(signed_in, sqlite_url):
    first = await _import(signed_in, _csv("one", "two", "three"))
    other = await _import(signed_in, _csv("another file"))
    assert first != other
    own = GOOD | {"id": "alone"}
    assert (await signed_in.api.post("/schedule", json=own)).status_code == 200
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute(f"UPDATE messages SET status = 'sent' WHERE id = '{first}-3'")  # line 3
    listing = await signed_in.browser.get("/imports")
    assert listing.status_code == 200
    assert set(re.findall(r'<tr data-import="([^"]+)"', listing.text)) == {first, other}
    row = re.search(rf'<tr data-import="{first}">(.*?)</tr>', listing.text, re.S)
    assert row is not None
    assert 'data-status="queued" data-count="2"' in row[1]
    assert 'data-status="sent" data-count="1"' in row[1]
    page = await signed_in.browser.get(f"/imports/{first}")
    assert 'id="import-cancel"' in page.text
    ask = await signed_in.browser.post(f"/imports/{first}/cancel", data={"csrf": signed_in.csrf})
    assert ask.status_code == 200
    assert EN["bulk.question"].format(n=2) in html.unescape(ask.text)
    assert _status_of(signed_in, f"{first}-2") == "queued"  # asking changed nothing
    done = await signed_in.browser.post(
        f"/imports/{first}/cancel", data={"csrf": signed_in.csrf, "confirm": "yes"}
    )
    assert done.status_code == 303
    shown = await signed_in.browser.get(done.headers["location"])
    assert EN["bulk.done"].format(cancelled=2) in html.unescape(shown.text)
    assert _status_of(signed_in, f"{first}-2") == "cancelled"
    assert _status_of(signed_in, f"{first}-4") == "cancelled"
    assert _status_of(signed_in, f"{first}-3") == "sent"
    assert _status_of(signed_in, f"{other}-2") == "queued"  # the other import untouched
    assert _status_of(signed_in, "alone") == "queued"


async def test_an_unknown_import_and_a_read_key(dash):
    assert (await dash.sign_in()).status_code == 303
    name = await _import(dash, _csv("x"))
    assert (await dash.browser.get("/imports/csv-000000000000")).status_code == 404
    assert (await dash.browser.get("/imports/not-an-import")).status_code == 404
    forged = await dash.browser.post(f"/imports/{name}/cancel", data={"confirm": "yes"})
    assert forged.status_code == 403
    dash.browser.cookies.clear()
    assert (await dash.sign_in(await _key(dash, "board", "read"))).status_code == 303
    page = await dash.browser.get(f"/imports/{name}")
    assert page.status_code == 200
    assert 'id="import-cancel"' not in page.text
    refused = await dash.browser.post(
        f"/imports/{name}/cancel", data={"csrf": dash.csrf, "confirm": "yes"}
    )
    assert refused.status_code == 403
    assert _status_of(dash, f"{name}-2") == "queued"
