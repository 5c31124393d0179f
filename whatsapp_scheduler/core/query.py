"""`MessageQuery`: which messages a list asks for. One typed value, built by the REST API and
the dashboard, passed through the service to the store (`MessageStore.list`)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from whatsapp_scheduler.core import messages


@dataclasses.dataclass(frozen=True, slots=True)
class MessageQuery:
    """Messages with one of `statuses` (all if empty), by due time then id, keyset-paged.

    Optional filters: exactly this `recipient` (E.164), `due_from <= due_at < due_to`, and
    `senders`: only messages of these senders (by name; None: every sender). The REST
    filter `gonderen` and a key limited to some senders both narrow it.
    `newest_first` pages from the latest due time backwards (the cursor then points
    backwards too). A page's `total` counts every match unless `count_up_to` is given:
    counting then stops there, so `total == count_up_to` reads "that many or more" (cheap on
    huge tables). `cursor` is a page's `next_cursor`, opaque to the caller.
    """

    statuses: tuple[messages.MessageStatus, ...] = ()
    limit: int = 100
    cursor: str | None = None
    recipient: str | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None
    newest_first: bool = False
    count_up_to: int | None = None
    senders: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("limit must be >= 1")

    @property
    def filtered(self) -> bool:
        """Whether anything beyond the statuses narrows the list."""
        return (
            self.recipient is not None
            or self.due_from is not None
            or self.due_to is not None
            or self.senders is not None
        )
