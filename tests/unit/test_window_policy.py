"""window.py: is the 24-hour window open, and what each WINDOW_POLICY does (tables)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from whatsapp_scheduler.core import window

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("last", "at", "open_"),
    [
        (None, T0, False),
        (T0, T0, True),
        (T0, T0 + 23 * H, True),
        (T0, T0 + 24 * H - 61 * S, True),
        (T0, T0 + 24 * H - 60 * S, False),  # the safety margin
        (T0, T0 + 24 * H, False),
        (T0, T0 + 30 * H, False),
        (T0 + H, T0, True),  # wrote after the time asked about
    ],
)
def test_is_open(last, at, open_):
    assert window.is_open(last, at) is open_


P = window.WindowPolicy
A = window.Action
CLOSED = T0 - 25 * H
OPEN = T0 - H


@pytest.mark.parametrize(
    ("policy", "template", "fallback", "last", "action", "closed"),
    [
        (P.SEND, False, False, OPEN, A.SEND, False),
        (P.FAIL, False, False, OPEN, A.SEND, False),
        (P.TEMPLATE, False, True, OPEN, A.SEND, False),
        (P.SEND, False, False, CLOSED, A.SEND, True),
        (P.SEND, False, False, None, A.SEND, True),
        (P.FAIL, False, False, CLOSED, A.FAIL, True),
        (P.FAIL, False, True, None, A.FAIL, True),
        (P.TEMPLATE, False, True, CLOSED, A.FALLBACK, True),
        (P.TEMPLATE, False, False, CLOSED, A.FAIL, True),
        (P.FAIL, True, False, None, A.SEND, False),  # templates always go
        (P.TEMPLATE, True, False, CLOSED, A.SEND, False),
    ],
)
def test_decide(policy, template, fallback, last, action, closed):
    decision = window.decide(
        policy, is_template=template, has_fallback=fallback, last_inbound=last, at=T0
    )
    assert decision.action == action
    assert decision.window_closed is closed


def test_texts_name_no_number_and_point_to_the_docs():
    decision = window.decide(
        P.FAIL, is_template=False, has_fallback=False, last_inbound=None, at=T0
    )
    assert "never written" in window.refusal(decision)
    assert window.DOCS_HINT in window.refusal(decision)
    note = window.warning(decision)
    assert note is not None
    assert note.text.startswith("window_closed: ")
    assert note.code == "window_closed"
    fallback = window.decide(
        P.TEMPLATE, is_template=False, has_fallback=True, last_inbound=CLOSED, at=T0
    )
    fallback_note = window.warning(fallback, "hi (tr)")
    assert fallback_note is not None
    assert "fallback template hi (tr)" in fallback_note.text
    assert (fallback_note.code, fallback_note.params["template"]) == (
        "window_closed_fallback",
        "hi (tr)",
    )
    assert window.warning(window.Decision(A.SEND)) is None


def test_wa_id_drops_the_plus():
    assert window.wa_id("+905551234567") == "905551234567"


def test_a_last_inbound_at_the_calendars_end_compares_without_overflow():
    end = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert window.is_open(end, datetime(2026, 3, 1, tzinfo=UTC))
    decision = window.decide(
        window.WindowPolicy.FAIL,
        is_template=False,
        has_fallback=False,
        last_inbound=end,
        at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert decision.action == window.Action.SEND
