"""Where an uploaded file's bytes live (docs/media.md, "Storage"): the database's
`media_chunks` by default, or an S3-compatible object store with MEDIA_URL=s3://bucket/prefix.

`FileBytes` writes, reads and removes them for a `MediaFile`, whichever its `location` says
(a file keeps the place it was stored in: changing MEDIA_URL later leaves older files readable
where they are). The object store is reached with boto3 (credentials from its usual chain:
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an instance role; never logged), on
threads of its own, one object per file: `<prefix><media id>`, uploaded in 8 MB parts one at
a time and read back 256 KB at a time, so memory stays flat either way.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, TypeVar
from urllib.parse import urlsplit

from whatsapp_scheduler import store as store_mod
from whatsapp_scheduler.core import errors, media
from whatsapp_scheduler.store import tables

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Multipart upload part size (S3's minimum is 5 MB) and the read size.
PART_BYTES = 8 * 1024 * 1024
READ_BYTES = tables.CHUNK_BYTES


def parse_url(url: str) -> tuple[str, str]:
    """(bucket, key prefix) of `s3://bucket/prefix`; ConfigurationError otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise errors.ConfigurationError(f"MEDIA_URL must look like s3://bucket/prefix, not {url!r}")
    prefix = parts.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parts.netloc, prefix


class ObjectStore:
    """An S3-compatible bucket (boto3), used from the event loop through its own threads."""

    def __init__(
        self, url: str, endpoint_url: str | None = None, region: str | None = None
    ) -> None:
        import boto3  # type: ignore[import-untyped]  # only with MEDIA_URL set; no type hints
        from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]

        self.bucket, self.prefix = parse_url(url)
        self._client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region)
        self._transfer = TransferConfig(
            multipart_threshold=PART_BYTES,
            multipart_chunksize=PART_BYTES,
            max_concurrency=1,
            use_threads=False,
        )
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="s3")

    def __repr__(self) -> str:
        return f"ObjectStore(s3://{self.bucket}/{self.prefix})"

    def location(self, media_id: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{media_id}"

    def _key(self, location: str) -> str:
        bucket, key = parse_url(location)
        if bucket != self.bucket:
            raise errors.StoreError(f"media file in another bucket ({bucket}): set MEDIA_URL to it")
        return key.rstrip("/")

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, functools.partial(fn, *args, **kwargs)
            )
        except Exception as exc:  # botocore's errors: the store is unavailable (503)
            if isinstance(exc, errors.SchedulerError):
                raise
            logger.warning("object store error: %s", type(exc).__name__)
            raise errors.StoreError(f"media store error: {type(exc).__name__}") from exc

    async def put(self, location: str, file: IO[bytes], mime: str) -> None:
        file.seek(0)
        await self._run(
            self._client.upload_fileobj,
            file,
            self.bucket,
            self._key(location),
            ExtraArgs={"ContentType": mime},
            Config=self._transfer,
        )

    async def chunks(self, location: str) -> AsyncIterator[bytes]:
        answer = await self._run(
            self._client.get_object, Bucket=self.bucket, Key=self._key(location)
        )
        body = answer["Body"]
        try:
            while data := await self._run(body.read, READ_BYTES):
                yield bytes(data)
        finally:
            body.close()

    async def delete(self, location: str) -> None:
        await self._run(self._client.delete_object, Bucket=self.bucket, Key=self._key(location))

    def close(self) -> None:
        self._executor.shutdown(wait=False)


class FileBytes:
    """A file's bytes wherever its `location` says: the database or the object store."""

    def __init__(
        self, message_store: store_mod.MessageStore, objects: ObjectStore | None = None
    ) -> None:
        self.store = message_store
        self.objects = objects

    def location(self, media_id: str) -> str | None:
        """Where a new file goes: the object store's URL, or None for the database."""
        return None if self.objects is None else self.objects.location(media_id)

    async def write(self, file: media.MediaFile, data: IO[bytes]) -> tuple[int, str]:
        """Store the bytes of `data` (from its start) for `file`; (size, SHA-256 hex)."""
        digest = hashlib.sha256()
        data.seek(0)
        seq = total = 0
        while chunk := data.read(tables.CHUNK_BYTES):
            digest.update(chunk)
            total += len(chunk)
            if file.location is None:
                await self.store.put_media_chunk(file.id, seq, chunk)
            seq += 1
        if file.location is not None:
            await self._objects().put(file.location, data, file.mime)
        return total, digest.hexdigest()

    async def read(self, file: media.MediaFile) -> AsyncIterator[bytes]:
        """The file's bytes, a chunk at a time."""
        if file.location is not None:
            async for part in self._objects().chunks(file.location):
                yield part
            return
        seq = 0
        while (chunk := await self.store.media_chunk(file.id, seq)) is not None:
            yield chunk
            seq += 1

    async def remove(self, media_id: str) -> bool:
        """Remove the file's row, its chunks and its object; False when it was not there."""
        removed = await self.store.delete_media(media_id)
        if removed is None:
            return False
        if removed.location is not None:  # after the row: a crash leaves an object, never a
            await self._objects().delete(removed.location)  # row without its bytes
        return True

    def _objects(self) -> ObjectStore:
        if self.objects is None:
            raise errors.ConfigurationError(
                "a media file is in an object store but MEDIA_URL is not set"
            )
        return self.objects
