"""What a statement per row costs the store's thread while the event loop is busy (issue 13, part 7).

    .venv/bin/python bench/bench_gil_statements.py [--rounds 20]

sqlite3 gives up the GIL around each step of a statement and must take it back afterwards;
while another thread runs Python, each take can wait up to the interpreter's switch interval.
The store's thread writes while the event loop's thread answers HTTP, so a write issued as one
statement (or one step) per row pays that wait per row. This times, on a 100,000-row SQLite
file in a temporary folder, a transaction touching 500 rows, written four ways, alone and
beside a thread that spins in Python (the busy event loop):

- `executemany`: an UPDATE per row (what SQLAlchemy's executemany does);
- `json update`: one `UPDATE ... FROM json_each(?)` for the 500;
- `select`: a SELECT of the 500 by a JSON array of ids, fetched whole;
- `json select`: the same rows aggregated into one JSON text by SQLite (one step).

Prints each way's median milliseconds per transaction (of `--rounds`), alone and beside the
spinning thread.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

ROWS = 100_000
CHUNK = 500


def _open(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE m (id TEXT PRIMARY KEY, status TEXT, n INTEGER)")
    conn.executemany("INSERT INTO m VALUES (?, 'queued', 0)", [(f"id{i}",) for i in range(ROWS)])
    return conn


def _transaction(conn: sqlite3.Connection, way: str, ids: list[str]) -> None:
    conn.execute("BEGIN")
    if way == "executemany":
        conn.executemany("UPDATE m SET n = n + 1 WHERE id = ?", [(i,) for i in ids])
    elif way == "json update":
        conn.execute(
            "UPDATE m SET n = n + 1 FROM (SELECT value AS id FROM json_each(?)) AS j "
            "WHERE m.id = j.id",
            (json.dumps(ids),),
        )
    elif way == "select":
        conn.execute(
            "SELECT id, status, n FROM m WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        ).fetchall()
    else:
        text = conn.execute(
            "SELECT json_group_array(json_array(id, status, n)) FROM m "
            "WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(ids),),
        ).fetchone()[0]
        json.loads(text)
    conn.execute("COMMIT")


def _time(conn: sqlite3.Connection, way: str, rounds: int, busy: bool) -> float:
    stop = threading.Event()

    def spin() -> None:
        count = 0
        while not stop.is_set():
            count += 1

    spinner = threading.Thread(target=spin) if busy else None
    if spinner is not None:
        spinner.start()
    took: list[float] = []

    def work() -> None:
        for r in range(rounds):
            ids = [f"id{(r * CHUNK + i) % ROWS}" for i in range(CHUNK)]
            began = time.perf_counter()
            _transaction(conn, way, ids)
            took.append((time.perf_counter() - began) * 1000)

    writer = threading.Thread(target=work)
    writer.start()
    writer.join()
    stop.set()
    if spinner is not None:
        spinner.join()
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        conn = _open(Path(tmp) / "gil.db")
        for way in ("executemany", "json update", "select", "json select"):
            alone = _time(conn, way, args.rounds, busy=False)
            beside = _time(conn, way, args.rounds, busy=True)
            print(f"{way:12}  alone {alone:6.2f} ms  beside a busy thread {beside:6.2f} ms")
        conn.close()


if __name__ == "__main__":
    main()
