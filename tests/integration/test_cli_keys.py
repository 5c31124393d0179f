"""`whatsapp-scheduler keys create|list|revoke` on a real SQLite file (in-process)."""

from __future__ import annotations

import asyncio

import pytest

from whatsapp_scheduler import cli
from whatsapp_scheduler.core import keys
from whatsapp_scheduler.store import sql


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        cli.main(list(argv))
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def stored(url: str, name: str) -> keys.ApiKey | None:
    async def read() -> keys.ApiKey | None:
        message_store = sql.SqlMessageStore.from_url(url)
        try:
            return await message_store.get_key(name)
        finally:
            await message_store.close()

    return asyncio.run(read())


def test_keys_are_made_listed_and_revoked(capsys, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    code, out, err = run(capsys, "keys", "create", "--name", "app", "--scope", "write")
    assert code == 0
    key = out.strip()
    assert key.startswith("wsk_")
    assert len(key) >= 36
    assert "shown only now" in err
    found = stored(url, "app")
    assert found is not None
    assert found.scope == "write"
    code, out, _ = run(
        capsys, "keys", "create", "--name", "board", "--scope", "read", "--sender", "default"
    )
    assert code == 0
    code, out, _ = run(capsys, "keys", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SCOPE", "SENDERS", "CREATED", "LAST", "USED", "REVOKED"]
    assert lines[1].split()[:3] == ["app", "write", "*"]
    assert lines[2].split()[:3] == ["board", "read", "default"]
    assert key not in out
    code, out, _ = run(capsys, "keys", "revoke", "app")
    assert code == 0
    assert "revoked 'app'" in out
    revoked = stored(url, "app")
    assert revoked is not None
    assert revoked.revoked


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--name", "app", "--scope", "read"], "a key named 'app' already exists"),
        (["--name", "x", "--scope", "read", "--sender", "shop"], "no sender named 'shop'"),
        (["--name", "Not OK", "--scope", "read"], "name: 1-64 characters"),
    ],
)
def test_bad_keys_are_refused_and_change_nothing(capsys, tmp_path, monkeypatch, argv, says):
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert run(capsys, "keys", "create", "--name", "app", "--scope", "admin")[0] == 0
    code, out, err = run(capsys, "keys", "create", *argv)
    assert code == 1
    assert says in err
    assert out == ""
    assert stored(url, "x") is None
    found = stored(url, "app")
    assert found is not None
    assert found.scope == "admin"


def test_revoking_an_unknown_key_says_so(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'keys.db'}")
    code, _, err = run(capsys, "keys", "revoke", "nobody")
    assert code == 1
    assert "no key named 'nobody'" in err
