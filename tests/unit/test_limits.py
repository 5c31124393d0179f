"""MESSAGING_LIMIT (core/limits.py): Meta's tiers or unlimited; anything else stops start-up
naming the setting. And the booking rule (`store/sql_limits.book`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from whatsapp_scheduler import settings
from whatsapp_scheduler.core import limits
from whatsapp_scheduler.store import sql_limits

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "value"),
    [("unlimited", None), ("", None), ("250", 250), ("2,000", 2000), ("100_000", 100000)],
)
def test_tiers(text: str, value: int | None) -> None:
    assert limits.parse_limit(text) == value
    assert settings.Settings(messaging_limit=text, _env_file=None).messaging_cap() == value


@pytest.mark.parametrize("text", ["300", "-1", "lots", "1000"])
def test_other_values_stop_start_up_naming_the_setting(text: str) -> None:
    with pytest.raises(ValueError, match="MESSAGING_LIMIT"):
        settings.Settings(messaging_limit=text, _env_file=None)


def test_a_lowered_limit_frees_slots_in_booking_order() -> None:
    booked = {f"c{i}": T0 + timedelta(minutes=i) for i in range(4)}  # 4 booked, limit now 2
    answers, new = sql_limits.book(dict(booked), ["x", "y"], 2, T0 + timedelta(hours=1))
    assert new == []
    # x needs 3 bookings to end (c0, c1, c2): it frees with c2's; y with c3's.
    assert answers == {
        "x": booked["c2"] + timedelta(hours=24),
        "y": booked["c3"] + timedelta(hours=24),
    }


def test_the_frequency_cap_setting() -> None:
    cap = settings.Settings(marketing_frequency_cap=" 2 / 7d ", _env_file=None).frequency_cap()
    assert cap == limits.FrequencyCap(2, 7)
    assert settings.Settings(_env_file=None).frequency_cap() is None
    for bad in ("2/7", "0/7d", "2/0d", "two"):
        with pytest.raises(ValueError, match="MARKETING_FREQUENCY_CAP"):
            settings.Settings(marketing_frequency_cap=bad, _env_file=None)


def test_meta_tier_names_are_contacts():
    assert [
        limits.parse_tier(t)
        for t in ("TIER_50", "TIER_250", "TIER_1K", "TIER_2K", "TIER_10K", "TIER_100K")
    ] == [50, 250, 1000, 2000, 10000, 100000]
    assert limits.parse_tier("TIER_UNLIMITED") is None
    for bad in ("TIER_", "250", "TIER_2M", None, 250, "TIER_-1"):
        with pytest.raises(ValueError, match="not a tier"):
            limits.parse_tier(bad)


def test_messaging_limit_graph_starts_at_the_smallest_tier(make_settings):
    graph = make_settings(messaging_limit="graph")
    assert graph.messaging_limit_from_graph()
    assert graph.messaging_cap() == 250
    fixed = make_settings(messaging_limit="10000")
    assert (fixed.messaging_limit_from_graph(), fixed.messaging_cap()) == (False, 10000)
    with pytest.raises(ValueError, match="MESSAGING_LIMIT"):
        make_settings(messaging_limit="graphs")


def test_the_stores_plan_answers_what_the_rule_answers() -> None:
    """`sql_limits.plan` (what the SQL store reads: a count, which contacts are booked, then
    only the oldest bookings it needs) gives `book`'s answers, on random portfolios."""
    import random

    rng = random.Random(7)
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    for _ in range(500):
        limit = rng.randint(1, 12)
        booked = {
            f"b{i}": now - timedelta(minutes=rng.randint(1, 1400))
            for i in range(rng.randint(0, 15))
        }
        wa_ids = [
            rng.choice([*booked, "n1", "n2", "n3", "n4", "n5"]) for _ in range(rng.randint(1, 9))
        ]
        expected, expected_new = sql_limits.book(dict(booked), wa_ids, limit, now)
        answers, new, refused, first = sql_limits.plan(len(booked), set(booked), wa_ids, limit)
        oldest = sorted(booked.values())[first : first + len(refused)]
        for index, wa_id in enumerate(refused):
            answers[wa_id] = (
                oldest[index] + sql_limits.WINDOW
                if index < len(oldest)
                else (now + sql_limits.WINDOW)
            )
        assert (answers, new) == (expected, expected_new), (booked, wa_ids, limit)
