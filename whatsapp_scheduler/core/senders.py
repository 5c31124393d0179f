"""Senders (business numbers) and API-key scopes: the domain values, pure.

A sender is one WhatsApp business number the service sends from: its Cloud API
`phone_number_id`, the access token that may send from it (kept apart, see `SenderCredentials`),
the WhatsApp Business Account (`waba_id`) its templates belong to, the business portfolio whose
daily messaging limit it shares, and its own throughput (`messages_per_second`) and gap per
recipient (`pair_interval`); `None` there means the service-wide setting.

The environment's `PHONE_NUMBER_ID` + `ACCESS_TOKEN` (+ `WABA_ID`) are the sender named
`DEFAULT_SENDER_NAME`, so a deployment of the seed keeps working unchanged. A message without a
sender (the REST field `gonderen`) is sent by the configured default sender (`DEFAULT_SENDER`).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from datetime import datetime

#: The name of the sender the environment's PHONE_NUMBER_ID and ACCESS_TOKEN define.
DEFAULT_SENDER_NAME = "default"

#: A sender's name: what a client writes in `gonderen` and an operator on the command line.
NAME_PATTERN = re.compile(r"\A[a-z0-9][a-z0-9_-]{0,31}\Z")
NAME_RULE = (
    "1-32 characters: lower-case letters, digits, '-' and '_', starting with a letter or digit"
)

#: Meta's ids (phone number, WABA, business portfolio) are decimal numbers.
META_ID_PATTERN = re.compile(r"\A[0-9]{1,32}\Z")


def valid_name(name: str) -> bool:
    return bool(NAME_PATTERN.match(name))


@dataclasses.dataclass(frozen=True, slots=True)
class Sender:
    """One business number, without its access token."""

    name: str
    phone_number_id: str
    waba_id: str | None = None
    portfolio: str | None = None  # the business portfolio (its daily limit is shared)
    messages_per_second: float | None = None  # None: MESSAGES_PER_SECOND
    pair_interval: float | None = None  # None: PAIR_INTERVAL
    enabled: bool = True
    #: Its own quiet hours (`HH:MM-HH:MM`, or `off`: none); None: QUIET_HOURS (core/quiet.py).
    quiet_hours: str | None = None
    #: Its portfolio's daily messaging limit (`250` ... or `unlimited`); None: MESSAGING_LIMIT.
    messaging_limit: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    from_environment: bool = False  # the default sender of PHONE_NUMBER_ID + ACCESS_TOKEN

    def evolve(self, **changes: object) -> Sender:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True, slots=True)
class SenderCredentials:
    """A sender with its (decrypted) access token: only the dispatcher holds these. The token
    is left out of `repr` so that no log line or traceback can show it."""

    sender: Sender
    access_token: str = dataclasses.field(repr=False)


class Scope(enum.StrEnum):
    """What an API key may do; each scope includes the ones before it."""

    READ = "read"  # GET endpoints
    WRITE = "write"  # also schedule, cancel, edit
    ADMIN = "admin"  # also senders and keys

    def allows(self, needed: Scope) -> bool:
        order = (Scope.READ, Scope.WRITE, Scope.ADMIN)
        return order.index(self) >= order.index(needed)
