"""Where the dispatcher learns its senders (business numbers) and their access tokens.

`SenderSource` is the one thing the dispatcher asks: `all()`, every sender it may send from,
enabled or not, each with its token (`core.senders.SenderCredentials`). The database-backed
directory (the senders registry) is one; `StaticSenders` is a fixed list: the environment's
PHONE_NUMBER_ID + ACCESS_TOKEN alone (`StaticSenders.from_settings`), or a test's numbers.

The dispatcher reloads its source at start, at every safety poll (SAFETY_POLL_SECONDS) and when
it claims a message that names a sender it does not know yet (at most once a second), so an
added sender, a changed rate or a rotated token takes effect without a restart, within one
safety poll at the latest (docs/dispatcher.md, "Senders").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol

from whatsapp_scheduler import settings as settings_mod
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.core import senders as senders_mod

SenderCredentials = senders_mod.SenderCredentials


class SenderSource(Protocol):
    """Every sender the dispatcher may send from (enabled or not), with its access token."""

    async def all(self) -> list[SenderCredentials]: ...


class StaticSenders:
    """A fixed list of senders (the environment's default sender alone, or a test's)."""

    def __init__(self, senders: Iterable[SenderCredentials]) -> None:
        self.senders = list(senders)
        names = [s.sender.name for s in self.senders]
        if len(set(names)) != len(names):
            raise ValueError("sender names must be unique")

    @classmethod
    def from_settings(cls, config: settings_mod.Settings) -> StaticSenders:
        """The sender `default` of PHONE_NUMBER_ID + ACCESS_TOKEN (+ WABA_ID); raises
        ConfigurationError if either is unset."""
        return cls([default_sender(config)])

    async def all(self) -> list[SenderCredentials]:
        return list(self.senders)


def default_sender(config: settings_mod.Settings) -> SenderCredentials:
    """The environment's sender, named `core.senders.DEFAULT_SENDER_NAME`."""
    if config.access_token is None or not config.phone_number_id:
        raise errors.ConfigurationError("ACCESS_TOKEN and PHONE_NUMBER_ID are required")
    sender = senders_mod.Sender(
        name=senders_mod.DEFAULT_SENDER_NAME,
        phone_number_id=config.phone_number_id,
        waba_id=getattr(config, "waba_id", None),
        from_environment=True,
    )
    return SenderCredentials(sender, config.access_token.get_secret_value())


class WindowNumbers:
    """The business numbers under which a sender's 24-hour windows are kept, from a source:
    its `phone_number_id`, and for the default sender also '' (contacts recorded without a
    number: before revision 0013, or from a webhook without `metadata.phone_number_id`). An
    unknown sender has none. The source's answer is kept `ttl` seconds (the service asks at
    every POST /schedule). Satisfies `service.scheduler.WindowNumbers`."""

    def __init__(
        self,
        source: SenderSource,
        ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.ttl = ttl
        self._clock = clock
        self._numbers: dict[str, str] = {}
        self._read_at: float | None = None

    async def numbers(self, sender: str) -> tuple[str, ...]:
        await self._refresh()
        number = self._numbers.get(sender)
        if number is None:
            return ("",) if sender == senders_mod.DEFAULT_SENDER_NAME else ()
        return (number, "") if sender == senders_mod.DEFAULT_SENDER_NAME else (number,)

    async def senders_at(self, phone_number_id: str) -> tuple[str, ...]:
        """The senders whose contacts are kept under `phone_number_id` (the one sender of that
        number; '' is the default sender's)."""
        await self._refresh()
        if phone_number_id == "":
            return (senders_mod.DEFAULT_SENDER_NAME,)
        return tuple(name for name, n in self._numbers.items() if n == phone_number_id)

    async def _refresh(self) -> None:
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self.ttl:
            try:
                found = await self.source.all()
            except Exception:
                if self._read_at is None:
                    raise
            else:  # disabled senders too: their messages may be stored, then refused
                self._numbers = {c.sender.name: c.sender.phone_number_id for c in found}
                self._read_at = now
