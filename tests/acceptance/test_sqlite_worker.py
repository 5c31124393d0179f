"""`serve --no-dispatcher` beside `worker` on one SQLite file, as real processes: a message
stored through the API process is sent by the idle worker at its time, not at the worker's
next safety poll (SQLite has no NOTIFY; the worker watches the file's commits)."""

from __future__ import annotations

from tests.acceptance.conftest import (
    BIN,
    Service,
    assert_idle_worker_wakes,
    base_env,
    free_port,
    start_standin,
)

KEY = "sqlite-worker-key-0123456789"
TOKEN = "sqlite-worker-token"
NUMBER_ID = "123456789012345"


async def test_idle_sqlite_worker_sends_what_another_process_stored_at_once(tmp_path):
    standin = await start_standin(TOKEN, NUMBER_ID)
    env = base_env(
        tmp_path,
        API_KEY=KEY,
        ACCESS_TOKEN=TOKEN,
        PHONE_NUMBER_ID=NUMBER_ID,
        GRAPH_API_URL=standin.url,
        SAFETY_POLL_SECONDS="600",  # only a wake-up can send it in time
    )
    api_port = free_port()
    api_service = Service(
        [str(BIN), "serve", "--no-dispatcher", "--port", str(api_port)], env, api_port, tmp_path
    )
    worker = Service([str(BIN), "worker"], env, free_port(), tmp_path)
    try:
        await assert_idle_worker_wakes(
            api_service, worker, standin, KEY, "due watcher: watching the SQLite file"
        )
    finally:
        api_service.stop()
        stopped = worker.stop()
        await standin.stop()  # before any assertion here: never leave its sockets open
        assert stopped == 0, worker.output()
