"""The bounds of a client's JSON value (`core/jsonbounds.py`): the quick size bound never
lets a value over MAX_BYTES through, and values that are not JSON are still named."""

from __future__ import annotations

import json
import random
import string
from typing import Any

from whatsapp_scheduler.core import jsonbounds

CHARACTERS = string.printable + 'ğüşıöçİ\u0000\ud800😀"\\'


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 4 or roll < 0.3:
        text = "".join(rng.choice(CHARACTERS) for _ in range(rng.randint(0, 40)))
        return rng.choice([None, True, False, 1.7976931348623157e308, -(2**63), 0.1, text])
    if roll < 0.65:
        return {
            "".join(rng.choice(CHARACTERS) for _ in range(rng.randint(0, 8))): _value(
                rng, depth + 1
            )
            for _ in range(rng.randint(0, 5))
        }
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]


def test_the_quick_bound_is_never_under_the_exact_size() -> None:
    rng = random.Random(18)
    for _ in range(5000):
        value = _value(rng)
        exact = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        assert jsonbounds._size_bound(value) >= exact, value


def test_a_value_over_the_bytes_or_not_json_is_named() -> None:
    assert jsonbounds.broken_rule({"body": "x" * 40_000}) == "is 40012 bytes as JSON; at most 32768"
    assert jsonbounds.broken_rule({"a": {1, 2}}) == "is not a JSON value"
    assert jsonbounds.broken_rule({"caption": "ü" * 5000}) is None  # 10 KB: under, without dumps
    deep: Any = "x"
    for _ in range(40):
        deep = [deep]
    assert jsonbounds.broken_rule(deep) == "is nested deeper than 32 levels (at most 32)"


def test_a_flat_object_is_judged_as_the_general_walk_judges_it() -> None:
    # broken_rule's one-pass path for an object of strings and scalars (a media object)
    rng = random.Random(1207)
    for _ in range(2000):
        size = rng.choice([0, 10, 5460, 5470, 16000, 32740, 32760])
        text = rng.choice(["ü", "x"]) * size
        value: dict[str, Any] = {"caption": text, "link": "x" * rng.randint(0, 9)}
        if rng.random() < 0.5:
            value["n"] = rng.choice([None, True, 2**70, 0.5])
        assert jsonbounds._flat_size(value) == jsonbounds._size_bound(value)
        exact = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        expected = (
            None if exact <= jsonbounds.MAX_BYTES else f"is {exact} bytes as JSON; at most 32768"
        )
        assert jsonbounds.broken_rule(value) == expected
    assert jsonbounds._flat_size({"a": {"b": 1}}) is None  # nested: the general walks
    assert jsonbounds._flat_size({1: "x"}) is None  # not a JSON object's key
