"""The template-catalogue half of `SqlMessageStore`: Meta's templates per WABA
(docs/templates.md). A sync replaces a WABA's rows in one transaction; a webhook changes one."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import errors
from whatsapp_scheduler.core.catalogue import CatalogueTemplate
from whatsapp_scheduler.store import TEMPLATE_CHANGES, tables

T = TypeVar("T")
TT = tables.templates
#: Rows per INSERT (SQLite caps bound parameters; 10 columns a row).
INSERT_CHUNK = 90


def template_from_row(row: Any) -> CatalogueTemplate:
    components = row.components if isinstance(row.components, list) else []
    return CatalogueTemplate(
        waba_id=row.waba_id,
        name=row.name,
        language=row.language,
        status=row.status,
        category=row.category,
        parameter_format=row.parameter_format,
        components=tuple(components),
        updated_at=row.updated_at,
        template_id=row.template_id,
        quality=row.quality,
    )


def _row(template: CatalogueTemplate) -> dict[str, Any]:
    return {
        "waba_id": template.waba_id,
        "name": template.name,
        "language": template.language,
        "template_id": template.template_id,
        "status": template.status,
        "category": template.category,
        "parameter_format": template.parameter_format,
        "components": [dict(c) for c in template.components],
        "quality": template.quality,
        "updated_at": template.updated_at,
    }


class SqlTemplatesMixin:
    """Template-catalogue methods of `SqlMessageStore` (uses its threads and transactions)."""

    if TYPE_CHECKING:  # provided by SqlMessageStore

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        async def _read(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

    async def replace_templates(self, waba_id: str, templates: Sequence[CatalogueTemplate]) -> int:
        return await self._run(self._replace_templates, waba_id, list(templates))

    def _replace_templates(self, waba_id: str, templates: list[CatalogueTemplate]) -> int:
        # Delete and insert in one transaction: readers see the old catalogue or the new one.
        unique = {t.key: t for t in templates if t.waba_id == waba_id}
        rows = [_row(t) for t in unique.values()]
        with self._tx() as conn:
            conn.execute(sa.delete(TT).where(TT.c.waba_id == waba_id))
            for start in range(0, len(rows), INSERT_CHUNK):
                conn.execute(sa.insert(TT), rows[start : start + INSERT_CHUNK])
        return len(rows)

    async def update_template(
        self, waba_id: str, name: str, language: str, changes: Mapping[str, str], now: datetime
    ) -> CatalogueTemplate | None:
        unknown = set(changes) - TEMPLATE_CHANGES
        if unknown:
            raise errors.ValidationFailed(sorted(unknown)[0], "cannot be changed by a webhook")
        return await self._run(self._update_template, waba_id, name, language, dict(changes), now)

    def _update_template(
        self, waba_id: str, name: str, language: str, changes: dict[str, str], now: datetime
    ) -> CatalogueTemplate | None:
        where = (TT.c.waba_id == waba_id, TT.c.name == name, TT.c.language == language)
        with self._tx() as conn:
            conn.execute(sa.update(TT).where(*where).values(**changes, updated_at=now))
            row = conn.execute(sa.select(TT).where(*where)).first()
        return template_from_row(row) if row is not None else None

    async def list_templates(self, waba_id: str | None = None) -> builtins.list[CatalogueTemplate]:
        return await self._read(self._list_templates, waba_id)

    def _list_templates(self, waba_id: str | None) -> builtins.list[CatalogueTemplate]:
        query = sa.select(TT).order_by(TT.c.waba_id, TT.c.name, TT.c.language)
        if waba_id is not None:
            query = query.where(TT.c.waba_id == waba_id)
        with self._tx() as conn:
            return [template_from_row(row) for row in conn.execute(query)]
