"""Use cases for scoped API keys, shared by `whatsapp-scheduler keys` and `/keys`: make a key
(the random key is returned once, only its SHA-256 is stored), list and revoke them."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from whatsapp_scheduler import store
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors, keys, senders
from whatsapp_scheduler.core.senders import Scope

#: Random bytes in a key: 32 bytes = 43 URL-safe characters after the prefix.
KEY_BYTES = 32


def parse_scope(text: str) -> Scope:
    try:
        return Scope(text)
    except ValueError:
        raise errors.ValidationFailed(
            "scope", "must be one of {items}", items=", ".join(s.value for s in Scope)
        ) from None


def check_new(name: str, sender_names: Iterable[str] | None) -> frozenset[str] | None:
    """The key's name and senders checked (ValidationFailed naming the field)."""
    if not keys.valid_name(name):
        raise errors.ValidationFailed("name", keys.NAME_RULE)
    if sender_names is None:
        return None
    wanted = frozenset(sender_names)
    if not wanted:
        raise errors.ValidationFailed("senders", "give at least one sender, or none for all")
    for sender in sorted(wanted):
        if not senders.valid_name(sender):
            raise errors.ValidationFailed(
                "senders", "{sender!r}: {NAME_RULE}", sender=sender, NAME_RULE=senders.NAME_RULE
            )
    return wanted


async def create(
    message_store: store.MessageStore,
    clock: clock_mod.Clock,
    name: str,
    scope: Scope,
    sender_names: Iterable[str] | None = None,
) -> tuple[keys.ApiKey, str]:
    """Make and store a key; returns it and the key itself (shown once, never stored).

    Raises ValidationFailed (bad name, unknown sender) or Conflict (the name is taken)."""
    limited = check_new(name, sender_names)
    secret = keys.KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    key = keys.ApiKey(name=name, scope=scope, senders=limited, created_at=clock.now())
    await message_store.create_key(key, keys.key_hash(secret))
    return key, secret


async def revoke(
    message_store: store.MessageStore, clock: clock_mod.Clock, name: str
) -> keys.ApiKey:
    """Revoke a key at once (its requests and dashboard sessions are refused from now on)."""
    revoked = await message_store.revoke_key(name, clock.now())
    if revoked is None:
        raise errors.NotFound(f"name: no key named {name!r}")
    return revoked
