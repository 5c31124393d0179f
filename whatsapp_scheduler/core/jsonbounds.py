"""Bounds on a JSON value a client sends (a template's components, ...). Pure.

A value nested deeper than MAX_DEPTH or larger than MAX_BYTES is refused before anything is
stored: deeper values could not be written back out (pydantic's serializer gives up at a few
hundred levels, Python's `json` at ~1,000), so one stored row made every list that held it
fail. The walk is iterative, so even a value nested thousands of levels deep is measured
without recursion. `broken_rule` is the same check for a value read back from the database:
rows stored before these bounds existed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Levels of objects and arrays (a flat `{"name": "x"}` is depth 1). Meta's deepest template
#: shape (carousel > cards > components > parameters > a media object) is under 10.
MAX_DEPTH = 32
#: The value as UTF-8 JSON. Meta's largest template message (a 1,024-character body, header,
#: buttons, carousel cards) is a few KB; POST /schedule takes 64 KiB bodies, a batch 1 MiB.
MAX_BYTES = 32 * 1024


def depth_over(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` nests objects and arrays more than `limit` levels deep."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _size_bound(value: Any) -> int:
    """An upper bound of `value`'s size as UTF-8 JSON, without encoding it: a string at most
    6 bytes a character (`\\u0000`, or 4 bytes of UTF-8) plus its quotes, a number or a
    literal at most 32 (a float's repr is at most 24), each member's separators 4; anything
    else is over the bound, so `json.dumps` judges it. A value under MAX_BYTES by this bound is
    under it for sure (the common case: a message's small object), so `json.dumps` is only
    needed near the bound."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += 6 * len(item) + 2
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            for key, child in item.items():
                total += 6 * len(str(key)) + 2
                stack.append(child)
        elif isinstance(item, list | tuple):
            total += 2 + 4 * len(item)
            stack.extend(item)
        elif item is None or isinstance(item, int | float):  # bool is an int
            total += 32
        else:  # not a JSON value: let json.dumps say so
            return MAX_BYTES + 1
    return total


#: The scalar types of a flat object's fast path (`_flat_size`); bool is an int's subclass.
_SCALARS = frozenset({int, float, bool, type(None)})


def _flat_size(value: dict[Any, Any]) -> int | None:
    """`_size_bound` of an object whose keys are strings and whose members are strings or
    scalars (a media object, one depth level), in one pass; None for any other object (the
    general walks judge it)."""
    total = 2 + 4 * len(value)
    for key, item in value.items():
        if type(key) is not str:
            return None
        if type(item) is str:
            total += 6 * len(item) + 2
        elif type(item) in _SCALARS:
            total += 32
        else:
            return None
        total += 6 * len(key) + 2
    return total


def broken_rule(value: Any) -> str | None:
    """The bound `value` breaks, as a rule to show ("is nested deeper than ..."), or None."""
    if type(value) is dict:  # the common case, a message's flat object: one pass, not three
        flat = _flat_size(value)
        if flat is not None and flat <= MAX_BYTES:
            return None
    if depth_over(value):
        return f"is nested deeper than {MAX_DEPTH} levels (at most {MAX_DEPTH})"
    if _size_bound(value) <= MAX_BYTES:
        return None
    try:
        size = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError):
        return "is not a JSON value"
    if size > MAX_BYTES:
        return f"is {size} bytes as JSON; at most {MAX_BYTES}"
    return None


def strings(value: Any, *, keys: bool = False) -> list[str]:
    """Every string in a JSON value (and each object's keys, with `keys`), in no set order.
    A walk with a stack, not a recursion: the service runs it for every message that is
    not a plain text."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, Mapping):
            if keys:
                found.extend(str(key) for key in item)
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found
