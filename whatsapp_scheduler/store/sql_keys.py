"""The API-keys half of `SqlMessageStore`: scoped keys, stored by their SHA-256 only.

A request's key is found by one read of the unique `key_hash` index (on SQLite on the reader
thread, so it never queues behind a batch's insert); the lookups of concurrent requests share
one read (`batching.Batcher`, `key_hash IN (...)`), as the 24-hour-window lookups do.

A key found valid is then kept for `key_cache_seconds` (KEY_CACHE_SECONDS, default 2 s) in a
`cachetools.TTLCache`, so a client's requests cost no read at all (the read was +14-20% of
POST /schedule's CPU, bench/RESULTS.md). A revoke through this store drops the key from the
cache at once; one made by another process (the CLI, another instance) takes effect here within
`key_cache_seconds`. A generation counter, bumped by every revoke and touch, keeps a lookup that
was in flight during one from putting its older row back.

`last_used_at` is written at most once a `keys.TOUCH_INTERVAL` per key: the caller asks
`ApiKey.needs_touch` on the row it was given, and the UPDATE itself is conditional on the old
value, so processes racing at the minute's turn write it once; after it, the cached row is
dropped so the next request reads the new value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from cachetools import TTLCache
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import errors, keys
from whatsapp_scheduler.core.senders import DEFAULT_SENDER_NAME, Scope
from whatsapp_scheduler.store import batching, tables

T = TypeVar("T")
K = tables.api_keys
S = tables.senders
D = tables.dashboard_sessions

#: Keys kept by the cache at most (each a few hundred bytes); more are simply read again.
KEY_CACHE_SIZE = 4096


def key_cache(seconds: float) -> TTLCache[str, keys.ApiKey] | None:
    """The cache of found keys by hash (None: `seconds` is 0, every request reads)."""
    return TTLCache(maxsize=KEY_CACHE_SIZE, ttl=seconds) if seconds > 0 else None


#: The keys with these hashes on SQLite: `:hashes`, a JSON array (as `sqlite_bulk` does for ids).
FIND_KEYS_SQLITE = sa.text(
    "SELECT name, key_hash, scope, senders, created_at, last_used_at, revoked_at FROM api_keys "
    "WHERE key_hash IN (SELECT value FROM json_each(:hashes))"
).columns(
    *(K.c[n] for n in ("name", "key_hash", "scope", "senders")),
    *(K.c[n] for n in ("created_at", "last_used_at", "revoked_at")),
)


def key_from_row(row: Any) -> keys.ApiKey:
    senders = row.senders
    return keys.ApiKey(
        name=row.name,
        scope=Scope(row.scope),
        senders=frozenset(senders) if senders is not None else None,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def unknown_senders(conn: Connection, names: frozenset[str]) -> list[str]:
    """The names in `names` that are no sender: neither the environment's default nor a row."""
    wanted = sorted(names - {DEFAULT_SENDER_NAME})
    if not wanted:
        return []
    found = set(conn.execute(sa.select(S.c.name).where(S.c.name.in_(wanted))).scalars())
    return [n for n in wanted if n not in found]


class SqlKeysMixin:
    """API-key methods of `SqlMessageStore` (uses its threads and transactions)."""

    if TYPE_CHECKING:  # provided by SqlMessageStore

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        async def _read(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

        def _insert_into(self, table: sa.Table) -> Any: ...

        _dialect: str

        _key_lookups: batching.Batcher[str, keys.ApiKey | None]
        _key_cache: TTLCache[str, keys.ApiKey] | None
        _key_generation: int

    async def create_key(self, key: keys.ApiKey, key_hash: str) -> None:
        await self._run(self._create_key, key, key_hash)

    def _create_key(self, key: keys.ApiKey, key_hash: str) -> None:
        with self._tx() as conn:
            if key.senders is not None:
                missing = unknown_senders(conn, key.senders)
                if missing:
                    raise errors.ValidationFailed(
                        "senders",
                        "no sender named {items}",
                        items=", ".join(repr(n) for n in missing),
                    )
            values = {
                "name": key.name,
                "key_hash": key_hash,
                "scope": str(key.scope),
                "senders": sorted(key.senders) if key.senders is not None else None,
                "created_at": key.created_at,
            }
            insert = self._insert_into(K).values(values).on_conflict_do_nothing()
            if conn.execute(insert.returning(K.c.name)).first() is None:
                raise errors.Conflict(f"name: a key named {key.name!r} already exists")

    async def find_key(self, key_hash: str) -> keys.ApiKey | None:
        cache = self._key_cache
        if cache is None:
            return await self._key_lookups.submit(key_hash)
        hit = cache.get(key_hash)
        if hit is not None:
            return hit
        generation = self._key_generation
        found = await self._key_lookups.submit(key_hash)
        # Not kept: unknown hashes (a guesser must not fill the cache) and revoked keys; nor a
        # row read while a revoke or touch ran (`_forget_key`), which may be the older one.
        if found is not None and not found.revoked and generation == self._key_generation:
            cache[key_hash] = found
        return found

    def _forget_key(self, name: str) -> None:
        """Drop the cached rows of the key `name` (after its row changed)."""
        self._key_generation += 1
        cache = self._key_cache
        if cache is not None:
            for cached_hash, key in list(cache.items()):
                if key.name == name:
                    cache.pop(cached_hash, None)

    async def _find_key_group(self, hashes: list[str]) -> list[keys.ApiKey | None]:
        found = await self._read(self._find_keys, sorted(set(hashes)))
        return [found.get(h) for h in hashes]

    def _find_keys(self, hashes: list[str]) -> dict[str, keys.ApiKey]:
        with self._tx() as conn:
            if self._dialect == "sqlite":  # one statement, compiled once, whatever the group
                rows = conn.execute(FIND_KEYS_SQLITE, {"hashes": json.dumps(hashes)}).all()
            else:
                rows = conn.execute(sa.select(K).where(K.c.key_hash.in_(hashes))).all()
        return {row.key_hash: key_from_row(row) for row in rows}

    async def get_key(self, name: str) -> keys.ApiKey | None:
        return await self._read(self._get_key, name)

    def _get_key(self, name: str) -> keys.ApiKey | None:
        with self._tx() as conn:
            row = conn.execute(sa.select(K).where(K.c.name == name)).first()
        return key_from_row(row) if row is not None else None

    async def list_keys(self) -> list[keys.ApiKey]:
        return await self._read(self._list_keys)

    def _list_keys(self) -> list[keys.ApiKey]:
        with self._tx() as conn:
            return [key_from_row(r) for r in conn.execute(sa.select(K).order_by(K.c.name))]

    async def revoke_key(self, name: str, now: datetime) -> keys.ApiKey | None:
        try:
            return await self._run(self._revoke_key, name, now)
        finally:  # also after an error: the revoke may have committed
            self._forget_key(name)

    def _revoke_key(self, name: str, now: datetime) -> keys.ApiKey | None:
        with self._tx() as conn:
            conn.execute(
                sa.update(K)
                .where(K.c.name == name, K.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            conn.execute(sa.delete(D).where(D.c.key_name == name))
            row = conn.execute(sa.select(K).where(K.c.name == name)).first()
        return key_from_row(row) if row is not None else None

    async def touch_key(self, name: str, now: datetime) -> None:
        try:
            await self._run(self._touch_key, name, now)
        finally:
            self._forget_key(name)

    def _touch_key(self, name: str, now: datetime) -> None:
        recent = now - keys.TOUCH_INTERVAL
        with self._tx() as conn:
            conn.execute(
                sa.update(K)
                .where(
                    K.c.name == name,
                    sa.or_(K.c.last_used_at.is_(None), K.c.last_used_at <= recent),
                )
                .values(last_used_at=now)
            )
