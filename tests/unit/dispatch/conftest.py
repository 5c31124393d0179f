"""Fixtures for dispatcher unit tests: frozen clock, in-memory store, fake sender."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from whatsapp_scheduler import testing
from whatsapp_scheduler.dispatch import config as dispatch_config
from whatsapp_scheduler.dispatch import dispatcher, ratelimit, retries


@pytest.fixture
def clock() -> testing.FrozenClock:
    return testing.FrozenClock()


@pytest.fixture
def memory_store() -> testing.InMemoryMessageStore:
    return testing.InMemoryMessageStore()


@pytest.fixture
def sender() -> testing.FakeSender:
    return testing.FakeSender()


@pytest.fixture
def make_dispatcher(
    clock: testing.FrozenClock,
    memory_store: testing.InMemoryMessageStore,
    sender: testing.FakeSender,
) -> Callable[..., dispatcher.Dispatcher]:
    def make(
        *,
        rate: float = 1000.0,
        pair_interval: float = 0.0,
        policy: retries.RetryPolicy | None = None,
        **config: Any,
    ) -> dispatcher.Dispatcher:
        defaults: dict[str, Any] = {
            "messages_per_second": rate,
            "max_lateness": timedelta(hours=24),
            "shutdown_grace_seconds": 0.5,
            "flush_delay_seconds": 0.0,
        }
        return dispatcher.Dispatcher(
            message_store=memory_store,
            sender=sender,
            phone_number_id="106540352242922",
            clock=clock,
            config=dispatch_config.DispatchConfig(**(defaults | config)),
            policy=policy or retries.RetryPolicy(random=random.Random(7).random),
            limiter=ratelimit.RateLimiter(rate, pair_interval),
            worker_id="worker-test",
        )

    return make
