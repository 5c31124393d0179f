"""Warnings about a message that was stored: typed values, rendered by each reader.

A warning has a stable `code`, the English `text` the REST API returns (the `warnings` list of
POST /schedule and of each batch result), and the `params` a reader needs to say it again in
their own language: the dashboard renders `code` and `params` through its translations
(`web/i18n.py`, keys `warning.<code>`), never by parsing `text`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping


class WarningCode(enum.StrEnum):
    #: A text whose 24-hour window will be closed when due: Meta will refuse it (131047).
    WINDOW_CLOSED = "window_closed"
    #: The same, but the message's fallback template will be sent instead (WINDOW_POLICY=template).
    WINDOW_CLOSED_FALLBACK = "window_closed_fallback"
    #: Meta reported the number undeliverable (131026) and they have not written since.
    UNDELIVERABLE = "undeliverable"
    #: The template is PAUSED by Meta: accepted, but it waits until unpaused (132015).
    TEMPLATE_PAUSED = "template_paused"
    #: No synced catalogue for the sender's WABA: only the template's shape was checked.
    TEMPLATE_UNCHECKED = "template_unchecked"
    #: Due inside quiet hours: it goes at their end instead (docs/limits.md).
    QUIET_HOURS = "quiet_hours"
    #: A media link whose host does not resolve here: Meta may not fetch it (message-types.md).
    LINK_UNRESOLVED = "link_unresolved"
    #: A media link that did not answer, or answered an error, when asked here (message-types.md).
    LINK_UNREACHABLE = "link_unreachable"


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleWarning:
    code: WarningCode
    text: str  # English, as the REST API answers it
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
