"""Uploaded files (docs/media.md): `POST /media` stores a file checked against Meta's rules
(core/media.py) in the database, chunk by chunk; messages name it by our id (`med_...`); the
dispatcher uploads it to Meta before the send (dispatch/media.py); MEDIA_RETENTION removes it
once no message needs it."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import IO

from whatsapp_scheduler import store as store_mod
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors, media, messages
from whatsapp_scheduler.store import files as files_mod

logger = logging.getLogger(__name__)

#: An upload not completed within this long was cut off (a crash, a dropped connection).
ABANDONED_AFTER = timedelta(hours=1)
#: Files removed per clean-up run (the next run goes on).
SWEEP_BATCH = 100
#: How long a file read for the schedule-time check is trusted without reading it again. A
#: file never changes; only its removal matters, and this process forgets a file it removes
#: at once. One removed by another instance (never while queued messages send it) may be
#: taken for up to this long; such a message fails at its send, naming the file.
KNOWN_SECONDS = 60.0
#: Files kept in that memory at most (then it starts afresh).
KNOWN_MAX = 4096


class MediaLibrary:
    """Store, read and remove uploaded files; check the messages that name them."""

    def __init__(
        self,
        message_store: store_mod.MessageStore,
        clock: clock_mod.Clock,
        retention: timedelta = timedelta(days=30),
        files: files_mod.FileBytes | None = None,
    ) -> None:
        self.store = message_store
        self.clock = clock
        self.retention = retention
        #: Where the bytes go: the database, or MEDIA_URL's object store (store/files.py).
        self.files = files or files_mod.FileBytes(message_store)
        #: id -> (when read, monotonic; the file): the schedule-time check's reads, which
        #: otherwise cost a store read per message (measured: bench/RESULTS.md, uploaded files).
        self._known: dict[str, tuple[float, media.MediaFile]] = {}

    async def upload(
        self, file: IO[bytes], size: int, filename: str | None, key_name: str | None
    ) -> media.MediaFile:
        """Check `file` (`size` bytes, read from its start) and store it; ValidationFailed or
        TooLarge naming the rule, nothing stored, when Meta would not take it."""
        kind, mime = media.check(file, size, filename)
        media_id = media.new_id()
        stored = media.MediaFile(
            id=media_id,
            kind=kind,
            mime=mime,
            size=0,
            sha256="",
            created_at=self.clock.now(),
            filename=filename,
            created_by=key_name,
            location=self.files.location(media_id),
        )
        await self.store.begin_media(stored)
        total, digest = await self.files.write(stored, file)
        finished = await self.store.finish_media(stored.id, total, digest)
        if finished is None:  # removed while being written: only by a clean-up gone wrong
            raise errors.StoreError("the upload was removed while being stored")
        logger.info("media stored", extra={"media_id": stored.id, "kind": kind, "size": total})
        return finished

    async def get(self, media_id: str) -> media.MediaFile:
        found = await self.store.get_media(media_id) if media.is_ours(media_id) else None
        if found is None:
            raise errors.NotFound(f"no uploaded file has the id {media_id!r}")
        return found

    def chunks(self, file: media.MediaFile) -> AsyncIterator[bytes]:
        """The file's bytes, one stored chunk at a time."""
        return self.files.read(file)

    async def delete(self, media_id: str) -> None:
        """Remove a file no queued message sends (Conflict otherwise)."""
        await self.get(media_id)
        using = await self.store.media_in_use(media_id)
        if using:
            raise errors.Conflict(
                f"id: {using} queued message(s) send this file; cancel them first"
            )
        self._known.pop(media_id, None)
        await self.files.remove(media_id)

    async def _file(self, media_id: str) -> media.MediaFile | None:
        """The stored file, from this process's memory when read within KNOWN_SECONDS (only
        files that exist are remembered: one uploaded a moment later is found)."""
        now = time.monotonic()
        known = self._known.get(media_id)
        if known is not None and now - known[0] < KNOWN_SECONDS:
            return known[1]
        found = await self.store.get_media(media_id)
        if found is not None:
            if len(self._known) >= KNOWN_MAX:
                self._known.clear()
            self._known[media_id] = (now, found)
        return found

    async def refusals(
        self, batch: Sequence[messages.ScheduledMessage]
    ) -> list[errors.ValidationFailed | None]:
        """Per message: None, or why a file of ours that it names cannot be sent (not
        uploaded, or of another type than the field's)."""
        known: dict[str, media.MediaFile | None] = {}
        answers: list[errors.ValidationFailed | None] = []
        for message in batch:
            answer = None
            for field, kind, media_id in media.references(message.content, message.template):
                if media_id not in known:
                    known[media_id] = await self._file(media_id)
                found = known[media_id]
                if found is None:
                    answer = errors.ValidationFailed(
                        field, "is not the id of an uploaded file (POST /media)"
                    )
                elif found.kind != kind:
                    answer = errors.ValidationFailed(
                        field,
                        "is a file of type {kind} ({mime}); this takes {kind2}",
                        kind=found.kind,
                        mime=found.mime,
                        kind2=kind,
                    )
                if answer is not None:
                    break
            answers.append(answer)
        return answers

    async def sweep(self) -> int:
        """Remove the files MEDIA_RETENTION lets go (and uploads cut off midway); how many."""
        now = self.clock.now()
        expired = await self.store.expired_media(
            now - self.retention, now - ABANDONED_AFTER, SWEEP_BATCH
        )
        for media_id in expired:
            self._known.pop(media_id, None)
            await self.files.remove(media_id)
        if expired:
            logger.info("media removed after retention", extra={"count": len(expired)})
        return len(expired)
