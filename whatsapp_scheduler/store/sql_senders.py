"""The senders half of `SqlMessageStore`: the business numbers kept in the database.

Access tokens arrive and leave encrypted (`store/tokens.py` encrypts above this module); this
module never sees a token in clear. A duplicate name or phone_number_id is `SenderExists`; a
sender with messages still queued or sending is not removed (`SenderInUse`).
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from whatsapp_scheduler.core import errors, messages
from whatsapp_scheduler.core.senders import Sender
from whatsapp_scheduler.store import SENDER_CHANGES, StoredSender, tables

logger = logging.getLogger(__name__)

T = TypeVar("T")
S = tables.senders
M = tables.messages

#: Statuses of a message that still needs its sender.
WAITING = (str(messages.MessageStatus.QUEUED), str(messages.MessageStatus.SENDING))


def sender_from_row(row: Any) -> StoredSender:
    sender = Sender(
        name=row.name,
        phone_number_id=row.phone_number_id,
        waba_id=row.waba_id,
        portfolio=row.portfolio,
        messages_per_second=row.messages_per_second,
        pair_interval=row.pair_interval,
        enabled=bool(row.enabled),
        quiet_hours=row.quiet_hours,
        messaging_limit=row.messaging_limit,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
    return StoredSender(sender, row.token_encrypted)


class SqlSendersMixin:
    """Sender methods of `SqlMessageStore` (uses its threads and transactions)."""

    if TYPE_CHECKING:  # provided by SqlMessageStore
        _engine: Engine

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

    async def add_sender(self, sender: Sender, token_encrypted: str, now: datetime) -> Sender:
        return await self._run(self._add_sender, sender, token_encrypted, now)

    def _add_sender(self, sender: Sender, token_encrypted: str, now: datetime) -> Sender:
        values = {
            "name": sender.name,
            "phone_number_id": sender.phone_number_id,
            "waba_id": sender.waba_id,
            "portfolio": sender.portfolio,
            "token_encrypted": token_encrypted,
            "messages_per_second": sender.messages_per_second,
            "pair_interval": sender.pair_interval,
            "enabled": sender.enabled,
            "quiet_hours": sender.quiet_hours,
            "messaging_limit": sender.messaging_limit,
            "created_at": now,
            "updated_at": now,
        }
        with self._tx() as conn:
            self._refuse_taken(conn, sender.name, sender.phone_number_id)
        try:
            with self._engine.begin() as conn:
                conn.execute(sa.insert(S).values(**values))
        except sa.exc.IntegrityError:  # added meanwhile by another process: say which
            with self._tx() as conn:
                self._refuse_taken(conn, sender.name, sender.phone_number_id)
            raise errors.StoreError("database error: IntegrityError") from None
        except sa.exc.SQLAlchemyError as exc:
            logger.exception("database error")
            raise errors.StoreError(f"database error: {type(exc).__name__}") from exc
        return sender.evolve(created_at=now, updated_at=now, from_environment=False)

    def _refuse_taken(
        self, conn: Connection, name: str | None, phone_number_id: str | None
    ) -> None:
        if name is not None and conn.execute(sa.select(S.c.name).where(S.c.name == name)).first():
            raise errors.SenderExists("name", name)
        if phone_number_id is not None:
            query = sa.select(S.c.name).where(S.c.phone_number_id == phone_number_id)
            if conn.execute(query).first() is not None:
                raise errors.SenderExists("phone_number_id", phone_number_id)

    async def list_senders(self) -> builtins.list[StoredSender]:
        return await self._run(self._list_senders)

    def _list_senders(self) -> builtins.list[StoredSender]:
        with self._tx() as conn:
            rows = conn.execute(sa.select(S).order_by(S.c.name)).all()
        return [sender_from_row(row) for row in rows]

    async def get_sender(self, name: str) -> StoredSender | None:
        return await self._run(self._get_sender, name)

    def _get_sender(self, name: str) -> StoredSender | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(S).where(S.c.name == name)).first()
        return sender_from_row(row) if row is not None else None

    async def update_sender(
        self, name: str, changes: Mapping[str, object], now: datetime
    ) -> Sender | None:
        unknown = set(changes) - SENDER_CHANGES
        if unknown:
            raise ValueError(f"not a sender field: {', '.join(sorted(unknown))}")
        return await self._run(self._update_sender, name, dict(changes), now)

    def _update_sender(self, name: str, changes: dict[str, object], now: datetime) -> Sender | None:
        phone = changes.get("phone_number_id")
        if isinstance(phone, str):
            with self._tx() as conn:
                query = sa.select(S.c.name).where(S.c.phone_number_id == phone, S.c.name != name)
                if conn.execute(query).first() is not None:
                    raise errors.SenderExists("phone_number_id", phone)
        statement = sa.update(S).where(S.c.name == name).values(**changes, updated_at=now)
        try:
            with self._engine.begin() as conn:
                updated = conn.execute(statement).rowcount
                row = conn.execute(sa.select(S).where(S.c.name == name)).first()
        except sa.exc.IntegrityError:  # the number was taken meanwhile
            raise errors.SenderExists("phone_number_id", str(phone)) from None
        except sa.exc.SQLAlchemyError as exc:
            logger.exception("database error")
            raise errors.StoreError(f"database error: {type(exc).__name__}") from exc
        if not updated or row is None:
            return None
        return sender_from_row(row).sender

    async def remove_sender(self, name: str) -> bool:
        return await self._run(self._remove_sender, name)

    def _remove_sender(self, name: str) -> bool:
        waiting = sa.select(M.c.id).where(M.c.sender == name, M.c.status.in_(WAITING))
        with self._tx() as conn:
            deleted = conn.execute(
                sa.delete(S).where(S.c.name == name, ~sa.exists(waiting))
            ).rowcount
            if deleted:
                return True
            if conn.execute(sa.select(S.c.name).where(S.c.name == name)).first() is None:
                return False
            count = conn.execute(
                sa.select(sa.func.count()).select_from(waiting.limit(100_001).subquery())
            ).scalar_one()
        raise errors.SenderInUse(in_use_message(name, count))


def in_use_message(name: str, count: int) -> str:
    shown = "more than 100000" if count > 100_000 else str(count)
    return (
        f"name: sender {name!r} still has {shown} message(s) queued or sending; cancel them "
        "(DELETE /schedule/{id}) or wait until they are sent, then remove it"
    )
