"""`whatsapp-scheduler templates sync|list|show` on a real SQLite file (in-process), syncing
from a stand-in served on loopback by a thread of its own (the CLI runs its own event loop)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest

from tests.integration.test_cli_keys import run
from whatsapp_scheduler.sandbox import StandIn, StandInConfig, catalogue

TOKEN = "cli-templates-token"
WABA = "102290129340398"


@pytest.fixture
def standin_url() -> Iterator[str]:
    ready, stop = threading.Event(), threading.Event()
    found: list[str] = []

    def serve() -> None:
        async def main() -> None:
            async with StandIn(StandInConfig(access_token=TOKEN)) as standin:
                found.append(standin.url)
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.05)

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(30), "the stand-in did not start"
    yield found[0]
    stop.set()
    thread.join(30)


def test_sync_then_list_and_show(capsys, tmp_path, monkeypatch, standin_url):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 't.db'}")
    monkeypatch.setenv("GRAPH_API_URL", standin_url)
    monkeypatch.setenv("ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("PHONE_NUMBER_ID", "106540352242922")
    code, out, _ = run(capsys, "templates", "list")
    assert (code, out.splitlines()) == (
        0,
        ["WABA  NAME  LANGUAGE  STATUS  CATEGORY  PARAMETERS  QUALITY"],
    )
    code, out, _ = run(capsys, "templates", "sync")
    assert code == 0
    assert "no sender has a WABA id" in out
    monkeypatch.setenv("WABA_ID", WABA)
    code, out, _ = run(capsys, "templates", "sync")
    assert (code, out.strip()) == (0, f"WABA {WABA} (default): {len(catalogue.seeded())} templates")
    code, out, _ = run(capsys, "templates", "list", "--status", "PAUSED")
    assert code == 0
    [_, row] = out.splitlines()
    assert row.split() == [WABA, "eski_kampanya", "tr", "PAUSED", "MARKETING", "1", "RED"]
    code, out, _ = run(capsys, "templates", "list", "--json", "--name", "siparis_durumu")
    assert json.loads(out)["parameter_format"] == "NAMED"
    code, out, _ = run(capsys, "templates", "show", "randevu_hatirlatma")
    assert [t["language"] for t in json.loads(out)] == ["en_US", "tr"]
    code, _, err = run(capsys, "templates", "show", "nothing_like_it")
    assert code == 1
    assert "no synced template named 'nothing_like_it'" in err
    monkeypatch.setenv("ACCESS_TOKEN", "a-wrong-token")
    code, _, err = run(capsys, "templates", "sync")
    assert code == 1
    assert f"WABA {WABA} (default): failed: WABA {WABA}: HTTP 401, Graph error 190" in err
    assert "a-wrong-token" not in err
    code, out, _ = run(capsys, "templates", "list", "--status", "PAUSED")
    assert len(out.splitlines()) == 2, "a failed sync keeps the last catalogue"
