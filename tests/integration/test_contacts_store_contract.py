"""The address book in every MessageStore (in-memory, SQLite file, PostgreSQL): bulk upserts
that set only the fields given, label / attribute / text filters, keyset paging by number,
and the union with contacts known only by a window or consent row (docs/contacts.md)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import START
from whatsapp_scheduler.core import consent, contacts

NUMBER = "106540352242922"
LATER = START + timedelta(hours=1)


def _change(phone: str, **values: Any) -> contacts.Change:
    return contacts.Change(phone, contacts.check_fields(values))


async def test_upsert_sets_only_the_given_fields_and_counts(any_store):
    created = await any_store.upsert_profiles(
        "default",
        [
            _change(
                "+905551110001", name="Ayşe", labels=["vip", "izmir"], timezone="Europe/Istanbul"
            ),
            _change("+905551110002", name="Mehmet", attributes={"city": "Ankara", "visits": 3}),
        ],
        START,
    )
    assert created == (2, 0)
    again = await any_store.upsert_profiles(
        "default", [_change("+905551110001", language="tr"), _change("+905551110003")], LATER
    )
    assert again == (1, 1)
    first = await any_store.get_profile("default", "+905551110001")
    assert first.name == "Ayşe"  # kept: not given the second time
    assert first.language == "tr"
    assert first.labels == ("izmir", "vip")
    assert first.timezone == "Europe/Istanbul"
    assert first.created_at == START
    assert first.updated_at == LATER
    second = await any_store.get_profile("default", "+905551110002")
    assert second.attributes == {"city": "Ankara", "visits": 3}
    assert await any_store.get_profile("other", "+905551110001") is None  # per sender


async def test_labels_are_replaced_and_filtered(any_store):
    await any_store.upsert_profiles(
        "default",
        [_change("+905551110001", labels=["vip"]), _change("+905551110002", labels=["vip", "new"])],
        START,
    )
    await any_store.upsert_profiles("default", [_change("+905551110001", labels=["new"])], LATER)
    page = await any_store.list_profiles("default", [NUMBER], label="vip")
    assert page.wa_ids == ["905551110002"]
    page = await any_store.list_profiles("default", [NUMBER], label="new")
    assert page.wa_ids == ["905551110001", "905551110002"]
    assert (await any_store.list_profiles("other", [NUMBER], label="new")).wa_ids == []


async def test_attribute_and_text_filters(any_store):
    await any_store.upsert_profiles(
        "default",
        [
            _change(
                "+905551110001",
                name="Ayşe Yılmaz",
                attributes={"city": "Izmir", "visits": 3, "vip": True},
            ),
            _change(
                "+905551110002", name="Mehmet Öz", attributes={"city": "Ankara", "visits": 2.5}
            ),
            _change("+905551110003", name="AYŞE Kaya", attributes={"city": {"nested": 1}}),
        ],
        START,
    )

    async def ids(**kw: Any) -> list[str]:
        return (await any_store.list_profiles("default", [NUMBER], **kw)).wa_ids  # type: ignore[no-any-return]

    assert await ids(attributes={"city": "Izmir"}) == ["905551110001"]
    assert await ids(attributes={"visits": "3"}) == ["905551110001"]
    assert await ids(attributes={"visits": "2.5"}) == ["905551110002"]
    assert await ids(attributes={"vip": "true"}) == ["905551110001"]
    assert await ids(attributes={"city": "Izmir", "visits": "2.5"}) == []
    assert await ids(attributes={"missing": "x"}) == []
    assert await ids(text="yılmaz") == ["905551110001"]
    assert await ids(text="Mehmet") == ["905551110002"]
    assert await ids(text="5551110003") == ["905551110003"]
    assert await ids(text="100%") == []  # LIKE's wildcards are literal


async def test_paging_and_the_union_with_window_and_consent(any_store):
    await any_store.upsert_profiles(
        "default", [_change(f"+9055511100{i:02d}") for i in range(5)], START
    )
    await any_store.record_inbound([("905559990001", START)], NUMBER)
    change = consent.ConsentChange(
        "905559990002", consent.Change.OPTED_OUT, consent.Scope.ALL, consent.Source.API, START
    )
    await any_store.record_consent([change], NUMBER, ["default"], START)
    seen: list[str] = []
    after = None
    while True:
        page = await any_store.list_profiles("default", [NUMBER], after=after, limit=3)
        seen += page.wa_ids
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == [f"9055511100{i:02d}" for i in range(5)] + ["905559990001", "905559990002"]
    out = await any_store.list_profiles("default", [NUMBER], opted_out=True)
    assert out.wa_ids == ["905559990002"]
    # a filter lists the address book only
    assert (await any_store.list_profiles("default", [NUMBER], text="55599")).wa_ids == []


async def test_delete_removes_the_profile_and_its_labels(any_store):
    await any_store.upsert_profiles("default", [_change("+905551110001", labels=["vip"])], START)
    assert await any_store.delete_profile("default", "+905551110001") is True
    assert await any_store.delete_profile("default", "+905551110001") is False
    assert await any_store.get_profile("default", "+905551110001") is None
    assert (await any_store.list_profiles("default", [NUMBER], label="vip")).wa_ids == []


async def test_ten_thousand_in_one_upsert(any_store):
    changes = [_change(f"+90555{i:07d}", name=f"n{i}", labels=["bulk"]) for i in range(10_000)]
    assert await any_store.upsert_profiles("default", changes, START) == (10_000, 0)
    found = await any_store.get_profiles("default", ["+905550000000", "+905550009999", "+1"])
    assert sorted(found) == ["+905550000000", "+905550009999"]
    page = await any_store.list_profiles("default", [NUMBER], label="bulk", limit=1000)
    assert len(page.wa_ids) == 1000
    assert page.next_after == "905550000999"


async def test_has_profiles_is_per_sender(any_store):
    assert not await any_store.has_profiles("default")
    await any_store.upsert_profiles("branch", [_change("+905551110009")], START)
    assert (await any_store.has_profiles("default"), await any_store.has_profiles("branch")) == (
        False,
        True,
    )
    await any_store.delete_profile("branch", "+905551110009")
    assert not await any_store.has_profiles("branch")


async def test_audience_overview_counts_what_a_campaign_would_load(any_store):
    """The dashboard's live count: the same recipients as `audience_profiles` plus the
    explicit numbers, counted (not loaded), and a few of them to preview."""
    await any_store.upsert_profiles(
        "default",
        [
            _change("+905551110001", name="A", labels=["vip"], attributes={"city": "Izmir"}),
            _change("+905551110002", name="B", labels=["vip", "new"]),
            _change("+905551110003", name="C", labels=["new"], attributes={"city": "Izmir"}),
            _change("+905551110004", name="D"),
        ],
        START,
    )
    await any_store.upsert_profiles("other", [_change("+905551110005", labels=["vip"])], START)

    async def overview(
        labels: Any, attributes: Any, phones: list[str], sample: int = 2
    ) -> tuple[int, list[str]]:
        count, found = await any_store.audience_overview(
            "default", labels, attributes, phones, sample
        )
        return count, [p.phone for p in found]

    assert await overview(["vip"], {}, []) == (2, ["+905551110001", "+905551110002"])
    assert await overview(["vip", "new"], {}, [], 5) == (
        3,
        ["+905551110001", "+905551110002", "+905551110003"],
    )
    assert await overview(["new"], {"city": "Izmir"}, []) == (1, ["+905551110003"])
    assert await overview(None, {"city": "Izmir"}, []) == (2, ["+905551110001", "+905551110003"])
    # An explicit number already matched counts once; one outside the filter adds one (its
    # profile previewed if it has one); a number without a profile counts but has none.
    assert (await overview(["vip"], {}, ["+905551110001", "+905551110004"], 5))[0] == 3
    assert (await overview(["vip"], {}, ["+905559999999"]))[0] == 3
    assert await overview(None, {}, ["+905551110004", "+905559999999"]) == (2, ["+905551110004"])
    assert await overview(["nobody"], {}, []) == (0, [])
    # Many numbers: counted in chunks (IN lists), each once.
    many = [f"+9055520{n:05d}" for n in range(2500)]
    assert (await overview(["vip"], {}, [*many, "+905551110002"]))[0] == 2502


async def test_audience_profiles_read_the_attributes_back(any_store):
    """What a campaign renders: empty, flat and nested attributes as stored, by number."""
    nested = {"city": "Izmir", "visits": 3, "vip": True, "last": {"order": "A-1", "items": [1, 2]}}
    await any_store.upsert_profiles(
        "default",
        [
            _change("+905551110002", name="Ece", labels=["vip"], attributes=nested),
            _change("+905551110001", name="Ali", labels=["vip"], timezone="Europe/Istanbul"),
            _change("+905551110003", labels=["other"], attributes={"city": "Izmir"}),
        ],
        START,
    )
    found = await any_store.audience_profiles("default", ["vip"], None)
    assert [(p.phone, p.name, p.timezone, p.attributes) for p in found] == [
        ("+905551110001", "Ali", "Europe/Istanbul", {}),
        ("+905551110002", "Ece", None, nested),
    ]
    by_city = await any_store.audience_profiles("default", None, {"city": "Izmir"})
    assert [p.phone for p in by_city] == ["+905551110002", "+905551110003"]
