"""Sending uploaded files (docs/media.md): Meta's id of a file of ours, per business number.

A message names a file of ours (`med_...`, core/media.py); Meta needs its own id, from an
upload to that number (`POST /{phone_number_id}/media`), which it keeps 30 days. `MediaUploads`
uploads a file once per number and caches Meta's id with its expiry in the database (every
instance shares it); `UploadingSender` wraps a number's sender: before the send it puts Meta's
id in the payload (uploading first on a miss), and when Meta answers 131053 (media upload
error) or 131052 (media download error) it forgets the id, uploads again and sends once more,
instead of failing the message. `preupload` (a timed job) uploads the files of messages due
in the next MEDIA_PREUPLOAD_SECONDS ahead of time, so the send itself rarely waits.

Uploads take no token of the message-rate limits (they are not messages); one runs inside the
send slot of the message that needs it, the others' sends go on beside it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, Protocol

from whatsapp_scheduler import store as store_mod
from whatsapp_scheduler import whatsapp as whatsapp_mod
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors, media, messages
from whatsapp_scheduler.store import files as files_mod

logger = logging.getLogger(__name__)

#: Meta's answers that mean "the media id did not work": upload again and resend once.
MEDIA_ERRORS = frozenset({131052, 131053})
#: Meta's ids kept in memory per process, at most (then the copy starts afresh).
KNOWN_MAX = 10_000


class Uploader(Protocol):
    """A number's sender that can upload files (`CloudApiSender`)."""

    phone_number_id: str

    async def send(self, message: messages.ScheduledMessage) -> whatsapp_mod.SendReceipt: ...

    async def upload_media(
        self, chunks: AsyncIterator[bytes], mime: str, filename: str | None
    ) -> str: ...


class MediaUploads:
    """Meta's ids of our files per number: cached in the store, uploaded on a miss."""

    def __init__(
        self,
        message_store: store_mod.MessageStore,
        clock: clock_mod.Clock,
        keep: timedelta = timedelta(days=29),
        files: files_mod.FileBytes | None = None,
    ) -> None:
        self.store = message_store
        self.files = files or files_mod.FileBytes(message_store)  # database or MEDIA_URL
        self.clock = clock
        self.keep = keep  # Meta keeps an id 30 days: reuse it a day less
        self._inflight: dict[tuple[str, str], asyncio.Future[str]] = {}
        #: (file, number) -> (Meta's id, until when): saves a store read per send. Kept at
        #: most 10 minutes past a read (another instance may have uploaded again since).
        self._known: dict[tuple[str, str], tuple[str, datetime]] = {}

    async def meta_id(self, media_id: str, sender: Uploader) -> str:
        """Meta's id of the file for `sender`'s number (uploading it now on a miss);
        PermanentFailure when the file is gone, or what the upload raised."""
        number = sender.phone_number_id
        key = (media_id, number)
        now = self.clock.now()
        known = self._known.get(key)
        if known is not None and known[1] > now:  # this process's copy of the cache row
            return known[0]
        found = await self.store.meta_media_id(media_id, number, now)
        if found is not None:
            self._remember(key, found, now + timedelta(minutes=10))
            return found
        task = self._inflight.get(key)
        if task is None:  # two messages of one file at once: one upload
            task = asyncio.ensure_future(self._upload(media_id, sender))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._done(key, done))
        return await asyncio.shield(task)

    def _remember(self, key: tuple[str, str], meta: str, until: datetime) -> None:
        if len(self._known) >= KNOWN_MAX:
            self._known.clear()
        self._known[key] = (meta, until)

    def _done(self, key: tuple[str, str], task: asyncio.Future[str]) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here: its waiters may all have been cancelled

    async def _upload(self, media_id: str, sender: Uploader) -> str:
        file = await self.store.get_media(media_id)
        if file is None:
            raise errors.PermanentFailure(
                f"media {media_id} is no longer stored (deleted, or removed after MEDIA_RETENTION)"
            )
        if file.location is not None and self.files.objects is None:
            raise errors.PermanentFailure(
                f"media {media_id} is in an object store ({file.location}) but MEDIA_URL is not set"
            )
        try:
            meta = await sender.upload_media(self.files.read(file), file.mime, file.filename)
        except errors.StoreError as exc:  # the file could not be read now: try again later
            raise errors.TemporaryFailure(f"media {media_id} not read: {exc.message}") from exc
        number = sender.phone_number_id
        expires = self.clock.now() + self.keep
        await self.store.save_meta_media_id(media_id, number, meta, expires)
        self._remember((media_id, number), meta, expires)
        logger.info(
            "media uploaded to Meta",
            extra={"media_id": media_id, "phone_number_id": number, "size": file.size},
        )
        return meta

    async def forget(self, media_id: str, sender: Uploader) -> None:
        self._known.pop((media_id, sender.phone_number_id), None)
        await self.store.drop_meta_media_id(media_id, sender.phone_number_id)

    async def preupload(self, senders: dict[str, Uploader], horizon: timedelta) -> int:
        """Upload the files of messages due within `horizon` that a number lacks; how many."""
        until = self.clock.now() + horizon
        done = 0
        for media_id, sender_name in await self.store.due_media(until, 100):
            sender = senders.get(sender_name)
            if sender is None:
                continue
            try:
                await self.meta_id(media_id, sender)
            except errors.SchedulerError as exc:  # the send will try again and report it
                logger.warning(
                    "media not uploaded ahead", extra={"media_id": media_id, "reason": str(exc)}
                )
            else:
                done += 1
        return done


class UploadingSender:
    """A number's sender that sends our files by Meta's id (see the module docstring); every
    other attribute is the wrapped sender's."""

    def __init__(self, inner: Uploader, uploads: MediaUploads) -> None:
        self.inner = inner
        self.uploads = uploads

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"UploadingSender({self.inner!r})"

    async def send(self, message: messages.ScheduledMessage) -> whatsapp_mod.SendReceipt:
        ours = media.referenced_id(message.content, message.template)
        if ours is None:
            return await self.inner.send(message)
        meta = await self.uploads.meta_id(ours, self.inner)
        try:
            return await self.inner.send(_with(message, ours, meta))
        except errors.PermanentFailure as exc:
            if exc.code not in MEDIA_ERRORS:
                raise
            logger.info(
                "Meta refused the media id; uploading again",
                extra={"message_id": message.id, "media_id": ours, "code": exc.code},
            )
        await self.uploads.forget(ours, self.inner)
        meta = await self.uploads.meta_id(ours, self.inner)
        return await self.inner.send(_with(message, ours, meta))


def _with(message: messages.ScheduledMessage, ours: str, meta: str) -> messages.ScheduledMessage:
    if message.content is not None:
        return message.evolve(content=media.with_meta_id(message.content, ours, meta))
    return message.evolve(template=media.with_meta_id(message.template, ours, meta))
