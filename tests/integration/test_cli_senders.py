"""`whatsapp-scheduler senders ...` on a real SQLite file, run in-process (as the console
script runs `cli.main`)."""

from __future__ import annotations

import asyncio
import io
import json
import sys

import pytest
from cryptography.fernet import Fernet

from whatsapp_scheduler import cli
from whatsapp_scheduler.store import StoredSender, sql, tokens

KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for name in ("API_KEY", "PHONE_NUMBER_ID", "ACCESS_TOKEN", "WABA_ID", "DEFAULT_SENDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", KEY)
    monkeypatch.setenv("PHONE_NUMBER_ID", "111")
    monkeypatch.setenv("ACCESS_TOKEN", "env-token")

    def invoke(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        with pytest.raises(SystemExit) as done:
            cli.main(["senders", *argv])
        out, err = capsys.readouterr()
        return int(done.value.code or 0), out, err

    invoke.url = url  # type: ignore[attr-defined]
    return invoke


def _stored(url: str) -> list[StoredSender]:
    async def read() -> list[StoredSender]:
        store = sql.SqlMessageStore.from_url(url)
        try:
            return await store.list_senders()
        finally:
            await store.close()

    return asyncio.run(read())


def test_add_list_update_remove(run, tmp_path, monkeypatch):
    code, out, err = run(
        "add", "shop", "--phone-number-id", "1001", "--waba-id", "2001",
        "--messages-per-second", "20", stdin="shop-token-1\n",
    )  # fmt: skip
    assert (code, out.strip()) == (0, "added sender shop (1001)"), err
    code, out, _ = run("list")
    assert out.splitlines() == [
        "default\t111\t-\tenabled\t-\t-\t-\tenvironment",
        "shop\t1001\t2001\tenabled\t20/s\t-\t-\tdatabase",
    ]
    token_file = tmp_path / "token.txt"
    token_file.write_text("shop-token-2\n")
    code, out, err = run(
        "update", "shop", "--disable", "--waba-id", "", "--token-file", str(token_file)
    )
    assert code == 0, err
    assert out.strip() == "updated sender shop: access_token, enabled, waba_id"
    listed = json.loads(run("list", "--json")[1])
    assert listed[1] | {} == {
        "name": "shop", "phone_number_id": "1001", "waba_id": None, "portfolio": None,
        "messages_per_second": 20.0, "pair_interval": None, "enabled": False,
        "quiet_hours": None, "messaging_limit": None, "from_environment": False,
    }  # fmt: skip
    (stored,) = _stored(run.url)
    assert tokens.TokenCipher.from_secret(KEY).decrypt(stored.token_encrypted) == "shop-token-2"
    code, out, _ = run("remove", "shop")
    assert (code, out.strip()) == (0, "removed sender shop")
    assert _stored(run.url) == []


def test_refusals_name_the_field_and_change_nothing(run, monkeypatch):
    assert run("add", "shop", "--phone-number-id", "1001", stdin="t")[0] == 0
    for argv, says in (
        (("add", "shop", "--phone-number-id", "9"), "name: a sender with name 'shop' exists"),
        (("add", "b", "--phone-number-id", "1001"), "phone_number_id: a sender with"),
        (("add", "b", "--phone-number-id", "111"), "phone_number_id: a sender with"),
        (("add", "Bad Name", "--phone-number-id", "9"), "name: must be 1-32 characters"),
        (("add", "b", "--phone-number-id", "9", "--pair-interval", "-1"), "pair_interval:"),
        (("update", "nobody", "--enable"), "name: no sender named 'nobody'"),
        (("update", "default", "--disable"), "comes from the environment"),
        (("remove", "default"), "comes from the environment"),
        (("update", "shop"), "give at least one change"),
    ):
        code, _, err = run(*argv, stdin="some-token")
        assert code == 1, argv
        assert says in err, (argv, err)
    assert len(_stored(run.url)) == 1
    code, _, err = run("add", "b", "--phone-number-id", "9", stdin="  \n")
    assert (code, "no access token given" in err) == (2, True)
    monkeypatch.setenv("SECRET_KEY", "")
    code, _, err = run("add", "b", "--phone-number-id", "9", stdin="t")
    assert code == 2
    assert "SECRET_KEY is not set" in err
    assert len(_stored(run.url)) == 1


def test_reencrypt_rotates_to_the_first_key(run, monkeypatch):
    assert run("add", "shop", "--phone-number-id", "1001", stdin="t-shop")[0] == 0
    monkeypatch.setenv("SECRET_KEY", f"{NEW_KEY},{KEY}")
    code, out, _ = run("reencrypt")
    assert (code, out.strip()) == (0, "re-encrypted 1 token(s)")
    (stored,) = _stored(run.url)
    assert tokens.TokenCipher.from_secret(NEW_KEY).decrypt(stored.token_encrypted) == "t-shop"
    monkeypatch.setenv("SECRET_KEY", Fernet.generate_key().decode())  # neither key
    code, _, err = run("reencrypt")
    assert code == 1
    assert "no key in SECRET_KEY decrypts the token of: shop" in err


def test_no_token_in_arguments_and_help_says_why(run, capsys):
    with pytest.raises(SystemExit):
        cli.main(["senders", "add", "--help"])
    text = capsys.readouterr().out
    assert "--token-file" in text
    assert "shell history" in text
    with pytest.raises(SystemExit) as refused:
        cli.main(["senders", "add", "x", "--phone-number-id", "1", "--token", "secret"])
    assert refused.value.code == 2  # argparse: no such option
    for command in ("list", "update", "remove", "reencrypt"):
        with pytest.raises(SystemExit):
            cli.main(["senders", command, "--help"])
        assert "DATABASE_URL" in capsys.readouterr().out
