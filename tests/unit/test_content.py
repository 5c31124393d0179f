"""The rules of the other message types (core/content.py, docs/message-types.md): any JSON a
client sends is either accepted in Meta's shape or refused with ValidationFailed naming a
field of it, never another exception (which would be a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whatsapp_scheduler.core import content, errors

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
KEYS = st.sampled_from(
    ["type", "body", "text", "action", "buttons", "reply", "id", "title", "sections", "rows",
     "button", "header", "footer", "link", "caption", "name", "parameters", "url",
     "display_text", "latitude", "longitude", "formatted_name", "phones", "filename"]
)  # fmt: skip
SHAPED = st.recursive(
    st.none() | st.integers(-200, 200) | st.sampled_from(["reply", "button", "list", "cta_url",
                                                         "https://a.example.com/x", "", "x" * 30]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=30,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from(content.TYPES), value=JSON | SHAPED)
def test_any_json_is_accepted_or_refused_naming_a_field(kind: str, value: Any) -> None:
    try:
        stored = content.normalize(kind, value)
    except errors.ValidationFailed as exc:
        refused: errors.ValidationFailed | None = exc
    else:
        refused = None
    if refused is not None:
        assert refused.field.split(".")[0].split("[")[0] in (kind, "type")
        return
    assert stored["type"] == kind
    assert content.summary(stored).startswith(f"[{kind}]")
    content.links(stored)


def test_the_limits_are_metas() -> None:
    button = {"type": "reply", "reply": {"id": "a", "title": "x" * 20}}
    ok = {"type": "button", "body": {"text": "b" * 1024}, "action": {"buttons": [button]}}
    assert content.normalize("interactive", ok)["interactive"] == ok
    with pytest.raises(errors.ValidationFailed, match="at most 20"):
        content.normalize(
            "interactive",
            ok
            | {"action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "x" * 21}}]}},
        )
    with pytest.raises(errors.ValidationFailed, match="1,024"):
        content.normalize("interactive", ok | {"body": {"text": "b" * 1025}})
