"""The dashboard-sessions half of `SqlMessageStore`: signed-in sessions that sign-out ends."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.store import SessionKey, tables

T = TypeVar("T")
D = tables.dashboard_sessions


class SqlSessionsMixin:
    """Dashboard session methods of `SqlMessageStore` (uses its threads and transactions)."""

    if TYPE_CHECKING:  # provided by SqlMessageStore

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        async def _read(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

    async def start_session(
        self, id_hash: str, now: datetime, expires_at: datetime, key_name: str | None = None
    ) -> None:
        await self._run(self._start_session, id_hash, now, expires_at, key_name)

    def _start_session(
        self, id_hash: str, now: datetime, expires_at: datetime, key_name: str | None
    ) -> None:
        with self._tx() as conn:
            conn.execute(sa.delete(D).where(D.c.expires_at <= now))
            conn.execute(
                sa.insert(D).values(
                    id_hash=id_hash, created_at=now, expires_at=expires_at, key_name=key_name
                )
            )

    async def session_key(self, id_hash: str, now: datetime) -> SessionKey | None:
        return await self._read(self._session_key, id_hash, now)

    def _session_key(self, id_hash: str, now: datetime) -> SessionKey | None:
        with self._tx() as conn:
            query = sa.select(D.c.key_name).where(D.c.id_hash == id_hash, D.c.expires_at > now)
            row = conn.execute(query).first()
        return SessionKey(row.key_name) if row is not None else None

    async def session_active(self, id_hash: str, now: datetime) -> bool:
        return await self._read(self._session_active, id_hash, now)

    def _session_active(self, id_hash: str, now: datetime) -> bool:
        with self._tx() as conn:
            query = sa.select(D.c.id_hash).where(D.c.id_hash == id_hash, D.c.expires_at > now)
            return conn.execute(query).first() is not None

    async def end_session(self, id_hash: str) -> None:
        await self._run(self._end_session, id_hash)

    def _end_session(self, id_hash: str) -> None:
        with self._tx() as conn:
            conn.execute(sa.delete(D).where(D.c.id_hash == id_hash))
