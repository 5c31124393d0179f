"""The catalogue's pure parts: Meta's list entries read, the checks when scheduled (each rule's
field and message), and Meta's template webhooks parsed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from whatsapp_scheduler.core import catalogue, errors, templates
from whatsapp_scheduler.core.notices import WarningCode
from whatsapp_scheduler.sandbox.catalogue import seeded
from whatsapp_scheduler.whatsapp import template_events

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
WABA = "2001"


def _entries() -> dict[tuple[str, str], catalogue.CatalogueTemplate]:
    parsed = [catalogue.from_meta(raw, WABA, NOW) for raw in seeded()]
    return {t.key: t for t in parsed if t is not None}


def _check(raw: dict[str, Any]) -> Any:
    return catalogue.check(_entries(), templates.normalize(raw))


def test_from_meta_keeps_what_the_checks_need():
    t = _entries()[("siparis_durumu", "tr")]
    assert (t.status, t.category, t.parameter_format, t.quality) == (
        "APPROVED",
        "UTILITY",
        "NAMED",
        "GREEN",
    )
    assert t.body_variables() == ["customer", "order_id"]
    assert t.template_id == "1000000000000003"
    assert catalogue.from_meta({"name": "x"}, WABA, NOW) is None  # no language
    assert catalogue.from_meta("not an object", WABA, NOW) is None
    plain = catalogue.from_meta({"name": "x", "language": "tr"}, WABA, NOW)
    assert plain is not None
    assert (plain.parameter_format, plain.components, plain.quality) == ("POSITIONAL", (), None)


def test_a_matching_template_passes_without_a_warning():
    assert (
        _check({"name": "randevu_hatirlatma", "language": "tr", "parameters": ["a", "b"]}) is None
    )


@pytest.mark.parametrize(
    ("raw", "field", "rule"),
    [
        (
            {"name": "randevu_hatirlatma", "language": "tr", "parameters": ["a"]},
            "template.parameters",
            "'randevu_hatirlatma' (tr) takes 2 body parameters ({{1}}, {{2}}); got 1",
        ),
        (
            {"name": "randevu_hatirlatma", "language": "tr", "parameters": ["a", "b", "c"]},
            "template.parameters",
            "got 3",
        ),
        (
            {"name": "kapanan_kampanya", "language": "tr", "parameters": ["a"]},
            "template.name",
            "is DISABLED",
        ),
        (
            {"name": "randevu_hatirlatma", "language": "fr"},
            "template.language",
            "(it has: en_US, tr)",
        ),
        ({"name": "nope", "language": "tr"}, "template.name", "no template 'nope'"),
        (
            {
                "name": "kampanya_duyurusu",
                "language": "tr",
                "components": [
                    {"type": "header", "parameters": [{"type": "image", "image": {"id": "1"}}]},
                    {"type": "body", "parameters": [{"type": "text", "text": "x"}]},
                ],
            },
            "template.components",
            "COPY_CODE button at index 1",
        ),
        (
            {
                "name": "kampanya_duyurusu",
                "language": "tr",
                "components": [
                    {"type": "header", "parameters": [{"type": "image", "image": {"id": "1"}}]},
                    {"type": "body", "parameters": [{"type": "text", "text": "x"}]},
                    {
                        "type": "button",
                        "sub_type": "copy_code",
                        "index": 1,
                        "parameters": [{"type": "coupon_code", "coupon_code": "X" * 16}],
                    },
                ],
            },
            "template.components",
            "at most 15",
        ),
        (
            {
                "name": "siparis_durumu",
                "language": "tr",
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "parameter_name": "customer", "text": "a"},
                            {"type": "text", "parameter_name": "siparis", "text": "b"},
                        ],
                    }
                ],
            },
            "template.parameters",
            "missing order_id; not in the template: siparis",
        ),
    ],
)
def test_each_broken_rule_names_its_field_and_what_the_template_expects(raw, field, rule):
    with pytest.raises(errors.ValidationFailed) as caught:
        _check(raw)
    assert caught.value.field == field
    assert rule in caught.value.rule


def test_paused_gives_a_warning_and_no_catalogue_another():
    note = _check({"name": "eski_kampanya", "language": "tr", "parameters": ["x"]})
    assert note is not None
    assert note.code == WarningCode.TEMPLATE_PAUSED
    assert note.params == {"template": "'eski_kampanya' (tr)"}
    unchecked = catalogue.unchecked_warning({"name": "x", "language": {"code": "tr"}}, "why")
    assert unchecked.text.startswith("template_unchecked: template could not be checked (why)")


def _webhook(field: str, value: dict[str, Any], waba: Any = WABA) -> dict[str, Any]:
    return {"entry": [{"id": waba, "changes": [{"field": field, "value": value}]}]}


def test_template_webhooks_are_read():
    base = {"message_template_name": "x", "message_template_language": "tr"}
    [status] = template_events.parse(
        _webhook("message_template_status_update", {**base, "event": "REINSTATED"})
    )
    assert (status.waba_id, status.changes) == (WABA, {"status": "APPROVED"})
    [category] = template_events.parse(
        _webhook("template_category_update", {**base, "new_category": "marketing"})
    )
    assert category.changes == {"category": "MARKETING"}
    [quality] = template_events.parse(
        _webhook("message_template_quality_update", {**base, "new_quality_score": "RED"})
    )
    assert quality.changes == {"quality": "RED"}


@pytest.mark.parametrize(
    "payload",
    [
        _webhook("messages", {"statuses": []}),
        _webhook("message_template_status_update", {"event": "PAUSED"}),  # no name
        _webhook(
            "message_template_status_update",
            {"message_template_name": "x", "message_template_language": "tr"},
        ),  # no event
        _webhook(
            "message_template_status_update",
            {"message_template_name": "x", "message_template_language": "tr", "event": 1},
        ),
        _webhook(
            "message_template_status_update",
            {"message_template_name": "x", "message_template_language": "tr", "event": "PAUSED"},
            waba="not-digits",
        ),
        {"entry": "nope"},
        [],
    ],
)
def test_other_or_broken_changes_are_passed_over(payload):
    assert template_events.parse(payload) == []
