"""`{{date}}` in template parameters (core/dates.py, docs/series.md)."""

from __future__ import annotations

from typing import Any

from whatsapp_scheduler.core import dates


def _template(language: str, *texts: str) -> dict[str, Any]:
    return {
        "name": "randevu",
        "language": {"code": language},
        "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x"}}]},
            {"type": "body", "parameters": [{"type": "text", "text": t} for t in texts]},
        ],
    }


def test_each_placeholder_is_the_date_in_the_templates_language():
    filled = dates.with_date(_template("tr", "Ada", "{{date}} ve {{ date }}"), "2026-12-03")
    body = filled["components"][1]["parameters"]
    assert [p["text"] for p in body] == ["Ada", "3 Aralık 2026 ve 3 Aralık 2026"]
    assert filled["components"][0] == _template("tr")["components"][0]  # media untouched
    english = dates.with_date(_template("en_US", "on {{date}}"), "2026-12-03")
    assert english["components"][1]["parameters"][0]["text"] == "on December 3, 2026"


def test_a_template_without_it_is_returned_as_is_and_unknown_languages_get_iso():
    plain = _template("tr", "Ada")
    assert dates.with_date(plain, "2026-12-03") is plain
    assert not dates.has_date(None)
    odd = dates.with_date(_template("xx", "{{date}}"), "2026-12-03")
    assert odd["components"][1]["parameters"][0]["text"] == "2026-12-03"
    assert dates.spelled("not a date", "tr") == "not a date"
    # `{{dates}}` or `{date}` are not the placeholder
    other = dates.with_date(_template("tr", "{{dates}} {date}"), "2026-12-03")
    assert other["components"][1]["parameters"][0]["text"] == "{{dates}} {date}"
