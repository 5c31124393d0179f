"""Store contract for Meta's template catalogue, on every MessageStore (memory, SQLite,
PostgreSQL): a sync replaces one WABA's templates whole; a webhook changes one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import START
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.core.catalogue import CatalogueTemplate

LATER = START + timedelta(hours=1)
BODY = {"type": "BODY", "text": "Merhaba {{1}}, saat {{2}}. Şimdiden teşekkürler 👋"}


def _t(name: str, language: str = "tr", waba: str = "2001", **kw: object) -> CatalogueTemplate:
    values: dict[str, object] = {
        "waba_id": waba,
        "name": name,
        "language": language,
        "status": "APPROVED",
        "category": "UTILITY",
        "parameter_format": "POSITIONAL",
        "components": (BODY, {"type": "FOOTER", "text": "x"}),
        "updated_at": START,
        "template_id": "1000000000000001",
        "quality": "GREEN",
    }
    return CatalogueTemplate(**(values | kw))  # type: ignore[arg-type]


async def test_a_sync_reads_back_whole_and_in_order(any_store):
    synced = [_t("b_template"), _t("a_template", "en_US"), _t("a_template", "tr")]
    assert await any_store.replace_templates("2001", synced) == 3
    listed = await any_store.list_templates("2001")
    assert [(t.name, t.language) for t in listed] == [
        ("a_template", "en_US"),
        ("a_template", "tr"),
        ("b_template", "tr"),
    ]
    assert listed[2] == synced[0]  # components JSON, quality, id, aware updated_at
    assert listed[2].updated_at.tzinfo is not None


async def test_a_sync_replaces_only_its_own_waba(any_store):
    await any_store.replace_templates("2001", [_t("old"), _t("kept")])
    await any_store.replace_templates("3001", [_t("other", waba="3001")])
    await any_store.replace_templates("2001", [_t("kept", status="PAUSED"), _t("new")])
    assert [(t.name, t.status) for t in await any_store.list_templates("2001")] == [
        ("kept", "PAUSED"),
        ("new", "APPROVED"),
    ]
    assert [t.waba_id for t in await any_store.list_templates()] == ["2001", "2001", "3001"]
    await any_store.replace_templates("2001", [])
    assert await any_store.list_templates("2001") == []
    assert len(await any_store.list_templates()) == 1


async def test_a_large_sync_is_stored_whole(any_store):
    many = [_t(f"t_{i:04d}") for i in range(1200)]
    assert await any_store.replace_templates("2001", many) == 1200
    assert len(await any_store.list_templates("2001")) == 1200


async def test_a_webhook_changes_one_template(any_store):
    await any_store.replace_templates("2001", [_t("one"), _t("one", "en")])
    changed = await any_store.update_template(
        "2001", "one", "tr", {"status": "PAUSED", "quality": "RED"}, LATER
    )
    assert changed == _t("one", status="PAUSED", quality="RED", updated_at=LATER)
    [en, tr] = await any_store.list_templates("2001")
    assert (en.status, tr.status, tr.category) == ("APPROVED", "PAUSED", "UTILITY")
    assert await any_store.update_template("2001", "one", "tr", {"category": "MARKETING"}, LATER)
    assert (await any_store.list_templates("2001"))[1].category == "MARKETING"
    assert await any_store.update_template("2001", "none", "tr", {"status": "X"}, LATER) is None
    assert await any_store.update_template("9", "one", "tr", {"status": "X"}, LATER) is None


async def test_only_webhook_fields_can_change(any_store):
    await any_store.replace_templates("2001", [_t("one")])
    with pytest.raises(errors.ValidationFailed) as caught:
        await any_store.update_template("2001", "one", "tr", {"components": "[]"}, LATER)
    assert caught.value.field == "components"
    assert (await any_store.list_templates("2001"))[0] == _t("one")
