"""`/media` over real HTTP on a real SQLite file and PostgreSQL (docs/media.md): an upload is
stored in chunks and read back byte for byte; its type comes from its bytes; Meta's per-type
limits are 413/422 naming the rule with nothing stored; messages name our ids, checked at
schedule time; MEDIA_RETENTION removes a file only once no message needs it."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from tests import media_files
from tests.conftest import API_KEY
from tests.integration.conftest import APP_SECRET, VERIFY_TOKEN, served_api
from whatsapp_scheduler import store as store_mod
from whatsapp_scheduler.core.messages import AttemptOutcome, MessageStatus
from whatsapp_scheduler.service import media as media_service
from whatsapp_scheduler.store import tables

PHONE = "+905551230101"
LATER = {"tarih": "2026-03-02", "saat": "10:00"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def both_api(request, make_settings, clock):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    settings = make_settings(
        database_url=url, app_secret=APP_SECRET, webhook_verify_token=VERIFY_TOKEN
    )
    async with served_api(settings, clock, url) as client:
        client.clock = clock
        yield client


async def _upload(api: Any, data: bytes, name: str = "a.bin", mime: str = "application/x") -> Any:
    return await api.post("/media", files={"file": (name, data, mime)})


async def test_an_upload_is_stored_and_read_back_byte_for_byte(both_api):
    data = media_files.pdf(size=700 * 1024)  # three chunks of the table
    answer = await _upload(both_api, data, "Fatura Ağustos.pdf", "image/jpeg")  # the name lies
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["id"].startswith("med_")
    assert len(body["id"]) == 36
    assert (body["type"], body["mime_type"], body["size"]) == (
        "document",
        "application/pdf",
        len(data),
    )
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["filename"] == "Fatura Ağustos.pdf"
    assert len(data) > 2 * tables.CHUNK_BYTES
    assert (await both_api.get(f"/media/{body['id']}")).json() == body
    content = await both_api.get(f"/media/{body['id']}/content")
    assert content.status_code == 200
    assert content.content == data
    assert content.headers["content-type"] == "application/pdf"
    assert content.headers["content-disposition"].startswith("attachment;")
    assert (await both_api.get("/media/med_0000/content")).status_code == 404


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (media_files.gif(), 422, "it is image/gif"),
        (media_files.zip_file(), 422, "it is application/zip"),
        (media_files.ogg_vorbis(), 422, "Opus"),
        (media_files.mp4(codecs=(b"hvc1", b"mp4a")), 422, "H.264"),
        (media_files.jpeg(size=5 * 1024 * 1024 + 1), 413, "at most 5.0 MB"),
        (media_files.webp(size=100 * 1024 + 1), 413, "at most 100 KB"),
        (media_files.webp(size=500 * 1024 + 1, animated=True), 413, "animated sticker"),
        (b"", 422, "empty"),
    ],
    ids=["gif", "zip", "vorbis", "hevc", "big-jpeg", "big-sticker", "big-animated", "empty"],
)
async def test_what_meta_would_refuse_is_refused_naming_the_rule(both_api, data, status, words):
    answer = await _upload(both_api, data)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["errors"][0]["field"] == "file"
    assert words in body["detail"]


async def test_what_meta_takes_is_taken_at_its_limit(both_api):
    for data, kind in [
        (media_files.jpeg(size=5 * 1024 * 1024), "image"),
        (media_files.png(), "image"),
        (media_files.webp(size=100 * 1024), "sticker"),
        (media_files.webp(size=500 * 1024, animated=True), "sticker"),
        (media_files.mp4(moov_last=True), "video"),
        (media_files.ogg_opus(), "audio"),
        (media_files.mp3(), "audio"),
        (media_files.text(), "document"),
    ]:
        answer = await _upload(both_api, data)
        assert answer.status_code == 201, answer.text
        assert answer.json()["type"] == kind


async def test_a_body_over_100_mb_is_413_before_it_is_read(both_api):
    # A raw request declaring 101 MB and sending none of it: answered at once from the header.
    reader, writer = await asyncio.open_connection(both_api.base_url.host, both_api.base_url.port)
    writer.write(
        b"POST /media HTTP/1.1\r\nHost: x\r\nX-API-Key: " + API_KEY.encode() + b"\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: " + str(101 * 1024 * 1024).encode() + b"\r\n\r\n"
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 30)
    writer.close()
    assert status_line.split()[1] == b"413"


async def test_a_streamed_body_over_the_limit_is_413(both_api):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
        block = b"x" * (1024 * 1024)
        for _ in range(101):
            yield block

    answer = await both_api.post(
        "/media", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert answer.status_code == 413, answer.text
    assert answer.json()["errors"][0]["field"] == "file"


async def test_other_fields_and_bodies_are_refused(both_api):
    answer = await both_api.post(
        "/media",
        files={"file": ("a.pdf", media_files.pdf(), "application/pdf")},
        data={"type": "image"},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "type"
    answer = await both_api.post("/media", json={"file": "x"})
    assert (answer.status_code, answer.json()["errors"][0]["field"]) == (422, "body")
    answer = await both_api.post("/media", data={"other": "x"})
    assert answer.status_code == 422
    no_key = await both_api.post(
        "/media",
        files={"file": ("a.pdf", media_files.pdf(), "application/pdf")},
        headers={"X-API-Key": "wrong"},
    )
    assert no_key.status_code == 401


async def test_messages_name_uploads_checked_at_schedule_time(both_api):
    image = (await _upload(both_api, media_files.jpeg())).json()["id"]
    document = (await _upload(both_api, media_files.pdf())).json()["id"]
    ok = {
        "id": "m-1",
        "alici": PHONE,
        **LATER,
        "type": "image",
        "image": {"id": image, "caption": "Yeni"},
    }
    answer = await both_api.post("/schedule", json=ok)
    assert answer.status_code == 200, answer.text
    wrong_kind = ok | {"id": "m-2", "image": {"id": document}}
    answer = await both_api.post("/schedule", json=wrong_kind)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "image.id"
    assert "document" in answer.json()["detail"]
    unknown = ok | {"id": "m-3", "image": {"id": "med_" + "0" * 32}}
    answer = await both_api.post("/schedule", json=unknown)
    assert (answer.status_code, answer.json()["errors"][0]["field"]) == (422, "image.id")
    header = {
        "id": "m-4", "alici": PHONE, **LATER,
        "template": {
            "name": "fatura", "language": {"code": "tr"},
            "components": [{"type": "header", "parameters": [{"type": "document", "document": {"id": image}}]}],
        },
    }  # fmt: skip
    answer = await both_api.post("/schedule", json=header)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "template.components[0].parameters[0].document.id"
    assert (await both_api.get("/status/m-2")).status_code == 404  # nothing stored
    # A file a queued message sends cannot be deleted; once cancelled it can.
    assert (await both_api.delete(f"/media/{image}")).status_code == 409
    assert (await both_api.delete("/schedule/m-1")).status_code == 200
    assert (await both_api.delete(f"/media/{image}")).status_code == 204
    assert (await both_api.get(f"/media/{image}")).status_code == 404
    # The check's memory of the file (MediaLibrary.KNOWN_SECONDS) forgets it with its removal.
    again = await both_api.post("/schedule", json=ok | {"id": "m-5"})
    assert (again.status_code, again.json()["errors"][0]["field"]) == (422, "image.id")


async def test_retention_removes_a_file_only_once_no_message_needs_it(both_api):
    used = (await _upload(both_api, media_files.jpeg())).json()["id"]
    unused = (await _upload(both_api, media_files.png())).json()["id"]
    message = {"id": "r-1", "alici": PHONE, **LATER, "type": "image", "image": {"id": used}}
    assert (await both_api.post("/schedule", json=message)).status_code == 200
    library = media_service.MediaLibrary(both_api.store, both_api.clock, timedelta(days=30))
    both_api.clock.advance(timedelta(days=31))
    assert await library.sweep() == 1  # the unused one; the queued message keeps the other
    assert (await both_api.get(f"/media/{unused}")).status_code == 404
    assert (await both_api.get(f"/media/{used}")).status_code == 200
    stored = await both_api.store.get("r-1")
    assert stored is not None
    # Sent now: kept 30 more days after its last change, then removed with its bytes.
    claimed = await both_api.store.claim_due(
        both_api.clock.now(), 10, "w1", both_api.clock.now() + timedelta(minutes=1)
    )
    assert [m.id for m in claimed] == ["r-1"]
    now = both_api.clock.now()
    outcome = store_mod.Outcome(
        "r-1", "w1", MessageStatus.SENT, now, AttemptOutcome.SENT, started_at=now, wamid="wamid.X"
    )
    assert await both_api.store.record([outcome]) == 1
    assert await library.sweep() == 0
    both_api.clock.advance(timedelta(days=29))
    assert await library.sweep() == 0
    both_api.clock.advance(timedelta(days=2))
    assert await library.sweep() == 1
    assert await both_api.store.media_chunk(used, 0) is None
    assert (await both_api.get("/status/r-1")).json()["status"] == "sent"  # the message stays
