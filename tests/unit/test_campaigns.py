"""Placeholders, the DST rule and the campaign status (core/campaigns.py)."""

from __future__ import annotations

import functools
import random
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import START
from whatsapp_scheduler.core import campaigns, contacts, errors

PROFILE = contacts.Profile(
    "default", "+905551110001", name="Ayşe", attributes={"n": 3, "vip": True, "a": {"b": "x"}}
)


def test_render_fills_fields_defaults_and_leaves_metas_own_markers():
    value = {"p": ["{{ name }}", "{{attributes.n}}", "{{attributes.vip}}", "{{attributes.a.b}}"],
             "q": "{{attributes.city|İzmir}} {{1}} {{phone}}"}  # fmt: skip
    assert campaigns.render(value, PROFILE) == {
        "p": ["Ayşe", "3", "true", "x"],
        "q": "İzmir {{1}} +905551110001",
    }
    with pytest.raises(campaigns.Missing) as missing:
        campaigns.render("{{language}}", PROFILE)
    assert missing.value.path == "language"


def _rendered(fill: Any, profile: contacts.Profile) -> str:
    try:
        return str(fill(profile))
    except campaigns.Missing as missing:
        return f"Missing({missing.path})"


def test_a_texts_renderer_renders_what_render_does():
    """`text_renderer` (a campaign's text, its placeholders found once) against `render`:
    random texts of placeholders with and without defaults, Meta's own markers, nested and
    missing attributes, empty and non-text values."""
    rng = random.Random(7)
    pieces = [
        "Merhaba ", "{{name}}", "{{ name | dost }}", "{{language}}", "{{timezone|UTC}}",
        "{{phone}}", "{{1}}", "{{ 2 }}", "{{attributes.n}}", "{{attributes.vip}}",
        "{{attributes.a.b}}", "{{attributes.a}}", "{{attributes.none|-}}", "{{attributes.e| }}",
        "{{attributes.e}}", "{{name.x}}", "{{|x}}", "{ {", "}}", "{{", ", ", "İ🙂",
    ]  # fmt: skip
    profiles = [
        PROFILE,
        contacts.Profile("default", "+12025550102"),
        contacts.Profile("default", "+12025550103", name="", language="tr", timezone="UTC",
                         attributes={"e": "", "none": None, "a": [1], "n": 2.5, "vip": False}),
    ]  # fmt: skip
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        fill = campaigns.text_renderer(text)
        for profile in profiles:
            expected = _rendered(functools.partial(campaigns.render, text), profile)
            assert _rendered(fill, profile) == expected, text


def test_unknown_placeholders_are_refused_naming_the_field():
    campaigns.check_paths({"x": "{{attributes.ok|d}} {{2}}"}, "template")
    with pytest.raises(errors.ValidationFailed) as refused:
        campaigns.check_paths(["{{surname}}"], "template")
    assert refused.value.field == "template"


def test_a_local_time_in_a_dst_gap_moves_to_the_next_minute_that_exists():
    new_york = ZoneInfo("America/New_York")
    assert campaigns.local_due(date(2026, 3, 8), time(2, 30), new_york) == (
        datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
        True,
    )
    assert campaigns.local_due(date(2026, 3, 9), time(9, 0), new_york) == (
        datetime(2026, 3, 9, 13, 0, tzinfo=UTC),
        False,
    )
    # The repeated hour (2026-11-01 01:30 happens twice): the first.
    assert campaigns.local_due(date(2026, 11, 1), time(1, 30), new_york)[0] == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )


def test_the_status_follows_the_messages():
    c = campaigns.Campaign("cmp", "n", "default", {}, 3, 0, START)

    def status(**counts: int) -> str:
        return str(campaigns.status_of(c, campaigns.Counts(counts, {}, {}, None, None)))

    assert status(queued=3) == "scheduled"
    assert status(queued=2, sent=1) == "sending"
    assert status(queued=2, sending=1) == "sending"
    assert status(paused=2, read=1) == "paused"
    assert status(read=2, failed=1) == "completed"
    cancelled = campaigns.Campaign("cmp", "n", "default", {}, 3, 0, START, cancelled_at=START)
    assert (
        str(campaigns.status_of(cancelled, campaigns.Counts({"sent": 1}, {}, {}, None, None)))
        == "cancelled"
    )


def test_read_buckets_and_their_median():
    """Times to read are kept in buckets about 10 % apart (1 s up to 30 days); the median is
    read from the counts, within its bucket (docs/campaigns.md, "The funnel")."""
    import itertools
    from datetime import UTC, datetime

    bounds = campaigns.READ_BOUNDS
    assert bounds[:3] == (0, 1, 2)
    assert bounds[-1] >= 30 * 86400
    assert all(b1 < b2 <= b1 * 1.1 + 1 for b1, b2 in itertools.pairwise(bounds))
    assert campaigns.read_bucket(-5) == 0  # a clock's skew
    assert campaigns.read_bucket(10) == 10
    assert campaigns.read_bucket(10**9) == bounds[-1]
    for seconds in (1, 59, 60, 61, 3599, 86_400):
        low = campaigns.read_bucket(seconds)
        assert low <= seconds < bounds[bounds.index(low) + 1]
    sent = datetime(2026, 3, 1, 9, 0, 0, 900_000, tzinfo=UTC)
    read = datetime(2026, 3, 1, 9, 0, 2, 100_000, tzinfo=UTC)
    assert campaigns.read_seconds(sent, read) == 2  # whole Unix seconds, as SQL counts them
    assert campaigns.read_seconds(None, read) is None
    assert campaigns.median_of_buckets({}) is None
    assert campaigns.median_of_buckets({5: 1, 10: 1, 3600: 1}) == 10.5
    counts: dict[int, int] = {}
    for s in [30] * 10 + [600] * 11:  # the median is in 600's bucket
        b = campaigns.read_bucket(s)
        counts[b] = counts.get(b, 0) + 1
    median = campaigns.median_of_buckets(counts)
    assert median is not None
    assert abs(median - 600) <= 60  # within its bucket's 10 %
