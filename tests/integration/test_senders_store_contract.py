"""Store contract for senders, on every MessageStore (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import START
from whatsapp_scheduler import store
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.core.messages import MessageStatus
from whatsapp_scheduler.core.senders import Sender

SHOP = Sender(name="shop", phone_number_id="1001", waba_id="2001", messages_per_second=20.0)
ANKARA = Sender(name="ankara", phone_number_id="1002", pair_interval=3.0, enabled=False)
LATER = START + timedelta(hours=1)


async def test_added_senders_are_listed_by_name_and_kept_whole(any_store):
    added = await any_store.add_sender(SHOP, "enc-shop", START)
    assert added == SHOP.evolve(created_at=START, updated_at=START)
    await any_store.add_sender(ANKARA, "enc-ankara", START)
    listed = await any_store.list_senders()
    assert [s.sender.name for s in listed] == ["ankara", "shop"]
    assert listed[0] == store.StoredSender(
        ANKARA.evolve(created_at=START, updated_at=START), "enc-ankara"
    )
    got = await any_store.get_sender("shop")
    assert got is not None
    assert (got.sender, got.token_encrypted) == (added, "enc-shop")
    assert got.sender.created_at == START  # an aware datetime, also on SQLite
    assert await any_store.get_sender("nobody") is None
    assert "enc-shop" not in repr(got)  # the (encrypted) token stays out of logs


@pytest.mark.parametrize(
    ("other", "field"),
    [
        (Sender(name="shop", phone_number_id="9999"), "name"),
        (Sender(name="other", phone_number_id="1001"), "phone_number_id"),
    ],
)
async def test_a_taken_name_or_number_is_refused_and_nothing_changes(any_store, other, field):
    await any_store.add_sender(SHOP, "enc-shop", START)
    with pytest.raises(errors.SenderExists) as refused:
        await any_store.add_sender(other, "enc-other", LATER)
    assert refused.value.field == field
    assert [(s.sender, s.token_encrypted) for s in await any_store.list_senders()] == [
        (SHOP.evolve(created_at=START, updated_at=START), "enc-shop")
    ]


async def test_update_changes_only_the_given_fields(any_store):
    await any_store.add_sender(SHOP, "enc-shop", START)
    updated = await any_store.update_sender(
        "shop", {"enabled": False, "waba_id": None, "token_encrypted": "enc-new"}, LATER
    )
    expected = SHOP.evolve(enabled=False, waba_id=None, created_at=START, updated_at=LATER)
    assert updated == expected
    got = await any_store.get_sender("shop")
    assert got is not None
    assert (got.sender, got.token_encrypted) == (expected, "enc-new")
    assert got.sender.messages_per_second == 20.0  # left as it was
    assert await any_store.update_sender("nobody", {"enabled": True}, LATER) is None


async def test_update_refuses_another_senders_number(any_store):
    await any_store.add_sender(SHOP, "enc-shop", START)
    await any_store.add_sender(ANKARA, "enc-ankara", START)
    with pytest.raises(errors.SenderExists) as refused:
        await any_store.update_sender("ankara", {"phone_number_id": "1001"}, LATER)
    assert refused.value.field == "phone_number_id"
    got = await any_store.get_sender("ankara")
    assert got is not None
    assert got.sender.phone_number_id == "1002"
    # Its own number again is no conflict.
    same = await any_store.update_sender("shop", {"phone_number_id": "1001"}, LATER)
    assert same is not None
    assert same.phone_number_id == "1001"
    with pytest.raises(ValueError, match="name"):
        await any_store.update_sender("shop", {"name": "renamed"}, LATER)


async def test_remove_refuses_while_messages_wait_then_removes(any_store, make_message):
    await any_store.add_sender(SHOP, "enc-shop", START)
    await any_store.add_sender(ANKARA, "enc-ankara", START)
    queued = make_message(sender="shop")
    await any_store.add(queued)
    await any_store.add(make_message(sender="ankara", status=MessageStatus.SENT))
    with pytest.raises(errors.SenderInUse, match="1 message"):
        await any_store.remove_sender("shop")
    assert await any_store.get_sender("shop") is not None  # nothing changed
    assert await any_store.remove_sender("ankara")  # only a sent message: removed
    assert await any_store.get_sender("ankara") is None
    assert not await any_store.remove_sender("ankara")  # twice: there is none
    await any_store.cancel(queued.id, LATER)
    assert await any_store.remove_sender("shop")
    assert await any_store.list_senders() == []
    # The messages keep the sender's name in their history.
    stored = await any_store.get(queued.id)
    assert stored is not None
    assert stored.sender == "shop"


async def test_a_claimed_message_also_keeps_its_sender(any_store, make_message):
    await any_store.add_sender(SHOP, "enc-shop", START)
    await any_store.add(make_message(sender="shop", due_at=START))
    claimed = await any_store.claim_due(START, 10, "w1", LATER)
    assert [m.sender for m in claimed] == ["shop"]
    with pytest.raises(errors.SenderInUse):
        await any_store.remove_sender("shop")
