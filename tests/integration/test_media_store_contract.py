"""Store contract for uploaded files (docs/media.md), on every MessageStore (memory, SQLite,
PostgreSQL): a file is used only once complete, its chunks come back in order, Meta's ids
expire, retention's choice and the pre-upload's list follow the messages that send a file."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import START
from whatsapp_scheduler import testing
from whatsapp_scheduler.core import media, messages

DAY = timedelta(days=1)


def _file(media_id: str = "med_a", at: object = START) -> media.MediaFile:
    return media.MediaFile(media_id, "image", "image/jpeg", 0, "", at, "a.jpg", "app")  # type: ignore[arg-type]


def _sending(message_id: str, media_id: str, **changes: Any) -> messages.ScheduledMessage:
    content = {"type": "image", "image": {"id": media_id, "caption": "c"}}
    return testing.make_message(message_id, START + DAY, body=None, content=content, **changes)


async def test_a_file_is_used_only_once_complete_and_reads_back_in_order(any_store):
    await any_store.begin_media(_file())
    assert await any_store.get_media("med_a") is None  # begun, not complete
    for seq, part in enumerate((b"\xff\xd8", b"ab", b"c")):
        await any_store.put_media_chunk("med_a", seq, part)
    done = await any_store.finish_media("med_a", 5, "d" * 64)
    assert done is not None
    assert (done.size, done.sha256, done.filename, done.created_by) == (5, "d" * 64, "a.jpg", "app")
    assert await any_store.get_media("med_a") == done
    assert [await any_store.media_chunk("med_a", s) for s in range(4)] == [
        b"\xff\xd8",
        b"ab",
        b"c",
        None,
    ]
    assert await any_store.finish_media("med_none", 1, "x") is None


async def test_metas_ids_are_kept_until_they_expire_and_can_be_dropped(any_store):
    await any_store.begin_media(_file())
    await any_store.save_meta_media_id("med_a", "111", "m1", START + DAY)
    await any_store.save_meta_media_id("med_a", "111", "m2", START + 2 * DAY)  # replaced
    assert await any_store.meta_media_id("med_a", "111", START) == "m2"
    assert await any_store.meta_media_id("med_a", "222", START) is None  # per number
    assert await any_store.meta_media_id("med_a", "111", START + 2 * DAY) is None  # expired
    await any_store.drop_meta_media_id("med_a", "111")
    assert await any_store.meta_media_id("med_a", "111", START) is None


async def test_deleting_removes_the_row_its_bytes_and_metas_ids(any_store):
    await any_store.begin_media(_file())
    await any_store.put_media_chunk("med_a", 0, b"x")
    await any_store.finish_media("med_a", 1, "x")
    await any_store.save_meta_media_id("med_a", "111", "m1", START + DAY)
    removed = await any_store.delete_media("med_a")
    assert removed is not None
    assert removed.id == "med_a"
    assert await any_store.get_media("med_a") is None
    assert await any_store.media_chunk("med_a", 0) is None
    assert await any_store.meta_media_id("med_a", "111", START) is None
    assert await any_store.delete_media("med_a") is None


async def test_retention_and_preupload_follow_the_messages_that_send_a_file(any_store):
    for name in ("med_used", "med_done", "med_unused", "med_cut"):
        await any_store.begin_media(_file(name))
        if name != "med_cut":
            await any_store.finish_media(name, 1, "x")
    await any_store.add_many(
        [
            _sending("q", "med_used"),
            _sending("s", "med_done", status=messages.MessageStatus.SENT, updated_at=START),
        ]
    )
    assert await any_store.media_in_use("med_used") == 1
    assert await any_store.media_in_use("med_done") == 0
    assert await any_store.due_media(START, 10) == []  # due tomorrow
    assert await any_store.due_media(START + DAY, 10) == [("med_used", "default")]
    later = START + 31 * DAY
    expired = await any_store.expired_media(later - 30 * DAY + DAY, later - timedelta(hours=1), 10)
    # The queued message keeps its file; the sent one's was last changed at START.
    assert set(expired) == {"med_done", "med_unused", "med_cut"}
    assert await any_store.expired_media(START, START, 10) == []  # nothing old enough
    assert len(await any_store.expired_media(later, later, 2)) == 2  # at most `limit`
