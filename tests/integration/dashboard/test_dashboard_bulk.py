"""Bulk cancel on Upcoming over real HTTP: select, see what would be cancelled (nothing
changes), confirm; a message the dispatcher claimed in between is left alone and counted, a
read key gets no checkboxes and is refused, a request without the CSRF token changes nothing."""

from __future__ import annotations

import html
import re
import sqlite3

from tests.integration.dashboard.test_dashboard_keys import _key
from tests.integration.test_api_keys import add_sender
from tests.integration.test_api_schedule import GOOD


async def _schedule(dash, *ids: str) -> None:
    for i, message_id in enumerate(ids):
        body = GOOD | {"id": message_id, "saat": f"09:{30 + i:02d}"}
        assert (await dash.api.post("/schedule", json=body)).status_code == 200


def _selectable(page: str) -> list[str]:
    return re.findall(r'<input type="checkbox" name="id" value="([^"]+)" form="bulk"', page)


async def _statuses(dash, *ids: str) -> dict[str, str]:
    return {i: (await dash.api.get(f"/status/{i}")).json()["status"] for i in ids}


async def test_select_ask_then_cancel_the_queued_ones(signed_in, sqlite_url):
    await _schedule(signed_in, "b-1", "b-2", "b-3", "keep")
    upcoming = await signed_in.browser.get("/")
    assert _selectable(upcoming.text) == ["b-1", "b-2", "b-3", "keep"]
    chosen = {"csrf": signed_in.csrf, "id": ["b-1", "b-2", "b-3", "nope"]}
    ask = await signed_in.browser.post("/bulk/cancel", data=chosen)
    assert ask.status_code == 200
    assert "These 3 messages will not be sent." in html.unescape(ask.text)
    assert 'id="bulk-missing"' in ask.text  # "nope" is not a message
    assert set((await _statuses(signed_in, "b-1", "b-2", "b-3")).values()) == {
        "queued"
    }  # asking changed nothing
    # Between the question and the answer the dispatcher claims b-2 (its conditional update).
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE messages SET status = 'sending', claimed_by = 'w1' WHERE id = 'b-2'")
    confirm = await signed_in.browser.post(
        "/bulk/cancel",
        data={"csrf": signed_in.csrf, "confirm": "yes", "id": ["b-1", "b-2", "b-3"]},
    )
    assert confirm.status_code == 303
    done = await signed_in.browser.get(confirm.headers["location"])
    assert "Cancelled 2; 1 could not be cancelled" in html.unescape(done.text)
    assert await _statuses(signed_in, "b-1", "b-2", "b-3", "keep") == {
        "b-1": "cancelled",
        "b-2": "sending",
        "b-3": "cancelled",
        "keep": "queued",
    }


async def test_nothing_selected_or_nothing_cancellable_says_so(signed_in, sqlite_url):
    await _schedule(signed_in, "s-1")
    none = await signed_in.browser.post("/bulk/cancel", data={"csrf": signed_in.csrf})
    assert none.status_code == 303
    shown = await signed_in.browser.get(none.headers["location"])
    assert 'id="bulk-none"' in shown.text
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE messages SET status = 'sent' WHERE id = 's-1'")
    ask = await signed_in.browser.post("/bulk/cancel", data={"csrf": signed_in.csrf, "id": "s-1"})
    assert 'id="bulk-nothing"' in ask.text
    assert 'id="bulk-confirm"' not in ask.text
    assert "(can no longer be cancelled)" in ask.text


async def test_without_the_csrf_token_or_with_a_read_key_nothing_is_cancelled(dash):
    await _schedule(dash, "r-1")
    assert (await dash.sign_in()).status_code == 303
    forged = await dash.browser.post("/bulk/cancel", data={"confirm": "yes", "id": "r-1"})
    assert forged.status_code == 403
    dash.browser.cookies.clear()  # signed out
    assert (await dash.sign_in(await _key(dash, "board", "read"))).status_code == 303
    assert _selectable((await dash.browser.get("/")).text) == []
    refused = await dash.browser.post(
        "/bulk/cancel", data={"csrf": dash.csrf, "confirm": "yes", "id": "r-1"}
    )
    assert refused.status_code == 403
    assert await _statuses(dash, "r-1") == {"r-1": "queued"}


async def test_a_sender_limited_key_cannot_cancel_another_senders_message(dash):
    await _schedule(dash, "other")
    add_sender(dash, "ankara", "222222")
    assert (await dash.sign_in(await _key(dash, "desk", "write", ["ankara"]))).status_code == 303
    answer = await dash.browser.post(
        "/bulk/cancel", data={"csrf": dash.csrf, "confirm": "yes", "id": "other"}
    )
    done = await dash.browser.get(answer.headers["location"])
    assert "Cancelled 0; 1 could not be cancelled" in html.unescape(done.text)
    assert await _statuses(dash, "other") == {"other": "queued"}
