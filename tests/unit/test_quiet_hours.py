"""Quiet hours (core/quiet.py): inside or not, and where the window ends, on the wall clock
of the message's own zone, across the nights the clocks change (docs/limits.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from whatsapp_scheduler import settings
from whatsapp_scheduler.core import errors, quiet

ISTANBUL = ZoneInfo("Europe/Istanbul")  # UTC+3 all year, no DST
LONDON = ZoneInfo("Europe/London")  # GMT / BST: forward 2026-03-29 01:00 UTC, back 10-25
NEW_YORK = ZoneInfo("America/New_York")  # forward 2026-03-08 02:00 local, back 11-01 02:00


def window(text: str) -> quiet.QuietHours:
    parsed = quiet.parse(text, "QUIET_HOURS")
    assert parsed is not None
    return parsed


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2026, 6, 1, 17, 59), None),  # 20:59 Istanbul: before the window
        (utc(2026, 6, 1, 18, 0), utc(2026, 6, 2, 6, 0)),  # 21:00 -> 09:00 next day
        (utc(2026, 6, 1, 23, 30), utc(2026, 6, 2, 6, 0)),  # 02:30 -> 09:00 the same day
        (utc(2026, 6, 2, 5, 59), utc(2026, 6, 2, 6, 0)),  # 08:59
        (utc(2026, 6, 2, 6, 0), None),  # 09:00: the end is outside
    ],
)
def test_istanbul_overnight_window(at: datetime, expected: datetime | None) -> None:
    assert window("21:00-09:00").deferred_to(at, ISTANBUL) == expected


def test_a_window_within_one_day() -> None:
    lunch = window("12:00-14:00")
    assert lunch.deferred_to(utc(2026, 6, 1, 10, 30), ISTANBUL) == utc(2026, 6, 1, 11, 0)
    assert lunch.deferred_to(utc(2026, 6, 1, 11, 0), ISTANBUL) is None
    assert lunch.deferred_to(utc(2026, 6, 1, 8, 59), ISTANBUL) is None


def test_the_same_instant_is_night_in_one_zone_and_day_in_another() -> None:
    at = utc(2026, 6, 1, 19, 0)  # 22:00 Istanbul, 15:00 New York
    assert window("21:00-09:00").deferred_to(at, ISTANBUL) == utc(2026, 6, 2, 6, 0)
    assert window("21:00-09:00").deferred_to(at, NEW_YORK) is None


def test_london_spring_forward_night_is_an_hour_shorter() -> None:
    # 2026-03-28 22:00 GMT is inside; the end is 09:00 BST on the 29th = 08:00 UTC, not 09:00.
    end = window("21:00-09:00").deferred_to(utc(2026, 3, 28, 22, 0), LONDON)
    assert end == utc(2026, 3, 29, 8, 0)
    # 00:30 GMT, before the jump, has the same end.
    assert window("21:00-09:00").deferred_to(utc(2026, 3, 29, 0, 30), LONDON) == end


def test_london_fall_back_night_is_an_hour_longer() -> None:
    # 2026-10-24 21:30 BST (20:30 UTC) -> 09:00 GMT on the 25th = 09:00 UTC.
    assert window("21:00-09:00").deferred_to(utc(2026, 10, 24, 20, 30), LONDON) == utc(
        2026, 10, 25, 9, 0
    )
    # The repeated hour (01:30 local, twice) is inside both times.
    for at in (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)):
        assert window("21:00-09:00").deferred_to(at, LONDON) == utc(2026, 10, 25, 9, 0)


def test_new_york_an_end_the_clocks_skip_is_the_jump() -> None:
    # 02:30 does not exist on 2026-03-08 in New York: the window ends at the jump (07:00 UTC,
    # 03:00 EDT), not an hour late.
    early = window("23:00-02:30")
    assert early.deferred_to(utc(2026, 3, 8, 5, 0), NEW_YORK) == utc(2026, 3, 8, 7, 0)
    # An end the clocks repeat (01:30 on 2026-11-01) is its first occurrence (EDT, 05:30 UTC).
    assert window("23:00-01:30").deferred_to(utc(2026, 11, 1, 4, 0), NEW_YORK) == utc(
        2026, 11, 1, 5, 30
    )


def test_new_york_spring_forward_overnight() -> None:
    # 2026-03-07 22:00 EST (03:00 UTC) -> 09:00 EDT on the 8th = 13:00 UTC.
    assert window("21:00-09:00").deferred_to(utc(2026, 3, 8, 3, 0), NEW_YORK) == utc(
        2026, 3, 8, 13, 0
    )


@pytest.mark.parametrize("text", ["21-09", "21:00", "25:00-09:00", "21:60-09:00", "09:00-09:00"])
def test_bad_windows_name_the_field(text: str) -> None:
    with pytest.raises(errors.ValidationFailed) as caught:
        quiet.parse(text, "QUIET_HOURS")
    assert caught.value.field == "QUIET_HOURS"


def test_empty_is_none_and_the_setting_refuses_a_bad_value_by_name() -> None:
    assert quiet.parse("", "QUIET_HOURS") is None
    assert quiet.parse("  ", "QUIET_HOURS") is None
    with pytest.raises(ValueError, match="QUIET_HOURS '22:00-7:00'"):
        settings.Settings(quiet_hours="22:00-7:00", _env_file=None)
    assert settings.Settings(quiet_hours=" 22:00 - 07:00 ", _env_file=None).quiet_window() == (
        window("22:00-07:00")
    )


def test_a_senders_value_overrides_the_setting() -> None:
    setting = window("21:00-09:00")
    assert quiet.effective(setting, None) == setting
    assert quiet.effective(setting, "off") is None
    assert quiet.effective(None, "22:00-08:00") == window("22:00-08:00")
    assert quiet.check_sender_value(" OFF ") == "off"
    assert quiet.check_sender_value("22:00 - 08:00") == "22:00-08:00"
    for bad in ("", "nope", 5):
        with pytest.raises(errors.ValidationFailed) as caught:
            quiet.check_sender_value(bad)
        assert caught.value.field == "quiet_hours"
