"""Apply the Alembic migrations shipped inside the package (works from an installed wheel).

Start-up calls `upgrade` every time; when the database is already at the newest revision it
returns after one query, without importing Alembic (a second of start-up on these machines).

Processes that start together (`serve --no-dispatcher` and `worker`, replicas in compose) must
not migrate at once: two of them creating the tables of a new database failed with "table
attempts already exists". So one migrates at a time: under a PostgreSQL advisory lock, or on
SQLite under an `flock` of the database file's directory (not of the file: closing any other
descriptor of it would drop SQLite's own POSIX locks in this process). The others wait, find
the database at the newest revision, and go on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from whatsapp_scheduler.core import errors
from whatsapp_scheduler.store import engine as engine_mod
from whatsapp_scheduler.store import urls

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a '%' in a password must be doubled.
    config.set_main_option("sqlalchemy.url", urls.normalize_url(url).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision id, from the file names (revisions are a straight line NNNN_...)."""
    numbers = [
        match.group(1)
        for path in (MIGRATIONS_DIR / "versions").iterdir()
        if (match := _REVISION_FILE.match(path.name))
    ]
    return max(numbers)


def current_revision(url: str) -> str | None:
    """The database's revision, or None for a new (or unreadable) database."""
    engine = engine_mod.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision` (idempotent; one query when already there).

    A database that cannot be opened (no such directory, server down, wrong password) raises
    `ConfigurationError` with one line saying why, never a driver traceback.
    """
    if revision == "head" and current_revision(url) == head_revision():
        return
    from alembic import command

    _check_sqlite_directory(url)
    try:
        with _one_migrator(url):
            if revision == "head" and current_revision(url) == head_revision():
                return  # another process migrated while this one waited
            command.upgrade(alembic_config(url), revision)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        reason = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]
        raise errors.ConfigurationError(
            f"DATABASE_URL: cannot open the database: {reason}"
        ) from exc


def _check_sqlite_directory(url: str) -> None:
    path = urls.sqlite_path(url)
    if path is not None and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise errors.ConfigurationError(
            f"DATABASE_URL: the directory of the SQLite database {path!r} does not exist"
        )


#: pg_advisory_lock key shared by every whatsapp-scheduler process migrating a database.
ADVISORY_LOCK_KEY = 0x7773_6368_6D69_67  # "wschmig"


@contextlib.contextmanager
def _one_migrator(url: str) -> Iterator[None]:
    """Hold the lock that lets one process at a time migrate the database at `url`."""
    if urls.is_postgres(url):
        engine = engine_mod.create_engine(url, pool_size=1)
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
                conn.commit()
                try:
                    yield
                finally:  # closing the connection releases the lock too: never mask an error
                    with contextlib.suppress(sa.exc.SQLAlchemyError):
                        conn.execute(
                            sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                        )
                        conn.commit()
        finally:
            engine.dispose()
        return
    path = urls.sqlite_path(url)
    if path is None or fcntl is None:  # in memory (one connection), or no flock on this OS
        yield
        return
    directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        yield
    finally:
        os.close(directory)  # releases the flock
