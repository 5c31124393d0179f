"""PATCH /schedule/{id} (docs/edits.md) over real HTTP, on a real SQLite file and PostgreSQL;
and the race of an edit with the dispatcher's claim on both."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import START
from tests.integration.conftest import APP_SECRET, VERIFY_TOKEN, served_api
from whatsapp_scheduler.core.messages import MessageStatus
from whatsapp_scheduler.store import sql

GOOD = {
    "id": "appt-1",
    "alici": "+905551234567",
    "tarih": "2026-03-02",
    "saat": "09:30",
    "mesaj": "Randevunuz yarın 09:30'da.",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def both_api(request, make_settings, clock):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    settings = make_settings(
        database_url=url, app_secret=APP_SECRET, webhook_verify_token=VERIFY_TOKEN
    )
    async with served_api(settings, clock, url) as client:
        yield client


async def test_edit_moves_the_time_and_text_and_records_who_and_what(both_api):
    api = both_api
    assert (await api.post("/schedule", json=GOOD)).status_code == 200
    response = await api.patch(
        "/schedule/appt-1", json={"saat": "14:00", "mesaj": "Randevunuz 14:00'e alındı."}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["saat"], body["mesaj"]) == ("14:00", "Randevunuz 14:00'e alındı.")
    assert body["scheduled_at"] == "2026-03-02T11:00:00Z"  # 14:00 in Istanbul
    stored = await api.store.get("appt-1")
    assert stored.run_at == stored.due_at == START.replace(day=2, hour=11)
    status = (await api.get("/status/appt-1")).json()
    (edit,) = status["edits"]
    assert edit["anahtar"] is None  # the environment's API_KEY
    assert edit["changes"]["saat"] == {"from": "09:30", "to": "14:00"}
    assert edit["changes"]["mesaj"]["from"] == GOOD["mesaj"]
    assert edit["changes"]["scheduled_at"]["to"].startswith("2026-03-02T11:00:00")
    assert set(edit["changes"]) == {"saat", "mesaj", "scheduled_at"}


async def test_an_edit_is_validated_as_a_new_message_and_changes_nothing_when_refused(both_api):
    api = both_api
    await api.post("/schedule", json=GOOD)
    before = await api.store.get("appt-1")
    for patch, field in [
        ({"tarih": "2026-02-01"}, "tarih"),  # in the past
        ({"saat": "25:00"}, "saat"),
        ({"alici": "not a number"}, "alici"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"mesaj": ""}, "mesaj"),
        ({"mesaj": "x" * 4097}, "mesaj"),
        ({"gonderen": "nobody"}, "gonderen"),
        ({"template": {"name": "x"}}, "template"),
    ]:
        response = await api.patch("/schedule/appt-1", json=patch)
        assert response.status_code == 422, (patch, response.text)
        assert response.json()["errors"][0]["field"].startswith(field), response.text
    unknown = await api.patch("/schedule/appt-1", json={"mesage": "typo"})
    assert unknown.status_code == 422
    assert "mesage" in unknown.text
    assert (await api.patch("/schedule/appt-1", json={})).status_code == 422
    assert await api.store.get("appt-1") == before
    assert (await api.get("/status/appt-1")).json()["edits"] == []


async def test_a_template_replaces_the_text(both_api):
    api = both_api
    await api.post("/schedule", json=GOOD)
    template = {"name": "randevu", "language": "tr", "parameters": ["14:00"]}
    response = await api.patch("/schedule/appt-1", json={"template": template})
    assert response.status_code == 200, response.text
    assert response.json()["mesaj"] is None
    assert response.json()["template"]["name"] == "randevu"


async def test_a_texts_fallback_template_is_kept_set_and_removed(both_api):
    """Changing a text's time or words keeps its fallback template; `fallback_template` sets a
    new one or (null) removes it, each recorded; one beside a template is 422, nothing changed."""
    api = both_api
    fallback = {"name": "randevu", "language": "tr", "parameters": ["09:30"]}
    stored = await api.post("/schedule", json=GOOD | {"fallback_template": fallback})
    assert stored.status_code == 200, stored.text
    moved = await api.patch("/schedule/appt-1", json={"saat": "10:00", "mesaj": "Saat 10:00."})
    assert moved.status_code == 200, moved.text
    assert moved.json()["fallback_template"]["name"] == "randevu"
    other = {"name": "hatirlatma", "language": "tr", "parameters": ["10:00"]}
    changed = await api.patch("/schedule/appt-1", json={"fallback_template": other})
    assert changed.status_code == 200, changed.text
    assert changed.json()["fallback_template"]["name"] == "hatirlatma"
    refused = await api.patch(
        "/schedule/appt-1",
        json={"template": fallback, "fallback_template": other},
    )
    assert refused.status_code == 422, refused.text
    assert "fallback_template" in refused.text
    (listed,) = (await api.get("/schedule")).json()
    assert (listed["mesaj"], listed["template"]) == ("Saat 10:00.", None)
    assert listed["fallback_template"]["name"] == "hatirlatma"
    removed = await api.patch("/schedule/appt-1", json={"fallback_template": None})
    assert removed.status_code == 200, removed.text
    assert removed.json()["fallback_template"] is None
    edits = (await api.get("/status/appt-1")).json()["edits"]
    assert [sorted(e["changes"]) for e in edits] == [
        ["mesaj", "saat", "scheduled_at"],
        ["fallback_template"],
        ["fallback_template"],
    ]


@pytest.mark.parametrize("status", ["sending", "sent", "failed", "cancelled"])
async def test_no_edit_once_not_queued(api, status):
    await api.post("/schedule", json=GOOD)
    if status == "cancelled":
        await api.delete("/schedule/appt-1")
    else:
        claimed = await api.store.claim_due(
            START + timedelta(days=2), 10, "w1", START + timedelta(days=3)
        )
        assert [m.id for m in claimed] == ["appt-1"]
        if status != "sending":
            from whatsapp_scheduler import store as store_mod
            from whatsapp_scheduler.core.messages import AttemptOutcome

            outcome = store_mod.Outcome(
                message_id="appt-1",
                worker="w1",
                status=MessageStatus(status),
                finished_at=START,
                attempt=AttemptOutcome(status),
            )
            assert await api.store.record([outcome]) == 1
    before = await api.store.get("appt-1")
    response = await api.patch("/schedule/appt-1", json={"mesaj": "too late"})
    assert response.status_code == 409, response.text
    assert status in response.json()["detail"]
    assert await api.store.get("appt-1") == before


async def test_unknown_id_is_404(api):
    assert (await api.patch("/schedule/nope", json={"mesaj": "x"})).status_code == 404


async def _race(message_store: sql.SqlMessageStore, api: Any, rounds: int) -> tuple[int, int]:
    """`rounds` messages, each edited while the dispatcher claims it. Whatever wins, the
    dispatcher holds exactly what is stored: an edit never lands on a claimed message."""
    edited = claimed_first = 0
    for index in range(rounds):
        message_id = f"race-{index}"
        body = {**GOOD, "id": message_id, "tarih": "2026-03-01", "saat": "12:00:30"}
        assert (await api.post("/schedule", json=body)).status_code == 200

        async def claim(delay: float) -> list[Any]:
            await asyncio.sleep(delay)  # spreads the claim over the PATCH's round trip
            claimed: list[Any] = await message_store.claim_due(
                START + timedelta(minutes=1), 1000, "w1", START + timedelta(hours=1)
            )
            return claimed

        claimed, patch = await asyncio.gather(
            claim((index % 10) * 0.002),
            api.patch(f"/schedule/{message_id}", json={"mesaj": "edited"}),
        )
        stored = await message_store.get(message_id)
        assert stored is not None
        if stored.status == MessageStatus.QUEUED:
            # PostgreSQL: the claim skipped the row the edit held locked (SKIP LOCKED); the
            # dispatcher's next round takes it, edited.
            assert patch.status_code == 200, patch.text
            claimed = await claim(0)
            stored = await message_store.get(message_id)
            assert stored is not None
        assert stored.status == MessageStatus.SENDING
        (taken,) = [m for m in claimed if m.id == message_id]
        assert taken.body == stored.body  # what the dispatcher sends is what is stored
        if patch.status_code == 200:
            edited += 1
            assert stored.body == "edited"
        else:
            assert patch.status_code == 409, patch.text
            claimed_first += 1
            assert stored.body == GOOD["mesaj"]
            status = (await api.get(f"/status/{message_id}")).json()
            assert status["edits"] == []
    return edited, claimed_first


async def test_an_edit_racing_the_claim_never_changes_a_message_being_sent(both_api):
    edited, claimed_first = await _race(both_api.store, both_api, 30)
    assert edited + claimed_first == 30


async def test_cli_edit_changes_time_and_text(api):
    import io

    from tests.conftest import API_KEY
    from whatsapp_scheduler import cli
    from whatsapp_scheduler.cli import client as cli_client

    await api.post("/schedule", json=GOOD)
    url = str(api.base_url)

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        args = cli._parser().parse_args([*argv, "--url", url, "--api-key", API_KEY])
        return cli_client.run(args, out, err), out.getvalue(), err.getvalue()

    code, out, err = await asyncio.to_thread(
        run, "edit", "appt-1", "--at", "2026-03-03 10:15", "--text", "Yeni saat 10:15"
    )
    assert code == 0, err
    assert (
        out.strip() == "edited appt-1: 2026-03-03 10:15 (Europe/Istanbul) to +905551234567: queued"
    )
    stored = await api.store.get("appt-1")
    assert (stored.local_date, stored.body) == ("2026-03-03", "Yeni saat 10:15")
    code, _, err = await asyncio.to_thread(run, "edit", "appt-1")
    assert code != 0
    assert "nothing to change" in err
    await api.delete("/schedule/appt-1")
    code, _, err = await asyncio.to_thread(run, "edit", "appt-1", "--text", "late")
    assert code != 0
    assert "cancelled" in err, err
