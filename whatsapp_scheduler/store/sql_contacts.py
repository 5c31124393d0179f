"""The address-book half of `SqlMessageStore` (docs/contacts.md): contact profiles per sender
(`contact_book`, `contact_labels`), upserted in bulk (one executemany per field set, in one
transaction), listed with label, attribute and text filters and keyset paging by number."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from whatsapp_scheduler.core import contacts, jsonbounds
from whatsapp_scheduler.store import ContactPage, engine, tables

T = TypeVar("T")
B = tables.contact_book
L = tables.contact_labels
K = tables.consents
C = tables.contacts


class SqlContactsMixin:
    """Address-book methods of `SqlMessageStore` (uses its threads and transactions)."""

    _dialect: str

    if TYPE_CHECKING:  # provided by SqlMessageStore

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        async def _read(self, fn: Callable[..., T], *args: Any) -> T: ...

        def _tx(self) -> AbstractContextManager[Connection]: ...

        def _insert_into(self, table: sa.Table) -> Any: ...

    async def upsert_profiles(
        self, sender: str, changes: Sequence[contacts.Change], now: datetime
    ) -> tuple[int, int]:
        """Create or update these contacts of `sender` (each sets only its given fields), in
        one transaction; returns (created, updated). A phone given twice: the last wins."""
        if not changes:
            return 0, 0
        last = {c.phone: c for c in changes}
        return await self._run(self._upsert_profiles, sender, list(last.values()), now)

    def _upsert_profiles(
        self, sender: str, changes: builtins.list[contacts.Change], now: datetime
    ) -> tuple[int, int]:
        phones = [c.phone for c in changes]
        with self._tx() as conn:
            present: set[str] = set()
            for start in range(0, len(phones), tables.IN_CHUNK):
                chunk = phones[start : start + tables.IN_CHUNK]
                present.update(
                    conn.execute(
                        sa.select(B.c.phone).where(B.c.sender == sender, B.c.phone.in_(chunk))
                    ).scalars()
                )
            groups: dict[frozenset[str], builtins.list[contacts.Change]] = {}
            for change in changes:
                groups.setdefault(change.given, []).append(change)
            for given, group in groups.items():
                fields = sorted(given)
                rows = [_row(sender, c, now) for c in group]
                stmt = self._insert_into(B)
                update = {f: stmt.excluded[f] for f in fields} | {
                    "updated_at": stmt.excluded.updated_at
                }
                conn.execute(
                    stmt.on_conflict_do_update(index_elements=["sender", "phone"], set_=update),
                    rows,
                )
                if "labels" in given:
                    for start in range(0, len(group), tables.IN_CHUNK):
                        chunk = [c.phone for c in group[start : start + tables.IN_CHUNK]]
                        conn.execute(sa.delete(L).where(L.c.sender == sender, L.c.phone.in_(chunk)))
                    labels = [
                        {"sender": sender, "label": label, "phone": c.phone}
                        for c in group
                        for label in c.values["labels"]
                    ]
                    if labels:
                        conn.execute(sa.insert(L), labels)
        created = sum(1 for p in phones if p not in present)
        return created, len(phones) - created

    async def get_profile(self, sender: str, phone: str) -> contacts.Profile | None:
        found = await self._read(self._profiles, sender, [phone])
        return found.get(phone)

    async def get_profiles(self, sender: str, phones: Sequence[str]) -> dict[str, contacts.Profile]:
        if not phones:
            return {}
        return await self._read(self._profiles, sender, list(dict.fromkeys(phones)))

    async def has_profiles(self, sender: str) -> bool:
        return await self._read(self._has_profiles, sender)

    def _has_profiles(self, sender: str) -> bool:
        with self._tx() as conn:
            query = sa.select(B.c.phone).where(B.c.sender == sender).limit(1)
            return conn.execute(query).first() is not None

    def _profiles(self, sender: str, phones: builtins.list[str]) -> dict[str, contacts.Profile]:
        found: dict[str, contacts.Profile] = {}
        with self._tx() as conn:
            for start in range(0, len(phones), tables.IN_CHUNK):
                chunk = phones[start : start + tables.IN_CHUNK]
                query = sa.select(B).where(B.c.sender == sender, B.c.phone.in_(chunk))
                for row in conn.execute(query):
                    found[row.phone] = profile_of(row)
        return found

    async def audience_profiles(
        self,
        sender: str,
        labels_any: Collection[str] | None,
        attributes: Mapping[str, str] | None,
    ) -> builtins.list[contacts.Profile]:
        """The sender's contacts with any of `labels_any` and all of `attributes`, by number."""
        return await self._read(self._audience, sender, labels_any, dict(attributes or {}))

    def _audience(
        self, sender: str, labels_any: Collection[str] | None, attributes: dict[str, str]
    ) -> builtins.list[contacts.Profile]:
        where = self.profile_filters(attributes=attributes, labels_any=labels_any)
        # Only what a campaign renders: labels and times are not read (a third of the cost).
        columns = (B.c.phone, B.c.name, B.c.language, B.c.timezone, B.c.attributes)
        query = sa.select(*columns).where(B.c.sender == sender, *where).order_by(B.c.phone)
        found: builtins.list[contacts.Profile] = []
        with self._tx() as conn:
            for phone, name, language, timezone, attributes in self._audience_rows(conn, query):
                if (
                    not isinstance(attributes, dict)
                    or attributes == engine.UNREADABLE_JSON
                    or (
                        attributes
                        and jsonbounds.depth_over(attributes, contacts.MAX_ATTRIBUTES_DEPTH)
                    )
                ):
                    attributes = {}
                found.append(
                    contacts.Profile(sender, phone, name, language, timezone, (), attributes)
                )
        return found

    def _audience_rows(self, conn: Connection, query: sa.Select[Any]) -> Iterable[Sequence[Any]]:
        """The rows of `_audience`'s query. SQLite: read by the driver as plain tuples, the
        attributes' JSON parsed as the column's type parses it (`engine.read_json`): a
        campaign reads every recipient's row, and SQLAlchemy's row objects and result
        processing were most of the read."""
        if self._dialect != "sqlite":
            return conn.execute(query)
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params = tuple(compiled.params[name] for name in compiled.positiontup or ())
        driver = conn.connection.dbapi_connection
        assert driver is not None
        read = engine.read_json
        return [  # most contacts have no attributes: '{}' is not parsed (NULL: none either)
            (phone, name, language, timezone, {} if text == "{}" or text is None else read(text))
            for phone, name, language, timezone, text in driver.execute(str(compiled), params)
        ]

    async def audience_overview(
        self,
        sender: str,
        labels_any: Collection[str] | None,
        attributes: Mapping[str, str] | None,
        phones: Sequence[str],
        sample: int,
    ) -> tuple[int, builtins.list[contacts.Profile]]:
        """An audience's size counted in SQL (the filter's COUNT, plus the explicit numbers
        the filter did not match) and its first `sample` address-book profiles."""
        return await self._read(
            self._audience_overview,
            sender,
            sorted(labels_any or ()),
            dict(attributes or {}),
            sorted(set(phones)),
            sample,
        )

    def _audience_overview(
        self,
        sender: str,
        labels_any: builtins.list[str],
        attributes: dict[str, str],
        phones: builtins.list[str],
        sample: int,
    ) -> tuple[int, builtins.list[contacts.Profile]]:
        filtered = bool(labels_any or attributes)
        where = [B.c.sender == sender, *self.profile_filters(None, attributes)]
        if labels_any:  # driven by the labels' index: the contacts with one, not every contact
            labelled = sa.select(L.c.phone).where(L.c.sender == sender, L.c.label.in_(labels_any))
            where.append(B.c.phone.in_(labelled))
        count = 0
        found: builtins.list[contacts.Profile] = []
        with self._tx() as conn:
            if filtered:
                count = conn.execute(
                    sa.select(sa.func.count()).select_from(B).where(*where)
                ).scalar_one()
                query = sa.select(B).where(*where).order_by(B.c.phone).limit(sample)
                found = [profile_of(row) for row in conn.execute(query)]
            matched = 0
            for start in range(0, len(phones), tables.IN_CHUNK):
                chunk = phones[start : start + tables.IN_CHUNK]
                if filtered:
                    matched += conn.execute(
                        sa.select(sa.func.count())
                        .select_from(B)
                        .where(*where, B.c.phone.in_(chunk))
                    ).scalar_one()
                if len(found) < sample:
                    query = (
                        sa.select(B)
                        .where(B.c.sender == sender, B.c.phone.in_(chunk))
                        .order_by(B.c.phone)
                        .limit(sample)
                    )
                    found.extend(profile_of(row) for row in conn.execute(query))
        unique = {p.phone: p for p in found}
        return count + len(phones) - matched, [unique[p] for p in sorted(unique)][:sample]

    async def delete_profile(self, sender: str, phone: str) -> bool:
        return await self._run(self._delete_profile, sender, phone)

    def _delete_profile(self, sender: str, phone: str) -> bool:
        with self._tx() as conn:
            conn.execute(sa.delete(L).where(L.c.sender == sender, L.c.phone == phone))
            gone = conn.execute(sa.delete(B).where(B.c.sender == sender, B.c.phone == phone))
        return bool(gone.rowcount)

    async def list_profiles(
        self,
        sender: str,
        numbers: Sequence[str],
        *,
        label: str | None = None,
        attributes: Mapping[str, str] | None = None,
        text: str | None = None,
        opted_out: bool | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> ContactPage:
        """A page of the sender's contacts by number (`wa_id`s, digits): with a label,
        attribute or text filter only contacts in the address book; without, also those only
        known by a window or consent row (docs/consent.md). `opted_out` as there."""
        return await self._read(
            self._list_profiles,
            sender,
            list(numbers),
            label,
            dict(attributes or {}),
            text,
            opted_out,
            after,
            limit,
        )

    def _list_profiles(
        self,
        sender: str,
        numbers: builtins.list[str],
        label: str | None,
        attributes: dict[str, str],
        text: str | None,
        opted_out: bool | None,
        after: str | None,
        limit: int,
    ) -> ContactPage:
        wa_id = sa.func.substr(B.c.phone, 2)
        book = sa.select(wa_id.label("wa_id")).where(
            B.c.sender == sender, *self.profile_filters(label, attributes, text)
        )
        if label is None and not attributes and text is None:
            known = sa.union(
                book,
                sa.select(C.c.wa_id).where(C.c.phone_number_id.in_(numbers)),
                sa.select(K.c.wa_id).where(K.c.phone_number_id.in_(numbers)),
            ).subquery()
        else:
            known = book.subquery()
        out = sa.select(K.c.wa_id).where(
            K.c.phone_number_id.in_(numbers),
            sa.or_(K.c.all_out_at.is_not(None), K.c.marketing_out_at.is_not(None)),
        )
        query = sa.select(known.c.wa_id)
        if opted_out is True:
            query = query.where(known.c.wa_id.in_(out))
        elif opted_out is False:
            query = query.where(known.c.wa_id.not_in(out))
        if after is not None:
            query = query.where(known.c.wa_id > after)
        query = query.order_by(known.c.wa_id).limit(limit + 1)
        with self._tx() as conn:
            wa_ids = [r.wa_id for r in conn.execute(query)]
        more = len(wa_ids) > limit
        wa_ids = wa_ids[:limit]
        return ContactPage(wa_ids, wa_ids[-1] if more and wa_ids else None)

    def profile_filters(
        self,
        label: str | None = None,
        attributes: Mapping[str, str] | None = None,
        text: str | None = None,
        labels_any: Collection[str] | None = None,
        phones: Collection[str] | None = None,
    ) -> builtins.list[Any]:
        """WHERE clauses on `contact_book` for a label, attribute values (as
        `contacts.attribute_text` writes them), a text in the name or number, any of
        `labels_any`, or one of `phones` (short lists)."""
        where: builtins.list[Any] = []
        if label is not None:
            where.append(_has_label([label]))
        if labels_any:
            where.append(_has_label(sorted(labels_any)))
        for key, value in (attributes or {}).items():
            where.append(self._attribute_text(key) == value)
        if text is not None:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            digits = "".join(ch for ch in text if ch.isdigit())
            clauses = [sa.func.lower(B.c.name).like(pattern.lower(), escape="\\")]
            if digits and len(digits) == len(text.strip().lstrip("+").replace(" ", "")):
                clauses.append(B.c.phone.like(f"%{digits}%"))
            where.append(sa.or_(*clauses))
        if phones is not None:
            where.append(B.c.phone.in_(sorted(phones)))
        return where

    def _attribute_text(self, key: str) -> Any:
        if self._dialect == "postgresql":
            return B.c.attributes.op("->>")(sa.literal(key, sa.String))
        path = sa.literal(f'$."{key}"', sa.String)
        return sa.case(
            (sa.func.json_type(B.c.attributes, path) == "true", "true"),
            (sa.func.json_type(B.c.attributes, path) == "false", "false"),
            (
                sa.func.json_type(B.c.attributes, path).in_(["object", "array"]),
                sa.null(),
            ),
            else_=sa.cast(sa.func.json_extract(B.c.attributes, path), sa.Text),
        )


def _has_label(labels: builtins.list[str]) -> Any:
    return sa.exists(
        sa.select(L.c.phone).where(
            L.c.sender == B.c.sender, L.c.phone == B.c.phone, L.c.label.in_(labels)
        )
    )


def _row(sender: str, change: contacts.Change, now: datetime) -> dict[str, Any]:
    values = change.values
    return {
        "sender": sender,
        "phone": change.phone,
        "name": values.get("name"),
        "language": values.get("language"),
        "timezone": values.get("timezone"),
        "labels": list(values.get("labels") or ()),
        "attributes": dict(values.get("attributes") or {}),
        "created_at": now,
        "updated_at": now,
    }


def profile_of(row: Any) -> contacts.Profile:
    """A `contact_book` row as a profile; JSON that cannot be read (a row written by hand)
    becomes empty rather than failing the read."""
    labels = row.labels
    if labels == engine.UNREADABLE_JSON or not isinstance(labels, list):
        labels = []
    attributes = row.attributes
    if (
        not isinstance(attributes, dict)
        or attributes == engine.UNREADABLE_JSON
        or (attributes and jsonbounds.depth_over(attributes, contacts.MAX_ATTRIBUTES_DEPTH))
    ):
        attributes = {}  # a row changed by hand: the API wrote only bounded objects
    return contacts.Profile(
        sender=row.sender,
        phone=row.phone,
        name=row.name,
        language=row.language,
        timezone=row.timezone,
        labels=tuple(str(x) for x in labels),
        attributes=attributes,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
