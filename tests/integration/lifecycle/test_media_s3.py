"""MEDIA_URL=s3://... (docs/media.md, "Storage") against moto's S3 server on loopback (no real
S3 server can be installed on these machines; moto speaks S3's HTTP API): an upload becomes
one object (in 8 MB parts past 8 MB) and no chunk rows, read back byte for byte; the
dispatcher uploads it to Meta from the bucket; deletion and retention remove the object; an
object store that is down is a 503 with nothing usable left behind."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests import media_files
from tests.integration.conftest import served_api
from tests.integration.lifecycle.conftest import due_now
from whatsapp_scheduler.service import media as media_service
from whatsapp_scheduler.store import engine as engine_mod
from whatsapp_scheduler.store import tables

BUCKET = "shop-files"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """moto's S3 server on loopback with an empty bucket: (endpoint URL, a boto3 client)."""
    import boto3  # type: ignore[import-untyped]
    from moto.server import ThreadedMotoServer

    for name, value in {
        "AWS_ACCESS_KEY_ID": "test-key-id",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield url, client
    finally:
        server.stop()


def _settings(make_settings: Any, url: str, endpoint: str) -> Any:
    return make_settings(
        database_url=url,
        media_url=f"s3://{BUCKET}/media",
        media_s3_endpoint_url=endpoint,
        media_s3_region="us-east-1",
    )


def _chunk_rows(url: str) -> int:
    engine = engine_mod.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(tables.media_chunks)
                ).scalar_one()
            )
    finally:
        engine.dispose()


async def test_an_upload_is_one_object_read_back_and_deleted(s3, make_settings, clock, sqlite_url):
    endpoint, client = s3
    data = media_files.pdf(size=9 * 1024 * 1024 + 123)  # past 8 MB: a multipart upload
    async with served_api(_settings(make_settings, sqlite_url, endpoint), clock, sqlite_url) as api:
        answer = await api.post("/media", files={"file": ("fatura.pdf", data, "application/pdf")})
        assert answer.status_code == 201, answer.text
        media_id = answer.json()["id"]
        assert answer.json()["sha256"] == hashlib.sha256(data).hexdigest()
        stored = client.get_object(Bucket=BUCKET, Key=f"media/{media_id}")
        assert stored["Body"].read() == data
        assert stored["ContentType"] == "application/pdf"
        assert _chunk_rows(sqlite_url) == 0  # nothing of it in the database but its row
        content = await api.get(f"/media/{media_id}/content")
        assert content.content == data
        assert (await api.delete(f"/media/{media_id}")).status_code == 204
        listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        assert listed == []


async def test_retention_removes_the_object(s3, make_settings, clock, sqlite_url):
    from whatsapp_scheduler import bootstrap

    endpoint, client = s3
    settings = _settings(make_settings, sqlite_url, endpoint)
    async with served_api(settings, clock, sqlite_url) as api:
        answer = await api.post("/media", files={"file": ("a.png", media_files.png(), "image/png")})
        media_id = answer.json()["id"]
        assert client.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 1
        files = bootstrap.file_bytes(settings, api.store)  # the service's own object store
        library = media_service.MediaLibrary(api.store, clock, timedelta(days=30), files)
        clock.advance(timedelta(days=31))
        assert await library.sweep() == 1
        assert client.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
        assert (await api.get(f"/media/{media_id}")).status_code == 404


async def test_a_store_that_is_down_is_503_and_leaves_no_usable_file(
    s3, make_settings, clock, sqlite_url
):
    # `s3` only for its credentials: the store given is an address nothing listens on.
    down = f"http://127.0.0.1:{_free_port()}"
    async with served_api(_settings(make_settings, sqlite_url, down), clock, sqlite_url) as api:
        answer = await api.post("/media", files={"file": ("a.png", media_files.png(), "image/png")})
        assert answer.status_code == 503, answer.text
        assert "media store error" in answer.json()["detail"]
        image = {"id": "m", "alici": "+905551230101", "tarih": "2026-03-02", "saat": "10:00",
                 "type": "image", "image": {"id": "med_" + "0" * 32}}  # fmt: skip
        assert (await api.post("/schedule", json=image)).status_code == 422


async def test_the_dispatcher_uploads_to_meta_from_the_bucket(s3, live):
    endpoint, _client = s3
    data = media_files.pdf(size=300 * 1024)
    overrides = {
        "media_url": f"s3://{BUCKET}/media",
        "media_s3_endpoint_url": endpoint,
        "media_s3_region": "us-east-1",
    }
    async with live(**overrides) as env:
        answer = await env.client.post("/media", files={"file": ("f.pdf", data, "application/pdf")})
        assert answer.status_code == 201, answer.text
        doc = {"id": answer.json()["id"], "filename": "f.pdf"}
        request = {"id": "s3-1", "alici": "+905551230101", "type": "document", "document": doc}
        assert (await env.client.post("/schedule", json=request | due_now())).status_code == 200
        await env.dispatch()
        await env.wait_status("s3-1", "read")
        (upload,) = env.standin.media.uploads.values()
        assert upload.data == data
