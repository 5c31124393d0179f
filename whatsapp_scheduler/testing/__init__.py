"""Test doubles shipped with the package: a frozen clock, an in-memory message store, a fake
Cloud API sender and `make_message` (`testing.store`, `testing.fakes`)."""

from whatsapp_scheduler.testing.fakes import ErrorFactory, FakeSender, FrozenClock, make_message
from whatsapp_scheduler.testing.store import InMemoryMessageStore, OutboxEvent

__all__ = [
    "ErrorFactory",
    "FakeSender",
    "FrozenClock",
    "InMemoryMessageStore",
    "OutboxEvent",
    "make_message",
]
