"""The SQLite text of an aware time (`tables.UtcDateTime`): the one-step bind the store uses
writes exactly what `process_bind_param` plus SQLAlchemy's own `DATETIME` type wrote, so rows
written before and after compare and sort alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from whatsapp_scheduler.store import tables

DIALECT = sqlite.dialect()
FAST = tables.UtcDateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
TWO_STEPS = sa.DateTime(timezone=True).dialect_impl(DIALECT).bind_processor(DIALECT)


def two_steps(value: datetime) -> str:
    assert TWO_STEPS is not None
    return TWO_STEPS(tables.UtcDateTime().process_bind_param(value, DIALECT))  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 5, 7, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Istanbul")),
        datetime(2026, 10, 25, 2, 30, 0, 999_999, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(2026, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
        datetime(2026, 1, 1, tzinfo=timezone.utc),  # noqa: UP017 (another UTC object)
        datetime(1, 1, 1, 12, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_one_step_text_is_the_two_steps_text(value: datetime) -> None:
    assert FAST is not None
    assert FAST(value) == two_steps(value)
    assert datetime.fromisoformat(FAST(value)).replace(tzinfo=UTC) == value.astimezone(UTC)


def test_none_and_naive() -> None:
    assert FAST is not None
    assert FAST(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        FAST(datetime(2026, 3, 1, 12, 0))  # noqa: DTZ001 (the naive case itself)
