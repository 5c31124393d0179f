"""Several senders end to end, every part a real process: the stand-in with three numbers
(`python -m whatsapp_scheduler.sandbox --extra-number ...`), two senders added with
`whatsapp-scheduler senders add` (token from a file, SECRET_KEY set), `serve` on that SQLite
file, and the messages scheduled through HTTP with `gonderen`."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.acceptance.conftest import BIN, base_env, free_port, now_local

# Starts a stand-in, three CLI runs and a `serve`: several seconds in a full run.
pytestmark = pytest.mark.slow

KEY = "senders-acceptance-key-0123456789"
DEFAULT_ID, DEFAULT_TOKEN = "106540352242922", "env-token-9f3c1a7e5b2d"
ANKARA_ID, ANKARA_TOKEN = "106540352242931", "ankara-token-4e8b2c6a0d1f"
IZMIR_ID, IZMIR_TOKEN = "106540352242932", "izmir-token-7a1d5f9c3e0b"
TOKENS = (DEFAULT_TOKEN, ANKARA_TOKEN, IZMIR_TOKEN)


@contextlib.contextmanager
def standin_process(log: Path) -> Iterator[str]:
    """The stand-in in its own process with three numbers, each accepting only its token."""
    port = free_port()
    command = [
        sys.executable, "-m", "whatsapp_scheduler.sandbox", "--port", str(port),
        "--access-token", DEFAULT_TOKEN, "--phone-number-id", DEFAULT_ID,
        "--extra-number", f"{ANKARA_ID}:{ANKARA_TOKEN}:ankara",
        "--extra-number", f"{IZMIR_ID}:{IZMIR_TOKEN}:izmir",
        "--throughput", "0", "--no-pair-rate",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "stand-in did not start"
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(10)


def senders_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), "senders", *args], env=env, capture_output=True, text=True, timeout=60
    )


def wait_sent(api: httpx.Client, message_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30  # only against a hang
    while True:
        status = api.get(f"/status/{message_id}").json()
        if status["status"] in {"sent", "delivered", "read", "failed"}:
            return dict(status)
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def test_each_sender_sends_from_its_own_number_with_its_own_token(tmp_path, start_service):
    secret = Fernet.generate_key().decode()
    env = base_env(tmp_path, SECRET_KEY=secret)
    env.pop("WHATSAPP_SCHEDULER_URL", None)
    (tmp_path / "ankara.token").write_text(ANKARA_TOKEN + "\n")
    added = senders_cli(
        env, "add", "ankara", "--phone-number-id", ANKARA_ID,
        "--token-file", str(tmp_path / "ankara.token"),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"added sender ankara ({ANKARA_ID})"
    # The second one's token on standard input (a pipe from a secrets manager).
    added = subprocess.run(
        [str(BIN), "senders", "add", "izmir", "--phone-number-id", IZMIR_ID],
        env=env, input=IZMIR_TOKEN, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    listed = senders_cli(env, "list")
    assert "ankara" in listed.stdout
    assert "izmir" in listed.stdout
    assert not any(t in listed.stdout + listed.stderr + added.stderr for t in TOKENS)

    with standin_process(tmp_path / "standin.log") as graph:
        service = start_service(
            [str(BIN), "serve"],
            API_KEY=KEY,
            SECRET_KEY=secret,
            GRAPH_API_URL=graph,
            PHONE_NUMBER_ID=DEFAULT_ID,
            ACCESS_TOKEN=DEFAULT_TOKEN,
            LOG_LEVEL="DEBUG",  # the most it logs: still no token
        )
        service.wait_healthy()
        api = httpx.Client(base_url=service.url, headers={"X-API-Key": KEY}, timeout=10)
        tarih, saat = now_local()
        common = {"alici": "+905551234567", "tarih": tarih, "saat": saat}
        for message_id, sender in (("m-ankara", "ankara"), ("m-izmir", "izmir"), ("m-env", None)):
            body = {"id": message_id, "mesaj": f"Merhaba from {sender}", **common}
            if sender is not None:
                body["gonderen"] = sender
            answer = api.post("/schedule", json=body)
            assert answer.status_code == 200, answer.text
            assert answer.json()["gonderen"] == (sender or "default")

        expected = {"m-ankara": ("ankara", ANKARA_ID), "m-izmir": ("izmir", IZMIR_ID),
                    "m-env": ("default", DEFAULT_ID)}  # fmt: skip
        for message_id, (sender, number) in expected.items():
            status = wait_sent(api, message_id)
            assert status["status"] in {"sent", "delivered", "read"}, status
            assert status["gonderen"] == sender
            # The stand-in's record of what reached it: one request, on the sender's own
            # number, accepted (it answers 401 to any token but that number's own).
            records = httpx.get(
                f"{graph}/_sandbox/requests", params={"callback_data": message_id}
            ).json()
            assert [(r["phone_number_id"], r["status"]) for r in records] == [(number, 200)]
            assert records[0]["wamid"]

        # GET /schedule?gonderen= filters (queued messages: schedule two for later).
        for message_id, sender in (("later-ankara", "ankara"), ("later-izmir", "izmir")):
            answer = api.post(
                "/schedule",
                json={"id": message_id, "alici": "+905551234567", "tarih": "2031-01-02",
                      "saat": "10:00", "mesaj": "Sonra", "gonderen": sender},
            )  # fmt: skip
            assert answer.status_code == 200, answer.text
        only = api.get("/schedule", params={"gonderen": "ankara"}).json()
        assert [(m["id"], m["gonderen"]) for m in only] == [("later-ankara", "ankara")]
        both = api.get("/schedule", params=[("gonderen", "ankara"), ("gonderen", "izmir")])
        assert sorted(m["id"] for m in both.json()) == ["later-ankara", "later-izmir"]

        # Disabled on the command line while serve runs: refused at once (every request
        # reads the senders table), naming the field; nothing stored.
        disabled = senders_cli(env, "update", "izmir", "--disable")
        assert disabled.returncode == 0, disabled.stderr
        refused = api.post(
            "/schedule",
            json={"id": "m-off", "mesaj": "Merhaba", "gonderen": "izmir", **common},
        )
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["gonderen"]
        assert "sender 'izmir' is disabled" in refused.json()["detail"]
        assert api.get("/status/m-off").status_code == 404
        api.close()
        assert service.stop() == 0
        log = service.output()
    # The log is the one of these sends (so the check below reads something) ...
    assert "sender added sender=ankara" in log, log
    assert "message_id=m-izmir" in log, log
    # ... and holds no token, nor the key that encrypts them.
    for token in (*TOKENS, secret):
        assert token not in log
