"""Managing senders (business numbers): the use cases of `GET/POST/PATCH/DELETE /senders` and
`whatsapp-scheduler senders ...`, with their rules.

A new or changed sender is validated here (`ValidationFailed` naming the field), its access
token encrypted with SECRET_KEY before it reaches the store, and never returned: answers are
`core.senders.Sender`, which has no token. The environment's sender (`default`, from
PHONE_NUMBER_ID) is listed but read-only (`SenderReadOnly`, a 409).
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import math
from typing import Any

from whatsapp_scheduler import store
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors, limits, quiet, senders
from whatsapp_scheduler.core.senders import Sender
from whatsapp_scheduler.store import tokens
from whatsapp_scheduler.store.senders_directory import SenderDirectory

logger = logging.getLogger(__name__)

MAX_MESSAGES_PER_SECOND = 1000.0
MAX_TOKEN_LENGTH = 4096
NO_SECRET_KEY = (
    "SECRET_KEY is not set: a sender's access token is stored encrypted with it; make a key "
    f"with {tokens.MAKE_KEY} and set SECRET_KEY (docs/operations.md, 'Adding a number')"
)


@dataclasses.dataclass(frozen=True, slots=True)
class NewSender:
    """A sender to add, as given (validated by `SenderAdmin.add`)."""

    name: str
    phone_number_id: str
    access_token: str = dataclasses.field(repr=False)
    waba_id: str | None = None
    portfolio: str | None = None
    messages_per_second: float | None = None
    pair_interval: float | None = None
    enabled: bool = True
    quiet_hours: str | None = None  # `HH:MM-HH:MM`, `off`; None: QUIET_HOURS
    messaging_limit: str | None = None  # `2000`, `unlimited`; None: MESSAGING_LIMIT


@dataclasses.dataclass(frozen=True, slots=True)
class ReencryptReport:
    reencrypted: int
    unreadable: list[str]  # names whose token no key of SECRET_KEY decrypts (left as they are)


class SenderAdmin:
    """Add, list, change and remove senders."""

    def __init__(
        self, message_store: store.MessageStore, directory: SenderDirectory, clock: clock_mod.Clock
    ) -> None:
        self.store = message_store
        self.directory = directory
        self.clock = clock

    async def list(self) -> builtins.list[Sender]:
        return await self.directory.senders()

    async def get(self, name: str) -> Sender:
        env = self.directory.environment
        if env is not None and name == env.sender.name:
            return env.sender
        stored = await self.store.get_sender(name)
        if stored is None:
            raise errors.SenderNotFound(f"name: no sender named {name!r}")
        return stored.sender

    async def add(self, new: NewSender) -> Sender:
        sender = Sender(
            name=check_name(new.name),
            phone_number_id=check_meta_id("phone_number_id", new.phone_number_id),
            waba_id=_optional_id("waba_id", new.waba_id),
            portfolio=_optional_id("portfolio", new.portfolio),
            messages_per_second=check_rate(new.messages_per_second),
            pair_interval=check_interval(new.pair_interval),
            enabled=new.enabled,
            quiet_hours=quiet.check_sender_value(new.quiet_hours),
            messaging_limit=limits.check_sender_value(new.messaging_limit),
        )
        token = check_token(new.access_token)
        env = self.directory.environment
        if env is not None and sender.name == env.sender.name:
            raise errors.SenderExists("name", sender.name)
        if env is not None and sender.phone_number_id == env.sender.phone_number_id:
            raise errors.SenderExists("phone_number_id", sender.phone_number_id)
        cipher = self._cipher()
        added = await self.store.add_sender(sender, cipher.encrypt(token), self.clock.now())
        logger.info("sender added", extra={"sender": added.name})
        return added

    async def update(self, name: str, changes: dict[str, Any]) -> Sender:
        """Change the fields in `changes` (REST names; `access_token` a new token in clear);
        fields left out stay as they are, a None clears an optional one."""
        self._refuse_environment(name)
        clean: dict[str, object] = {}
        for field, value in changes.items():
            if field == "access_token":
                clean["token_encrypted"] = self._cipher().encrypt(check_token(value))
            elif field == "phone_number_id":
                clean[field] = check_meta_id(field, value)
            elif field in ("waba_id", "portfolio"):
                clean[field] = _optional_id(field, value)
            elif field == "messages_per_second":
                clean[field] = check_rate(value)
            elif field == "pair_interval":
                clean[field] = check_interval(value)
            elif field in _LIMIT_CHECKS:
                clean[field] = _LIMIT_CHECKS[field](value)
            elif field == "enabled":
                if not isinstance(value, bool):
                    raise errors.ValidationFailed("enabled", "must be true or false")
                clean[field] = value
            else:
                raise errors.ValidationFailed(field, "is not a field of a sender")
        env = self.directory.environment
        if env is not None and clean.get("phone_number_id") == env.sender.phone_number_id:
            raise errors.SenderExists("phone_number_id", env.sender.phone_number_id)
        updated = await self.store.update_sender(name, clean, self.clock.now())
        if updated is None:
            raise errors.SenderNotFound(f"name: no sender named {name!r}")
        logger.info(
            "sender updated", extra={"sender": name, "fields": sorted(changes)}
        )  # the names of the fields only, never a token
        return updated

    async def remove(self, name: str) -> None:
        self._refuse_environment(name)
        if not await self.store.remove_sender(name):
            raise errors.SenderNotFound(f"name: no sender named {name!r}")
        logger.info("sender removed", extra={"sender": name})

    async def reencrypt(self) -> ReencryptReport:
        """Encrypt every stored token again with SECRET_KEY's first key (key rotation)."""
        cipher = self._cipher()
        done, unreadable = 0, []
        for stored in await self.store.list_senders():
            try:
                fresh = cipher.reencrypt(stored.token_encrypted)
            except tokens.TokenUnreadable:
                unreadable.append(stored.sender.name)
                continue
            changed = await self.store.update_sender(
                stored.sender.name, {"token_encrypted": fresh}, self.clock.now()
            )
            done += changed is not None
        return ReencryptReport(done, unreadable)

    def _cipher(self) -> tokens.TokenCipher:
        if self.directory.cipher is None:
            raise errors.ConfigurationError(NO_SECRET_KEY)
        return self.directory.cipher

    def _refuse_environment(self, name: str) -> None:
        env = self.directory.environment
        if env is not None and name == env.sender.name:
            raise errors.SenderReadOnly(
                f"name: sender {name!r} comes from the environment (PHONE_NUMBER_ID, "
                "ACCESS_TOKEN, WABA_ID); change those settings and restart to change it"
            )


#: The sender fields of quiet hours and Meta's limits, with their checks (docs/limits.md).
_LIMIT_CHECKS = {
    "messaging_limit": limits.check_sender_value,
    "quiet_hours": quiet.check_sender_value,
}


def check_name(value: object) -> str:
    if not isinstance(value, str) or not senders.valid_name(value):
        raise errors.ValidationFailed("name", "must be {NAME_RULE}", NAME_RULE=senders.NAME_RULE)
    return value


def check_meta_id(field: str, value: object) -> str:
    if not isinstance(value, str) or not senders.META_ID_PATTERN.match(value):
        raise errors.ValidationFailed(field, "must be Meta's numeric id (1-32 digits)")
    return value


def _optional_id(field: str, value: object) -> str | None:
    return None if value is None else check_meta_id(field, value)


def check_rate(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise errors.ValidationFailed("messages_per_second", "must be a number")
    if not 0 < value <= MAX_MESSAGES_PER_SECOND:
        raise errors.ValidationFailed(
            "messages_per_second",
            "must be more than 0 and at most {MAX_MESSAGES_PER_SECOND:g}",
            MAX_MESSAGES_PER_SECOND=MAX_MESSAGES_PER_SECOND,
        )
    return float(value)


def check_interval(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise errors.ValidationFailed("pair_interval", "must be a number of seconds")
    if value < 0:
        raise errors.ValidationFailed("pair_interval", "must be 0 or more seconds")
    return float(value)


def check_token(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise errors.ValidationFailed("access_token", "must not be empty")
    token = value.strip()
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii() or not token.isprintable():
        # Never echo the value: it is a secret, even when malformed.
        raise errors.ValidationFailed(
            "access_token",
            "must be printable ASCII, at most {MAX_TOKEN_LENGTH} characters",
            MAX_TOKEN_LENGTH=MAX_TOKEN_LENGTH,
        )
    if any(c.isspace() for c in token):
        raise errors.ValidationFailed("access_token", "must not contain spaces or line breaks")
    return token
