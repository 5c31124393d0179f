"""The 24-hour customer service window. Pure: `now` is passed in.

Meta's rule: docs/meta-cloud-api.md, "The 24-hour customer service window".

Free-form text reaches a contact only within 24 hours of their last message to us; outside it
only templates go through, and Meta answers a text with HTTP 200 and, later, a `failed` status
with 131047. `WINDOW_POLICY` says what to do with a text whose window will be closed when it is
due, decided here twice: when it is scheduled (`decide(..., at=due_at)`) and when it is sent
(`decide(..., at=now)`):

| policy     | at schedule time                    | at send time                              |
|------------|-------------------------------------|-------------------------------------------|
| `send`     | stored, with a `window_closed` warning | sent anyway; Meta decides (131047 later) |
| `fail`     | refused (422)                       | failed at once, no request to Meta        |
| `template` | stored with a warning if it has a `fallback_template`, else refused | the fallback template is sent (no fallback: failed) |

Templates are never held back: they may be sent at any time.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import datetime, timedelta

from whatsapp_scheduler.core import notices

#: The window's length: each inbound message from the contact resets it to 24 hours.
WINDOW = timedelta(hours=24)
#: A window closing less than this after the send is treated as closed: the request still has
#: to reach Meta, and Meta's clock is not ours.
SAFETY_MARGIN = timedelta(seconds=60)
#: Where the refusal and the error text send the reader.
DOCS_HINT = "see docs/webhooks.md, 'The 24-hour window'"


class WindowPolicy(enum.StrEnum):
    SEND = "send"
    FAIL = "fail"
    TEMPLATE = "template"


class Action(enum.StrEnum):
    SEND = "send"  # send the message as it is
    FALLBACK = "fallback"  # send its fallback template instead
    FAIL = "fail"  # do not send (refuse at schedule time, fail at send time)


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one message, and why (`reason` is None when the window is open)."""

    action: Action
    reason: str | None = None

    @property
    def window_closed(self) -> bool:
        return self.reason is not None


def is_open(last_inbound: datetime | None, at: datetime, margin: timedelta = SAFETY_MARGIN) -> bool:
    """Whether a contact who last wrote at `last_inbound` can get free-form text at `at`.

    Written as `at + margin - WINDOW < last_inbound` so a stored `last_inbound` at the end of
    the calendar (a webhook dated 9999, stored before webhook times were checked) compares
    instead of overflowing."""
    return last_inbound is not None and at + margin - WINDOW < last_inbound


def closed_reason(last_inbound: datetime | None, at: datetime) -> str:
    """A one-line explanation, without the message text or the phone number."""
    if last_inbound is None:
        since = "the recipient has never written to this number"
    else:
        since = f"the recipient last wrote at {last_inbound.isoformat()}"
    return f"24-hour window closed at {at.isoformat()}: {since}"


def decide(
    policy: WindowPolicy,
    *,
    is_template: bool,
    has_fallback: bool,
    last_inbound: datetime | None,
    at: datetime,
) -> Decision:
    """The action for a message due (or being sent) at `at`; see the module docstring."""
    if is_template or is_open(last_inbound, at):
        return Decision(Action.SEND)
    reason = closed_reason(last_inbound, at)
    if policy == WindowPolicy.SEND:
        return Decision(Action.SEND, reason)
    if policy == WindowPolicy.TEMPLATE and has_fallback:
        return Decision(Action.FALLBACK, reason)
    return Decision(Action.FAIL, reason)


def wa_id(recipient: str) -> str:
    """The contact's WhatsApp id for an E.164 number: its digits, without '+'."""
    return recipient.lstrip("+")


def warning(
    decision: Decision, fallback_label: str | None = None
) -> notices.ScheduleWarning | None:
    """The warning to give with a stored message for `decision`, if any. Its English text
    starts with `window_closed:` in both cases (the REST API's wording since the seed)."""
    if decision.reason is None:
        return None
    if decision.action == Action.FALLBACK:
        code = notices.WarningCode.WINDOW_CLOSED_FALLBACK
        then = f"the fallback template {fallback_label} will be sent instead"
    else:
        code = notices.WarningCode.WINDOW_CLOSED
        then = "WhatsApp will refuse free-form text (131047) unless they write first"
    text = f"window_closed: {decision.reason}; {then} ({DOCS_HINT})"
    params = {"reason": decision.reason, "template": fallback_label or ""}
    return notices.ScheduleWarning(code, text, params)


def refusal(decision: Decision) -> str:
    """The 422 rule when `fail` (or `template` without a fallback) refuses a message."""
    return (
        "the recipient's 24-hour window will be closed at the due time "
        f"({decision.reason}); send a template instead, or with WINDOW_POLICY=template give a "
        f"fallback_template ({DOCS_HINT})"
    )
