"""Status and inbound webhooks to a receiver on loopback: signature, shape, order, retries."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any

from whatsapp_scheduler.sandbox import StandIn, StatusDelays

SECRET = "test-app-secret"
PHONE_ID = "106540352242922"
#: Deadline for the stand-in to go idle: only against a hang (see WAIT in conftest.py).
IDLE_WITHIN = 15.0


def kinds(statuses: list[dict[str, Any]]) -> list[str]:
    return [s["status"] for s in statuses]


async def test_statuses_are_signed_shaped_and_ordered(
    make_standin, send, text_body, receiver
) -> None:
    standin = await make_standin(webhook_url=receiver.url)
    _, reply = await send(standin, text_body(biz_opaque_callback_data="job-42"))
    wamid = reply["messages"][0]["id"]

    await receiver.wait_for(lambda: len(receiver.statuses) == 3)

    assert kinds(receiver.statuses) == ["sent", "delivered", "read"]
    for post in receiver.posts:
        expected = "sha256=" + hmac.new(SECRET.encode(), post.raw, hashlib.sha256).hexdigest()
        assert post.headers["X-Hub-Signature-256"] == expected
        assert post.headers["Content-Type"] == "application/json"
        envelope = post.json
        assert envelope["object"] == "whatsapp_business_account"
        [entry] = envelope["entry"]
        [change] = entry["changes"]
        assert change["field"] == "messages"
        assert change["value"]["messaging_product"] == "whatsapp"
        assert change["value"]["metadata"]["phone_number_id"] == PHONE_ID
    sent, delivered, read = receiver.statuses
    for status in (sent, delivered, read):
        assert status["id"] == wamid
        assert status["recipient_id"] == "16505551234"
        assert status["biz_opaque_callback_data"] == "job-42"
        assert status["timestamp"].isdigit()
        assert abs(int(status["timestamp"]) - time.time()) < 60
        assert "conversation" not in status, "v24+ leaves conversation out"
    assert sent["pricing"]["pricing_model"] == "PMP"
    assert "pricing" in delivered
    assert "pricing" not in read, "pricing on sent and on one of delivered/read"
    [message] = standin.messages_to("+16505551234")
    assert message.status == "read"


async def test_callback_data_absent_when_not_sent(make_standin, send, text_body, receiver) -> None:
    standin = await make_standin(webhook_url=receiver.url)
    await send(standin, text_body())
    await receiver.wait_for(lambda: len(receiver.statuses) == 3)
    assert all("biz_opaque_callback_data" not in s for s in receiver.statuses)


async def test_template_pricing_is_billable(make_standin, send, template_body, receiver) -> None:
    standin = await make_standin(webhook_url=receiver.url)
    await send(standin, template_body())
    await receiver.wait_for(lambda: len(receiver.statuses) == 3)
    assert receiver.statuses[0]["pricing"]["billable"] is True
    assert receiver.statuses[0]["pricing"]["type"] == "regular"


async def test_delays_space_the_statuses(make_standin, send, text_body, receiver) -> None:
    """Each status comes its delay after the previous one: measured from the receiver's own
    arrival times, not by looking at a lucky moment in between."""
    standin = await make_standin(
        webhook_url=receiver.url, status_delays=StatusDelays(sent=0, delivered=0.3, read=0.3)
    )
    loop = asyncio.get_running_loop()
    before = loop.time()  # the send is accepted after this: its statuses are timed from then
    await send(standin, text_body())
    await receiver.wait_for(lambda: len(receiver.statuses) == 1)
    if loop.time() < before + 0.3:  # delivered cannot have happened yet, so the phone says:
        assert standin.messages_to("16505551234")[0].status == "sent"
    await receiver.wait_for(lambda: len(receiver.statuses) == 3)
    assert kinds(receiver.statuses) == ["sent", "delivered", "read"]
    arrived = {s["status"]: post.at for post in receiver.posts for s in post.value["statuses"]}
    # Never earlier than planned (5 ms: timer granularity); how much later depends on the load.
    assert arrived["delivered"] - before >= 0.3 - 0.005, arrived
    assert arrived["read"] - before >= 0.6 - 0.005, arrived


async def test_read_probability_zero_stops_at_delivered(
    make_standin, send, text_body, receiver
) -> None:
    standin = await make_standin(webhook_url=receiver.url, read_probability=0.0)
    await send(standin, text_body())
    async with asyncio.timeout(IDLE_WITHIN):
        await standin.wait_webhooks()
    assert kinds(receiver.statuses) == ["sent", "delivered"]


async def test_retry_on_non_200_with_the_same_body(make_standin, send, text_body, receiver) -> None:
    standin = await make_standin(
        webhook_url=receiver.url, read_probability=0.0, delivered_probability=0.0
    )
    receiver.replies = [500, 503]

    await send(standin, text_body())
    async with asyncio.timeout(IDLE_WITHIN):
        await standin.wait_webhooks()

    assert len(receiver.posts) == 3
    assert receiver.posts[0].raw == receiver.posts[1].raw == receiver.posts[2].raw
    attempts = [(a["attempt"], a["status"]) for a in standin.webhook_log]
    assert attempts == [(1, 500), (2, 503), (3, 200)]


async def test_retries_are_bounded(make_standin, send, text_body, receiver) -> None:
    standin = await make_standin(
        webhook_url=receiver.url,
        delivered_probability=0.0,
        webhook_max_attempts=3,
        webhook_retry_base=0.01,
    )
    receiver.replies = [500] * 10
    await send(standin, text_body())
    async with asyncio.timeout(IDLE_WITHIN):
        await standin.wait_webhooks()
    assert len(receiver.posts) == 3


async def test_unreachable_receiver_is_retried_then_dropped(make_standin, send, text_body) -> None:
    standin = await make_standin(
        webhook_url="http://127.0.0.1:9/webhook",
        delivered_probability=0.0,
        webhook_max_attempts=2,
        webhook_retry_base=0.01,
    )
    assert (await send(standin, text_body()))[0] == 200
    async with asyncio.timeout(IDLE_WITHIN):
        await standin.wait_webhooks()
    assert [a["status"] for a in standin.webhook_log] == [None, None]
    assert standin.webhook_log[0]["error"]


async def test_duplicates_are_injected(make_standin, send, text_body, receiver) -> None:
    standin = await make_standin(webhook_url=receiver.url)
    standin.set_faults(duplicate_rate=1.0)
    await send(standin, text_body())
    await receiver.wait_for(lambda: len(receiver.statuses) == 6)
    assert sorted(kinds(receiver.statuses)) == sorted(["sent", "delivered", "read"] * 2)


async def test_skipped_delivered(make_standin, send, text_body, receiver) -> None:
    standin = await make_standin(webhook_url=receiver.url)
    standin.set_faults(skip_delivered_rate=1.0)
    await send(standin, text_body())
    async with asyncio.timeout(IDLE_WITHIN):
        await standin.wait_webhooks()
    assert kinds(receiver.statuses) == ["sent", "read"]
    assert "pricing" in receiver.statuses[1], "read carries the pricing delivered would have"
    assert standin.messages_to("16505551234")[0].status == "read"


async def test_reordered_read_before_delivered(make_standin, send, text_body, receiver) -> None:
    standin = await make_standin(webhook_url=receiver.url, webhook_batch_size=1)
    standin.set_faults(reorder_rate=1.0)
    await send(standin, text_body())
    async with asyncio.timeout(IDLE_WITHIN):
        await standin.wait_webhooks()
    assert kinds(receiver.statuses) == ["sent", "read", "delivered"]
    assert standin.messages_to("16505551234")[0].status == "read", "status rank only moves forward"


async def test_batching_puts_several_statuses_in_one_post(
    make_standin, send, text_body, receiver
) -> None:
    standin = await make_standin(webhook_url=receiver.url, webhook_batch_size=50)
    await asyncio.gather(*(send(standin, text_body(to=f"+1650555000{n}")) for n in range(5)))
    async with asyncio.timeout(IDLE_WITHIN):
        await standin.wait_webhooks()
    assert len(receiver.statuses) == 15
    assert len(receiver.posts) < 15
    assert max(len(p.value["statuses"]) for p in receiver.posts) > 1


async def test_no_webhook_url_means_no_webhooks(standin: StandIn, send, text_body) -> None:
    await send(standin, text_body())
    async with asyncio.timeout(IDLE_WITHIN):
        await standin.wait_webhooks()
    assert standin.webhook_log == []
    assert standin.messages_to("16505551234")[0].status == "read", "the phone still shows ticks"


async def test_webhook_url_can_be_set_at_run_time(
    standin: StandIn, send, text_body, receiver, http
) -> None:
    async with http.put(f"{standin.url}/_sandbox/webhooks", json={"url": receiver.url}) as r:
        assert r.status == 200
    await send(standin, text_body())
    await receiver.wait_for(lambda: len(receiver.statuses) == 3)


async def test_failed_status_injected_for_a_sent_message(
    make_standin, send, text_body, receiver, http
) -> None:
    standin = await make_standin(webhook_url=receiver.url, delivered_probability=0.0)
    _, reply = await send(standin, text_body(biz_opaque_callback_data="job-f"))
    wamid = reply["messages"][0]["id"]
    await receiver.wait_for(lambda: len(receiver.statuses) == 1)

    async with http.post(
        f"{standin.url}/_sandbox/messages/{wamid}/status", json={"status": "failed", "code": 131026}
    ) as r:
        assert r.status == 200
    await receiver.wait_for(lambda: len(receiver.statuses) == 2)
    failed = receiver.statuses[1]
    assert failed["status"] == "failed"
    assert failed["errors"][0]["code"] == 131026
    assert failed["errors"][0]["title"]
    assert failed["biz_opaque_callback_data"] == "job-f"
    async with http.post(
        f"{standin.url}/_sandbox/messages/wamid.nope/status", json={"status": "read"}
    ) as r:
        assert r.status == 404


async def test_inbound_posts_a_signed_text_webhook_and_opens_the_window(
    make_standin, send, text_body, receiver, http
) -> None:
    standin = await make_standin(webhook_url=receiver.url, window_check="sync")
    assert (await send(standin, text_body()))[1]["error"]["code"] == 131047

    async with http.post(
        f"{standin.url}/_sandbox/inbound", json={"from": "+16505551234", "text": "Hello there"}
    ) as r:
        assert r.status == 200
        wamid = (await r.json())["wamid"]
    await receiver.wait_for(lambda: len(receiver.posts) == 1)

    post = receiver.posts[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), post.raw, hashlib.sha256).hexdigest()
    assert post.headers["X-Hub-Signature-256"] == expected
    value = post.value
    assert value["contacts"][0]["wa_id"] == "16505551234"
    [message] = value["messages"]
    assert message["from"] == "16505551234"
    assert message["id"] == wamid
    assert message["type"] == "text"
    assert message["text"] == {"body": "Hello there"}
    assert message["timestamp"].isdigit()
    assert (await send(standin, text_body()))[0] == 200, "the window is open now"


async def test_inbound_rejects_bad_input(standin: StandIn, http) -> None:
    async with http.post(f"{standin.url}/_sandbox/inbound", json={"from": "x", "text": "t"}) as r:
        assert r.status == 400
    async with http.post(
        f"{standin.url}/_sandbox/inbound", json={"from": "+1650", "text": ""}
    ) as r:
        assert r.status == 400


async def test_handshake_helper(make_standin, receiver, http) -> None:
    standin = await make_standin(webhook_url=receiver.url)
    result = await standin.verify_webhook()
    assert result.ok
    assert result.status == 200
    assert result.body == result.challenge

    bad = await standin.verify_webhook(verify_token="wrong")
    assert not bad.ok
    assert bad.status == 403

    async with http.post(f"{standin.url}/_sandbox/webhooks/handshake") as r:
        assert (await r.json())["ok"] is True


async def test_handshake_without_url(standin: StandIn) -> None:
    result = await standin.verify_webhook()
    assert not result.ok
    assert result.error == "no webhook URL"
