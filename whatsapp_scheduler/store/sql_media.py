"""The uploaded-files half of `SqlMessageStore` (docs/media.md): a file's row in `media`, its
bytes in `media_chunks` (written and read one chunk per transaction, so neither a 100 MB
upload nor its send holds the database or the memory), Meta's ids of it in `media_uploads`."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import media, messages
from whatsapp_scheduler.store import tables

T = TypeVar("T")
MD = tables.media
MC = tables.media_chunks
MU = tables.media_uploads
M = tables.messages
#: A message in one of these no longer needs its file once MEDIA_RETENTION has passed.
FINISHED = tuple(sorted(str(s) for s in messages.DONE_STATUSES))
#: Chunks deleted per statement when a file is removed.
DELETE_CHUNKS = 64


def _file(row: Any) -> media.MediaFile:
    return media.MediaFile(
        id=row.id,
        kind=row.kind,
        mime=row.mime,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
        filename=row.filename,
        created_by=row.created_by,
        location=row.location,
    )


class SqlMediaMixin:
    """Uploaded-file methods of `SqlMessageStore` (uses its threads and transactions)."""

    if TYPE_CHECKING:  # provided by SqlMessageStore

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        async def _read(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

        def _insert_into(self, table: sa.Table) -> Any: ...

    async def begin_media(self, file: media.MediaFile) -> None:
        await self._run(self._begin_media, file)

    def _begin_media(self, file: media.MediaFile) -> None:
        with self._tx() as conn:
            conn.execute(
                sa.insert(MD).values(
                    id=file.id,
                    kind=file.kind,
                    mime=file.mime,
                    size=file.size,
                    sha256=file.sha256,
                    filename=file.filename,
                    created_at=file.created_at,
                    created_by=file.created_by,
                    location=file.location,
                    complete=False,
                )
            )

    async def put_media_chunk(self, media_id: str, seq: int, data: bytes) -> None:
        await self._run(self._put_media_chunk, media_id, seq, data)

    def _put_media_chunk(self, media_id: str, seq: int, data: bytes) -> None:
        with self._tx() as conn:
            conn.execute(sa.insert(MC).values(media_id=media_id, seq=seq, data=data))

    async def finish_media(self, media_id: str, size: int, sha256: str) -> media.MediaFile | None:
        return await self._run(self._finish_media, media_id, size, sha256)

    def _finish_media(self, media_id: str, size: int, sha256: str) -> media.MediaFile | None:
        stmt = (
            sa.update(MD)
            .where(MD.c.id == media_id)
            .values(size=size, sha256=sha256, complete=True)
            .returning(*MD.c)
        )
        with self._tx() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _file(row)

    async def get_media(self, media_id: str) -> media.MediaFile | None:
        return await self._read(self._get_media, media_id)

    def _get_media(self, media_id: str) -> media.MediaFile | None:
        stmt = sa.select(MD).where(MD.c.id == media_id, MD.c.complete.is_(True))
        with self._tx() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _file(row)

    async def media_chunk(self, media_id: str, seq: int) -> bytes | None:
        return await self._read(self._media_chunk, media_id, seq)

    def _media_chunk(self, media_id: str, seq: int) -> bytes | None:
        stmt = sa.select(MC.c.data).where(MC.c.media_id == media_id, MC.c.seq == seq)
        with self._tx() as conn:
            data = conn.execute(stmt).scalar()
        return None if data is None else bytes(data)

    async def media_in_use(self, media_id: str) -> int:
        return await self._read(self._media_in_use, media_id)

    def _media_in_use(self, media_id: str) -> int:
        stmt = (
            sa.select(sa.func.count())
            .select_from(M)
            .where(M.c.media_id == media_id, M.c.status.not_in(FINISHED))
        )
        with self._tx() as conn:
            return int(conn.execute(stmt).scalar_one())

    async def delete_media(self, media_id: str) -> media.MediaFile | None:
        # The chunks go a few at a time (each their own transaction), the row last: a file
        # cut off midway is no longer complete and never sent, and the next clean-up ends it.
        found = await self._run(self._mark_incomplete, media_id)
        if found is None:
            return None
        while await self._run(self._delete_chunks, media_id):
            pass
        await self._run(self._delete_row, media_id)
        return found

    def _mark_incomplete(self, media_id: str) -> media.MediaFile | None:
        stmt = sa.update(MD).where(MD.c.id == media_id).values(complete=False).returning(*MD.c)
        with self._tx() as conn:
            row = conn.execute(stmt).first()
            conn.execute(sa.delete(MU).where(MU.c.media_id == media_id))
        return None if row is None else _file(row)

    def _delete_chunks(self, media_id: str) -> int:
        seqs = (
            sa.select(MC.c.seq)
            .where(MC.c.media_id == media_id)
            .order_by(MC.c.seq)
            .limit(DELETE_CHUNKS)
            .scalar_subquery()
        )
        with self._tx() as conn:
            done = conn.execute(sa.delete(MC).where(MC.c.media_id == media_id, MC.c.seq.in_(seqs)))
        return int(done.rowcount)

    def _delete_row(self, media_id: str) -> None:
        with self._tx() as conn:
            conn.execute(sa.delete(MD).where(MD.c.id == media_id))

    async def expired_media(
        self, used_before: datetime, begun_before: datetime, limit: int
    ) -> builtins.list[str]:
        return await self._read(self._expired_media, used_before, begun_before, limit)

    def _expired_media(
        self, used_before: datetime, begun_before: datetime, limit: int
    ) -> builtins.list[str]:
        needed = sa.exists().where(
            M.c.media_id == MD.c.id,
            sa.or_(M.c.status.not_in(FINISHED), M.c.updated_at >= used_before),
        )
        stmt = (
            sa.select(MD.c.id)
            .where(
                sa.or_(
                    sa.and_(MD.c.complete.is_(True), MD.c.created_at < used_before, ~needed),
                    sa.and_(MD.c.complete.is_(False), MD.c.created_at < begun_before),
                )
            )
            .order_by(MD.c.created_at)
            .limit(limit)
        )
        with self._tx() as conn:
            return [str(i) for i in conn.execute(stmt).scalars()]

    async def due_media(self, until: datetime, limit: int) -> builtins.list[tuple[str, str]]:
        return await self._read(self._due_media, until, limit)

    def _due_media(self, until: datetime, limit: int) -> builtins.list[tuple[str, str]]:
        stmt = (
            sa.select(M.c.media_id, M.c.sender)
            .where(
                M.c.status == str(messages.MessageStatus.QUEUED),
                M.c.run_at <= until,
                M.c.media_id.is_not(None),
            )
            .distinct()
            .limit(limit)
        )
        with self._tx() as conn:
            return [(str(r.media_id), str(r.sender)) for r in conn.execute(stmt)]

    async def meta_media_id(self, media_id: str, phone_number_id: str, now: datetime) -> str | None:
        return await self._read(self._meta_media_id, media_id, phone_number_id, now)

    def _meta_media_id(self, media_id: str, phone_number_id: str, now: datetime) -> str | None:
        stmt = sa.select(MU.c.meta_id).where(
            MU.c.media_id == media_id,
            MU.c.phone_number_id == phone_number_id,
            MU.c.expires_at > now,
        )
        with self._tx() as conn:
            found = conn.execute(stmt).scalar()
        return None if found is None else str(found)

    async def save_meta_media_id(
        self, media_id: str, phone_number_id: str, meta_id: str, expires_at: datetime
    ) -> None:
        await self._run(self._save_meta_media_id, media_id, phone_number_id, meta_id, expires_at)

    def _save_meta_media_id(
        self, media_id: str, phone_number_id: str, meta_id: str, expires_at: datetime
    ) -> None:
        key = {"media_id": media_id, "phone_number_id": phone_number_id}
        values = {"meta_id": meta_id, "expires_at": expires_at}
        stmt = self._insert_into(MU).values(**key, **values)
        stmt = stmt.on_conflict_do_update(index_elements=list(key), set_=values)
        with self._tx() as conn:
            conn.execute(stmt)

    async def drop_meta_media_id(self, media_id: str, phone_number_id: str) -> None:
        await self._run(self._drop_meta_media_id, media_id, phone_number_id)

    def _drop_meta_media_id(self, media_id: str, phone_number_id: str) -> None:
        with self._tx() as conn:
            conn.execute(
                sa.delete(MU).where(
                    MU.c.media_id == media_id, MU.c.phone_number_id == phone_number_id
                )
            )
