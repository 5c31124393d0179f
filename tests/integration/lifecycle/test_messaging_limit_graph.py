"""MESSAGING_LIMIT=graph (docs/limits.md): each number's daily messaging limit is read from the
Graph API (the stand-in answers Meta's field), booked against by the real dispatcher, followed
when Meta moves the tier, kept when Meta cannot be asked, and a sender's own value wins."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.lifecycle.conftest import NUMBER_ID, due_now
from whatsapp_scheduler import bootstrap
from whatsapp_scheduler.dispatch import retries

TEMPLATE = {"name": "offer", "language": "tr", "parameters": ["x"]}


async def _dispatcher(env: Any) -> Any:
    policy = retries.RetryPolicy(max_attempts=3, base_seconds=0.02, cap_seconds=0.1)
    return await bootstrap.build_dispatcher(env.settings, env.store, policy=policy)


async def test_the_tier_meta_answers_is_the_limit_booked_against(live):
    async with live(messaging_limit="graph") as env:
        env.standin.set_messaging_limit(NUMBER_ID, "TIER_50")  # Meta's older, smallest tier
        d = await _dispatcher(env)
        try:
            assert d.path.messaging_limit == 250  # until Meta answers: the smallest tier
            assert "messaging-limit" in [job for job, *_ in d.wakeup.extra_jobs]  # hourly
            assert await d.refresh_messaging_limits() == 1
            assert d.path.messaging_limit == 50
            batch = [
                {"id": f"m{i}", "alici": f"+90555100{i:04d}", "template": TEMPLATE, **due_now()}
                for i in range(51)
            ]
            stored = await env.client.post("/schedule/batch", json={"messages": batch})
            assert stored.status_code == 200, stored.text
            await d.run(burst=True)
        finally:
            await d.stop()
        statuses = [(await env.client.get(f"/status/m{i}")).json() for i in range(51)]
        held = [s for s in statuses if s["status"] == "queued"]
        assert len(held) == 1  # 50 unique contacts reached outside their window, no more
        assert held[0]["status_reason"] == "messaging_limit"
        sent = {r.body["to"] for r in env.standin.requests if r.body and r.body.get("to")}
        assert len(sent) == 50


async def test_a_tier_change_is_followed_and_a_failed_read_keeps_the_last(live):
    async with live(messaging_limit="graph") as env:
        d = await _dispatcher(env)
        try:
            await d.refresh_messaging_limits()
            assert d.path.messaging_limit == 250  # the stand-in's default: a new portfolio
            env.standin.set_messaging_limit(NUMBER_ID, "TIER_10K")
            await d.refresh_messaging_limits()
            assert d.path.messaging_limit == 10_000
            env.standin.set_messaging_limit(NUMBER_ID, "TIER_UNLIMITED")
            await d.refresh_messaging_limits()
            assert d.path.messaging_limit is None
            env.standin.set_messaging_limit(NUMBER_ID, "TIER_2K")
            env.standin.set_token(NUMBER_ID, "rotated-at-meta")  # our token now refused: 190
            assert await d.refresh_messaging_limits() == 0
            assert d.path.messaging_limit is None  # the last tier read stays
        finally:
            await d.stop()


@pytest.mark.parametrize(
    ("tier", "contacts"),
    [("TIER_250", 250), ("TIER_2K", 2000), ("TIER_100K", 100_000), ("TIER_UNLIMITED", None)],
)
async def test_the_cloud_api_client_reads_each_tier(live, tier, contacts):
    async with live() as env:
        env.standin.set_messaging_limit(NUMBER_ID, tier)
        d = await _dispatcher(env)
        try:
            assert await d.path.sender.messaging_limit() == contacts
        finally:
            await d.stop()


async def test_without_graph_the_setting_holds_and_nothing_is_asked(live):
    async with live(messaging_limit="2000") as env:
        d = await _dispatcher(env)
        try:
            assert d.path.messaging_limit == 2000
            jobs = [job for job, *_ in d.wakeup.extra_jobs]
            assert "messaging-limit" not in jobs
            assert "campaign-tallies" in jobs  # the funnel's fold runs in every dispatcher
        finally:
            await d.stop()
