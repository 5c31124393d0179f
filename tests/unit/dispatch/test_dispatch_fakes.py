"""The fake sender is a test double the other tests rely on: test its knobs too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import errors

DUE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_records_calls_and_returns_receipts() -> None:
    sender = testing.FakeSender()
    receipt = await sender.send(testing.make_message("a", DUE, recipient="+905551112233"))
    assert receipt.wamid.startswith("wamid.")
    assert receipt.wa_id == "905551112233"
    assert [m.id for m in sender.calls] == [m.id for m in sender.sent] == ["a"]


async def test_fail_next_n_then_succeed() -> None:
    sender = testing.FakeSender()
    sender.fail_next(2, errors.TemporaryFailure("down", code=2))
    message = testing.make_message("b", DUE)
    for _ in range(2):
        with pytest.raises(errors.TemporaryFailure) as caught:
            await sender.send(message)
        assert caught.value.code == 2
    await sender.send(message)
    assert sender.sends_for("b") == 3
    assert len(sender.sent) == 1


async def test_rate_limit_with_retry_after() -> None:
    sender = testing.FakeSender()
    sender.rate_limit_next(1, retry_after=2.5)
    with pytest.raises(errors.RateLimited) as caught:
        await sender.send(testing.make_message("c", DUE))
    assert (caught.value.code, caught.value.retry_after, caught.value.http_status) == (
        130429,
        2.5,
        429,
    )


async def test_hang_for_a_while_is_ambiguous() -> None:
    sender = testing.FakeSender()
    sender.hang_next(1, seconds=0.01)
    with pytest.raises(errors.AmbiguousFailure):
        await sender.send(testing.make_message("d", DUE))


async def test_hang_forever_until_cancelled() -> None:
    sender = testing.FakeSender()
    sender.hang_next(1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sender.send(testing.make_message("e", DUE)), 0.05)


async def test_fail_message_always() -> None:
    sender = testing.FakeSender()
    sender.fail_message("f", errors.PermanentFailure("(#131051) nope", code=131051))
    for _ in range(2):
        with pytest.raises(errors.PermanentFailure):
            await sender.send(testing.make_message("f", DUE))
    await sender.send(testing.make_message("g", DUE))


def test_make_message_template() -> None:
    message = testing.make_message("t", DUE, template={"name": "x", "language": {"code": "tr"}})
    assert message.body is None
    assert message.template is not None
