"""The CLI client's `list` and `status` over real HTTP (the app on a real SQLite file): the
table with its header, `--plain` lines for scripts, local times in each message's own zone
(not UTC), UTC only in `--json`, no colour codes off a terminal, warnings on stderr."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from tests import media_files
from tests.conftest import API_KEY
from whatsapp_scheduler import cli
from whatsapp_scheduler.cli import client as cli_client

NY = {"id": "ny-1", "alici": "+16505551234", "tarih": "2026-03-04", "saat": "08:15",
      "timezone": "America/New_York", "mesaj": "Hello from the shop"}  # fmt: skip
IST = {"id": "ist-1", "alici": "+905551234567", "tarih": "2026-03-05", "saat": "09:30",
       "mesaj": "Randevunuz yarın 10:00'da, lütfen zamanında gelin; geç kalırsanız arayın"}  # fmt: skip


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _client(api: Any, out: io.StringIO | None = None) -> Callable[..., tuple[int, str, str]]:
    url = str(api.base_url)

    def run(*argv: str) -> tuple[int, str, str]:
        stdout, err = out or io.StringIO(), io.StringIO()
        args = cli._parser().parse_args([*argv, "--url", url, "--api-key", API_KEY])
        return cli_client.run(args, stdout, err), stdout.getvalue(), err.getvalue()

    return run


@pytest.fixture
async def two(api: Any) -> Any:
    for body in (NY, IST):
        assert (await api.post("/schedule", json=body)).status_code == 200
    return api


async def test_list_is_a_table_with_a_header_in_local_times(two, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    code, out, err = await asyncio.to_thread(_client(two), "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "DUE", "(LOCAL)", "ZONE", "TO", "FROM", "TEXT"]
    assert set(lines[1].strip()) <= {"─", " "}  # the header's rule
    ny = next(line for line in lines if line.startswith("ny-1"))
    # 08:15 in New York as it was given (13:15 UTC), not converted to UTC or another zone.
    assert ny.split()[:6] == ["ny-1", "queued", "2026-03-04", "08:15", "America/New_York",
                              "+16505551234"]  # fmt: skip
    ist = next(line for line in lines if line.startswith("ist-1"))
    assert "2026-03-05 09:30" in ist
    assert "Europe/Istanbul" in ist
    assert "Randevunuz yarın 10:00'da, lütfen zaman…" in ist  # cut at 40 characters
    assert "\x1b[" not in out  # not a terminal: no colour codes
    assert "2 shown of 2" in err


async def test_list_colours_only_on_a_terminal_and_never_with_no_color(two, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    code, out, _ = await asyncio.to_thread(_client(two, Tty()), "list")
    assert code == 0
    assert "\x1b[" in out  # the status coloured
    monkeypatch.setenv("NO_COLOR", "1")
    code, out, _ = await asyncio.to_thread(_client(two, Tty()), "list")
    assert code == 0
    assert "\x1b[3" not in out  # no colour (bold may stay)
    assert "ny-1" in out


async def test_list_plain_and_json_for_scripts(two):
    code, out, _ = await asyncio.to_thread(_client(two), "list", "--plain")
    assert code == 0
    assert out.splitlines()[0] == (
        "ny-1\tqueued\t2026-03-04 08:15 America/New_York\t+16505551234\tdefault\t"
        "Hello from the shop"
    )
    code, out, _ = await asyncio.to_thread(_client(two), "list", "--json")
    assert [m["id"] for m in json.loads(out)] == ["ny-1", "ist-1"]


async def test_status_shows_local_times_with_the_zone_and_utc_only_in_json(two, sqlite_url):
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute(
            "UPDATE messages SET status = 'failed', attempts = 1, last_error_code = 131047,"
            " last_error_text = 'Re-engagement message', failed_at = '2026-03-04 13:16:07.123456'"
            " WHERE id = 'ny-1'"
        )
    code, out, err = await asyncio.to_thread(_client(two), "status", "ny-1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "ny-1: failed (attempts: 1)"
    assert "  due        2026-03-04 08:15:00 EST (America/New_York)" in lines
    assert "  failed     2026-03-04 08:16:07 EST" in lines  # local, to the second
    assert ".123456" not in out
    assert "  error 131047: Re-engagement message" in lines
    code, out, _ = await asyncio.to_thread(_client(two), "status", "ny-1", "--json")
    data = json.loads(out)
    assert data["scheduled_at"].startswith("2026-03-04T13:15:00")  # UTC in JSON


async def test_warnings_go_to_stderr_with_and_without_json(api):
    at = ("--to", "+905551234567", "--at", "2026-03-06 10:00", "--text", "Merhaba")
    code, out, err = await asyncio.to_thread(_client(api), "schedule", *at, "--id", "w-1")
    assert code == 0
    assert err.startswith("warning: window_closed: ")
    assert "warning" not in out
    code, out, err = await asyncio.to_thread(_client(api), "schedule", *at, "--id", "w-2", "--json")
    assert code == 0
    assert json.loads(out)["warnings"]
    assert err.startswith("warning: window_closed: ")


async def test_import_prints_each_rows_warnings_on_stderr(api, tmp_path):
    rows = ["recipient,date,time,text"] + [
        f"+9055512300{i:02d},2026-03-06,10:{i:02d},Merhaba" for i in range(25)
    ]
    path = tmp_path / "list.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = await asyncio.to_thread(_client(api), "import", str(path))
    assert code == 0, err
    assert out.strip() == "stored 25, refused 0"
    warned = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warned[0].startswith("warning: line 2: window_closed: ")  # never written to us
    assert len(warned) == 21
    assert warned[-1] == "warning: … and 5 more (--json lists them all)"


async def test_import_sends_files_places_and_series_and_looks_up_an_uploads_type(api, tmp_path):
    upload = await api.post(
        "/media", files={"file": ("urun.png", media_files.png(), "application/octet-stream")}
    )
    assert upload.status_code == 201, upload.text
    photo = upload.json()["id"]
    rows = [
        "Telefon;Tarih;Saat;Mesaj;Medya;Açıklama;Enlem;Boylam;Tekrar",
        f"+905551230001;06.03.2026;10:00;;{photo};Yeni ürün;;;",
        "+905551230002;06.03.2026;10:01;;;;41,0369;28,9850;",
        '+905551230003;06.03.2026;10:02;Haftalık;;;;;"FREQ=WEEKLY;COUNT=3"',
        "+905551230004;06.03.2026;10:03;;med_00000000000000000000000000000000;;;;",
        "+905551230005;06.03.2026;10:04;Her dakika;;;;;FREQ=MINUTELY",
    ]
    path = tmp_path / "liste.csv"
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1254"))
    code, out, err = await asyncio.to_thread(_client(api), "import", str(path))
    assert code == 1, err  # two rows refused
    assert out.strip() == "stored 3, refused 2"
    refused = sorted(line for line in err.splitlines() if line.startswith("refused "))
    assert refused[0] == f"refused line 5: medya: no uploaded file has the id 'med_{'0' * 32}'"
    assert refused[1].startswith("refused line 6: tekrar: FREQ=MINUTELY is more frequent")
    stored = {m["alici"]: m for m in (await api.get("/schedule?limit=100")).json()}
    assert stored["+905551230001"]["content"] == {
        "type": "image",
        "image": {"id": photo, "caption": "Yeni ürün"},
    }
    assert stored["+905551230002"]["content"]["location"] == {
        "latitude": 41.0369,
        "longitude": 28.985,
    }
    assert stored["+905551230003"]["series_id"] is not None
    code, out, _err = await asyncio.to_thread(_client(api), "import", str(path))
    assert out.strip() == "stored 3, refused 2"  # the same ids: stored once
    assert len((await api.get("/schedule?limit=100")).json()) == 3
    code, out, _err = await asyncio.to_thread(_client(api), "list")
    assert code == 0
    photo_row = next(line for line in out.splitlines() if "+905551230001" in line)
    assert photo_row.rstrip().endswith("[image] Yeni ürün")
    place_row = next(line for line in out.splitlines() if "+905551230002" in line)
    assert place_row.rstrip().endswith("[location]")


async def test_import_draws_richs_progress_bar_on_a_terminal(api, tmp_path):
    rows = ["recipient,date,time,text"] + [
        f"+9055512310{i:02d},2026-03-06,10:{i:02d},Merhaba" for i in range(30)
    ]
    path = tmp_path / "list.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    url = str(api.base_url)
    args = cli._parser().parse_args(["import", str(path), "--url", url, "--api-key", API_KEY])
    out, err = io.StringIO(), Tty()
    code = await asyncio.to_thread(cli_client.run, args, out, err)
    assert code == 0, err.getvalue()
    drawn = err.getvalue()
    assert "━" in drawn  # the bar
    assert "30/30 rows" in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn)
    assert "\x1b[" in drawn  # drawn in place on a terminal (a pipe gets the last line only)
