"""The Upcoming page's numbers over real HTTP: the last 14 days' messages by the day they were
due in the dashboard's zone and their status now, the top failure reasons in plain words in
both languages, the same numbers as a table without JavaScript, and a sender-limited key that
counts only its senders' messages."""

from __future__ import annotations

import html
from datetime import timedelta

from tests.conftest import START
from tests.integration.dashboard.test_dashboard_keys import _key
from tests.integration.test_api_keys import add_sender
from whatsapp_scheduler.core.messages import MessageStatus as S
from whatsapp_scheduler.web.routes import dashboard_stats

# START is 2026-03-01 09:00 UTC, 12:00 in Istanbul (TIMEZONE): "today" is 1 March there.


async def _seed(dash, make_message) -> None:
    dashboard_stats._CACHE.clear()  # another test's answer for the same day and scope
    rows = [
        make_message(due_at=START - timedelta(hours=1), status=S.READ),
        make_message(due_at=START - timedelta(hours=2), status=S.DELIVERED),
        # 22:30 UTC on 28 Feb is 01:30 on 1 March in Istanbul: it counts on 1 March.
        make_message(due_at=START - timedelta(hours=10, minutes=30), status=S.FAILED,
                     last_error_code=131026),
        make_message(due_at=START - timedelta(days=2), status=S.FAILED, last_error_code=131026),
        make_message(due_at=START - timedelta(days=3), status=S.FAILED),
        make_message(due_at=START - timedelta(days=20), status=S.READ),  # outside the 14 days
        make_message(due_at=START + timedelta(hours=1), status=S.QUEUED, sender="ankara"),
    ]  # fmt: skip
    await dash.store.add_many(rows)


async def test_the_last_14_days_by_due_day_status_and_failure_reason(signed_in, make_message):
    await _seed(signed_in, make_message)
    view = (await signed_in.browser.get("/dashboard/api/stats")).json()
    assert view["zone"] == "Europe/Istanbul"
    assert len(view["days"]) == 14
    assert (view["days"][0], view["days"][-1]) == ("2026-02-16", "2026-03-01")
    series = {s["status"]: s["data"] for s in view["series"]}
    assert set(series) == {"read", "delivered", "failed", "queued"}  # only statuses seen
    assert (series["read"][-1], series["delivered"][-1], series["queued"][-1]) == (1, 1, 1)
    assert series["failed"][-4:] == [1, 1, 0, 1]  # 26, 27, 28 Feb, 1 March (local days)
    assert view["total"] == 6
    assert view["failures"][0]["code"] == 131026
    assert view["failures"][0]["count"] == 2
    assert view["failures"][1]["code"] is None
    assert view["failures"][0]["text"]  # Meta's code in plain words
    turkish = (
        await signed_in.browser.get("/dashboard/api/stats", headers={"Accept-Language": "tr"})
    ).json()
    assert turkish["labels"][-1] == "01.03"
    assert {s["label"] for s in turkish["series"]} >= {"sırada"}
    assert turkish["failures"][0]["text"] != view["failures"][0]["text"]
    page = html.unescape((await signed_in.browser.get("/")).text)
    assert 'id="stats-chart"' in page
    assert '<tr data-day="2026-03-01"><td>Mar 01</td>' in page  # the numbers, without JS
    assert '<li data-code="131026"><strong>2</strong>' in page


async def test_a_sender_limited_key_counts_its_senders_only(dash, make_message):
    await _seed(dash, make_message)
    add_sender(dash, "ankara", "222222")
    assert (await dash.sign_in(await _key(dash, "desk", "read", ["ankara"]))).status_code == 303
    view = (await dash.browser.get("/dashboard/api/stats")).json()
    assert view["total"] == 1
    assert [s["status"] for s in view["series"]] == ["queued"]
    assert view["failures"] == []


async def test_the_numbers_need_a_session(dash):
    refused = await dash.browser.get("/dashboard/api/stats")
    assert refused.status_code in {303, 401}
