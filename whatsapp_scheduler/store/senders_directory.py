"""`SenderDirectory`: every sender the service may send from, with its access token.

The environment's PHONE_NUMBER_ID + ACCESS_TOKEN (+ WABA_ID) are the sender `default`
(`from_environment=True`, read-only); the others are the rows of the `senders` table, their
tokens decrypted with SECRET_KEY (`store/tokens.py`). Nothing is cached but the decryption of
a token already seen: every call reads the table, so a sender added, disabled or given a new
token (`senders update --token-file`) counts from the next call on, in every process.

The dispatcher asks `all()` for the senders and their tokens; the service asks `senders()`
(no token is decrypted) to check a message's `gonderen`.
"""

from __future__ import annotations

import logging

from whatsapp_scheduler import settings as settings_mod
from whatsapp_scheduler import store
from whatsapp_scheduler.core.senders import DEFAULT_SENDER_NAME, Sender, SenderCredentials
from whatsapp_scheduler.store import tokens

logger = logging.getLogger(__name__)


class SenderDirectory:
    """The senders of the environment and of the database, read on every call."""

    def __init__(
        self,
        message_store: store.MessageStore,
        *,
        cipher: tokens.TokenCipher | None,
        environment: SenderCredentials | None,
        default_name: str = DEFAULT_SENDER_NAME,
    ) -> None:
        self._store = message_store
        self.cipher = cipher
        self.environment = environment
        self.default_name = default_name  # the sender of a message without `gonderen`
        self._clear: dict[str, str] = {}  # encrypted token -> token (decrypt each once)
        self._unreadable_logged: set[tuple[str, str]] = set()

    async def senders(self) -> list[Sender]:
        """Every sender without its token: the environment's first, then the table's by name."""
        rows = [stored.sender for stored in await self._store.list_senders()]
        own = [self.environment.sender] if self.environment is not None else []
        return own + [s for s in rows if not self._shadowed(s)]

    async def all(self) -> list[SenderCredentials]:
        """Every sender with its token, enabled or not (`sender.enabled` says). A sender whose
        token cannot be decrypted (SECRET_KEY unset, or without the key that encrypted it) is
        left out and logged as an error, by name: the others keep sending."""
        found = [self.environment] if self.environment is not None else []
        for stored in await self._store.list_senders():
            if self._shadowed(stored.sender):
                continue
            credentials = self._credentials(stored)
            if credentials is not None:
                found.append(credentials)
        return found

    async def get(self, name: str) -> SenderCredentials | None:
        """The sender of that name with its token; None if there is none (or it is unreadable,
        see `all`)."""
        if self.environment is not None and name == self.environment.sender.name:
            return self.environment
        stored = await self._store.get_sender(name)
        return self._credentials(stored) if stored is not None else None

    async def warn_if_default_missing(self) -> None:
        """Log a WARNING when DEFAULT_SENDER names no sender: messages without `gonderen`
        would then have no number to go from."""
        names = [s.name for s in await self.senders()]
        if self.default_name not in names:
            logger.warning(
                "DEFAULT_SENDER names no sender: messages without gonderen cannot be sent",
                extra={"default_sender": self.default_name, "senders": names},
            )

    def _shadowed(self, sender: Sender) -> bool:
        """A row named like the environment's sender (added before PHONE_NUMBER_ID was set):
        the environment's wins."""
        return self.environment is not None and sender.name == self.environment.sender.name

    def _credentials(self, stored: store.StoredSender) -> SenderCredentials | None:
        token = self._clear.get(stored.token_encrypted)
        if token is None:
            try:
                if self.cipher is None:
                    raise tokens.TokenUnreadable("SECRET_KEY is not set")
                token = self.cipher.decrypt(stored.token_encrypted)
            except tokens.TokenUnreadable as exc:
                key = (stored.sender.name, stored.token_encrypted)
                if key not in self._unreadable_logged:
                    self._unreadable_logged.add(key)
                    logger.error(
                        "sender left out: its access token cannot be decrypted",
                        extra={"sender": stored.sender.name, "reason": exc.message},
                    )
                return None
            if len(self._clear) > 10_000:  # tokens replaced many times: start again
                self._clear.clear()
            self._clear[stored.token_encrypted] = token
        return SenderCredentials(stored.sender, token)


def environment_sender(settings: settings_mod.Settings) -> SenderCredentials | None:
    """The sender `default` of PHONE_NUMBER_ID + ACCESS_TOKEN (+ WABA_ID), when both are set."""
    if not settings.phone_number_id or settings.access_token is None:
        return None
    token = settings.access_token.get_secret_value()
    if not token.strip():
        return None
    sender = Sender(
        name=DEFAULT_SENDER_NAME,
        phone_number_id=settings.phone_number_id,
        waba_id=settings.waba_id,
        from_environment=True,
    )
    return SenderCredentials(sender, token)


def cipher_for(settings: settings_mod.Settings) -> tokens.TokenCipher | None:
    """The token cipher of SECRET_KEY, or None when it is unset. A malformed key is a
    ConfigurationError (naming which of the keys)."""
    if settings.secret_key is None or not settings.secret_key.get_secret_value().strip():
        return None
    return tokens.TokenCipher.from_secret(settings.secret_key.get_secret_value())


def build_sender_directory(
    settings: settings_mod.Settings, message_store: store.MessageStore
) -> SenderDirectory:
    """The directory of `settings` over `message_store`."""
    return SenderDirectory(
        message_store,
        cipher=cipher_for(settings),
        environment=environment_sender(settings),
        default_name=settings.default_sender,
    )


__all__ = [
    "SenderDirectory",
    "build_sender_directory",
    "cipher_for",
    "environment_sender",
]
