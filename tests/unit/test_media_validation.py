"""A media type's object as `validation.build` checks it (service/validation.py,
`_checked_media`): Meta's rules first, the JSON bounds only when a rule is broken. That must
answer exactly as the general order (the bounds, then Meta's rules, then storable text) for
any object, and what follows Meta's rules must be within the bounds by construction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatsapp_scheduler.core import content, errors, jsonbounds
from whatsapp_scheduler.service import validation
from whatsapp_scheduler.service.requests import ScheduleRequest

NOW = datetime(2029, 1, 1, tzinfo=UTC)


def build(kind: str, value: Any) -> Mapping[str, Any] | None:
    request = ScheduleRequest(
        "+905551234567", "2030-01-01", "10:00", type=kind, objects={kind: value}
    )
    return validation.build(request, NOW, "Europe/Istanbul", "TR").content


def general_order(kind: str, value: Any) -> dict[str, Any]:
    """What the general path does (and did for every media object before the fast path)."""
    if isinstance(value, dict | list):
        rule = jsonbounds.broken_rule(value)
        if rule is not None:
            raise errors.ValidationFailed(kind, rule)
    stored = content.normalize(kind, value)
    text = "".join(jsonbounds.strings(stored, keys=True))
    if "\x00" in text:
        raise errors.ValidationFailed(kind, "must not contain the NUL character (\\u0000)")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise errors.ValidationFailed(
            kind, "must be valid Unicode text (it holds half of a surrogate pair)"
        ) from None
    return stored


def outcome(make: Any, kind: str, value: Any) -> Any:
    try:
        return make(kind, value)
    except errors.ValidationFailed as exc:
        return (exc.field, exc.message)


@pytest.mark.parametrize("kind", content.MEDIA_TYPES)
def test_the_largest_object_meta_takes_is_within_the_json_bounds(kind: str) -> None:
    value = {
        "link": "https://media.example.com/" + "a" * (2048 - 26),
        "caption": "ş" * content.CAPTION_MAX,
        "filename": "ü" * content.FILENAME_MAX,
    }
    value = {k: v for k, v in value.items() if k in content._MEDIA_FIELDS[kind]}
    assert jsonbounds.broken_rule(value) is None
    assert build(kind, value) == {"type": kind, kind: value}


def test_a_bound_is_named_before_metas_rules() -> None:
    too_long = {"link": "https://a.example.com/x.jpg", "caption": "x" * 40_000}
    assert outcome(build, "image", too_long) == (
        "image",
        "image: is 40054 bytes as JSON; at most 32768",
    )
    deep: Any = "x"
    for _ in range(40):
        deep = [deep]
    assert outcome(build, "image", {"id": "med_1", "caption": deep}) == (
        "image",
        "image: is nested deeper than 32 levels (at most 32)",
    )
    # within the bounds, Meta's rule is the refusal
    assert outcome(build, "image", {"id": "med_1", "caption": "x" * 2000})[0] == "image.caption"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ({"id": "med_\x00", "caption": "x"}, "must not contain the NUL character (\\u0000)"),
        ({"id": "med_1", "caption": "\ud83d"}, "must be valid Unicode text (it holds half of"),
    ],
)
def test_a_media_object_holds_only_storable_text(value: dict[str, str], rule: str) -> None:
    field, message = outcome(build, "image", value)
    assert (field, message.removeprefix("image: ")[: len(rule)]) == ("image", rule)


TEXTS = st.text(max_size=40) | st.sampled_from(["", " ", "a\x00b", "\ud83d", "x" * 3000])
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
MEDIA = st.dictionaries(
    st.sampled_from(["id", "link", "caption", "filename", "other"]),
    st.sampled_from(["med_1", "https://a.example.com/x.jpg", "ftp://x"]) | VALUES,
    max_size=4,
)


@settings(max_examples=500, deadline=None)
@given(kind=st.sampled_from(content.MEDIA_TYPES), value=MEDIA | VALUES)
def test_any_object_is_answered_as_the_general_order_answers_it(kind: str, value: Any) -> None:
    ours = outcome(lambda k, v: validation._checked_content(
        ScheduleRequest("", "", "", type=k, objects={k: v})
    ), kind, value)  # fmt: skip
    assert ours == outcome(general_order, kind, value)


@pytest.mark.parametrize(
    ("kind", "objects", "answer"),
    [
        ("image", {"image": {"id": "med_1"}}, ("image", {"id": "med_1"})),
        ("bogus", {"bogus": {}}, ("type", "must be one of image, video, audio, document, sticker, "
                                          "location, contacts, interactive")),
        (None, {"image": {}}, ("type", "is required with image")),
        ("image", {"video": {}}, ("video", "only the image object goes with type image")),
        ("image", {"image": {}, "video": {}}, ("video", "only the image object goes with type image")),
        ("image", {}, ("image", "is required with type image")),
    ],
)  # fmt: skip
def test_the_type_and_its_object(kind: str | None, objects: dict[str, Any], answer: Any) -> None:
    try:
        found: Any = validation._content_of(kind, objects)
    except errors.ValidationFailed as exc:
        found = (exc.field, exc.message.removeprefix(f"{exc.field}: "))
    assert found == answer
