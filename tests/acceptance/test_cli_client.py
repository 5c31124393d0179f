"""`whatsapp-scheduler schedule|list|status|cancel|import` as subprocesses against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.acceptance.conftest import BIN, free_port

# Each test starts a `serve` (5-12 s each in a full run with coverage).
pytestmark = pytest.mark.slow

KEY = "cli-client-key-0123456789"


@pytest.fixture
def served(start_service):
    service = start_service([str(BIN), "serve", "--sandbox", "--no-dispatcher"], API_KEY=KEY)
    service.wait_healthy()
    return service


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"API_KEY", "WHATSAPP_SCHEDULER_URL"}}
    return subprocess.run(
        [str(BIN), *args], env={**clean, **env}, capture_output=True, text=True, timeout=30
    )


# Eight CLI processes one after another (each a fresh interpreter) plus the service's start:
# beside a CPU hog that passed pytest's 60 s default. A deadline, not a speed.
@pytest.mark.timeout(240)
def test_schedule_list_status_cancel(served):
    common = ["--url", served.url, "--api-key", KEY]
    made = cli(
        "schedule", *common, "--to", "+905551234567", "--at", "2030-12-01 09:30",
        "--text", "Randevunuz yarın 10:00'da", "--id", "cli-1",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == (
        "scheduled cli-1 to +905551234567 at 2030-12-01 09:30 (Europe/Istanbul): queued"
    )
    # The number never wrote to us: the API's warning reaches the user, on stderr.
    assert made.stderr.startswith("warning: window_closed: "), made.stderr
    # With --json too: the answer on stdout (warnings in it), the warning on stderr for a person.
    as_json = cli(
        "schedule", *common, "--to", "+905551234567", "--at", "2030-12-01 09:45",
        "--text", "İkinci", "--id", "cli-2", "--json",
    )  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["warnings"]
    assert as_json.stderr.startswith("warning: window_closed: "), as_json.stderr
    assert cli("cancel", *common, "cli-2").returncode == 0
    listed = cli("list", *common, "--json")
    assert [m["id"] for m in json.loads(listed.stdout)] == ["cli-1"]
    table = cli("list", *common, "--status", "queued", "--limit", "5")
    assert table.stdout.split("\n")[0].split()[:2] == ["ID", "STATUS"]  # a table with a header
    assert "cli-1   queued   2030-12-01 09:30   Europe/Istanbul" in table.stdout
    plain = cli("list", *common, "--status", "queued", "--limit", "5", "--plain")
    assert plain.stdout.startswith("cli-1\tqueued\t2030-12-01 09:30 Europe/Istanbul\t+905551234567")
    status = cli("status", *common, "cli-1")
    assert status.returncode == 0
    assert status.stdout.startswith("cli-1: queued (attempts: 0)")
    cancelled = cli("cancel", *common, "cli-1")
    assert (cancelled.returncode, cancelled.stdout.strip()) == (0, "cancelled cli-1")
    as_json = json.loads(cli("status", *common, "cli-1", "--json").stdout)
    assert as_json["status"] == "cancelled"


@pytest.mark.timeout(240)
def test_schedule_a_template_checked_against_the_synced_catalogue(served):
    """`schedule --template` with `--param` (POSITIONAL) or `--named` (NAMED): `serve --sandbox`
    synced the stand-in's catalogue, so the service checks them against it."""
    common = ["--url", served.url, "--api-key", KEY, "--to", "+905551234567"]
    at = ["--at", "2030-12-01 09:30"]
    made = cli(
        "schedule", *common, *at, "--template", "randevu_hatirlatma", "--language", "tr",
        "--param", "Ada", "--param", "10:00", "--id", "cli-t1", "--json",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["template"] == {
        "name": "randevu_hatirlatma",
        "language": {"code": "tr"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "10:00"}],
            }
        ],
    }
    short = cli(
        "schedule", *common, *at, "--template", "randevu_hatirlatma", "--language", "tr",
        "--param", "Ada",
    )  # fmt: skip
    assert short.returncode == 1
    assert "takes 2 body parameters" in short.stderr, short.stderr
    # NAMED: the names are checked (one missing is named); right names reach the next rule
    # (this seeded template also has a URL button, whose part the CLI does not give).
    wrong = cli(
        "schedule", *common, *at, "--template", "siparis_durumu", "--language", "tr",
        "--named", "customer=Ayşe",
    )  # fmt: skip
    assert (wrong.returncode, "missing order_id" in wrong.stderr) == (1, True), wrong.stderr
    right = cli(
        "schedule", *common, *at, "--template", "siparis_durumu", "--language", "tr",
        "--named", "customer=Ayşe", "--named", "order_id=A-1001",
    )  # fmt: skip
    assert (right.returncode, "URL button at index 0" in right.stderr) == (1, True), right.stderr
    usage = cli("schedule", *common, *at, "--template", "randevu_hatirlatma")
    assert (usage.returncode, "--template needs --language" in usage.stderr) == (2, True)
    both = cli("schedule", *common, *at, "--text", "x", "--template", "y", "--language", "tr")
    assert both.returncode == 2
    assert "not allowed with argument" in both.stderr


def test_status_says_when_the_fallback_template_went_out(start_service):
    """WINDOW_POLICY=template, a recipient who never wrote: the sandbox's dispatcher sends the
    fallback template, and `status` says so."""
    service = start_service([str(BIN), "serve", "--sandbox"], API_KEY=KEY, WINDOW_POLICY="template")
    service.wait_healthy()
    local = (datetime.now(UTC) - timedelta(seconds=1)).astimezone(ZoneInfo("Europe/Istanbul"))
    # one of the stand-in's seeded templates: `serve --sandbox` syncs its catalogue (WABA_ID)
    fallback = {"name": "randevu_hatirlatma", "language": "tr", "parameters": ["Ada", "10:00"]}
    answer = httpx.post(
        service.url + "/schedule",
        headers={"X-API-Key": KEY},
        json={
            "id": "fb-1", "alici": "+905551234567", "mesaj": "Randevunuz yarın",
            "tarih": local.date().isoformat(), "saat": local.strftime("%H:%M:%S"),
            "fallback_template": fallback,
        },
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    common = ["--url", service.url, "--api-key", KEY]
    deadline = time.monotonic() + 30  # only against a hang: sent ~1 s after it is due
    while json.loads(cli("status", *common, "fb-1", "--json").stdout)["status"] in {
        "queued",
        "sending",
    }:
        assert time.monotonic() < deadline, "not sent within 30 s"
        time.sleep(0.1)
    status = cli("status", *common, "fb-1")
    assert status.returncode == 0, status.stderr
    assert "sent as its fallback template (the 24-hour window was closed)" in status.stdout


def test_environment_gives_url_and_key(served):
    env = {"WHATSAPP_SCHEDULER_URL": served.url, "API_KEY": KEY}
    made = cli(
        "schedule", "--to", "+16505551234", "--at", "2030-01-02T08:00", "--timezone",
        "America/Los_Angeles", "--text", "hi", "--json", **env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["scheduled_at"].startswith("2030-01-02T16:00")


@pytest.mark.parametrize(
    ("args", "detail"),
    [
        (["schedule", "--to", "12", "--at", "2030-01-01 10:00", "--text", "x"], "alici: '12'"),
        (
            ["schedule", "--to", "+905551234567", "--at", "2020-01-01 10:00", "--text", "x"],
            "tarih:",
        ),
        (["status", "nope"], "id: no message with id 'nope'"),
        (["cancel", "nope"], "id: no message with id 'nope'"),
    ],
)
def test_refusals_exit_1_with_the_apis_detail(served, args, detail):
    result = cli(*args, "--url", served.url, "--api-key", KEY)
    assert result.returncode == 1
    assert detail in result.stderr
    assert result.stdout == ""


def test_wrong_key_exits_1_missing_key_2_no_server_3(served):
    wrong = cli("list", "--url", served.url, "--api-key", "wrong")
    assert wrong.returncode == 1
    assert "refused (401)" in wrong.stderr
    missing = cli("list", "--url", served.url)
    assert (missing.returncode, "no API key" in missing.stderr) == (2, True)
    bad_at = cli(
        "schedule",
        "--url",
        served.url,
        "--api-key",
        KEY,
        "--to",
        "1",
        "--at",
        "soon",
        "--text",
        "x",
    )
    assert bad_at.returncode == 2
    down = cli("list", "--url", f"http://127.0.0.1:{free_port()}", "--api-key", KEY)
    assert down.returncode == 3
    assert "cannot reach the service" in down.stderr
    usage = cli("schedule", "--url", served.url)
    assert usage.returncode == 2  # argparse: --to, --at, --text are required


def test_import_stores_good_rows_and_reports_bad_ones(served, tmp_path: Path):
    lines = ["recipient,date,time,text,timezone"]
    lines += [
        f"+90555{i:07d},2030-03-01,10:{i % 60:02d},Merhaba {i} — çğıöşü İ," for i in range(1500)
    ]
    lines.insert(3, "not-a-number,2030-03-01,10:00,bozuk satır,")
    lines.append("+905551234567,2030-03-01,10:00,Berlin,Europe/Berlin")
    path = tmp_path / "list.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("import", str(path), "--url", served.url, "--api-key", KEY)
    assert result.returncode == 1  # one row refused
    assert result.stdout.strip() == "stored 1501, refused 1"
    assert "1502/1502 rows" in result.stderr
    assert "refused line 4: alici: 'not-a-number'" in result.stderr
    again = cli("import", str(path), "--url", served.url, "--api-key", KEY, "--json")
    summary = json.loads(again.stdout)
    assert (summary["stored"], summary["refused"]) == (1501, 1)  # same ids: nothing twice
    listed = cli("list", "--url", served.url, "--api-key", KEY, "--limit", "1000")
    assert "1501" in listed.stderr  # "1000 shown of 1501"
    texts = cli("list", "--url", served.url, "--api-key", KEY, "--json", "--limit", "3")
    assert "çğıöşü İ" in json.loads(texts.stdout)[0]["mesaj"]
    missing = cli("import", str(tmp_path / "nope.csv"), "--url", served.url, "--api-key", KEY)
    assert missing.returncode == 2
