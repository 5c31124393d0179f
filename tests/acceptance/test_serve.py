"""Start the real service as the Flutter app does and replay its exact requests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.acceptance.conftest import BIN, REPO, base_env, now_local

KEY = "acceptance-key-1234567890"
SHORT_KEY = "API_KEY must be at least 24 characters long"

# What the Flutter client sends: Dart's DateTime.toIso8601String() for tarih and olusturmaTarihi.
FLUTTER_BODY = {
    "id": "1764320000000",
    "alici": "+905551234567",
    "tarih": "2030-09-22T00:00:00.000",
    "saat": "14:05",
    "mesaj": "Doğum günün kutlu olsun! 🎉",
    "olusturmaTarihi": "2030-09-01T10:11:12.345678",
}


def replay_flutter_client(url: str) -> None:
    headers = {"X-API-Key": KEY, "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        assert client.get("/health").status_code == 200
        created = client.post("/schedule", json=FLUTTER_BODY)
        assert created.status_code == 200, created.text
        assert created.json()["mesaj"] == FLUTTER_BODY["mesaj"]
        assert created.json()["status"] == "queued"
        listed = client.get("/schedule")
        assert listed.status_code == 200
        assert [m["id"] for m in listed.json()] == [FLUTTER_BODY["id"]]
        status = client.get(f"/status/{FLUTTER_BODY['id']}")
        assert status.status_code == 200
        assert status.json()["id"] == FLUTTER_BODY["id"]
        assert status.json()["status"] == "queued"
        deleted = client.delete(f"/schedule/{FLUTTER_BODY['id']}")
        assert deleted.status_code == 200
        assert client.get("/schedule").json() == []
        assert client.get(f"/status/{FLUTTER_BODY['id']}").json()["status"] == "cancelled"


@pytest.mark.slow
def test_whatsapp_scheduler_serve_keeps_the_seed_contract(start_service):
    service = start_service([str(BIN), "serve", "--sandbox"], API_KEY=KEY)
    service.wait_healthy()
    replay_flutter_client(service.url)
    # /health: the status for anyone; the dispatcher (its worker id names the host and pid)
    # only with the key.
    anonymous = httpx.get(service.url + "/health", timeout=10).json()
    assert anonymous == {"status": "ok", "database": "ok"}
    full = httpx.get(service.url + "/health", headers={"X-API-Key": KEY}, timeout=10).json()
    assert full["dispatcher"]["worker"].startswith(socket.gethostname()[:40] + ":")
    assert full["sandbox"] is True
    assert service.stop() == 0
    assert KEY not in service.output()


@pytest.mark.slow
def test_python_main_py_with_port_as_the_app_launches_it(start_service):
    service = start_service(
        [sys.executable, str(REPO / "main.py")],
        API_KEY=KEY,
        ACCESS_TOKEN="meta-token-for-test",
        PHONE_NUMBER_ID="123456789012345",
        GRAPH_API_URL="http://127.0.0.1:9",  # nothing is due, so nothing is sent
        DISPATCHER_ENABLED="false",
    )
    service.wait_healthy()
    replay_flutter_client(service.url)
    assert service.stop() == 0


@pytest.mark.slow
def test_data_survives_a_restart(start_service):
    first = start_service([str(BIN), "serve", "--sandbox"], API_KEY=KEY)
    first.wait_healthy()
    body = dict(FLUTTER_BODY, id="kept")
    headers = {"X-API-Key": KEY}
    assert httpx.post(first.url + "/schedule", json=body, headers=headers).status_code == 200
    first.kill()  # no graceful shutdown
    second = start_service([str(BIN), "serve", "--sandbox"], API_KEY=KEY)
    second.wait_healthy()
    status = httpx.get(second.url + "/status/kept", headers=headers)
    assert status.json()["status"] == "queued"


@pytest.mark.slow
def test_sandbox_without_api_key_makes_one_and_prints_it(start_service):
    service = start_service([str(BIN), "serve", "--sandbox"])
    service.wait_healthy()
    banner = service.output()
    assert "SANDBOX" in banner
    key = banner.split("API key for this run (set API_KEY to choose one): ")[1].split()[0]
    response = httpx.get(service.url + "/schedule", headers={"X-API-Key": key})
    assert response.status_code == 200


def _sandbox_url(banner: str) -> str:
    return banner.split("Sandbox inbox (what each phone would have received): ")[1].split()[0]


def _control_token(banner: str) -> str:
    return banner.split("control API token (X-Sandbox-Token, SANDBOX_TOKEN): ")[1].split()[0]


@pytest.mark.slow
def test_sandbox_prints_its_default_secrets_and_guards_its_control_api(start_service):
    service = start_service([str(BIN), "serve", "--sandbox", "--no-dispatcher"], API_KEY=KEY)
    service.wait_healthy()
    banner = service.output()
    assert "Sandbox secrets (for the local stand-in only, not Meta's" in banner
    assert "APP_SECRET: sandbox-app-secret (sandbox default)" in banner
    assert "WEBHOOK_VERIFY_TOKEN: sandbox-verify-token (sandbox default)" in banner
    handshake = {"hub.mode": "subscribe", "hub.challenge": "c1"}
    verify = httpx.get(
        service.url + "/webhook", params={**handshake, "hub.verify_token": "sandbox-verify-token"}
    )
    assert verify.text == "c1"
    inbox, token = _sandbox_url(banner), _control_token(banner)
    assert len(token) >= 24
    forged = {"from": "+16505551234", "text": "forged"}
    cross = httpx.post(
        inbox + "_sandbox/inbound", json=forged, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert httpx.post(inbox + "_sandbox/inbound", json=forged).status_code == 403
    assert httpx.get(inbox + "_sandbox/conversations").json() == []
    own = httpx.post(inbox + "_sandbox/inbound", json=forged, headers={"X-Sandbox-Token": token})
    assert own.status_code == 200
    assert service.stop() == 0


@pytest.mark.slow
def test_sandbox_honours_app_secret_verify_token_and_sandbox_token(start_service):
    secret, verify, control = "my-sandbox-app-secret", "my-verify-token", "c" * 30
    service = start_service(
        [str(BIN), "serve", "--sandbox"],
        API_KEY=KEY,
        APP_SECRET=secret,
        WEBHOOK_VERIFY_TOKEN=verify,
        SANDBOX_TOKEN=control,
    )
    service.wait_healthy()
    banner = service.output()
    assert "APP_SECRET: as set (not shown)" in banner
    assert "WEBHOOK_VERIFY_TOKEN: as set (not shown)" in banner
    assert secret not in banner
    assert verify not in banner
    assert _control_token(banner) == control
    handshake = {"hub.mode": "subscribe", "hub.challenge": "c2"}
    ours = httpx.get(service.url + "/webhook", params={**handshake, "hub.verify_token": verify})
    assert ours.text == "c2"
    default = {**handshake, "hub.verify_token": "sandbox-verify-token"}
    assert httpx.get(service.url + "/webhook", params=default).status_code == 403
    # The stand-in signs its status webhooks with the same APP_SECRET: they are accepted.
    tarih, saat = now_local()
    body = {"id": "honoured", "alici": "+905551234567", "tarih": tarih, "saat": saat, "mesaj": "x"}
    headers = {"X-API-Key": KEY}
    assert httpx.post(service.url + "/schedule", json=body, headers=headers).status_code == 200
    deadline = time.monotonic() + 30
    while httpx.get(service.url + "/status/honoured", headers=headers).json()["status"] != "read":
        assert time.monotonic() < deadline, service.output()
        time.sleep(0.1)
    assert service.stop() == 0


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["serve"], {"ACCESS_TOKEN": "t", "PHONE_NUMBER_ID": "1"}, "API_KEY is not set"),
        (["serve", "--sandbox"], {"API_KEY": "your-api-key"}, "API_KEY still has the placeholder"),
        (["serve"], {"API_KEY": KEY, "PHONE_NUMBER_ID": "1"}, "ACCESS_TOKEN is not set"),
        (["serve"], {"API_KEY": KEY, "ACCESS_TOKEN": "t"}, "PHONE_NUMBER_ID is not set"),
        (
            ["serve"],
            {"API_KEY": KEY, "ACCESS_TOKEN": "your-access-token", "PHONE_NUMBER_ID": "1"},
            "ACCESS_TOKEN still has the placeholder",
        ),
        (["serve", "--sandbox"], {"API_KEY": KEY, "TIMEZONE": "Mars/Base"}, "TIMEZONE"),
        (["serve", "--sandbox"], {"API_KEY": "a"}, SHORT_KEY),
        (["serve"], {"API_KEY": KEY[:23], "ACCESS_TOKEN": "t", "PHONE_NUMBER_ID": "1"}, SHORT_KEY),
        (
            ["worker"],
            {"API_KEY": "short-key", "ACCESS_TOKEN": "t", "PHONE_NUMBER_ID": "1"},
            SHORT_KEY,
        ),
        (["dispatch", "--burst"], {"API_KEY": "short-key"}, SHORT_KEY),
        (["db", "upgrade"], {"API_KEY": "short-key"}, SHORT_KEY),
        (
            ["serve", "--sandbox"],
            {"API_KEY": KEY, "APP_SECRET": "your-app-secret"},
            "APP_SECRET still has the placeholder",
        ),
        (
            ["serve", "--sandbox"],
            {"API_KEY": KEY, "DATABASE_URL": "sqlite:////nonexistent-dir/ws.db"},
            "DATABASE_URL: the directory of the SQLite database '/nonexistent-dir/ws.db' does "
            "not exist",
        ),
        (
            ["serve", "--sandbox"],
            {"API_KEY": KEY, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
            "DATABASE_URL: cannot open the database: connection failed",
        ),
        (
            ["worker"],
            {
                "API_KEY": KEY,
                "ACCESS_TOKEN": "t",
                "PHONE_NUMBER_ID": "1",
                "DATABASE_URL": "sqlite:////nonexistent-dir/ws.db",
            },
            "DATABASE_URL: the directory of the SQLite database",
        ),
    ],
)
def test_start_up_refuses_bad_configuration_in_one_line(tmp_path, argv, env, message):
    result = subprocess.run(
        [str(BIN), *argv, *(["--port", "1"] if argv[0] == "serve" else [])],
        env=base_env(tmp_path, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


def test_db_upgrade_creates_the_schema(tmp_path):
    result = subprocess.run(
        [str(BIN), "db", "upgrade"],
        env=base_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert (tmp_path / "acceptance.db").exists()


def test_help_texts_describe_the_commands():
    result = subprocess.run([str(BIN), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for command in ("serve", "db"):
        assert command in result.stdout
