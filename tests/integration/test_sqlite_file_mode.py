"""A new SQLite database and its WAL and shared-memory files are readable by their owner only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from whatsapp_scheduler.store import migrate, sql


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_fresh_database_and_its_wal_are_created_0600(tmp_path: Path, make_message):
    db = tmp_path / "fresh.db"
    url = f"sqlite:///{db}"
    old = os.umask(0o022)  # the common default, which would give 0644
    try:
        migrate.upgrade(url)
        message_store = sql.SqlMessageStore.from_url(url)
        try:
            await message_store.add(make_message())
            wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
            # (stat fails if either is missing: the add has opened the WAL)
            assert {p.name: _mode(p) for p in (db, wal, shm)} == {
                db.name: 0o600,
                wal.name: 0o600,
                shm.name: 0o600,
            }
        finally:
            await message_store.close()
    finally:
        os.umask(old)


def test_an_existing_file_keeps_its_mode(tmp_path: Path):
    db = tmp_path / "shared.db"
    db.touch()
    db.chmod(0o640)  # its owner's choice (e.g. a backup group)
    migrate.upgrade(f"sqlite:///{db}")
    assert _mode(db) == 0o640
