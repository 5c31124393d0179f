"""core/keys.py: who a request is, what it sees, when last_used is written again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from whatsapp_scheduler.core import keys
from whatsapp_scheduler.core.senders import Scope

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_scopes_include_the_ones_before_them():
    board = keys.Principal("board", Scope.READ)
    app = keys.Principal("app", Scope.WRITE)
    assert board.allows(Scope.READ)
    assert not board.allows(Scope.WRITE)
    assert app.allows(Scope.WRITE)
    assert not app.allows(Scope.ADMIN)
    assert keys.ENVIRONMENT.allows(Scope.ADMIN)
    assert keys.ENVIRONMENT.label == "API_KEY"
    assert app.label == "app"


def test_a_sender_limited_key_sees_and_lists_only_its_senders():
    shop = keys.Principal("shop-app", Scope.WRITE, frozenset({"shop", "ankara"}))
    assert shop.sees("shop")
    assert not shop.sees("default")
    assert shop.narrow(None) == frozenset({"shop", "ankara"})
    assert shop.narrow(frozenset({"shop", "izmir"})) == frozenset({"shop"})
    assert shop.narrow(frozenset({"izmir"})) == frozenset()  # lists nothing
    assert keys.ENVIRONMENT.narrow(None) is None
    assert keys.ENVIRONMENT.narrow(frozenset({"izmir"})) == frozenset({"izmir"})
    assert not keys.NOBODY.sees("default")
    assert not keys.NOBODY.allows(Scope.WRITE)


def test_last_used_is_due_again_after_a_minute():
    key = keys.ApiKey("app", Scope.READ, None, NOW)
    assert key.needs_touch(NOW)
    used = keys.ApiKey("app", Scope.READ, None, NOW, last_used_at=NOW)
    assert not used.needs_touch(NOW + timedelta(seconds=59))
    assert used.needs_touch(NOW + timedelta(seconds=60))


def test_names_and_hashes():
    assert keys.valid_name("shop-app.v2")
    for bad in ("", "App", "-x", "a b", "x" * 65, "ünal"):
        assert not keys.valid_name(bad)
    assert keys.key_hash("wsk_x") == keys.key_hash("wsk_x")
    assert len(keys.key_hash("wsk_x")) == 64
    assert keys.key_hash("wsk_x") != keys.key_hash("wsk_y")
