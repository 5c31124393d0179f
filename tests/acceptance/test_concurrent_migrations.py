"""Processes that start together on a new database migrate it one at a time: every one of
them comes up, and the schema is created once (it failed with "table attempts already
exists" when `serve --no-dispatcher` and `worker` started together on a new SQLite file)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.acceptance.conftest import BIN, base_env
from tests.integration.conftest import _admin, _with_database, postgres_server_url
from whatsapp_scheduler.store import engine as engine_mod
from whatsapp_scheduler.store import migrate

pytestmark = pytest.mark.slow  # several processes start and migrate: 9-13 s each

TOGETHER = 4


# Each process imports everything first, says so with a "ready" file of its own, then waits
# for the same "go" file, so that their migrations really overlap (process start-up times
# would otherwise keep them apart).
_MIGRATE_ON_GO = """
import os, sys, time
from alembic import command  # noqa: F401 - imported before the start line
from whatsapp_scheduler.store import migrate
open(sys.argv[2] + ".ready-" + str(os.getpid()), "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.001)
migrate.upgrade(sys.argv[1])
"""


def _upgrade_together(tmp_path: Path, url: str) -> None:
    go = tmp_path / f"go-{uuid.uuid4().hex[:6]}"
    env = base_env(tmp_path, DATABASE_URL=url)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE_ON_GO, url, str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(TOGETHER)
    ]
    # Wait until every process has imported and waits (a fixed 2 s was not always enough
    # on a loaded machine: the migrations then did not overlap, and the test proved less).
    deadline = time.monotonic() + 40
    while len(list(tmp_path.glob(go.name + ".ready-*"))) < TOGETHER:
        for process in processes:
            assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "the processes did not get ready"
        time.sleep(0.01)
    go.touch()
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
    assert migrate.current_revision(url) == migrate.head_revision()
    cli = subprocess.run(  # and the command itself, on the migrated database: a no-op
        [str(BIN), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert cli.returncode == 0, cli.stderr


def test_processes_starting_together_migrate_a_new_sqlite_file_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'together.db'}"
    _upgrade_together(tmp_path, url)
    engine = engine_mod.create_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
    engine.dispose()


@pytest.mark.postgres
def test_processes_starting_together_migrate_a_new_postgres_database_once(tmp_path):
    server = postgres_server_url()
    name = f"wsched_together_{uuid.uuid4().hex[:8]}"
    with _admin(server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = _with_database(server, name)
        _upgrade_together(tmp_path, url)
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    finally:
        with _admin(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
