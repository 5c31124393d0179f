"""Shared by the benchmarks: start a real `whatsapp-scheduler serve` subprocess and stop it;
the Cloud API stand-in in a process of its own (`standin_process`)."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

BIN = Path(sys.executable).parent / "whatsapp-scheduler"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def standin_process(
    token: str, number_id: str, *, throughput: str = "0", extra_numbers: Iterable[str] = ()
) -> Iterator[str]:
    """`python -m whatsapp_scheduler.sandbox` in its own process, no pair-rate limit, with
    `--extra-number ID:TOKEN[:LABEL]` for each of `extra_numbers`; yields its base URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "whatsapp_scheduler.sandbox", "--port", str(port),
        "--access-token", token, "--phone-number-id", number_id,
        "--throughput", throughput, "--no-pair-rate",
    ]  # fmt: skip
    for number in extra_numbers:
        command += ["--extra-number", number]
    with serving(command, port, "stand-in") as url:
        yield url


@contextlib.contextmanager
def serving(command: list[str], port: int, what: str) -> Iterator[str]:
    """`command` in its own process until it listens on `port` (15 s at most); yields its
    base URL, then stops it."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def start(
    db: Path, api_key: str, extra_env: dict[str, str] | None = None, timeout: float = 120
) -> tuple[subprocess.Popen[bytes], str, float]:
    """`serve --sandbox --no-dispatcher` on a SQLite file: (process, URL, seconds to healthy)."""
    port = free_port()
    env = dict(os.environ, API_KEY=api_key, DATABASE_URL=f"sqlite:///{db}", LOG_LEVEL="WARNING")
    env.update(extra_env or {})
    began = time.monotonic()
    proc = subprocess.Popen(
        [str(BIN), "serve", "--sandbox", "--no-dispatcher", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() - began < timeout:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as response:
                if response.status == 200:
                    return proc, url, time.monotonic() - began
        except OSError:
            time.sleep(0.01)
        if proc.poll() is not None:
            raise SystemExit("service exited")
    proc.kill()
    raise SystemExit("service did not start")


def bare_process() -> contextlib.AbstractContextManager[str]:
    """bench/bare_meta.py (answers every request as Meta answers a send, checks nothing) in
    its own process; yields its base URL."""
    port = free_port()
    script = Path(__file__).resolve().parent / "bare_meta.py"
    return serving([sys.executable, str(script), "--port", str(port)], port, "bare responder")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(30)


def insert_messages(db: Path, rows: Iterable[tuple[object, ...]], chunk: int = 50_000) -> None:
    """Insert message rows straight into SQLite, `chunk` per transaction, to prefill a database
    the service created. A row: id, recipient, body, timezone, tarih, saat, content_hash,
    status, due_at, run_at, created_at, updated_at (naive UTC text), last_error_code."""
    conn = sqlite3.connect(db)
    try:
        rows = iter(rows)
        while batch := list(itertools.islice(rows, chunk)):
            conn.executemany(
                "INSERT INTO messages (id, recipient, body, timezone, tarih, saat, content_hash, "
                "status, due_at, run_at, created_at, updated_at, last_error_code, attempts) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,0)",
                batch,
            )
            conn.commit()
    finally:
        conn.close()


@contextlib.contextmanager
def base_worktree(revision: str) -> Iterator[Path]:
    """`revision` checked out in a temporary git worktree (removed afterwards), for A/B runs."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(base), revision], cwd=root, check=True
        )
        try:
            yield base
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=root)
