"""The daily messaging limit shared by several processes on PostgreSQL (docs/limits.md): two
stores (two engines, as two processes have) booking at once never grant more than the limit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import START
from whatsapp_scheduler.store import sql

pytestmark = pytest.mark.postgres


async def test_two_stores_booking_at_once_share_one_limit(postgres_url):
    stores = [sql.SqlMessageStore.from_url(postgres_url) for _ in range(2)]
    try:

        async def book(index: int, round_: int) -> dict[str, Any]:
            contacts = [f"90555{index}{round_:03d}{i:02d}" for i in range(10)]
            return await stores[index].book_contacts("portfolio-1", contacts, 250, START)

        answers = await asyncio.gather(*(book(i % 2, i) for i in range(40)))
        granted = [w for a in answers for w, frees in a.items() if frees is None]
        refused = [w for a in answers for w, frees in a.items() if frees is not None]
        assert (len(granted), len(refused)) == (250, 150)
    finally:
        for s in stores:
            await s.close()
