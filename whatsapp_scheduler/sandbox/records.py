"""What the stand-in remembers: the request log, per-recipient conversations, live events.

Everything is bounded (deques with ``maxlen``) so a long benchmark cannot grow memory without
end, and nothing here does I/O. :class:`EventBus` fans events out to Server-Sent-Events
subscribers and costs one ``if`` when nobody listens.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

#: Display rank of statuses: a status only replaces one of lower rank (``failed`` wins).
STATUS_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


@dataclass(slots=True)
class RecordedRequest:
    """One request to the send endpoint and what the stand-in answered.

    ``status`` is the HTTP status answered; ``wamid`` is set when a message was accepted,
    ``error_code`` when the reply carried a Graph error, ``async_error_code`` when the message
    was accepted but will fail by webhook. ``fault`` names an injected fault
    (``"server_error"`` or ``"hang"``).
    """

    seq: int
    received_at: float
    method: str
    path: str
    phone_number_id: str
    body: Any
    status: int
    answer: Any
    biz_opaque_callback_data: str | None = None
    to: str | None = None
    wa_id: str | None = None
    wamid: str | None = None
    error_code: int | None = None
    async_error_code: int | None = None
    fault: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    def summary(self) -> str:
        """One line for the inbox's request log: the error message or the wamid's tail."""
        if self.error_code is not None and isinstance(self.answer, dict):
            return str(self.answer["error"]["message"])
        if self.wamid is None:
            return "(no body)"
        text = "…" + self.wamid[-20:]
        if self.async_error_code is not None:
            text += f" → failed #{self.async_error_code}"
        return text


@dataclass(slots=True)
class ChatMessage:
    """A message as the simulated phone sees it (``direction`` ``"out"`` = from the business)."""

    wamid: str
    direction: str
    type: str
    text: str
    at: float
    status: str = "accepted"
    error_code: int | None = None
    error_title: str | None = None
    callback_data: str | None = None
    #: The business number it was sent from ("out") or written to ("in"); None: the main one.
    phone_number_id: str | None = None
    #: A media, location or interactive message's link and buttons (validation.attachment).
    attachment: dict[str, Any] | None = None

    def advance(self, status: str, error_code: int | None = None, title: str | None = None) -> bool:
        """Move to ``status`` if it ranks higher (webhooks may be late); True if it moved."""
        if STATUS_RANK.get(status, 0) <= STATUS_RANK.get(self.status, 0):
            return False
        self.status = status
        if error_code is not None:
            self.error_code, self.error_title = error_code, title
        return True

    def to_json(self, wa_id: str) -> dict[str, Any]:
        """A JSON-ready dict for the inbox, tagged with the conversation's ``wa_id``."""
        data = asdict(self)
        data["wa_id"] = wa_id
        return data


@dataclass
class Conversation:
    """Everything exchanged with one ``wa_id``, newest last, plus its last inbound time."""

    wa_id: str
    messages: deque[ChatMessage]
    last_inbound: float | None = None
    profile_name: str | None = None
    updated_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the conversation."""
        return {
            "wa_id": self.wa_id,
            "last_inbound": self.last_inbound,
            "profile_name": self.profile_name,
            "updated_at": self.updated_at,
            "messages": [m.to_json(self.wa_id) for m in self.messages],
        }


@dataclass
class Mailbox:
    """Conversations by ``wa_id`` and the bounded request log."""

    request_log_size: int = 10_000
    conversation_size: int = 500
    conversations: dict[str, Conversation] = field(default_factory=dict)
    requests: deque[RecordedRequest] = field(init=False)
    _seq: int = 0

    def __post_init__(self) -> None:
        self.requests = deque(maxlen=self.request_log_size)

    def next_seq(self) -> int:
        """A new request sequence number."""
        self._seq += 1
        return self._seq

    def conversation(self, wa_id: str) -> Conversation:
        """The conversation with ``wa_id`` (created empty on first use)."""
        conv = self.conversations.get(wa_id)
        if conv is None:
            conv = Conversation(wa_id, deque(maxlen=self.conversation_size))
            self.conversations[wa_id] = conv
        return conv

    def window_open(self, wa_id: str, now: float, hours: float) -> bool:
        """Whether ``wa_id`` sent something within ``hours`` of wall-clock time ``now``."""
        conv = self.conversations.get(wa_id)
        last = conv.last_inbound if conv else None
        return last is not None and now - last < hours * 3600.0

    def find_message(self, wamid: str) -> tuple[Conversation, ChatMessage] | None:
        """The message with ``wamid`` and its conversation (a scan: for control calls only)."""
        for conv in self.conversations.values():
            for message in conv.messages:
                if message.wamid == wamid:
                    return conv, message
        return None

    def clear(self) -> None:
        """Forget every conversation and request."""
        self.conversations.clear()
        self.requests.clear()

    def __iter__(self) -> Iterator[Conversation]:
        return iter(self.conversations.values())


class EventBus:
    """Fan-out of ``(event, data)`` pairs to live subscribers (the inbox's SSE streams)."""

    def __init__(self, queue_size: int = 2000) -> None:
        self._queue_size = queue_size
        self._subscribers: set[asyncio.Queue[tuple[str, Any] | None]] = set()

    @property
    def active(self) -> bool:
        """Whether anybody listens (publishers may skip building events otherwise)."""
        return bool(self._subscribers)

    def subscribe(self) -> asyncio.Queue[tuple[str, Any] | None]:
        """A new subscriber queue; ``None`` in it means the stand-in is stopping."""
        queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[str, Any] | None]) -> None:
        """Stop delivering to ``queue``."""
        self._subscribers.discard(queue)

    def publish(self, event: str, data: Any) -> None:
        """Offer an event to every subscriber; a subscriber that lags behind loses it."""
        for queue in self._subscribers:
            try:
                queue.put_nowait((event, data))
            except asyncio.QueueFull:
                logger.debug("SSE subscriber lagging; dropped a %s event", event)

    def close(self) -> None:
        """Tell every subscriber to finish."""
        for queue in self._subscribers:
            try:
                queue.put_nowait(None)
            except asyncio.QueueFull:
                queue.get_nowait()
                queue.put_nowait(None)
