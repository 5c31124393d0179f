"""Quiet hours through the REST API, over real HTTP on a real SQLite file (docs/limits.md):
a message due inside them is moved to their end as it is scheduled (the answer says so, the
time asked stays in `tarih`/`saat`), /status shows why and until when, `quiet_hours: false`
keeps the time, a sender's own window wins, and bad values are 422 naming the field."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.conftest import API_KEY, START
from tests.integration.conftest import served_api
from whatsapp_scheduler import cli
from whatsapp_scheduler.cli import client as cli_client

# START is 2026-03-01 09:00 UTC: 12:00 in Istanbul (UTC+3, no DST).
NIGHT = {"alici": "+905551234567", "tarih": "2026-03-01", "saat": "23:30", "mesaj": "Merhaba"}
MOVED = "2026-03-02T06:00:00Z"  # 09:00 Istanbul


def quiet_notes(answer: dict[str, Any]) -> list[str]:
    """The answer's quiet-hours warnings (a text to someone who never wrote also gets
    `window_closed`)."""
    return [w for w in answer["warnings"] if w.startswith("quiet_hours")]


@pytest.fixture
async def api(make_settings, clock, sqlite_url):
    settings = make_settings(
        database_url=sqlite_url,
        quiet_hours="21:00-09:00",
        secret_key=Fernet.generate_key().decode(),
        phone_number_id="111",
        access_token="token-of-the-default-number",
    )
    async with served_api(settings, clock, sqlite_url) as client:
        yield client


async def test_a_message_due_inside_is_moved_to_their_end_and_status_says_why(api):
    answer = await api.post("/schedule", json=NIGHT | {"id": "night"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["tarih"], body["saat"]) == ("2026-03-01", "23:30")  # as asked
    assert body["scheduled_at"] == MOVED
    (warning,) = quiet_notes(body)
    assert warning.startswith("quiet_hours: 2026-03-01 23:30 (Europe/Istanbul) is inside")
    assert "2026-03-02 09:00" in warning
    status = (await api.get("/status/night")).json()
    assert (status["status"], status["status_reason"]) == ("queued", "quiet_hours")
    assert status["deferred_until"] == MOVED
    words = status["status_reason_text"]
    assert "2026-03-02 09:00 (Europe/Istanbul)" in words["en"]
    assert "sessiz saatler" in words["tr"]
    # A retry of the same request is the same message (its hash is of the time asked).
    again = await api.post("/schedule", json=NIGHT | {"id": "night"})
    assert again.status_code == 200
    assert again.json()["scheduled_at"] == MOVED


async def test_quiet_hours_false_keeps_the_time_and_day_times_are_untouched(api):
    otp = await api.post("/schedule", json=NIGHT | {"id": "otp", "quiet_hours": False})
    assert otp.status_code == 200, otp.text
    assert otp.json()["scheduled_at"] == "2026-03-01T20:30:00Z"
    assert quiet_notes(otp.json()) == []
    assert (await api.get("/status/otp")).json()["status_reason"] is None
    day = await api.post("/schedule", json=NIGHT | {"id": "day", "saat": "20:59"})
    assert day.json()["scheduled_at"] == "2026-03-01T17:59:00Z"
    assert quiet_notes(day.json()) == []
    # Another zone's night: 23:30 in New York is 04:30 UTC on the 2nd; its end 09:00 EST.
    ny = await api.post(
        "/schedule",
        json=NIGHT | {"id": "ny", "alici": "+12125550100", "timezone": "America/New_York"},
    )
    assert ny.json()["scheduled_at"] == "2026-03-02T14:00:00Z"


async def test_a_batch_moves_only_the_entries_inside(api):
    answer = await api.post(
        "/schedule/batch",
        json={
            "messages": [
                NIGHT | {"id": "b-night"},
                NIGHT | {"id": "b-otp", "quiet_hours": False},
                NIGHT | {"id": "b-day", "saat": "15:00"},
            ]
        },
    )
    assert answer.status_code == 200, answer.text
    results = {r["id"]: r for r in answer.json()["results"]}
    assert results["b-night"]["scheduled_at"] == MOVED
    assert quiet_notes(results["b-night"])[0].startswith("quiet_hours: ")
    assert results["b-otp"]["scheduled_at"] == "2026-03-01T20:30:00Z"
    assert quiet_notes(results["b-day"]) == []
    assert quiet_notes(results["b-otp"]) == []


async def test_a_senders_own_quiet_hours_win(api, clock):
    shop = {"name": "shop", "phone_number_id": "1001", "access_token": "EAAG-shop-token"}
    added = await api.post("/senders", json=shop | {"quiet_hours": "off"})
    assert added.status_code == 201, added.text
    assert added.json()["quiet_hours"] == "off"
    clock.advance(timedelta(seconds=6))  # the service reads the senders' values every 5 s
    free = await api.post("/schedule", json=NIGHT | {"id": "shop-1", "gonderen": "shop"})
    assert free.json()["scheduled_at"] == "2026-03-01T20:30:00Z", free.text
    patched = await api.patch("/senders/shop", json={"quiet_hours": "22:00 - 23:45"})
    assert patched.status_code == 200
    assert patched.json()["quiet_hours"] == "22:00-23:45"
    clock.advance(timedelta(seconds=6))
    late = await api.post("/schedule", json=NIGHT | {"id": "shop-2", "gonderen": "shop"})
    assert late.json()["scheduled_at"] == "2026-03-01T20:45:00Z"  # 23:45 Istanbul
    cleared = await api.patch("/senders/shop", json={"quiet_hours": None})
    assert cleared.json()["quiet_hours"] is None  # back to QUIET_HOURS
    assert clock.now() > START


@pytest.mark.parametrize("value", ["9-5", "25:00-09:00", "", 7])
async def test_a_bad_senders_value_is_422_naming_the_field(api, value):
    shop = {"name": "shop", "phone_number_id": "1001", "access_token": "EAAG-shop-token"}
    answer = await api.post("/senders", json=shop | {"quiet_hours": value})
    assert answer.status_code == 422, answer.text
    assert "quiet_hours" in answer.text
    assert (await api.get("/senders/shop")).status_code == 404


async def test_a_bad_per_message_value_is_422(api):
    answer = await api.post("/schedule", json=NIGHT | {"quiet_hours": "no"})
    assert answer.status_code == 422
    assert "quiet_hours" in answer.text


async def test_the_cli_schedules_past_quiet_hours_and_status_says_why(api, monkeypatch):
    url = str(api.base_url)

    def client(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        args = cli._parser().parse_args([*argv, "--url", url, "--api-key", API_KEY])
        return cli_client.run(args, out, err), out.getvalue(), err.getvalue()

    at = ("--to", "+905551234567", "--at", "2026-03-01 23:30", "--text", "Merhaba")
    # The sync client runs on a thread: the served app lives in this test's event loop.
    code, _, err = await asyncio.to_thread(client, "schedule", *at, "--id", "cli-1")
    assert code == 0, err
    assert "warning: quiet_hours: 2026-03-01 23:30 (Europe/Istanbul)" in err
    code, _, err = await asyncio.to_thread(
        client, "schedule", *at, "--id", "cli-2", "--ignore-quiet-hours"
    )
    assert code == 0
    assert "quiet_hours" not in err
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    code, out, _ = await asyncio.to_thread(client, "status", "cli-1")
    assert "  deferred   until 2026-03-02 09:00:00 +03" in out  # local, in its zone
    assert "  reason     quiet_hours: Waiting: due inside the quiet hours" in out
    monkeypatch.setenv("LANG", "tr_TR.UTF-8")
    code, out, _ = await asyncio.to_thread(client, "status", "cli-1")
    assert "  reason     quiet_hours: Bekliyor: sessiz saatler içinde" in out
    code, out, _ = await asyncio.to_thread(client, "status", "cli-2")
    assert "reason" not in out


async def test_a_senders_messaging_limit_is_a_tier_or_422(api):
    shop = {"name": "shop", "phone_number_id": "1001", "access_token": "EAAG-shop-token"}
    bad = await api.post("/senders", json=shop | {"messaging_limit": "300"})
    assert bad.status_code == 422
    assert "messaging_limit" in bad.text
    added = await api.post("/senders", json=shop | {"messaging_limit": "2,000"})
    assert added.status_code == 201, added.text
    assert added.json()["messaging_limit"] == "2000"
    patched = await api.patch("/senders/shop", json={"messaging_limit": "Unlimited"})
    assert patched.json()["messaging_limit"] == "unlimited"
    cleared = await api.patch("/senders/shop", json={"messaging_limit": None})
    assert cleared.json()["messaging_limit"] is None  # back to MESSAGING_LIMIT


async def test_quiet_hours_are_the_contacts_nights_when_the_contact_has_a_zone(api):
    """14:00 in Istanbul is 06:00 in New York: a message to a contact who lives there is moved
    to 09:00 New York time; the same time to a number without a contact (or one without a
    zone) goes as asked."""
    stored = await api.post(
        "/contacts",
        json={
            "contacts": [
                {"phone": "+12125550100", "timezone": "America/New_York"},
                {"phone": "+12125550101", "name": "no zone"},
            ]
        },
    )
    assert stored.status_code == 200, stored.text
    day = {"tarih": "2026-03-01", "saat": "14:00", "mesaj": "Merhaba"}
    answer = await api.post("/schedule", json=day | {"id": "ny", "alici": "+12125550100"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["scheduled_at"] == "2026-03-01T14:00:00Z"  # 09:00 in New York (EST)
    (warning,) = quiet_notes(body)
    assert "(America/New_York)" in warning
    for n, phone in enumerate(("+12125550101", "+905551234567")):
        plain = await api.post("/schedule", json=day | {"id": f"plain{n}", "alici": phone})
        assert plain.json()["scheduled_at"] == "2026-03-01T11:00:00Z", plain.text
        assert quiet_notes(plain.json()) == []
    # A batch reads the contacts' zones too.
    batch = await api.post(
        "/schedule/batch",
        json={"messages": [day | {"id": "ny2", "alici": "+12125550100"}]},
    )
    assert batch.json()["results"][0]["scheduled_at"] == "2026-03-01T14:00:00Z", batch.text


async def test_a_sender_without_contacts_reads_no_address_book_per_request(api, clock):
    """The contact's zone costs a sender with no address book nothing: one probe, then none
    until QUIET_OVERRIDES_TTL; once it has contacts, their zones are used."""
    from whatsapp_scheduler.service import scheduler as scheduler_mod

    calls: list[str] = []
    original = type(api.store).get_profiles

    async def counted(self, sender, phones):
        calls.append(sender)
        return await original(self, sender, phones)

    type(api.store).get_profiles = counted
    try:
        day = {"tarih": "2026-03-01", "saat": "14:00", "mesaj": "Merhaba"}
        for n in range(3):
            answer = await api.post(
                "/schedule", json=day | {"id": f"p{n}", "alici": "+12125550100"}
            )
            assert answer.json()["scheduled_at"] == "2026-03-01T11:00:00Z"
        assert calls == []
        await api.post(
            "/contacts",
            json={"contacts": [{"phone": "+12125550100", "timezone": "America/New_York"}]},
        )
        clock.advance(scheduler_mod.QUIET_OVERRIDES_TTL)
        later = {"tarih": "2026-03-01", "saat": "14:30", "mesaj": "Merhaba"}
        moved = await api.post("/schedule", json=later | {"id": "p9", "alici": "+12125550100"})
        assert moved.json()["scheduled_at"] == "2026-03-01T14:00:00Z", moved.text
        assert calls == ["default"]
    finally:
        type(api.store).get_profiles = original
