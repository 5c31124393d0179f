"""core/recurrence.py: the rule's checks and the DST rules, by tables of datetimes."""
# ruff: noqa: DTZ001 - a series' local wall-clock times are naive on purpose (core/recurrence.py)

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from whatsapp_scheduler import testing
from whatsapp_scheduler.core import errors, recurrence

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "local", "expected"),
    [
        # Istanbul: UTC+3 all year (no DST since 2016)
        ("Europe/Istanbul", datetime(2027, 3, 28, 9, 0), utc(2027, 3, 28, 6, 0)),
        ("Europe/Istanbul", datetime(2027, 10, 31, 9, 0), utc(2027, 10, 31, 6, 0)),
        # London: 09:00 stays 09:00 local: GMT in winter, BST in summer
        ("Europe/London", datetime(2027, 3, 21, 9, 0), utc(2027, 3, 21, 9, 0)),
        ("Europe/London", datetime(2027, 3, 28, 9, 0), utc(2027, 3, 28, 8, 0)),
        # London gap (01:00 -> 02:00 on 2027-03-28): the first valid minute after it, 02:00 BST
        ("Europe/London", datetime(2027, 3, 28, 1, 30), utc(2027, 3, 28, 1, 0)),
        # London ambiguous 01:30 on 2027-10-31: the first one (BST, fold=0)
        ("Europe/London", datetime(2027, 10, 31, 1, 30), utc(2027, 10, 31, 0, 30)),
        # New York gap (02:00 -> 03:00 on 2027-03-14): 03:00 EDT
        ("America/New_York", datetime(2027, 3, 14, 2, 30), utc(2027, 3, 14, 7, 0)),
        # New York ambiguous 01:30 on 2027-11-07: the first one (EDT)
        ("America/New_York", datetime(2027, 11, 7, 1, 30), utc(2027, 11, 7, 5, 30)),
        ("America/New_York", datetime(2027, 11, 8, 9, 0), utc(2027, 11, 8, 14, 0)),
        ("America/New_York", datetime(2027, 11, 6, 9, 0), utc(2027, 11, 6, 13, 0)),
    ],
)
def test_local_occurrence_to_utc(zone, local, expected):
    assert recurrence.to_utc(local, zone) == expected


def test_weekly_at_nine_stays_nine_across_the_change():
    start = datetime(2027, 3, 21, 9, 0)  # Sunday
    rules = recurrence.parse("FREQ=WEEKLY;BYDAY=SU;COUNT=3", "Europe/London", start, NOW)
    coming = recurrence.upcoming(rules, start, 5)
    assert [recurrence.to_utc(at, "Europe/London").hour for at in coming] == [9, 8, 8]
    assert [at.hour for at in coming] == [9, 9, 9]


def test_a_daily_series_through_the_gap_goes_at_its_end_and_then_as_asked():
    start = datetime(2027, 3, 13, 2, 30)
    rules = recurrence.parse("FREQ=DAILY;COUNT=3", "America/New_York", start, NOW)
    due = [recurrence.to_utc(at, "America/New_York") for at in recurrence.upcoming(rules, start, 3)]
    assert due == [utc(2027, 3, 13, 7, 30), utc(2027, 3, 14, 7, 0), utc(2027, 3, 15, 6, 30)]


def test_utc_until_and_local_exdate():
    start = datetime(2026, 12, 4, 9, 0)
    rule = "FREQ=DAILY;UNTIL=20261207T235959Z\nEXDATE:20261205T090000"
    rules = recurrence.parse(rule, "Europe/Istanbul", start, NOW)
    assert [at.day for at in recurrence.upcoming(rules, start, 10)] == [4, 6, 7]


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("not a rule", "not a valid RFC 5545 RRULE"),
        ("FREQ=WEEKLY;BYDAY=XX", "not a valid RFC 5545 RRULE"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "yields no occurrence"),
        ("FREQ=MINUTELY;INTERVAL=30", "more frequent than hourly"),
        ("FREQ=DAILY;BYHOUR=9,10;BYMINUTE=0,30", "more frequent than hourly"),
        ("FREQ=DAILY;COUNT=10001", "COUNT=10001 is over 10,000"),
        ("FREQ=DAILY;UNTIL=20261101T000000Z", "is in the past"),
        ("DTSTART:20261204T090000\nRRULE:FREQ=DAILY", "must not have a DTSTART"),
        ("", "must be an RFC 5545 RRULE"),
        ("FREQ=DAILY\nEXDATE;TZID=Europe/Paris:20261205T090000", "EXDATE must be local"),
    ],
)
def test_bad_rules_are_refused_naming_tekrar(rule, says):
    with pytest.raises(errors.ValidationFailed) as caught:
        recurrence.parse(rule, "Europe/Istanbul", datetime(2026, 12, 4, 9, 0), NOW)
    assert caught.value.field == "tekrar"
    assert says in caught.value.rule


def test_sub_hourly_only_when_allowed():
    start = datetime(2026, 12, 4, 9, 0)
    rules = recurrence.parse(
        "FREQ=MINUTELY;INTERVAL=15;COUNT=4", "UTC", start, NOW, allow_subhourly=True
    )
    assert len(recurrence.upcoming(rules, start, 10)) == 4


def test_occurrence_ids_carry_the_nominal_local_time():
    at = datetime(2027, 3, 28, 1, 30)
    occurrence = recurrence.occurrence_id("weekly-1", at)
    assert occurrence == "weekly-1@20270328T013000"
    assert recurrence.local_of(occurrence) == at
    assert recurrence.local_of("plain-id") is None


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=31",
        "FREQ=DAILY;BYHOUR=9,17\nEXDATE:20270105T170000",
        "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=14",
        "FREQ=WEEKLY;BYDAY=MO;COUNT=40",
        # Sets walked from DTSTART: moved to one rule's occurrence, the other would be out
        # of step (the biweekly Monday; the RDATE's 12:00 as the daily time; the EXRULE's
        # fortnight)
        "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO\nRRULE:FREQ=WEEKLY;BYDAY=FR",
        "RRULE:FREQ=DAILY\nRDATE:20261209T120000",
        "RRULE:FREQ=DAILY\nEXRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SA",
        "FREQ=HOURLY;INTERVAL=5;BYDAY=SA,SU",
        "FREQ=DAILY;UNTIL=20261220T090000Z",
    ],
)
def test_the_next_occurrence_is_the_rules_own_at_any_age(rule):
    """Walked from the claimed occurrence (no COUNT) or from DTSTART: the same times as the
    whole rule gives."""
    start = datetime(2026, 12, 7, 9, 0)
    rules = recurrence.parse(rule, "Europe/London", start, NOW)
    whole = recurrence.upcoming(rules, start, 30)
    current = whole[0]
    for expected in whole[1:]:
        message = testing.make_message(
            recurrence.occurrence_id("s", current), recurrence.to_utc(current, "Europe/London")
        ).evolve(timezone="Europe/London", series_id="s")
        following = recurrence.next_occurrence(message, rule, start, NOW)
        assert following is not None
        assert recurrence.local_of(following.id) == expected
        current = expected


def test_two_series_of_one_rule_claimed_at_one_time_each_follow_their_own_start():
    """The next time is remembered per rule and claimed time: with COUNT, also per DTSTART
    (a series started earlier has used more of its count)."""
    rule = "FREQ=DAILY;COUNT=3"
    current = datetime(2026, 12, 9, 9, 0)
    message = testing.make_message(
        recurrence.occurrence_id("s", current), recurrence.to_utc(current, "UTC")
    ).evolve(timezone="UTC", series_id="s")
    late = recurrence.next_occurrence(message, rule, datetime(2026, 12, 8, 9, 0), NOW)
    assert late is not None
    assert late.id == "s@20261210T090000"
    assert recurrence.next_occurrence(message, rule, datetime(2026, 12, 7, 9, 0), NOW) is None
