"""Several stores (as several processes would) claiming from one PostgreSQL database."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from tests.conftest import START
from whatsapp_scheduler.store import sql

pytestmark = pytest.mark.postgres


async def test_concurrent_claims_never_take_the_same_row(postgres_url, make_message):
    seed = sql.SqlMessageStore.from_url(postgres_url)
    total = 2000
    await seed.add_many([make_message(due_at=START - timedelta(seconds=1)) for _ in range(total)])
    await seed.close()
    stores = [sql.SqlMessageStore.from_url(postgres_url) for _ in range(4)]
    lease = START + timedelta(minutes=1)

    async def drain(index: int, message_store: sql.SqlMessageStore) -> list[str]:
        taken: list[str] = []
        while batch := await message_store.claim_due(START, 37, f"worker-{index}", lease):
            taken += [m.id for m in batch]
        return taken

    try:
        results = await asyncio.gather(*(drain(i, s) for i, s in enumerate(stores)))
    finally:
        for message_store in stores:
            await message_store.close()
    counts = Counter(message_id for taken in results for message_id in taken)
    assert len(counts) == total  # every row claimed
    assert max(counts.values()) == 1  # by exactly one worker
    assert sum(1 for taken in results if taken) >= 2  # and the work was really shared
