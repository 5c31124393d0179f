"""The control API's writes need the stand-in's token and its own origin, over real HTTP: a page
on another site must not forge an inbound message, a status or a handshake fetch."""

from __future__ import annotations

import aiohttp
import pytest

from tests.integration.sandbox.conftest import CONTROL_TOKEN, Receiver
from whatsapp_scheduler.sandbox import StandIn, StandInConfig

INBOUND = {"from": "+16505551234", "text": "forged"}


async def test_a_cross_site_form_post_cannot_forge_an_inbound_message(standin, receiver):
    standin.webhooks.url = receiver.url
    async with aiohttp.ClientSession() as browser:  # no token: what another site's page has
        form = await browser.post(
            f"{standin.url}/_sandbox/inbound",
            data=INBOUND,
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert form.status == 403
        assert "cross-origin" in (await form.json())["error"]
        plain = await browser.post(f"{standin.url}/_sandbox/inbound", json=INBOUND)
        assert plain.status == 403
        assert "X-Sandbox-Token" in (await plain.json())["error"]
    assert standin.conversations == {}
    assert receiver.posts == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},  # a sandboxed frame, a file:// page
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port of the same host is another origin
    ],
)
async def test_the_token_alone_is_not_enough_from_another_origin(standin, headers):
    async with aiohttp.ClientSession() as client:
        answer = await client.post(
            f"{standin.url}/_sandbox/inbound",
            json=INBOUND,
            headers={"X-Sandbox-Token": CONTROL_TOKEN, **headers},
        )
        assert answer.status == 403
    assert standin.conversations == {}


async def test_the_inbox_origin_with_the_token_is_accepted(standin, http):
    same = {"Origin": standin.url, "Sec-Fetch-Site": "same-origin"}
    async with http.post(f"{standin.url}/_sandbox/inbound", json=INBOUND, headers=same) as r:
        assert r.status == 200
    assert len(standin.conversations) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/_sandbox/faults"),
        ("POST", "/_sandbox/faults/rules"),
        ("DELETE", "/_sandbox/faults/rules"),
        ("PUT", "/_sandbox/limits"),
        ("PUT", "/_sandbox/webhooks"),
        ("POST", "/_sandbox/webhooks/handshake"),
        ("POST", "/_sandbox/messages/wamid.x/status"),
        ("POST", "/_sandbox/reset"),
    ],
)
async def test_every_control_write_needs_the_token(standin, method, path):
    async with aiohttp.ClientSession() as client:
        answer = await client.request(method, standin.url + path, json={})
        assert answer.status == 403


async def test_the_handshake_fetch_needs_the_token(make_standin, receiver: Receiver):
    standin: StandIn = await make_standin(webhook_url=receiver.url)
    async with aiohttp.ClientSession() as client:
        refused = await client.post(f"{standin.url}/_sandbox/webhooks/handshake", json={})
        assert refused.status == 403
    assert receiver.gets == []  # the stand-in fetched nothing
    async with aiohttp.ClientSession(headers={"X-Sandbox-Token": CONTROL_TOKEN}) as client:
        done = await client.post(f"{standin.url}/_sandbox/webhooks/handshake", json={})
        assert done.status == 200
    assert len(receiver.gets) == 1  # with the token it does


async def test_reads_stay_open_and_a_stand_in_makes_its_own_token():
    standin = StandIn(StandInConfig())
    await standin.start()
    try:
        assert len(standin.control_token) >= 24
        async with aiohttp.ClientSession() as client:
            state = await client.get(f"{standin.url}/_sandbox/state")
            assert state.status == 200
            page = await client.get(standin.url + "/")
            assert f'content="{standin.control_token}"' in await page.text()
            ok = await client.post(
                f"{standin.url}/_sandbox/reset",
                headers={"X-Sandbox-Token": standin.control_token},
            )
            assert ok.status == 200
    finally:
        await standin.stop()
