"""Issue #15 part 5: the stand-in models several business numbers, each with its own token."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.integration.sandbox.conftest import PHONE_ID, TOKEN
from whatsapp_scheduler.sandbox import Number

BRANCH_ID = "106540352242923"
BRANCH_TOKEN = "branch-token"
BRANCH = Number(BRANCH_ID, BRANCH_TOKEN, display_phone_number="15550783882", label="branch")
IDLE_WITHIN = 15.0


async def test_each_number_takes_its_own_token_only(make_standin, send, text_body) -> None:
    standin = await make_standin(extra_numbers=(BRANCH,))
    assert (await send(standin, text_body(), token=BRANCH_TOKEN, phone_id=BRANCH_ID))[0] == 200
    assert (await send(standin, text_body(), token=TOKEN, phone_id=PHONE_ID))[0] == 200
    status, reply = await send(standin, text_body(), token=TOKEN, phone_id=BRANCH_ID)
    assert (status, reply["error"]["code"]) == (401, 190)  # the other number's token
    status, reply = await send(standin, text_body(), token=BRANCH_TOKEN, phone_id=PHONE_ID)
    assert (status, reply["error"]["code"]) == (401, 190)
    status, reply = await send(standin, text_body(), token=BRANCH_TOKEN, phone_id="999")
    assert (status, reply["error"]["code"]) == (400, 100)  # a good token, no such number
    standin.set_token(BRANCH_ID, "rotated")
    status, reply = await send(standin, text_body(), token=BRANCH_TOKEN, phone_id=BRANCH_ID)
    assert (status, reply["error"]["code"]) == (401, 190)
    assert (await send(standin, text_body(), token="rotated", phone_id=BRANCH_ID))[0] == 200
    assert standin.number("branch").access_token == "rotated"


async def test_an_outage_of_one_number_only(make_standin, send, text_body) -> None:
    standin = await make_standin(extra_numbers=(BRANCH,))
    standin.set_faults(error_rate=1.0, error_status=503, error_phone_number_ids=[BRANCH_ID])
    assert (await send(standin, text_body(), token=BRANCH_TOKEN, phone_id=BRANCH_ID))[0] == 503
    assert (await send(standin, text_body()))[0] == 200


async def test_status_webhooks_carry_the_number_that_sent(
    make_standin, send, text_body, receiver
) -> None:
    standin = await make_standin(
        webhook_url=receiver.url, webhook_batch_size=50, extra_numbers=(BRANCH,)
    )
    sends = []
    for n in range(6):
        number, token = (BRANCH_ID, BRANCH_TOKEN) if n % 2 else (PHONE_ID, TOKEN)
        sends.append(send(standin, text_body(to=f"+1650555000{n}"), token=token, phone_id=number))
    replies = await asyncio.gather(*sends)
    sent_from = {
        reply["messages"][0]["id"]: BRANCH_ID if n % 2 else PHONE_ID
        for n, (_, reply) in enumerate(replies)
    }
    async with asyncio.timeout(IDLE_WITHIN):
        await standin.wait_webhooks()
    assert len(receiver.statuses) == 18
    for post in receiver.posts:  # one number per POST, and the right one
        metadata: dict[str, Any] = post.value["metadata"]
        numbers = {sent_from[s["id"]] for s in post.value["statuses"]}
        assert numbers == {metadata["phone_number_id"]}
        display = "15550783882" if metadata["phone_number_id"] == BRANCH_ID else "15550783881"
        assert metadata["display_phone_number"] == display


async def test_inbound_to_a_number_and_the_inbox_shows_which(
    make_standin, send, text_body, receiver, http
) -> None:
    standin = await make_standin(webhook_url=receiver.url, extra_numbers=(BRANCH,))
    body = {"from": "+16505551234", "text": "hi branch", "phone_number_id": BRANCH_ID}
    async with http.post(f"{standin.url}/_sandbox/inbound", json=body) as r:
        assert r.status == 200
    await receiver.wait_for(lambda: len(receiver.posts) == 1)
    assert receiver.posts[0].value["metadata"]["phone_number_id"] == BRANCH_ID
    bad = {"from": "+16505551234", "text": "hi", "phone_number_id": "42"}
    async with http.post(f"{standin.url}/_sandbox/inbound", json=bad) as r:
        assert r.status == 400
        assert "phone_number_id" in (await r.json())["error"]
    assert len(standin.messages_to("16505551234")) == 1  # nothing changed

    await send(standin, text_body(to="+16505559999"), token=BRANCH_TOKEN, phone_id=BRANCH_ID)
    async with http.get(standin.url + "/") as r:
        page = await r.text()
    assert f'title="business number {BRANCH_ID}">branch</span>' in page
    async with http.get(standin.url + "/_sandbox/state") as r:
        state = await r.json()
    assert state["numbers"] == [
        {"phone_number_id": PHONE_ID, "display_phone_number": "15550783881", "label": "default"},
        {"phone_number_id": BRANCH_ID, "display_phone_number": "15550783882", "label": "branch"},
    ]
    assert BRANCH_TOKEN not in str(state)
    assert TOKEN not in str(state)
