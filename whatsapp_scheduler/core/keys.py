"""Scoped API keys, pure: what a key is, who a request is (`Principal`), and the key's hash.

A key made with `whatsapp-scheduler keys create` (or `POST /keys`) is a random string starting
with `KEY_PREFIX`; only its SHA-256 (`key_hash`) is stored. A key has a `Scope` (read, write or
admin, `core.senders.Scope`) and may be limited to some senders: it then sees and sends only
those senders' messages. The environment's API_KEY is `ENVIRONMENT`: admin, every sender.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import datetime, timedelta

from whatsapp_scheduler.core.senders import Scope

#: Made keys start with this, so that a key found in a log or a repository is recognisable.
KEY_PREFIX = "wsk_"

#: A key's name: what `keys revoke` takes and what a message's `anahtar` shows.
NAME_PATTERN = re.compile(r"\A[a-z0-9][a-z0-9_.-]{0,63}\Z")
NAME_RULE = (
    "1-64 characters: lower-case letters, digits, '-', '_' and '.', starting with a letter or digit"
)

#: `last_used_at` is written at most this often per key (not on every request).
TOUCH_INTERVAL = timedelta(minutes=1)


def valid_name(name: str) -> bool:
    return bool(NAME_PATTERN.match(name))


def key_hash(key: str) -> str:
    """The stored form of a key: SHA-256, hex. A key is 32+ random bytes, so no salt or slow
    hash is needed (nothing to guess), and one indexed read finds it."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without the key itself."""

    name: str
    scope: Scope
    senders: frozenset[str] | None  # None: every sender
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def needs_touch(self, now: datetime) -> bool:
        """Whether `last_used_at` is old enough to be written again (`TOUCH_INTERVAL`)."""
        return self.last_used_at is None or now - self.last_used_at >= TOUCH_INTERVAL


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: a stored key (by name) or the environment's API_KEY (None)."""

    name: str | None
    scope: Scope
    senders: frozenset[str] | None = None  # None: every sender

    @classmethod
    def of(cls, key: ApiKey) -> Principal:
        return cls(key.name, key.scope, key.senders)

    def allows(self, needed: Scope) -> bool:
        return self.scope.allows(needed)

    def sees(self, sender: str) -> bool:
        """Whether this key may see (and send) that sender's messages."""
        return self.senders is None or sender in self.senders

    def narrow(self, wanted: frozenset[str] | None) -> frozenset[str] | None:
        """The senders a list may show: those asked for (`wanted`, None: all) that this key
        sees."""
        if self.senders is None:
            return wanted
        return self.senders if wanted is None else wanted & self.senders

    @property
    def label(self) -> str:
        """The key's name for log lines and refusals (API_KEY for the environment's)."""
        return self.name if self.name is not None else "API_KEY"


#: The environment's API_KEY: an admin key for every sender.
ENVIRONMENT = Principal(None, Scope.ADMIN, None)
#: No key (an anonymous dashboard session): reads of no sender's messages, so code that forgot
#: to check for a signed-in session still shows and allows nothing.
NOBODY = Principal(None, Scope.READ, frozenset())
