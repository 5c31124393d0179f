import pytest

from whatsapp_scheduler.core.messages import MessageStatus as S
from whatsapp_scheduler.core.messages import cancellable, receipt_applies


@pytest.mark.parametrize(
    ("current", "incoming", "applies"),
    [
        (S.SENDING, S.SENT, True),  # the webhook beat our own write
        (S.SENT, S.DELIVERED, True),
        (S.SENT, S.READ, True),  # delivered skipped
        (S.DELIVERED, S.READ, True),
        (S.READ, S.DELIVERED, False),  # late delivered never overwrites read
        (S.DELIVERED, S.DELIVERED, False),  # duplicate
        (S.DELIVERED, S.SENT, False),
        (S.SENT, S.FAILED, True),
        (S.DELIVERED, S.FAILED, True),
        (S.READ, S.FAILED, False),
        (S.CANCELLED, S.SENT, False),
        (S.QUEUED, S.DELIVERED, False),
        (S.FAILED, S.READ, False),
    ],
)
def test_status_webhooks_only_move_forward(current: S, incoming: S, applies: bool) -> None:
    assert receipt_applies(current, incoming) is applies


@pytest.mark.parametrize(("status", "expected"), [(s, s == S.QUEUED) for s in S])
def test_only_queued_messages_can_be_cancelled(status: S, expected: bool) -> None:
    assert cancellable(status) is expected


@pytest.mark.parametrize("field", ["due_at", "run_at", "created_at", "updated_at", "sent_at"])
def test_a_message_refuses_a_naive_time_and_names_it(make_message, field: str) -> None:
    from datetime import datetime

    with pytest.raises(ValueError, match=f"{field} must be timezone-aware"):
        make_message(**{field: datetime(2030, 1, 1, 10, 0)})  # noqa: DTZ001 - the point
