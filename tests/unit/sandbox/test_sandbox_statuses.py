"""Status plans: which statuses a message goes through, when, and with which faults."""

from __future__ import annotations

import random

import pytest

from whatsapp_scheduler.sandbox.config import Faults, StatusDelays, WebhookSettings
from whatsapp_scheduler.sandbox.statuses import PlannedStatus, plan_statuses


def plan(settings: WebhookSettings | None = None, faults: Faults | None = None, **kw):
    return plan_statuses(random.Random(1), settings or WebhookSettings(), faults or Faults(), **kw)


def test_default_plan_is_sent_delivered_read_at_once() -> None:
    assert plan() == [
        PlannedStatus(0.0, "sent", pricing=True),
        PlannedStatus(0.0, "delivered", pricing=True),
        PlannedStatus(0.0, "read"),
    ]


def test_delays_accumulate() -> None:
    settings = WebhookSettings(status_delays=StatusDelays(sent=1, delivered=2, read=3))
    assert [(p.at, p.status) for p in plan(settings)] == [
        (1, "sent"),
        (3, "delivered"),
        (6, "read"),
    ]


def test_async_failure_is_a_single_failed_status() -> None:
    assert plan(async_code=131047) == [PlannedStatus(0.0, "failed", code=131047)]


@pytest.mark.parametrize(
    ("delivered", "read", "expected"),
    [
        (0.0, 1.0, ["sent"]),
        (1.0, 0.0, ["sent", "delivered"]),
        (1.0, 1.0, ["sent", "delivered", "read"]),
    ],
)
def test_probabilities(delivered: float, read: float, expected: list[str]) -> None:
    settings = WebhookSettings(delivered_probability=delivered, read_probability=read)
    assert [p.status for p in plan(settings)] == expected


def test_probability_is_roughly_honoured() -> None:
    rng = random.Random(5)
    settings = WebhookSettings(read_probability=0.25)
    reads = sum(
        any(p.status == "read" for p in plan_statuses(rng, settings, Faults())) for _ in range(2000)
    )
    assert 400 <= reads <= 600


def test_skip_delivered_keeps_the_state_but_drops_the_webhook() -> None:
    steps = plan(faults=Faults(skip_delivered_rate=1.0))
    assert [(p.status, p.copies, p.pricing) for p in steps] == [
        ("sent", 1, True),
        ("delivered", 0, False),
        ("read", 1, True),
    ]


def test_reorder_sends_read_before_delivered() -> None:
    settings = WebhookSettings(status_delays=StatusDelays(delivered=1, read=1))
    steps = plan(settings, Faults(reorder_rate=1.0))
    assert [(p.status, p.at) for p in steps] == [("sent", 0), ("read", 1), ("delivered", 2)]


def test_duplicates_double_the_webhooks() -> None:
    assert {p.copies for p in plan(faults=Faults(duplicate_rate=1.0))} == {2}
    assert plan(faults=Faults(duplicate_rate=1.0), async_code=131026)[0].copies == 2


def test_same_seed_same_plans() -> None:
    settings = WebhookSettings(delivered_probability=0.5, read_probability=0.5)
    faults = Faults(duplicate_rate=0.5, reorder_rate=0.5)

    def plans(seed: int) -> list[list[PlannedStatus]]:
        rng = random.Random(seed)
        return [plan_statuses(rng, settings, faults) for _ in range(50)]

    assert plans(9) == plans(9)
    assert plans(9) != plans(10)
