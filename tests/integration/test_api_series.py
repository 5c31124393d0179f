"""Series (`tekrar`, docs/series.md) over real HTTP, on a real SQLite file and PostgreSQL:
made by POST /schedule, continued by the dispatcher's claim, paused, resumed, edited, ended."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import START
from tests.integration.conftest import APP_SECRET, VERIFY_TOKEN, served_api
from whatsapp_scheduler import store
from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.core.messages import AttemptOutcome, MessageStatus
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.store import sql

# START is Sunday 2026-03-01 09:00 UTC = 12:00 in Istanbul.
WEEKLY = {
    "id": "weekly-1",
    "alici": "+905551234567",
    "tarih": "2026-03-02",
    "saat": "09:00",
    "mesaj": "Haftalık hatırlatma",
    "tekrar": "FREQ=WEEKLY;BYDAY=MO;COUNT=10",
}
FIRST = "weekly-1@20260302T090000"
SECOND = "weekly-1@20260309T090000"
LEASE = START + timedelta(days=30)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def both_api(request, make_settings, clock):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    settings = make_settings(
        database_url=url, app_secret=APP_SECRET, webhook_verify_token=VERIFY_TOKEN
    )
    async with served_api(settings, clock, url) as client:
        yield client


async def _all(api: Any) -> list[messages.ScheduledMessage]:
    page: store.Page = await api.store.list(MessageQuery((), 1000, None))
    return page.items


async def _claim(api: Any, days: int = 1) -> list[messages.ScheduledMessage]:
    claimed: list[messages.ScheduledMessage] = await api.store.claim_due(
        START + timedelta(days=days), 100, "w1", LEASE
    )
    return claimed


async def test_a_weekly_series_answers_its_id_and_next_occurrences(both_api):
    response = await both_api.post("/schedule", json=WEEKLY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["series_id"], body["status"]) == (FIRST, "weekly-1", "queued")
    assert body["scheduled_at"] == "2026-03-02T06:00:00Z"
    coming = body["next_occurrences"]
    assert [o["id"] for o in coming] == [
        f"weekly-1@202603{day:02d}T090000" for day in (2, 9, 16, 23, 30)
    ]
    assert coming[1]["scheduled_at"] == "2026-03-09T06:00:00Z"
    series = (await both_api.get("/series/weekly-1")).json()
    assert (series["status"], series["tekrar"], series["timezone"]) == (
        "active",
        WEEKLY["tekrar"],
        "Europe/Istanbul",
    )
    assert series["queued"]["id"] == FIRST
    assert len(series["next_occurrences"]) == 10
    assert series["history"] == []
    # The same request again (a client's retry) is harmless.
    again = await both_api.post("/schedule", json=WEEKLY)
    assert again.status_code == 200, again.text
    assert len(await _all(both_api)) == 1


async def test_the_claim_makes_the_next_occurrence_once(both_api):
    await both_api.post("/schedule", json=WEEKLY)
    (claimed,) = await _claim(both_api)
    assert claimed.id == FIRST
    rows = {m.id: m for m in await _all(both_api)}
    assert set(rows) == {FIRST, SECOND}
    nxt = rows[SECOND]
    assert (nxt.status, nxt.body, nxt.series_id, nxt.local_date, nxt.local_time) == (
        MessageStatus.QUEUED,
        WEEKLY["mesaj"],
        "weekly-1",
        "2026-03-09",
        "09:00",
    )
    assert nxt.due_at == START.replace(day=9, hour=6)
    # The first is retried (queued again) and claimed again: the second is not made twice.
    retry = store.Outcome(
        message_id=FIRST,
        worker="w1",
        status=MessageStatus.QUEUED,
        finished_at=START,
        attempt=AttemptOutcome.RETRY,
        run_at=START,
    )
    assert await both_api.store.record([retry]) == 1
    assert [m.id for m in await _claim(both_api)] == [FIRST]
    assert {m.id for m in await _all(both_api)} == {FIRST, SECOND}
    sent = store.Outcome(
        message_id=FIRST,
        worker="w1",
        status=MessageStatus.SENT,
        finished_at=START,
        attempt=AttemptOutcome.SENT,
        wamid="wamid.1",
    )
    assert await both_api.store.record([sent]) == 1
    series = (await both_api.get("/series/weekly-1")).json()
    assert series["queued"]["id"] == SECOND
    assert [(h["id"], h["status"]) for h in series["history"]] == [(FIRST, "sent")]
    assert series["next_occurrences"][0]["id"] == SECOND


async def test_a_failure_between_the_claim_and_the_next_occurrence_undoes_both(
    both_api, monkeypatch
):
    """The claim and the next occurrence share one transaction: a failure between them (a
    crash would be the same) leaves the occurrence queued and no next one; the next claim
    does both, once."""
    await both_api.post("/schedule", json=WEEKLY)

    def boom(self, conn, following):
        raise RuntimeError("injected: the process dies here")

    with monkeypatch.context() as patched:
        patched.setattr(sql.SqlMessageStore, "insert_occurrences", boom)
        with pytest.raises((RuntimeError, errors.StoreError)):
            await _claim(both_api)
    rows = {m.id: m for m in await _all(both_api)}
    assert set(rows) == {FIRST}
    assert rows[FIRST].status == MessageStatus.QUEUED
    assert rows[FIRST].claimed_by is None
    assert [m.id for m in await _claim(both_api)] == [FIRST]
    assert {m.id for m in await _all(both_api)} == {FIRST, SECOND}


async def test_the_last_occurrence_ends_the_series(both_api):
    await both_api.post("/schedule", json={**WEEKLY, "tekrar": "FREQ=WEEKLY;BYDAY=MO;COUNT=2"})
    await _claim(both_api)
    await _claim(both_api, days=9)
    assert {m.id for m in await _all(both_api)} == {FIRST, SECOND}
    assert (await both_api.get("/series/weekly-1")).json()["status"] == "ended"


async def test_pause_resume_and_delete(both_api):
    api = both_api
    await api.post("/schedule", json=WEEKLY)
    paused = await api.post("/series/weekly-1/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    first = await api.store.get(FIRST)
    assert (first.status, first.status_reason) == (MessageStatus.CANCELLED, "series_paused")
    assert await _claim(api) == []  # nothing to send while paused
    assert (await api.post("/series/weekly-1/pause")).status_code == 200  # harmless
    resumed = (await api.post("/series/weekly-1/resume")).json()
    assert resumed["status"] == "active"
    assert resumed["queued"]["id"] == FIRST  # still to come: queued again
    assert (await api.store.get(FIRST)).status == MessageStatus.QUEUED
    deleted = await api.delete("/series/weekly-1")
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "ended"
    assert deleted.json()["queued"] is None
    first = await api.store.get(FIRST)
    assert (first.status, first.status_reason) == (MessageStatus.CANCELLED, "series_deleted")
    assert deleted.json()["history"][0]["id"] == FIRST  # history kept
    assert (await api.post("/series/weekly-1/resume")).status_code == 409
    refused = await api.patch(f"/schedule/{FIRST}", json={"mesaj": "x"})
    assert refused.status_code == 409
    assert (await api.patch("/series/weekly-1", json={"mesaj": "x"})).status_code == 409
    assert (await api.delete("/series/weekly-1")).status_code == 200  # twice: harmless
    assert (await api.get("/series/nope")).status_code == 404


async def test_patch_series_changes_the_queued_occurrence(both_api):
    api = both_api
    await api.post("/schedule", json=WEEKLY)
    text = await api.patch("/series/weekly-1", json={"mesaj": "Yeni metin"})
    assert text.status_code == 200, text.text
    assert text.json()["queued"]["id"] == FIRST  # same occurrence, new text
    assert (await api.store.get(FIRST)).body == "Yeni metin"
    moved = await api.patch(
        "/series/weekly-1", json={"saat": "10:30", "tekrar": "FREQ=WEEKLY;BYDAY=TU"}
    )
    assert moved.status_code == 200, moved.text
    queued = moved.json()["queued"]
    assert queued["id"] == "weekly-1@20260303T103000"
    assert (queued["mesaj"], queued["scheduled_at"]) == ("Yeni metin", "2026-03-03T07:30:00Z")
    old = await api.store.get(FIRST)
    assert (old.status, old.status_reason) == (MessageStatus.CANCELLED, "series_edited")
    assert moved.json()["tekrar"] == "FREQ=WEEKLY;BYDAY=TU"
    bad = await api.patch("/series/weekly-1", json={"tekrar": "FREQ=MINUTELY"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "tekrar"
    assert (await api.patch("/series/weekly-1", json={"color": "red"})).status_code == 422
    # The occurrence itself can be edited like any queued message.
    one = await api.patch("/schedule/weekly-1@20260303T103000", json={"mesaj": "Bu hafta farklı"})
    assert one.status_code == 200, one.text


@pytest.mark.parametrize(
    ("tekrar", "says"),
    [
        ("FREQ=SOMETIMES", "not a valid RFC 5545 RRULE"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "yields no occurrence"),
        ("FREQ=MINUTELY", "more frequent than hourly"),
        ("FREQ=DAILY;COUNT=10001", "over 10,000"),
        ("FREQ=DAILY;UNTIL=20260201T000000Z", "in the past"),
    ],
)
async def test_bad_rules_are_422_naming_tekrar_and_store_nothing(api, tekrar, says):
    response = await api.post("/schedule", json={**WEEKLY, "tekrar": tekrar})
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == "tekrar"
    assert says in error["rule"]
    assert await _all(api) == []
    assert await api.store.get_series("weekly-1") is None


async def test_sub_hourly_with_the_setting(make_settings, clock, sqlite_url):
    settings = make_settings(database_url=sqlite_url, series_allow_subhourly=True)
    async with served_api(settings, clock, sqlite_url) as api:
        body = {
            **WEEKLY,
            "tarih": "2026-03-01",
            "saat": "12:30",
            "tekrar": "FREQ=MINUTELY;INTERVAL=15",
        }
        response = await api.post("/schedule", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["next_occurrences"][1]["saat"] == "12:45"


async def test_a_batch_refuses_tekrar(api):
    response = await api.post("/schedule/batch", json={"messages": [WEEKLY]})
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["stored"] is False
    assert result["error"]["errors"][0]["field"] == "tekrar"


async def test_cli_schedule_with_repeat_makes_a_series(api):
    import asyncio
    import io

    from tests.conftest import API_KEY
    from whatsapp_scheduler import cli
    from whatsapp_scheduler.cli import client as cli_client

    url = str(api.base_url)

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        args = cli._parser().parse_args([*argv, "--url", url, "--api-key", API_KEY])
        return cli_client.run(args, out, err), out.getvalue(), err.getvalue()

    code, out, err = await asyncio.to_thread(
        run, "schedule", "--to", "+905551234567", "--at", "2026-03-02 09:00",
        "--text", "Haftalık", "--id", "cli-weekly", "--repeat", "FREQ=WEEKLY;COUNT=3",
    )  # fmt: skip
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("scheduled cli-weekly@20260302T090000 to +905551234567")
    assert (
        lines[1] == "series cli-weekly: next 2026-03-02 09:00, 2026-03-09 09:00, 2026-03-16 09:00"
    )
    code, _, err = await asyncio.to_thread(
        run, "schedule", "--to", "+905551234567", "--at", "2026-03-02 09:00",
        "--text", "x", "--repeat", "FREQ=MINUTELY",
    )  # fmt: skip
    assert code != 0
    assert "tekrar" in err
