"""A text campaign on SQLite is stored from its columns (`store.create_campaign_parts`: no
message object per recipient). The same campaigns created through the general path (every
message built, `store.create_campaign`) and through this one, on two databases holding the
same contacts, give the same answers (counts, refused recipients, reasons and rules) and store
the same rows, column by column as SQLite holds them.

The audiences are random: contacts in several time zones (a local time in a DST gap, in the
repeated hour, in the past for some), without the field a placeholder needs, with texts too
long once filled in or empty, opted out, with a recent or an old inbound message (under
WINDOW_POLICY send and fail), explicit numbers (some invalid) and a CSV, pacing, a dry run."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import sqlite3
import types
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from whatsapp_scheduler import bootstrap, settings
from whatsapp_scheduler.core import campaigns, consent, messages
from whatsapp_scheduler.service import campaigns as campaigns_mod
from whatsapp_scheduler.service import scheduler, validation
from whatsapp_scheduler.store import migrate, sql
from whatsapp_scheduler.testing import FrozenClock

#: Before Europe's DST gap of 31 March 2030; 02:30 that night has already passed in the zones
#: east of UTC+5.
NOW = datetime(2030, 3, 30, 22, 0, tzinfo=UTC)
ZONES = [
    None, "Europe/Istanbul", "America/New_York", "Europe/Berlin", "Europe/London",
    "Asia/Kolkata", "Australia/Lord_Howe", "UTC",
]  # fmt: skip
CITIES = ["Ankara", "İzmir", "Köln", None]
TABLES = ("messages", "campaigns", "campaign_tallies", "campaign_tally_deltas")


@dataclasses.dataclass
class World:
    service: scheduler.SchedulerService
    store: sql.SqlMessageStore
    path: str


def _people(rng: random.Random, count: int) -> list[dict[str, Any]]:
    people = []
    for number in rng.sample(range(1_000_000, 9_999_999), count):
        person: dict[str, Any] = {"phone": f"+90555{number}", "labels": []}
        if rng.random() < 0.85:
            person["name"] = rng.choice(["Ayşe", "Bob", "Cem", "Zoë 🙂", "X" * 200])
        zone = rng.choice(ZONES)
        if zone is not None:
            person["timezone"] = zone
        for label in ("a", "b"):
            if rng.random() < 0.6:
                person["labels"].append(label)
        attributes: dict[str, Any] = {}
        city = rng.choice(CITIES)
        if city is not None:
            attributes["city"] = city
        if rng.random() < 0.3:
            attributes["note"] = "n" * rng.choice([10, 100, 400])
        if rng.random() < 0.2:
            attributes["vip"] = rng.choice([True, 3, "yes"])
        person["attributes"] = attributes
        people.append(person)
    return people


def _requests(
    rng: random.Random, people: list[dict[str, Any]]
) -> list[campaigns_mod.CampaignRequest]:
    phones = [p["phone"] for p in rng.sample(people, 30)] + ["12", "+1 202 555 0101", "abc"]
    rows = ["phone,name,timezone"] + [
        f"{p['phone']},Dosya {i},{rng.choice(['Europe/Berlin', 'UTC', ''])}"
        for i, p in enumerate(rng.sample(people, 20))
    ]
    rows.append("not-a-number,Kimse,")
    request = campaigns_mod.CampaignRequest
    return [
        request(  # each contact's own zone, 02:30 in Europe's DST gap, past in the east
            name="gap", tarih="2030-03-31", saat="02:30", timezone="Europe/Berlin",
            local_time=True, labels=["a"], mesaj="Merhaba {{name}}, {{attributes.city|İstanbul}}",
        ),
        request(  # absolute and paced; long notes too long once filled in, no name refused
            name="long", tarih="2030-04-02", saat="10:00", timezone="Europe/Istanbul",
            pacing_minutes=90, labels=["b"], mesaj="{{name}}: " + "{{attributes.note|-}} " * 12,
        ),
        request(  # the repeated hour of October, every zone
            name="fold", tarih="2030-10-27", saat="02:30", timezone="Europe/Berlin",
            local_time=True, labels=["a", "b"], mesaj="Hi {{name|friend}} {{attributes.vip|}}",
        ),
        request(  # explicit numbers (some invalid) and a CSV's rows over the stored profiles
            name="lists", tarih="2030-04-01", saat="08:00", phones=phones,
            csv="\n".join(rows) + "\n", local_time=True, pacing_minutes=7,
            mesaj="Sayın {{name|müşteri}}, {{timezone|?}}", created_by="ops",
        ),
        request(  # an attribute's filter, a dry run
            name="dry", tarih="2030-04-01", saat="09:00", attributes={"city": "Ankara"},
            dry_run=True, mesaj="{{attributes.city}}",
        ),
        request(  # empty once filled in for those without a note
            name="empty", tarih="2030-04-01", saat="09:00", labels=["b"],
            mesaj="{{attributes.note| }}",
        ),
    ]  # fmt: skip


@contextlib.asynccontextmanager
async def _world(
    path: Path, policy: str, people: list[dict[str, Any]], rng: random.Random
) -> AsyncIterator[World]:
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    values: dict[str, Any] = {"api_key": "k" * 32, "window_policy": policy, "_env_file": None}
    config = settings.Settings(database_url=url, sandbox=True, **values)
    store = sql.SqlMessageStore.from_url(url)
    try:
        service = bootstrap.build_service(config, store, FrozenClock(NOW))
        answer = await service.contacts.upsert(people, None, None)
        assert not answer.refused
        for person in people:
            draw = rng.random()
            if draw < 0.1:
                scope = rng.choice([consent.Scope.ALL, consent.Scope.MARKETING])
                change = consent.Change.OPTED_OUT
                await service.consent.put(person["phone"], None, None, change, scope, None, None)
            elif draw < 0.3:
                wrote = NOW - timedelta(hours=rng.choice([1, 20, 30, 200]))
                await store.record_inbound([(person["phone"].lstrip("+"), wrote)])
        yield World(service, store, str(path))
    finally:
        await store.close()


def _answer(created: campaigns_mod.Created) -> dict[str, Any]:
    return {
        "campaign": created.campaign,
        "reasons": created.reasons,
        "stored": created.stored,
        "refusals": [
            (
                r.phone,
                r.reason,
                r.field,
                r.rule,
                type(r.error).__name__,
                None if r.error is None else r.error.template,
                None if r.error is None else r.error.params,
            )
            for r in created.refusals
        ],
    }


def _tables(path: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the campaigns' tables as SQLite holds it (text, numbers, NULLs)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in TABLES}


@contextlib.contextmanager
def _ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Campaign ids from a list (the same in both worlds)."""
    queue: list[str] = []
    monkeypatch.setattr(
        campaigns_mod, "secrets", types.SimpleNamespace(token_hex=lambda _: queue.pop(0))
    )
    yield queue


@pytest.mark.parametrize("policy", ["send", "fail"])
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("part_rows", [7, campaigns_mod.PART_ROWS])
async def test_the_columns_store_what_the_messages_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str, seed: int, part_rows: int
) -> None:
    monkeypatch.setattr(campaigns_mod, "PART_ROWS", part_rows)  # 7: many parts a campaign
    people = _people(random.Random(seed), 240)
    requests = _requests(random.Random(seed), people)
    stored: list[str] = []
    reasons: set[str] = set()
    shifted = 0
    given: list[list[messages.ScheduledMessage]] = []  # the general path's messages
    columns: list[list[campaigns.Rows]] = []  # the same campaigns' parts
    real_parts = sql.SqlMessageStore.create_campaign_parts
    real_messages = sql.SqlMessageStore.create_campaign

    async def parts_spy(
        self: sql.SqlMessageStore, produce: campaigns.Produce
    ) -> tuple[campaigns.Campaign, int]:
        parts: list[campaigns.Rows] = []
        columns.append(parts)

        def producing(put: Callable[[campaigns.Rows], None]) -> campaigns.Campaign:
            def seen(part: campaigns.Rows) -> None:
                parts.append(part)
                put(part)

            return produce(seen)

        return await real_parts(self, producing)

    async def messages_spy(
        self: sql.SqlMessageStore,
        campaign: campaigns.Campaign,
        batch: Sequence[messages.ScheduledMessage],
    ) -> int:
        given.append(list(batch))
        return await real_messages(self, campaign, batch)

    def no_objects(self: campaigns.Rows) -> list[Any]:
        raise AssertionError("the rows were built as messages")

    monkeypatch.setattr(sql.SqlMessageStore, "create_campaign_parts", parts_spy)
    monkeypatch.setattr(sql.SqlMessageStore, "create_campaign", messages_spy)
    async with (
        _world(tmp_path / "old.db", policy, people, random.Random(seed)) as old,
        _world(tmp_path / "new.db", policy, people, random.Random(seed)) as new,
    ):
        monkeypatch.setattr(old.store, "stores_campaign_rows", lambda: False)
        with _ids(monkeypatch) as queue:
            for number, request in enumerate(requests):
                queue.extend([f"{seed}{number:015d}"] * 2)
                before = _answer(await old.service.campaigns.create(request))
                with monkeypatch.context() as patched:
                    patched.setattr(campaigns.Rows, "built", no_objects)
                    after = _answer(await new.service.campaigns.create(request))
                assert after == before, request.name
                reasons.update(after["reasons"])
                shifted += after["campaign"].shifted
                if after["stored"]:
                    stored.append(request.name)
        await old.store._run(lambda: None)
        await new.store._run(lambda: None)
        stored_old, stored_new = _tables(old.path), _tables(new.path)
    for table in TABLES:
        assert stored_new[table] == stored_old[table], table
    assert len(stored_new["messages"]) > (100 if policy == "send" else 3)
    stored_parts = [parts for parts in columns if parts]  # none: nobody passed
    assert len(stored_parts) == len(stored)  # every stored campaign took the columns' path
    assert len(given) == len(stored)
    # The rows as messages (what PostgreSQL and a taken id are given) are the general path's.
    assert [[m for part in parts for m in part.built()] for parts in stored_parts] == given
    assert {"opted_out", "time", "missing_field", "content", "invalid_phone"} <= reasons
    assert shifted > 0  # local times in the DST gap


async def test_a_failure_while_the_parts_are_made_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store thread inserts parts while the next are made: should making one fail, the
    transaction is rolled back (no campaign, no message) and the store goes on."""
    people = _people(random.Random(3), 60)
    monkeypatch.setattr(campaigns_mod, "PART_ROWS", 5)
    real = validation.text_like
    calls = iter(range(1000))

    def failing(*args: Any, **kwargs: Any) -> tuple[str, str]:
        if next(calls) == 30:
            raise RuntimeError("broken")
        return real(*args, **kwargs)

    async with _world(tmp_path / "f.db", "send", people, random.Random(3)) as world:
        request = campaigns_mod.CampaignRequest(
            name="x", tarih="2030-04-01", saat="09:00", labels=["a", "b"], mesaj="Hi {{name|x}}"
        )
        monkeypatch.setattr(validation, "text_like", failing)
        with pytest.raises(RuntimeError):
            await world.service.campaigns.create(request)
        monkeypatch.setattr(validation, "text_like", real)
        await world.store._run(lambda: None)
        assert all(not rows for rows in _tables(world.path).values())
        made = await world.service.campaigns.create(request)
        assert made.stored
        assert len(_tables(world.path)["messages"]) == made.campaign.recipients
