"""Uploaded files' rules (core/media.py) and how they are sent (dispatch/media.py): the type
from the bytes, Meta's limits, the ids of ours a message names, Meta's id put in the payload;
one upload per number, the cache, and a 131053 answered with one new upload and one resend."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from tests import media_files
from whatsapp_scheduler import testing, whatsapp
from whatsapp_scheduler.core import errors, media, messages
from whatsapp_scheduler.dispatch import media as dispatch_media


def _check(data: bytes) -> tuple[str, str]:
    return media.check(io.BytesIO(data), len(data))


def test_the_type_comes_from_the_bytes() -> None:
    assert _check(media_files.jpeg()) == ("image", "image/jpeg")
    assert _check(media_files.png()) == ("image", "image/png")
    assert _check(media_files.pdf()) == ("document", "application/pdf")
    assert _check(media_files.text()) == ("document", "text/plain")
    assert _check(media_files.webp()) == ("sticker", "image/webp")
    assert _check(media_files.mp4()) == ("video", "video/mp4")
    assert _check(media_files.mp4(moov_last=True)) == ("video", "video/mp4")
    assert _check(media_files.mp4(codecs=(b"avc1",))) == ("video", "video/mp4")  # no sound
    assert _check(media_files.ogg_opus()) == ("audio", "audio/ogg")
    assert _check(media_files.mp3()) == ("audio", "audio/mpeg")


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (media_files.gif(), errors.ValidationFailed, "image/gif"),
        (media_files.mp4(codecs=(b"mp4a",)), errors.ValidationFailed, "H.264"),
        (media_files.mp4(codecs=(b"avc1", b"ac-3")), errors.ValidationFailed, "ac-3"),
        (media_files.ogg_vorbis(), errors.ValidationFailed, "Opus"),
        (b"\x00\x01binary\x00", errors.ValidationFailed, "WhatsApp takes"),
        (media_files.jpeg(5 * 1024 * 1024 + 1), errors.TooLarge, "5.0 MB"),
        (media_files.pdf(100 * 1024 * 1024 + 1), errors.TooLarge, "100.0 MB"),
        (media_files.webp(100 * 1024 + 1), errors.TooLarge, "100 KB"),
    ],
)
def test_what_meta_refuses_is_refused(data: bytes, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words.replace(".", r"\.")):
        _check(data)


def test_a_file_name_is_at_most_240_characters_without_control_characters() -> None:
    data = media_files.pdf()
    assert media.check(io.BytesIO(data), len(data), "ğ" * 240) == ("document", "application/pdf")
    for name in ("ğ" * 241, "a\x00b.pdf", "a\nb.pdf"):
        with pytest.raises(errors.ValidationFailed, match="filename"):
            media.check(io.BytesIO(data), len(data), name)


def test_an_animated_sticker_may_be_500_kb() -> None:
    assert media.webp_animated(media_files.webp(animated=True))
    assert not media.webp_animated(media_files.webp())
    assert _check(media_files.webp(500 * 1024, animated=True))[0] == "sticker"


def test_text_with_a_cut_last_character_is_text_but_control_bytes_are_not() -> None:
    assert media.identify("ğüşiöç".encode() * 3000) == "text/plain"  # cut at HEAD_BYTES
    assert media.identify(b"plain\x07bell") is None


CONTENT = {"type": "image", "image": {"id": "med_1", "caption": "c"}}
HEADER = {
    "type": "interactive",
    "interactive": {"type": "button", "header": {"type": "video", "video": {"id": "med_2"}}},
}
TEMPLATE: dict[str, Any] = {
    "name": "t",
    "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "med_3"}]},
        {"type": "header", "parameters": [{"type": "document", "document": {"id": "med_3"}}]},
    ],
}


def test_the_ids_of_ours_a_message_names() -> None:
    assert media.references(CONTENT, None) == [("image.id", "image", "med_1")]
    assert media.references(HEADER, None) == [("interactive.header.video.id", "video", "med_2")]
    assert media.references(None, TEMPLATE) == [
        ("template.components[1].parameters[0].document.id", "document", "med_3")
    ]
    assert media.referenced_id({"type": "image", "image": {"id": "4490709327384033"}}, None) is None
    assert media.referenced_id({"type": "image", "image": {"link": "https://a.b/c"}}, None) is None


def test_metas_id_replaces_ours_in_the_payload_only() -> None:
    sent = media.with_meta_id(TEMPLATE, "med_3", "991")
    assert sent["components"][1]["parameters"][0]["document"] == {"id": "991"}
    assert sent["components"][0]["parameters"][0]["text"] == "med_3"  # a text stays a text
    assert TEMPLATE["components"][1]["parameters"][0]["document"] == {"id": "med_3"}


class FakeNumber:
    """A number's sender: uploads answer ids in turn; sends fail with `fail_codes` first."""

    phone_number_id = "111"

    def __init__(self, fail_codes: list[int] | None = None) -> None:
        self.uploaded: list[bytes] = []
        self.sent: list[messages.ScheduledMessage] = []
        self.fail_codes = list(fail_codes or [])
        self.gate: asyncio.Event | None = None

    async def upload_media(
        self, chunks: AsyncIterator[bytes], mime: str, filename: str | None
    ) -> str:
        if self.gate is not None:
            await self.gate.wait()
        self.uploaded.append(b"".join([c async for c in chunks]))
        return f"meta-{len(self.uploaded)}"

    async def send(self, message: messages.ScheduledMessage) -> whatsapp.SendReceipt:
        self.sent.append(message)
        if self.fail_codes:
            code = self.fail_codes.pop(0)
            raise errors.PermanentFailure("refused", code=code)
        return whatsapp.SendReceipt(wamid=f"wamid.{len(self.sent)}", wa_id=None)


async def _stored(
    store: testing.InMemoryMessageStore, clock: testing.FrozenClock, data: bytes
) -> str:
    file = media.MediaFile("med_a", "image", "image/jpeg", 0, "", clock.now(), "a.jpg")
    await store.begin_media(file)
    await store.put_media_chunk("med_a", 0, data[:10])
    await store.put_media_chunk("med_a", 1, data[10:])
    await store.finish_media("med_a", len(data), "x")
    return "med_a"


def _message(clock: testing.FrozenClock, message_id: str = "m1") -> messages.ScheduledMessage:
    content = {"type": "image", "image": {"id": "med_a", "caption": "c"}}
    return testing.make_message(message_id, clock.now(), body=None, content=content)


async def test_a_file_is_uploaded_once_then_sent_by_metas_id_from_the_cache() -> None:
    store, clock = testing.InMemoryMessageStore(), testing.FrozenClock()
    data = media_files.jpeg()
    await _stored(store, clock, data)
    number = FakeNumber()
    sender = dispatch_media.UploadingSender(number, dispatch_media.MediaUploads(store, clock))
    await sender.send(_message(clock, "m1"))
    await sender.send(_message(clock, "m2"))
    assert number.uploaded == [data]
    assert [m.content["image"]["id"] for m in number.sent if m.content] == ["meta-1", "meta-1"]
    clock.advance(timedelta(days=29, seconds=1))  # Meta's id is about to expire: upload again
    await sender.send(_message(clock, "m3"))
    assert len(number.uploaded) == 2


async def test_131053_uploads_again_and_resends_once_other_refusals_stand() -> None:
    store, clock = testing.InMemoryMessageStore(), testing.FrozenClock()
    await _stored(store, clock, media_files.jpeg())
    number = FakeNumber(fail_codes=[131053])
    sender = dispatch_media.UploadingSender(number, dispatch_media.MediaUploads(store, clock))
    receipt = await sender.send(_message(clock))
    assert receipt.wamid == "wamid.2"
    assert [m.content["image"]["id"] for m in number.sent if m.content] == ["meta-1", "meta-2"]
    number.fail_codes = [131053, 131053]  # still refused after the new upload: it fails
    with pytest.raises(errors.PermanentFailure):
        await sender.send(_message(clock, "m2"))
    number.fail_codes = [131026]  # not a media error: no new upload
    uploads = len(number.uploaded)
    with pytest.raises(errors.PermanentFailure):
        await sender.send(_message(clock, "m3"))
    assert len(number.uploaded) == uploads


async def test_messages_of_one_file_at_once_share_one_upload() -> None:
    store, clock = testing.InMemoryMessageStore(), testing.FrozenClock()
    await _stored(store, clock, media_files.jpeg())
    number = FakeNumber()
    number.gate = asyncio.Event()
    sender = dispatch_media.UploadingSender(number, dispatch_media.MediaUploads(store, clock))
    sends = [asyncio.create_task(sender.send(_message(clock, f"m{i}"))) for i in range(5)]
    await asyncio.sleep(0.01)
    number.gate.set()
    await asyncio.gather(*sends)
    assert len(number.uploaded) == 1
    assert len(number.sent) == 5


async def test_a_removed_file_fails_the_message_naming_why() -> None:
    store, clock = testing.InMemoryMessageStore(), testing.FrozenClock()
    sender = dispatch_media.UploadingSender(FakeNumber(), dispatch_media.MediaUploads(store, clock))
    with pytest.raises(errors.PermanentFailure, match="no longer stored"):
        await sender.send(_message(clock))


async def test_text_goes_straight_through() -> None:
    store, clock = testing.InMemoryMessageStore(), testing.FrozenClock()
    number = FakeNumber()
    sender = dispatch_media.UploadingSender(number, dispatch_media.MediaUploads(store, clock))
    text = testing.make_message("t", clock.now())
    await sender.send(text)
    assert number.sent == [text]
    assert sender.phone_number_id == "111"  # other attributes are the number's


async def test_a_file_that_cannot_be_read_now_is_tried_later_one_in_no_store_fails() -> None:
    store, clock = testing.InMemoryMessageStore(), testing.FrozenClock()
    await _stored(store, clock, media_files.jpeg())

    async def down(media_id: str, seq: int) -> bytes | None:
        raise errors.StoreError("database error: OperationalError")

    store.media_chunk = down  # type: ignore[method-assign]
    sender = dispatch_media.UploadingSender(FakeNumber(), dispatch_media.MediaUploads(store, clock))
    with pytest.raises(errors.TemporaryFailure, match="not read"):
        await sender.send(_message(clock))
    elsewhere = media.MediaFile(
        "med_b", "image", "image/jpeg", 3, "x", clock.now(), location="s3://bucket/med_b"
    )
    await store.begin_media(elsewhere)
    await store.finish_media("med_b", 3, "x")
    content = {"type": "image", "image": {"id": "med_b"}}
    message = testing.make_message("m-b", clock.now(), body=None, content=content)
    with pytest.raises(errors.PermanentFailure, match="MEDIA_URL is not set"):
        await sender.send(message)
