"""The SQLAlchemy engine for DATABASE_URL, with this project's connection settings: on SQLite
WAL, a 10 s busy timeout, SQLITE_SYNCHRONOUS and foreign keys; on PostgreSQL (psycopg 3) a
fixed pool with pre-ping."""

from __future__ import annotations

import json
import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from whatsapp_scheduler.store import urls


def create_engine(url: str, *, sqlite_synchronous: str = "NORMAL", pool_size: int = 8) -> Engine:
    """An engine with this project's connection settings (WAL and busy timeout on SQLite)."""
    url = urls.normalize_url(url)
    if url.startswith("sqlite"):
        path = urls.sqlite_path(url)
        if path is not None:
            create_private(path)
        # Two connections stay open: the store thread's and the reader thread's.
        engine = sa.create_engine(
            url,
            pool_size=2,
            max_overflow=2,
            pool_pre_ping=False,
            json_deserializer=read_json,
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        json_deserializer=read_json,
    )


#: What a JSON column that cannot be read back becomes (see `read_json`).
UNREADABLE_JSON = {"unreadable": "the stored value is not readable JSON; not shown"}


def read_json(text: str) -> Any:
    """A JSON column's value; a value that is not JSON, or nested too deep for Python's parser
    (a row written by hand, or before the bounds of `core/jsonbounds.py`), becomes
    UNREADABLE_JSON instead of failing the whole query it is part of."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return dict(UNREADABLE_JSON)


def create_private(path: str) -> None:
    """Create the SQLite file readable and writable by its owner only (0600), if it is not
    there yet; SQLite then gives its `-wal` and `-shm` files the database file's mode. An
    existing file keeps the mode its owner chose."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError:  # no such directory, read-only disk: SQLite's own error says it better
        return
    os.fchmod(fd, 0o600)  # whatever the umask
    os.close(fd)
