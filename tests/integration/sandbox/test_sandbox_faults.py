"""Limits and injected faults over real HTTP: 5xx, hangs, latency, 130429, 131056, 131047, codes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from whatsapp_scheduler.sandbox import PairRate, StandIn
from whatsapp_scheduler.sandbox.graph_errors import CATALOGUE


async def statuses_of(send, standin: StandIn, body: dict[str, Any], n: int) -> list[int]:
    return [(await send(standin, body))[0] for _ in range(n)]


async def test_error_rate_is_roughly_honoured_and_seeded(make_standin, send, text_body) -> None:
    first = await make_standin(seed=7, throughput_per_second=None, pair_rate=None)
    second = await make_standin(seed=7, throughput_per_second=None, pair_rate=None)
    for s in (first, second):
        s.set_faults(error_rate=0.3)

    a = await statuses_of(send, first, text_body(), 300)
    b = await statuses_of(send, second, text_body(), 300)

    assert a == b, "same seed, same faults"
    assert set(a) == {200, 500}
    assert 60 <= a.count(500) <= 120  # expected 90
    assert len(first.messages_to("+16505551234")) == a.count(200)


async def test_server_error_with_graph_body(standin: StandIn, send, text_body) -> None:
    standin.set_faults(error_rate=1.0, error_status=503)
    status, reply = await send(standin, text_body())
    assert status == 503
    assert reply["error"]["code"] == 2
    assert standin.requests[-1].fault == "server_error"
    assert standin.conversations == {}


async def test_server_error_without_body(standin: StandIn, send, text_body) -> None:
    standin.faults.error_rate = 1.0
    standin.faults.error_body = False
    status, reply = await send(standin, text_body())
    assert (status, reply) == (500, "")


async def test_hang_makes_the_client_time_out_but_the_message_arrives(
    standin: StandIn, send, text_body
) -> None:
    standin.set_faults(hang_rate=1.0, hang_seconds=30)

    with pytest.raises(asyncio.TimeoutError):
        await send(standin, text_body(biz_opaque_callback_data="job-h"), client_timeout=0.3)

    # The stand-in serves in this loop: on a slow machine it may take the request only after
    # the client gave up. Wait for it: the point is that a timed-out request still arrives.
    async with asyncio.timeout(15):
        while not standin.sends_for("job-h"):
            await asyncio.sleep(0.01)
    [record] = standin.sends_for("job-h")
    assert record.fault == "hang"
    assert record.wamid is not None
    assert len(standin.messages_to("+16505551234")) == 1, "a timeout is ambiguous: it went out"


async def test_added_latency(standin: StandIn, send, text_body) -> None:
    standin.set_faults(latency_seconds=0.2)
    started = time.perf_counter()
    status, _ = await send(standin, text_body())
    assert status == 200
    assert time.perf_counter() - started >= 0.2 - 0.005  # 5 ms: timer granularity


async def test_throughput_limit_gives_130429_per_phone_number(
    make_standin, send, text_body, clock
) -> None:
    standin = await make_standin(
        throughput_per_second=3, pair_rate=None, clock=clock, extra_phone_number_ids=("222",)
    )
    results = [await send(standin, text_body(to=f"+1650555000{n}")) for n in range(4)]
    assert [s for s, _ in results] == [200, 200, 200, 429]
    assert results[3][1]["error"]["code"] == 130429
    assert results[3][1]["error"]["message"] == "(#130429) Rate limit hit"

    assert (await send(standin, text_body(), phone_id="222"))[0] == 200, "own bucket per number"
    clock.advance(1 / 3)
    assert (await send(standin, text_body()))[0] == 200
    assert (await send(standin, text_body()))[0] == 429


async def test_default_throughput_is_metas_80_per_second(
    make_standin, send, text_body, clock
) -> None:
    standin = await make_standin(pair_rate=None, clock=clock)
    codes = await statuses_of(send, standin, text_body(), 81)
    assert codes.count(200) == 80
    assert codes[-1] == 429


async def test_throughput_limit_can_be_lifted_at_run_time(
    make_standin, send, text_body, clock
) -> None:
    standin = await make_standin(throughput_per_second=1, pair_rate=None, clock=clock)
    assert await statuses_of(send, standin, text_body(), 2) == [200, 429]
    standin.set_limits(throughput_per_second=None)
    assert await statuses_of(send, standin, text_body(), 3) == [200, 200, 200]


async def test_pair_rate_gives_131056_for_one_recipient_only(
    make_standin, send, text_body, clock
) -> None:
    standin = await make_standin(
        throughput_per_second=None, pair_rate=PairRate(per_second=1 / 6, capacity=2), clock=clock
    )
    assert await statuses_of(send, standin, text_body(to="+16505550001"), 3) == [200, 200, 429]
    assert standin.requests[-1].error_code == 131056
    assert (await send(standin, text_body(to="+16505550002")))[0] == 200

    clock.advance(5.9)
    assert (await send(standin, text_body(to="+16505550001")))[0] == 429
    clock.advance(0.1)
    assert (await send(standin, text_body(to="+16505550001")))[0] == 200


async def test_default_pair_rate_allows_a_burst_of_45(make_standin, send, text_body, clock) -> None:
    standin = await make_standin(throughput_per_second=None, clock=clock)
    codes = await statuses_of(send, standin, text_body(), 46)
    assert codes.count(200) == 45
    assert codes[-1] == 429


class WallClock:
    def __init__(self) -> None:
        self.now = 1_760_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_window_sync_rejects_text_outside_24h(
    make_standin, send, text_body, template_body
) -> None:
    wall = WallClock()
    standin = await make_standin(window_check="sync", wall_clock=wall)

    status, reply = await send(standin, text_body())
    assert (status, reply["error"]["code"]) == (400, 131047)
    assert (await send(standin, template_body()))[0] == 200, "templates ignore the window"

    await standin.inbound("+16505551234", "hi!")
    wall.now += 24 * 3600 - 1
    assert (await send(standin, text_body()))[0] == 200
    wall.now += 2
    assert (await send(standin, text_body()))[1]["error"]["code"] == 131047


async def test_window_async_accepts_then_fails_by_webhook(
    make_standin, send, text_body, receiver
) -> None:
    standin = await make_standin(window_check="async", webhook_url=receiver.url)

    status, reply = await send(standin, text_body(biz_opaque_callback_data="job-w"))
    assert status == 200
    wamid = reply["messages"][0]["id"]
    await receiver.wait_for(lambda: len(receiver.statuses) == 1)

    [failed] = receiver.statuses
    assert failed["id"] == wamid
    assert failed["status"] == "failed"
    assert failed["errors"][0]["code"] == 131047
    assert "pricing" not in failed
    [message] = standin.messages_to("16505551234")
    assert (message.status, message.error_code) == ("failed", 131047)


async def test_window_off_by_default(standin: StandIn, send, text_body) -> None:
    assert (await send(standin, text_body()))[0] == 200


async def test_fail_next_sync_then_recovers(standin: StandIn, send, text_body) -> None:
    standin.fail_next(2, 131026)
    results = [await send(standin, text_body()) for _ in range(3)]
    assert [s for s, _ in results] == [400, 400, 200]
    assert results[0][1]["error"]["code"] == 131026
    assert standin.faults.rules == [], "an exhausted rule goes away"


async def test_fail_next_async_fails_by_webhook(
    standin: StandIn, send, text_body, receiver
) -> None:
    standin.set_webhooks(url=receiver.url)
    standin.fail_next(1, 131049, asynchronous=True)

    status, reply = await send(standin, text_body())
    assert status == 200
    await receiver.wait_for(lambda: bool(receiver.statuses))
    assert receiver.statuses[0]["errors"][0]["code"] == 131049
    assert receiver.statuses[0]["id"] == reply["messages"][0]["id"]
    assert standin.requests[-1].async_error_code == 131049


async def test_fail_recipient_only_hits_that_recipient(standin: StandIn, send, text_body) -> None:
    standin.fail_recipient("+1 650 555 0009", 130403)
    assert (await send(standin, text_body(to="+16505550009")))[1]["error"]["code"] == 130403
    assert (await send(standin, text_body(to="+16505550008")))[0] == 200
    standin.clear_failures()
    assert (await send(standin, text_body(to="+16505550009")))[0] == 200


async def test_fail_randomly_is_seeded(make_standin, send, text_body) -> None:
    runs = []
    for _ in range(2):
        standin = await make_standin(seed=3, throughput_per_second=None, pair_rate=None)
        standin.fail_randomly(0.5, 131000)
        runs.append(await statuses_of(send, standin, text_body(), 40))
    assert runs[0] == runs[1]
    assert 8 <= runs[0].count(500) <= 32, "131000 is a server-side code: HTTP 500"


async def test_every_catalogued_code_can_be_forced(standin: StandIn, send, text_body) -> None:
    for code, (title, _details) in CATALOGUE.items():
        standin.fail_next(1, code)
        status, reply = await send(standin, text_body())
        assert status >= 400, code
        assert reply["error"]["code"] == code
        assert reply["error"]["message"] == f"(#{code}) {title}"


async def test_control_api_sets_faults(standin: StandIn, send, text_body, http) -> None:
    async with http.put(f"{standin.url}/_sandbox/faults", json={"error_rate": 1.0}) as r:
        assert r.status == 200
        assert (await r.json())["faults"]["error_rate"] == 1.0
    assert (await send(standin, text_body()))[0] == 500

    async with http.put(f"{standin.url}/_sandbox/faults", json={"error_rate": 2}) as r:
        assert r.status == 400
        assert "rates" in (await r.json())["error"]
    async with http.put(f"{standin.url}/_sandbox/faults", json={"eror_rate": 0}) as r:
        assert r.status == 400
    assert standin.faults.error_rate == 1.0, "a refused change changes nothing"


async def test_control_api_rules(standin: StandIn, send, text_body, http) -> None:
    rule = {"code": 131048, "count": 1, "recipient": "+16505551234"}
    async with http.post(f"{standin.url}/_sandbox/faults/rules", json=rule) as r:
        assert r.status == 200
    assert (await send(standin, text_body()))[1]["error"]["code"] == 131048
    assert (await send(standin, text_body()))[0] == 200

    async with http.post(f"{standin.url}/_sandbox/faults/rules", json={"code": 131000}) as r:
        assert r.status == 200
    async with http.delete(f"{standin.url}/_sandbox/faults/rules") as r:
        assert (await r.json())["faults"]["rules"] == []
    async with http.post(f"{standin.url}/_sandbox/faults/rules", json={"cod": 1}) as r:
        assert r.status == 400


async def test_control_api_limits(make_standin, send, text_body, http, clock) -> None:
    standin = await make_standin(clock=clock, throughput_per_second=1)
    changes = {"throughput_per_second": None, "pair_rate": {"per_second": 1, "capacity": 1}}
    async with http.put(f"{standin.url}/_sandbox/limits", json=changes) as r:
        assert r.status == 200
    assert await statuses_of(send, standin, text_body(), 2) == [200, 429]
    assert standin.requests[-1].error_code == 131056
    async with http.put(f"{standin.url}/_sandbox/limits", json={"window_check": "never"}) as r:
        assert r.status == 400


async def test_reset_restores_start_up_settings(standin: StandIn, send, text_body, http) -> None:
    standin.set_faults(error_rate=1.0)
    standin.fail_next(5, 131000)
    await send(standin, text_body())
    async with http.post(f"{standin.url}/_sandbox/reset") as r:
        assert r.status == 200
    assert standin.requests == []
    assert (await send(standin, text_body()))[0] == 200


async def test_stop_does_not_wait_for_hung_requests(make_standin, text_body) -> None:
    standin = await make_standin()
    standin.set_faults(hang_rate=1.0, hang_seconds=60)
    events = standin.bus.subscribe()
    session = aiohttp.ClientSession()
    url = f"{standin.url}/v23.0/106540352242922/messages"
    task = asyncio.create_task(
        session.post(url, json=text_body(), headers={"Authorization": "Bearer test-token"})
    )
    async with asyncio.timeout(15):
        assert (await events.get())[0] == "request"
    assert standin.requests[0].fault == "hang"
    started = time.perf_counter()
    await standin.stop()
    # Waiting for the hang would take 60 s; stopping takes milliseconds, more on a loaded
    # machine: 10 s tells the two apart with room to spare.
    assert time.perf_counter() - started < 10
    with pytest.raises(aiohttp.ClientError):
        await task
    await session.close()
