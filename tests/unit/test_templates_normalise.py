"""templates.normalize: shape checks (each refusal names its field) and Meta's send shape."""

from __future__ import annotations

import pytest

from whatsapp_scheduler.core import errors, templates

LONG = "x" * 1025

ACCEPTED = [
    (
        {"name": "hello_world", "language": "en_US"},
        {"name": "hello_world", "language": {"code": "en_US"}},
    ),
    (
        {"name": "hello_world", "language": {"code": "tr", "policy": "deterministic"}},
        {"name": "hello_world", "language": {"code": "tr", "policy": "deterministic"}},
    ),
    (
        {"name": "reminder_2", "language": "tr", "parameters": ["Ada", "10:00"]},
        {
            "name": "reminder_2",
            "language": {"code": "tr"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Ada"},
                        {"type": "text", "text": "10:00"},
                    ],
                }
            ],
        },
    ),
    (
        {"name": "a", "language": "fil", "parameters": []},
        {"name": "a", "language": {"code": "fil"}},
    ),
    (
        {
            "name": "order",
            "language": {"code": "pt_BR"},
            "components": [
                {
                    "type": "header",
                    "parameters": [{"type": "image", "image": {"link": "https://x/y.png"}}],
                },
                {"type": "body", "parameters": [{"type": "text", "text": "Ada"}]},
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": "abc"}],
                },
            ],
        },
        None,  # components are kept as given
    ),
]


@pytest.mark.parametrize(("raw", "expected"), ACCEPTED)
def test_accepted_shapes_become_metas(raw, expected):
    result = templates.normalize(raw)
    if expected is None:
        expected = dict(raw)
    assert result == expected


REFUSED = [
    ("not an object", "template"),
    ({"language": "tr"}, "template.name"),
    ({"name": "", "language": "tr"}, "template.name"),
    ({"name": "Hello", "language": "tr"}, "template.name"),
    ({"name": "hello-world", "language": "tr"}, "template.name"),
    ({"name": "a" * 513, "language": "tr"}, "template.name"),
    ({"name": "ok"}, "template.language"),
    ({"name": "ok", "language": "english"}, "template.language"),
    ({"name": "ok", "language": {"policy": "deterministic"}}, "template.language.code"),
    ({"name": "ok", "language": {"code": "tr", "policy": "fallback"}}, "template.language.policy"),
    ({"name": "ok", "language": {"code": "tr", "x": 1}}, "template.language.x"),
    ({"name": "ok", "language": "tr", "parameters": "Ada"}, "template.parameters"),
    ({"name": "ok", "language": "tr", "parameters": ["Ada", ""]}, "template.parameters[1]"),
    ({"name": "ok", "language": "tr", "parameters": [" "]}, "template.parameters[0]"),
    ({"name": "ok", "language": "tr", "parameters": [3]}, "template.parameters[0]"),
    ({"name": "ok", "language": "tr", "parameters": [LONG]}, "template.parameters[0]"),
    ({"name": "ok", "language": "tr", "parameters": [], "components": []}, "template"),
    ({"name": "ok", "language": "tr", "components": {"type": "body"}}, "template.components"),
    ({"name": "ok", "language": "tr", "components": ["body"]}, "template.components[0]"),
    (
        {"name": "ok", "language": "tr", "components": [{"type": "footer"}]},
        "template.components[0].type",
    ),
    (
        {"name": "ok", "language": "tr", "components": [{"type": "button", "index": "0"}]},
        "template.components[0].sub_type",
    ),
    (
        {"name": "ok", "language": "tr", "components": [{"type": "button", "sub_type": "url"}]},
        "template.components[0].index",
    ),
    (
        {
            "name": "ok",
            "language": "tr",
            "components": [{"type": "body", "parameters": [{"type": "text", "text": ""}]}],
        },
        "template.components[0].parameters[0].text",
    ),
    (
        {
            "name": "ok",
            "language": "tr",
            "components": [{"type": "body", "parameters": [{"text": "x"}]}],
        },
        "template.components[0].parameters[0].type",
    ),
    (
        {
            "name": "ok",
            "language": "tr",
            "components": [{"type": "header", "parameters": [{"type": "image"}]}],
        },
        "template.components[0].parameters[0].image",
    ),
    ({"name": "ok", "language": "tr", "body": "hi"}, "template.body"),
]


@pytest.mark.parametrize(("raw", "field"), REFUSED)
def test_each_refusal_names_the_field(raw, field):
    with pytest.raises(errors.ValidationFailed) as caught:
        templates.normalize(raw)
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}: ")


def test_field_prefix_for_the_fallback():
    with pytest.raises(errors.ValidationFailed) as caught:
        templates.normalize({"name": "X"}, "fallback_template")
    assert caught.value.field == "fallback_template.name"


def test_describe_shows_name_and_language_only():
    template = templates.normalize({"name": "hi", "language": "tr", "parameters": ["secret"]})
    assert templates.describe(template) == "hi (tr)"
