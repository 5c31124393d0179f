"""A stand-in for Meta's WhatsApp Cloud API: "what Mailpit is for email".

An HTTP server that answers ``POST /{version}/{phone_number_id}/messages`` like
graph.facebook.com (validation, error envelope, limits, faults), sends signed status webhooks
back to the service, simulates inbound messages and shows a web inbox of what would have
reached each phone. See docs/sandbox.md.

Public API::

    from whatsapp_scheduler.sandbox import StandIn, StandInConfig, run_standalone
"""

from whatsapp_scheduler.sandbox.config import (
    Faults,
    ForcedError,
    Limits,
    Number,
    StandInConfig,
    StatusDelays,
    WebhookSettings,
)
from whatsapp_scheduler.sandbox.limits import PairRate
from whatsapp_scheduler.sandbox.records import ChatMessage, Conversation, RecordedRequest
from whatsapp_scheduler.sandbox.standin import StandIn, run_standalone
from whatsapp_scheduler.sandbox.webhooks import HandshakeResult

__all__ = [
    "ChatMessage",
    "Conversation",
    "Faults",
    "ForcedError",
    "HandshakeResult",
    "Limits",
    "Number",
    "PairRate",
    "RecordedRequest",
    "StandIn",
    "StandInConfig",
    "StatusDelays",
    "WebhookSettings",
    "run_standalone",
]
