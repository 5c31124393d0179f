"""`SenderDirectory`: the environment's sender and the table's, tokens decrypted, on every
store (memory, SQLite, PostgreSQL). What the dispatcher and the service read."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet
from pydantic import SecretStr

from tests.conftest import START
from whatsapp_scheduler import testing
from whatsapp_scheduler.core.senders import Sender, SenderCredentials
from whatsapp_scheduler.service import NewSender, SenderAdmin
from whatsapp_scheduler.settings import Settings
from whatsapp_scheduler.store import MessageStore, senders_directory, tokens

KEY, OTHER = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _directory(
    store: MessageStore, make_settings: Callable[..., Settings], **settings: Any
) -> senders_directory.SenderDirectory:
    values = {"secret_key": KEY, "phone_number_id": "111", "access_token": "env-token"}
    values.update(settings)
    return senders_directory.build_sender_directory(make_settings(**values), store)


async def test_all_lists_the_environment_first_then_the_table_decrypted(any_store, make_settings):
    directory = _directory(any_store, make_settings, waba_id="222", default_sender="shop")
    admin = SenderAdmin(any_store, directory, testing.FrozenClock(START))
    await admin.add(NewSender("shop", "1001", "shop-token", messages_per_second=5))
    await admin.add(NewSender("off", "1002", "off-token", enabled=False))
    found = await directory.all()
    assert [(c.sender.name, c.access_token, c.sender.enabled) for c in found] == [
        ("default", "env-token", True),
        ("off", "off-token", False),
        ("shop", "shop-token", True),
    ]
    assert found[0].sender == Sender("default", "111", waba_id="222", from_environment=True)
    assert found[2].sender.messages_per_second == 5.0
    assert directory.default_name == "shop"
    shop = await directory.get("shop")
    assert shop is not None
    assert shop.access_token == "shop-token"
    assert (await directory.get("default")) == found[0]
    assert await directory.get("nobody") is None
    assert "shop-token" not in repr(found)
    assert "env-token" not in repr(found)


async def test_a_new_token_counts_from_the_next_call(any_store, make_settings):
    directory = _directory(any_store, make_settings)
    admin = SenderAdmin(any_store, directory, testing.FrozenClock(START))
    await admin.add(NewSender("shop", "1001", "old-token"))
    assert await directory.get("shop") == SenderCredentials(
        Sender("shop", "1001", created_at=START, updated_at=START), "old-token"
    )
    # Another process (the CLI) changes it through its own directory on the same store.
    other = SenderAdmin(any_store, _directory(any_store, make_settings), testing.FrozenClock(START))
    await other.update("shop", {"access_token": "new-token", "enabled": False})
    shop = await directory.get("shop")
    assert shop is not None
    assert (shop.access_token, shop.sender.enabled) == ("new-token", False)
    assert [c.access_token for c in await directory.all()] == ["env-token", "new-token"]


async def test_an_unreadable_token_leaves_only_that_sender_out(any_store, make_settings, caplog):
    await any_store.add_sender(
        Sender("old", "1001"), tokens.TokenCipher.from_secret(OTHER).encrypt("t-old"), START
    )
    await any_store.add_sender(
        Sender("shop", "1002"), tokens.TokenCipher.from_secret(KEY).encrypt("t-shop"), START
    )
    directory = _directory(any_store, make_settings)
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            assert [c.sender.name for c in await directory.all()] == ["default", "shop"]
    assert await directory.get("old") is None
    logged = [r for r in caplog.records if "cannot be decrypted" in r.getMessage()]
    assert len(logged) == 1  # once per sender and token, not on every call
    assert logged[0].sender == "old"
    # Without SECRET_KEY no table sender can send; the environment's still can; listing works.
    keyless = _directory(any_store, make_settings, secret_key=None)
    assert [c.sender.name for c in await keyless.all()] == ["default"]
    assert [s.name for s in await keyless.senders()] == ["default", "old", "shop"]


async def test_rotation_with_reencrypt_then_the_old_key_dropped(any_store, make_settings):
    first = _directory(any_store, make_settings, secret_key=OTHER)
    await SenderAdmin(any_store, first, testing.FrozenClock(START)).add(
        NewSender("shop", "1001", "t-shop")
    )
    both = _directory(any_store, make_settings, secret_key=f"{KEY},{OTHER}")
    report = await SenderAdmin(any_store, both, testing.FrozenClock(START)).reencrypt()
    assert (report.reencrypted, report.unreadable) == (1, [])
    only_new = _directory(any_store, make_settings, secret_key=KEY)
    shop = await only_new.get("shop")
    assert shop is not None
    assert shop.access_token == "t-shop"
    report = await SenderAdmin(any_store, _directory(any_store, make_settings, secret_key=OTHER),
                               testing.FrozenClock(START)).reencrypt()  # fmt: skip
    assert report.unreadable == ["shop"]  # the old key alone no longer reads it


def test_the_environment_sender_needs_both_number_and_token(make_settings):
    assert senders_directory.environment_sender(make_settings()) is None
    assert senders_directory.environment_sender(make_settings(phone_number_id="1")) is None
    made = senders_directory.environment_sender(
        make_settings(phone_number_id="1", access_token=SecretStr("t"))
    )
    assert made == SenderCredentials(Sender("default", "1", from_environment=True), "t")
