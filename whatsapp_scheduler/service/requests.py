"""What the use cases take and give: a request to schedule one message (in the seed's wire
names, as the REST API and the dashboard receive it), a batch's per-message answer, a status
report."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from whatsapp_scheduler import store
from whatsapp_scheduler.core import errors, messages, notices


# Not frozen: made once per message of a batch, and a frozen dataclass's __init__ costs ~4x
# (object.__setattr__ per field). Nothing changes a request after it is made.
@dataclasses.dataclass(slots=True)
class ScheduleRequest:
    """A request to schedule one message, in the seed's field names."""

    alici: str
    tarih: str
    saat: str
    mesaj: str | None = None
    id: str | None = None
    olusturmaTarihi: str | None = None
    timezone: str | None = None
    template: Mapping[str, Any] | None = None
    fallback_template: Mapping[str, Any] | None = None
    gonderen: str | None = None  # the sender's name; None: the default sender
    # Who asks, not what: set by the web layer from the request's API key, never by a client.
    created_by: str | None = None  # the key's name (None: the environment's API_KEY)
    allowed_senders: frozenset[str] | None = None  # a key limited to senders; None: any
    # False: sent at its time even inside quiet hours (a one-time code); None: they apply.
    quiet_hours: bool | None = None
    tekrar: str | None = None  # an RFC 5545 RRULE: a series (service/series.py)
    campaign_id: str | None = None  # set by a campaign (docs/campaigns.md), never by a client
    #: Another message type (docs/message-types.md): `type`, and the objects given by name
    #: (`{"image": {...}}`; checked by validation.build: exactly the one `type` names).
    type: str | None = None
    objects: Mapping[str, Any] | None = None


@dataclasses.dataclass(slots=True)  # not frozen: one per message of a batch, as above
class BatchItem:
    """The answer for one message of a batch: stored (created or a repeat), or refused."""

    index: int
    id: str | None
    result: store.AddResult | None
    error: errors.SchedulerError | None
    warnings: tuple[notices.ScheduleWarning, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class StatusReport:
    message: messages.ScheduledMessage
    attempts: list[messages.Attempt]
    edits: list[store.Edit] = dataclasses.field(default_factory=list)
