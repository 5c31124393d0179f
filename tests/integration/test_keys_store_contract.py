"""Store contract for scoped API keys, on every MessageStore (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import START
from whatsapp_scheduler import store
from whatsapp_scheduler.core import errors, keys
from whatsapp_scheduler.core.senders import Scope, Sender


def _key(
    name: str, scope: Scope = Scope.READ, senders: frozenset[str] | None = None
) -> keys.ApiKey:
    return keys.ApiKey(name=name, scope=scope, senders=senders, created_at=START)


async def _add_sender(any_store: store.MessageStore, name: str) -> None:
    """A sender a key may be limited to, through the store's own sender CRUD."""
    sender = Sender(name=name, phone_number_id="1000" + str(len(name)))
    await any_store.add_sender(sender, "encrypted-token", START)


async def test_a_key_is_found_by_its_hash_and_listed_without_it(any_store):
    await any_store.create_key(_key("app", Scope.WRITE), keys.key_hash("wsk_one"))
    await any_store.create_key(_key("board"), keys.key_hash("wsk_two"))
    found = await any_store.find_key(keys.key_hash("wsk_one"))
    assert found == _key("app", Scope.WRITE)
    assert await any_store.find_key(keys.key_hash("wsk_three")) is None
    assert await any_store.get_key("board") == _key("board")
    assert await any_store.get_key("nobody") is None
    assert [k.name for k in await any_store.list_keys()] == ["app", "board"]


async def test_senders_are_kept_and_unknown_ones_refused(any_store):
    await _add_sender(any_store, "shop")
    await any_store.create_key(
        _key("shop-app", senders=frozenset({"shop", "default"})), keys.key_hash("k1")
    )
    found = await any_store.find_key(keys.key_hash("k1"))
    assert found is not None
    assert found.senders == frozenset({"shop", "default"})
    with pytest.raises(errors.ValidationFailed) as refused:
        await any_store.create_key(
            _key("other", senders=frozenset({"shop", "nope"})), keys.key_hash("k2")
        )
    assert refused.value.field == "senders"
    assert "'nope'" in refused.value.rule
    assert await any_store.get_key("other") is None  # nothing stored


async def test_a_duplicate_name_is_a_conflict_and_changes_nothing(any_store):
    await any_store.create_key(_key("app"), keys.key_hash("k1"))
    with pytest.raises(errors.Conflict, match="'app' already exists"):
        await any_store.create_key(_key("app", Scope.ADMIN), keys.key_hash("k2"))
    assert await any_store.find_key(keys.key_hash("k2")) is None
    assert (await any_store.get_key("app")) == _key("app")


async def test_revoking_keeps_the_first_time_and_ends_the_keys_sessions(any_store):
    hour = timedelta(hours=1)
    await any_store.create_key(_key("app"), keys.key_hash("k1"))
    await any_store.start_session("a" * 64, START, START + hour, key_name="app")
    await any_store.start_session("b" * 64, START, START + hour)  # the environment's key
    assert await any_store.session_key("a" * 64, START) == store.SessionKey("app")
    assert await any_store.session_key("b" * 64, START) == store.SessionKey(None)
    revoked = await any_store.revoke_key("app", START + hour)
    assert revoked is not None
    assert revoked.revoked_at == START + hour
    again = await any_store.revoke_key("app", START + 2 * hour)
    assert again is not None
    assert again.revoked_at == START + hour
    found = await any_store.find_key(keys.key_hash("k1"))
    assert found is not None
    assert found.revoked
    assert await any_store.session_key("a" * 64, START) is None
    assert await any_store.session_key("b" * 64, START) == store.SessionKey(None)
    assert await any_store.revoke_key("nobody", START) is None


async def test_last_used_is_written_at_most_once_a_minute(any_store):
    await any_store.create_key(_key("app"), keys.key_hash("k1"))
    await any_store.touch_key("app", START)
    await any_store.touch_key("app", START + timedelta(seconds=30))  # too soon: kept
    found = await any_store.get_key("app")
    assert found is not None
    assert found.last_used_at == START
    assert not found.needs_touch(START + timedelta(seconds=59))
    later = START + timedelta(seconds=61)
    assert found.needs_touch(later)
    await any_store.touch_key("app", later)
    found = await any_store.get_key("app")
    assert found is not None
    assert found.last_used_at == later
    await any_store.touch_key("nobody", later)  # an unknown name: nothing happens
