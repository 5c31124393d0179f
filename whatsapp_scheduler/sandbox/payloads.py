"""JSON shapes the stand-in produces: send replies, status and inbound webhooks, signatures.

Pure functions (no I/O besides ``os.urandom`` for ids), shaped after docs/meta-cloud-api.md:
"The reply to a send", and under "Webhooks": "Signature", "Envelope", "Status updates" and
"Inbound messages" (the section names cited below).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
from collections.abc import Iterable
from typing import Any

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"

_NON_DIGITS = str.maketrans("", "", "+-() .")


def wa_id_for(to: str) -> str:
    """The WhatsApp id of a ``to`` value: its digits (``"+1 (650) 555-1234"`` -> ``"16505551234"``)."""
    digits = to.translate(_NON_DIGITS)
    if digits.isdigit():
        return digits
    return "".join(ch for ch in to if ch.isdigit())


def _wamid(wa_id: str, marker: bytes, random_hex_chars: int) -> str:
    # Real wamids are base64 of a small protobuf-like record holding the recipient's digits
    # and a random upper-case hex id; mimic that so they look and decode alike.
    digits = wa_id.encode("ascii")[:127]
    rand = os.urandom(random_hex_chars // 2).hex().upper().encode("ascii")
    raw = (
        b"\x1c\x18"
        + bytes((len(digits),))
        + digits
        + b"\x15\x02\x00"
        + marker
        + b"\x18"
        + bytes((len(rand),))
        + rand
        + b"\x00"
    )
    return "wamid." + base64.b64encode(raw).decode("ascii")


def new_outbound_wamid(wa_id: str) -> str:
    """A fresh ``wamid.…`` for a message the business sent to ``wa_id``."""
    return _wamid(wa_id, b"\x11", 18)


def new_inbound_wamid(wa_id: str) -> str:
    """A fresh ``wamid.…`` for a message ``wa_id`` sent to the business."""
    return _wamid(wa_id, b"\x12", 20)


def send_success(to: str, wa_id: str, wamid: str, *, template: bool) -> dict[str, Any]:
    """The send reply: ``input`` is ``to`` as sent; ``message_status`` only for templates."""
    message: dict[str, Any] = {"id": wamid}
    if template:
        message["message_status"] = "accepted"
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": wa_id}],
        "messages": [message],
    }


def pricing_for(*, template: bool) -> dict[str, Any]:
    """``pricing`` of a status: templates are billed, service replies in a window are free."""
    if template:
        return {"billable": True, "pricing_model": "PMP", "type": "regular", "category": "utility"}
    return {
        "billable": False,
        "pricing_model": "PMP",
        "type": "free_customer_service",
        "category": "service",
    }


def status_entry(
    wamid: str,
    status: str,
    *,
    timestamp: float,
    recipient_id: str,
    callback_data: str | None = None,
    pricing: dict[str, Any] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One ``statuses[]`` item ("Status updates"), v24+ style: never a ``conversation`` object."""
    entry: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(timestamp)),
        "recipient_id": recipient_id,
    }
    if callback_data is not None:
        entry["biz_opaque_callback_data"] = callback_data
    if pricing is not None:
        entry["pricing"] = pricing
    if errors:
        entry["errors"] = errors
    return entry


def envelope(
    value: dict[str, Any],
    *,
    waba_id: str,
    phone_number_id: str,
    display_phone_number: str,
) -> dict[str, Any]:
    """Wrap a ``value`` (statuses or inbound messages) in the webhook envelope ("Envelope")."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": waba_id,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": display_phone_number,
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def account_change(
    waba_id: str, field: str, value: dict[str, Any], *, timestamp: float
) -> dict[str, Any]:
    """A webhook about the WhatsApp Business Account itself (no ``metadata``): e.g. field
    ``message_template_status_update`` (docs/templates.md, "Webhooks")."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": waba_id, "time": int(timestamp), "changes": [{"field": field, "value": value}]}
        ],
    }


def statuses_value(statuses: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The ``value`` body of a status webhook carrying ``statuses``."""
    return {"statuses": list(statuses)}


def inbound_text_value(
    wa_id: str, text: str, *, wamid: str, timestamp: float, profile_name: str
) -> dict[str, Any]:
    """The ``value`` body of an inbound text message webhook ("Inbound messages")."""
    return {
        "contacts": [{"profile": {"name": profile_name}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": wamid,
                "timestamp": str(int(timestamp)),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }


def valid_reply(reply: Any) -> bool:
    """A button press as the inbox sends it: {type: button_reply|list_reply, id, title}."""
    return (
        isinstance(reply, dict)
        and reply.get("type") in ("button_reply", "list_reply")
        and all(isinstance(reply.get(k), str) and reply[k] for k in ("id", "title"))
    )


def inbound_reply_value(
    wa_id: str,
    reply: dict[str, Any],
    *,
    wamid: str,
    timestamp: float,
    profile_name: str,
    context: str | None,
    business_number: str,
) -> dict[str, Any]:
    """The ``value`` of Meta's webhook for a button press or a list choice: a message of
    ``type`` ``interactive`` holding ``button_reply`` or ``list_reply`` ({id, title[,
    description]}), with the pressed message as ``context``."""
    kind = reply["type"]
    picked = {k: reply[k] for k in ("id", "title", "description") if isinstance(reply.get(k), str)}
    message: dict[str, Any] = {
        "from": wa_id,
        "id": wamid,
        "timestamp": str(int(timestamp)),
        "type": "interactive",
        "interactive": {"type": kind, kind: picked},
    }
    if context is not None:
        message["context"] = {"from": business_number, "id": context}
    return {
        "contacts": [{"profile": {"name": profile_name}, "wa_id": wa_id}],
        "messages": [message],
    }


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value: ``sha256=`` + hex HMAC-SHA256(body, app_secret)."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def signature_valid(body: bytes, app_secret: str, header: str | None) -> bool:
    """True when ``header`` is the signature of the raw ``body`` (constant-time comparison)."""
    if not header:
        return False
    return hmac.compare_digest(sign(body, app_secret), header)
