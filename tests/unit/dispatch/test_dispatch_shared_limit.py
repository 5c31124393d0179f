"""The dispatcher with a fleet-wide rate limit (sharedlimit.py) and stop hooks."""

from __future__ import annotations

from whatsapp_scheduler import dispatcher, messages, testing


class CountingLimit:
    """A SharedRateLimit that grants every slot at once and counts."""

    def __init__(self) -> None:
        self.acquired: list[str] = []
        self.closed = False

    async def acquire(self, key: str) -> None:
        self.acquired.append(key)

    async def close(self) -> None:
        self.closed = True


async def test_every_send_takes_a_shared_slot_and_stop_closes_the_limit(
    make_dispatcher, memory_store, sender, clock
):
    await memory_store.add_many([testing.make_message(f"m{i}", clock.now()) for i in range(5)])
    d: dispatcher.Dispatcher = make_dispatcher()
    limit = CountingLimit()
    d.shared_limiter = limit
    stopped: list[str] = []

    async def hook() -> None:
        stopped.append("hook")

    d.add_stop_hook(hook)
    await d.run(burst=True)
    assert limit.acquired == ["106540352242922"] * 5
    assert len(sender.sent) == 5
    assert all(m.status == messages.MessageStatus.SENT for m in memory_store.rows.values())
    await d.stop()
    assert limit.closed
    assert stopped == ["hook"]


async def test_build_dispatcher_shares_the_limit_only_on_postgres(make_settings, memory_store):
    on_sqlite = await dispatcher.build_dispatcher(
        make_settings(), memory_store, sender=testing.FakeSender()
    )
    assert on_sqlite.shared_limiter is None
    assert on_sqlite.config.claim_batch_size == 200
    on_postgres = await dispatcher.build_dispatcher(
        make_settings(database_url="postgresql://nobody@127.0.0.1:1/none", send_concurrency=32),
        memory_store,
        sender=testing.FakeSender(),
    )
    assert on_postgres.shared_limiter is not None  # connects lazily: nothing opened yet
    assert on_postgres.config.claim_batch_size == 32  # smaller claims: the rate is shared
    await on_postgres.stop()
    await on_sqlite.stop()
