"""Meta's per-user marketing limit (131049) through the real webhook and /status, over real
HTTP on a real SQLite file (docs/limits.md): the first `failed` 131049 puts the message back
in the queue for one more try 24 h later, and /status says why and when."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import START
from tests.integration.test_consent_api import WA_ID, _message, _ts, _value, _webhook, api
from whatsapp_scheduler import store
from whatsapp_scheduler.core import messages

__all__ = ["api"]  # the fixture, shared with the consent tests
S = messages.MessageStatus


async def _sent_as(api, message_id: str, wamid: str) -> None:
    claimed = await api.store.claim_due(
        START + timedelta(days=2), 10, "w1", START + timedelta(days=3)
    )
    assert [m.id for m in claimed] == [message_id]
    outcome = store.Outcome(
        message_id=message_id, worker="w1", status=S.SENT, finished_at=START,
        attempt=messages.AttemptOutcome.SENT, wamid=wamid,
    )  # fmt: skip
    assert await api.store.record([outcome]) == 1


def _limited(wamid: str) -> dict[str, Any]:
    return {
        "id": wamid,
        "status": "failed",
        "timestamp": _ts(60),
        "recipient_id": WA_ID,
        "errors": [{"code": 131049, "title": "healthy ecosystem engagement"}],
    }


async def test_a_131049_status_waits_24_hours_for_one_more_try(api):
    assert (await api.post("/schedule", json=_message("mk1"))).status_code == 200
    await _sent_as(api, "mk1", "wamid.mk1")
    await _webhook(api, _value(statuses=[_limited("wamid.mk1")]))
    status = (await api.get("/status/mk1")).json()
    assert (status["status"], status["status_reason"]) == ("queued", "marketing_limit")
    assert status["deferred_until"] == (START + timedelta(hours=24)).isoformat().replace(
        "+00:00", "Z"
    )
    assert "131049" in status["status_reason_text"]["en"]
    assert "131049" in status["status_reason_text"]["tr"]
    # The same webhook again (Meta retries deliveries) does not make a third try.
    await _webhook(api, _value(statuses=[_limited("wamid.mk1")]))
    assert (await api.get("/status/mk1")).json()["status"] == "queued"
