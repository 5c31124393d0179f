from datetime import UTC, date, datetime, time, timedelta

import pytest

from whatsapp_scheduler.core import errors, localtime

NOW = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tarih", "expected"),
    [
        ("2026-09-22", date(2026, 9, 22)),
        ("2026-09-22T00:00:00.000", date(2026, 9, 22)),  # Dart toIso8601String()
        ("2026-09-22T00:00:00.000000", date(2026, 9, 22)),  # with microseconds
        ("2026-09-22T00:00:00.000Z", date(2026, 9, 22)),  # UTC DateTime in Dart
        ("2026-09-22T13:45:10+03:00", date(2026, 9, 22)),
        ("2026-09-22 00:00", date(2026, 9, 22)),
        (" 2026-09-22 ", date(2026, 9, 22)),
    ],
)
def test_dates_the_flutter_client_sends_are_read(tarih: str, expected: date) -> None:
    assert localtime.parse_date(tarih) == expected


@pytest.mark.parametrize(
    "tarih", ["2026-02-30", "2026-13-01", "22.09.2026", "tomorrow", "", "2026-9-22", "2026-09-22T"]
)
def test_impossible_or_malformed_dates_name_the_field(tarih: str) -> None:
    with pytest.raises(errors.ValidationFailed) as caught:
        localtime.parse_date(tarih)
    assert caught.value.field == "tarih"


@pytest.mark.parametrize(
    ("saat", "expected"),
    [("09:30", time(9, 30)), ("00:00", time(0, 0)), ("23:59:59", time(23, 59, 59))],
)
def test_times(saat: str, expected: time) -> None:
    assert localtime.parse_time(saat) == expected


@pytest.mark.parametrize("saat", ["24:00", "12:60", "9:30", "09:30:60", "noon", "09:30pm", ""])
def test_bad_times_name_the_field(saat: str) -> None:
    with pytest.raises(errors.ValidationFailed) as caught:
        localtime.parse_time(saat)
    assert caught.value.field == "saat"


@pytest.mark.parametrize(
    ("zone", "tarih", "saat", "utc"),
    [
        # Istanbul: UTC+3 all year (no DST since 2016).
        ("Europe/Istanbul", "2026-06-01", "09:30", datetime(2026, 6, 1, 6, 30, tzinfo=UTC)),
        ("Europe/Istanbul", "2026-12-01", "09:30", datetime(2026, 12, 1, 6, 30, tzinfo=UTC)),
        # New York: EST -5 in winter, EDT -4 in summer.
        ("America/New_York", "2026-01-15", "12:00", datetime(2026, 1, 15, 17, 0, tzinfo=UTC)),
        ("America/New_York", "2026-07-15", "12:00", datetime(2026, 7, 15, 16, 0, tzinfo=UTC)),
        # New York falls back 2026-11-01 02:00 -> 01:00: 01:30 happens twice; first is EDT.
        ("America/New_York", "2026-11-01", "01:30", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        # London falls back 2026-10-25 02:00 BST -> 01:00 GMT: 01:30 first occurrence is BST.
        ("Europe/London", "2026-10-25", "01:30", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        ("Europe/London", "2026-10-25", "02:00", datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
        # Just after the spring gaps.
        ("America/New_York", "2026-03-08", "03:00", datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
        ("Europe/London", "2026-03-29", "02:00", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        ("UTC", "2026-03-29", "01:30", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
    ],
)
def test_local_wall_time_becomes_utc(zone: str, tarih: str, saat: str, utc: datetime) -> None:
    assert localtime.resolve_due_time(tarih, saat, zone, NOW) == utc


@pytest.mark.parametrize(
    ("zone", "tarih", "saat"),
    [
        ("America/New_York", "2026-03-08", "02:30"),  # clocks jump 02:00 -> 03:00
        ("America/New_York", "2026-03-08", "02:00"),
        ("Europe/London", "2026-03-29", "01:30"),  # clocks jump 01:00 -> 02:00
        ("Europe/London", "2026-03-29", "01:00"),
    ],
)
def test_a_local_time_inside_a_dst_gap_is_refused(zone: str, tarih: str, saat: str) -> None:
    with pytest.raises(errors.ValidationFailed) as caught:
        localtime.resolve_due_time(tarih, saat, zone, NOW)
    assert caught.value.field == "saat"
    assert "does not exist" in caught.value.rule
    assert zone in caught.value.rule


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe/Istambul", "", "../etc/passwd", "+03:00"])
def test_unknown_zones_are_refused(zone: str) -> None:
    with pytest.raises(errors.ValidationFailed) as caught:
        localtime.resolve_due_time("2026-06-01", "09:30", zone, NOW)
    assert caught.value.field == "timezone"


@pytest.mark.parametrize(
    ("seconds_ago", "accepted"), [(0, True), (30, True), (60, True), (61, False), (3600, False)]
)
def test_past_times_within_a_minute_are_due_now(seconds_ago: int, accepted: bool) -> None:
    due = datetime(2026, 6, 1, 6, 30, tzinfo=UTC)  # 09:30 in Istanbul
    now = due + timedelta(seconds=seconds_ago)
    if accepted:
        assert localtime.resolve_due_time("2026-06-01", "09:30", "Europe/Istanbul", now) == due
    else:
        with pytest.raises(errors.ValidationFailed, match="in the past"):
            localtime.resolve_due_time("2026-06-01", "09:30", "Europe/Istanbul", now)
