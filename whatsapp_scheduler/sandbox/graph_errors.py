"""Graph API error catalogue and envelope builder for the stand-in.

Every error the stand-in answers uses Meta's error body (docs/meta-cloud-api.md,
"The error body")::

    {"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException",
               "code": 130429,
               "error_data": {"messaging_product": "whatsapp", "details": "..."},
               "fbtrace_id": "A..."}}

Titles and details paraphrase Meta's error-code table (docs/meta-cloud-api.md, "The codes").
Meta documents no code-to-HTTP table ("HTTP status" there), so :func:`http_status_for` encodes
the stand-in's choice: auth codes get the configurable auth status (401 by default), throttling
codes the configurable rate-limit status (429 by default), server-side codes 500/503,
everything else 400.
"""

from __future__ import annotations

import base64
import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

ERROR_DOCS_HREF = "/documentation/business-messaging/whatsapp/support/error-codes"

#: code -> (title, details). Titles are what ``(#<code>) <title>`` shows.
#: Kept apart from ``whatsapp/errorcodes.py`` on purpose: the stand-in plays Meta and must not
#: learn Meta's codes from the client it tests.
CATALOGUE: dict[int, tuple[str, str]] = {
    0: ("AuthException", "We were unable to authenticate the app user."),
    1: ("API Unknown", "Invalid request or possible server error."),
    2: ("API Service", "Temporary due to downtime or due to being overloaded."),
    3: ("API Method", "Capability or permissions issue."),
    4: ("API Too Many Calls", "The app has reached its API call rate limit."),
    10: ("Permission Denied", "Permission is either not granted or has been removed."),
    17: ("User request limit reached", "The user has reached the request limit."),
    33: ("Parameter value is not valid", "The business phone number has been deleted."),
    100: (
        "Invalid parameter",
        "The request included one or more unsupported or misspelled parameters.",
    ),
    104: (
        "An access token is required to request this resource.",
        "An access token is required to request this resource.",
    ),
    190: ("Access token has expired", "Your access token has expired or is invalid."),
    200: ("Provide valid app ID", "No access token was provided."),
    368: (
        "Temporarily blocked for policies violations",
        "The WhatsApp Business Account is restricted or disabled for violating a platform policy.",
    ),
    80007: ("Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130403: ("Business has blocked this user", "The business has blocked this user."),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached."),
    130472: (
        "User's number is part of an experiment",
        "Message was not sent as part of an experiment.",
    ),
    130497: (
        "Business account is restricted from messaging users in this country",
        "The business may not message users in this country.",
    ),
    131000: ("Something went wrong", "Message failed to send due to an unknown error."),
    131005: ("Access denied", "Permission is either not granted or has been removed."),
    131008: ("Required parameter is missing", "The request is missing a required parameter."),
    131009: ("Parameter value is not valid", "One or more parameter values are invalid."),
    131016: ("Service unavailable", "A service is temporarily unavailable."),
    131021: ("Recipient cannot be sender", "Sender and recipient phone number is the same."),
    131026: (
        "Message undeliverable",
        "Unable to deliver message to this recipient.",
    ),
    131030: (
        "Recipient phone number not in allowed list",
        "Add recipient phone number to recipient list and try again.",
    ),
    131031: ("Business Account locked", "The business account has been locked."),
    131037: (
        "WhatsApp provided number needs display name approval before message can be sent.",
        "The 555 business phone number needs an approved display name.",
    ),
    131042: ("Business eligibility payment issue", "There was an error related to payment."),
    131045: (
        "Incorrect certificate",
        "Message failed to send due to a phone number registration error.",
    ),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    131048: (
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be "
        "sent from this phone number.",
    ),
    131049: (
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    131050: (
        "Unable to deliver the message.",
        "This recipient has chosen to stop receiving marketing messages on WhatsApp from your "
        "business.",
    ),
    131051: ("Unsupported message type", "Unsupported message type."),
    131052: ("Media download error", "Unable to download the media sent by the user."),
    131053: ("Media upload error", "Unable to upload the media used in the message."),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Too many messages sent from the sender phone number to the same recipient phone "
        "number in a short period of time.",
    ),
    131057: ("Account in maintenance mode", "Business Account is in maintenance mode."),
    131063: ("Marketing messages disabled", "Marketing messages are disabled for this account."),
    131064: (
        "Messaging limited",
        "Messaging is limited because of template classification violations.",
    ),
    132000: (
        "Template Param Count Mismatch",
        "The number of variable parameter values does not match the template.",
    ),
    132001: (
        "Template does not exist",
        "The template does not exist in the specified language or has not been approved.",
    ),
    132005: ("Template Hydrated Text Too Long", "Translated text is too long."),
    132007: (
        "Template Format Character Policy Violated",
        "Template content violates a WhatsApp policy.",
    ),
    132012: (
        "Template Parameter Format Mismatch",
        "Variable parameter values formatted incorrectly.",
    ),
    132015: ("Template is Paused", "Template is paused due to low quality."),
    132016: ("Template is Disabled", "Template has been paused too many times and is disabled."),
    132068: ("Flow is in blocked state", "Flow is in blocked state."),
    132069: ("Flow is in throttled state", "Flow is in throttled state; 10 messages an hour."),
    133000: ("Incomplete Deregistration", "A previous deregistration attempt failed."),
    133004: ("Server Temporarily Unavailable", "Server is temporarily unavailable."),
    133010: ("Phone number Not Registered", "Phone number is not registered on the platform."),
    133016: (
        "Account register deregister rate limit exceeded",
        "Registration or deregistration failed: too many attempts.",
    ),
    134011: (
        "WhatsApp Payments terms of service not accepted",
        "The business has not accepted the WhatsApp Payments terms of service.",
    ),
    135000: ("Generic user error", "Message failed to send because of an unknown error."),
    2494100: ("Account in maintenance mode", "The phone number is being migrated; retry shortly."),
}

AUTH_CODES = frozenset({0, 104, 190, 200})
RATE_LIMIT_CODES = frozenset({4, 17, 80007, 130429, 131056})
SERVER_CODES = {1: 500, 2: 503, 131000: 500, 131016: 503, 133004: 503}


def title_for(code: int) -> str:
    """The title of ``code`` (``"Unknown error"`` for codes outside the catalogue)."""
    entry = CATALOGUE.get(code)
    return entry[0] if entry else "Unknown error"


def details_for(code: int) -> str:
    """The default ``error_data.details`` text of ``code``."""
    entry = CATALOGUE.get(code)
    return entry[1] if entry else "An unknown error occurred."


def new_fbtrace_id() -> str:
    """A random trace id shaped like Meta's (23 url-safe base64 characters)."""
    return base64.urlsafe_b64encode(os.urandom(18)).decode("ascii")[:23]


def http_status_for(code: int, *, auth_status: int = 401, rate_limit_status: int = 429) -> int:
    """The HTTP status the stand-in pairs with ``code`` (Meta publishes no table of them)."""
    if code in AUTH_CODES:
        return auth_status
    if code in RATE_LIMIT_CODES:
        return rate_limit_status
    return SERVER_CODES.get(code, 400)


def error_body(
    code: int, details: str | None = None, *, message: str | None = None
) -> dict[str, Any]:
    """Meta's error body for ``code``; ``details`` overrides the catalogue's text."""
    return {
        "error": {
            "message": message or f"(#{code}) {title_for(code)}",
            "type": "OAuthException",
            "code": code,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": details or details_for(code),
            },
            "fbtrace_id": new_fbtrace_id(),
        }
    }


def status_error(code: int, details: str | None = None) -> dict[str, Any]:
    """One entry of ``statuses[].errors[]`` for an asynchronous failure ("Status updates")."""
    title = title_for(code)
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or details_for(code)},
        "href": ERROR_DOCS_HREF,
    }
