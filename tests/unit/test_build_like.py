"""`validation.build_like` (a campaign's messages after the first): the message it builds is
the one the dataclass's own constructor builds (its fast constructor sets every slot: the
given fields, the rest at their defaults, whatever `base` holds in them)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from whatsapp_scheduler.core import messages
from whatsapp_scheduler.service import validation

NOW = datetime(2030, 1, 1, 6, tzinfo=UTC)
DUE = NOW + timedelta(days=1)


def _base(**changes: Any) -> messages.ScheduledMessage:
    fields: dict[str, Any] = {
        "id": "cmp_1-0000000",
        "recipient": "+905550000000",
        "due_at": DUE,
        "run_at": DUE,
        "timezone": "Europe/Istanbul",
        "local_date": "2030-01-02",
        "local_time": "09:00:00",
        "content_hash": "h",
        "created_at": NOW,
        "updated_at": NOW,
        "body": "first",
        "sender": "shop",
        "created_by": "ops",
        "category": "MARKETING",
        "campaign_id": "cmp_1",
        # Not given by build_like: its message keeps the defaults, not these.
        "client_created": "x",
        "status": messages.MessageStatus.SENT,
        "attempts": 3,
        "quiet_hours": False,
        "series_id": "ser_1",
    }
    fields.update(changes)
    return messages.ScheduledMessage(**fields)


GIVEN: dict[str, Any] = {
    "message_id": "cmp_1-0000001",
    "recipient": "+905550000001",
    "due_at": DUE + timedelta(minutes=1),
    "timezone": "UTC",
    "local_date": "2030-01-02",
    "local_time": "06:01:00",
    "body": "Merhaba Ayşe",
    "template": None,
    "now": NOW,
}


def _like(base: messages.ScheduledMessage, **changes: Any) -> messages.ScheduledMessage:
    return validation.build_like(base, **(GIVEN | changes))


def _expected(base: messages.ScheduledMessage, **changes: Any) -> messages.ScheduledMessage:
    """The same message through `ScheduledMessage(...)` (with its `__post_init__`), from the
    arguments and `base`'s sender, key, category and campaign."""
    given = GIVEN | changes
    body, template = given["body"], given["template"]
    return messages.ScheduledMessage(
        id=given["message_id"],
        recipient=given["recipient"],
        due_at=given["due_at"],
        run_at=given["due_at"],
        timezone=given["timezone"],
        local_date=given["local_date"],
        local_time=given["local_time"],
        content_hash=validation.content_hash(
            given["recipient"], given["due_at"], body, template, None, base.sender, None
        ),
        created_at=NOW,
        updated_at=NOW,
        body=body,
        template=template,
        sender=base.sender,
        created_by=base.created_by,
        category=base.category,
        campaign_id=base.campaign_id,
    )


def test_a_text_is_the_dataclass_s_own_message_with_every_other_field_at_its_default():
    base = _base()
    made = _like(base)
    assert made == _expected(base)
    assert (made.status, made.attempts, made.client_created, made.series_id) == (
        messages.MessageStatus.QUEUED,
        0,
        None,
        None,
    )
    assert made.quiet_hours is None
    for field in dataclasses.fields(messages.ScheduledMessage):  # every slot is set
        getattr(made, field.name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.body = "changed"  # type: ignore[misc]


def test_a_template_is_the_dataclass_s_own_message_too():
    template = {"name": "promo", "language": {"code": "tr"}}
    base = _base(body=None, template=template)
    made = _like(base, body=None, template=template)
    assert made == _expected(base, body=None, template=template)
    assert (made.body, made.template) == (None, template)
