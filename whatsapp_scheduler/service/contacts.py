"""Address-book use cases (docs/contacts.md): contact profiles per sender, upserted in bulk
(each validated on its own, like POST /schedule/batch), read, changed, removed, listed with
filters. The sender and the key's senders are checked as for consent (`ConsentService`).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from whatsapp_scheduler import store
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import contacts, csvimport, errors, recipients
from whatsapp_scheduler.service import consent as consent_mod

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class RowError:
    """One refused entry of an upsert: its index (or CSV line) and the rule it broke."""

    index: int
    phone: str | None
    error: errors.ValidationFailed


@dataclasses.dataclass(frozen=True, slots=True)
class UpsertResult:
    stored: int
    created: int
    updated: int
    refused: list[RowError]


@dataclasses.dataclass(frozen=True, slots=True)
class ContactView:
    """A contact as GET /contacts answers it: the profile (None: not in the address book)
    and the window and consent (`ConsentService`'s report)."""

    report: consent_mod.ContactReport
    profile: contacts.Profile | None


@dataclasses.dataclass(frozen=True, slots=True)
class AudienceOverview:
    """A campaign audience before it is created: the sender, how many recipients it has
    (counted in SQL), a few of them (for a preview; a number without a profile has an empty
    one), and the explicit numbers that are not phone numbers (the campaign refuses them)."""

    sender: str
    count: int
    sample: list[contacts.Profile]
    invalid_phones: list[str]


class ContactService:
    def __init__(
        self,
        message_store: store.MessageStore,
        clock: clock_mod.Clock,
        consent: consent_mod.ConsentService,
    ) -> None:
        self.store = message_store
        self.clock = clock
        self.consent = consent

    def phone(self, raw: Any, field: str = "phone") -> str:
        if not isinstance(raw, str):
            raise errors.ValidationFailed(field, "must be a phone number (a string)")
        return recipients.normalize(raw, self.consent.default_region, field=field)

    def change_of(self, entry: Mapping[str, Any], prefix: str = "") -> contacts.Change:
        """One entry of an upsert checked: `phone` and the profile fields it gives."""
        unknown = sorted(str(k) for k in entry if k != "phone" and k not in contacts.FIELDS)
        if unknown:
            raise errors.ValidationFailed(
                prefix + unknown[0][:80],
                "is not a contact field ({fields})",
                fields=", ".join(("phone", *contacts.FIELDS)),
            )
        if "phone" not in entry:
            raise errors.ValidationFailed(prefix + "phone", "is required")
        phone = self.phone(entry["phone"], prefix + "phone")
        return contacts.Change(phone, contacts.check_fields(entry, prefix))

    async def import_csv(
        self, data: bytes, gonderen: str | None, allowed: frozenset[str] | None, field: str
    ) -> UpsertResult:
        """A contacts CSV (`csvimport.read_contacts_csv`, read off the event loop) upserted:
        each row stored or refused on its own, `index` its line; the refusals in line order.
        A file that cannot be read at all is ValidationFailed naming `file`."""
        try:
            rows = await asyncio.to_thread(
                csvimport.read_contacts_csv, data, max_rows=contacts.MAX_UPSERT
            )
        except (csvimport.CsvError, csv.Error) as exc:
            raise errors.ValidationFailed("file", str(exc)) from exc
        entries: list[tuple[int, Mapping[str, Any]]] = []
        missing: list[RowError] = []
        for row in rows:
            if row.error is not None:
                missing.append(
                    RowError(row.line, None, errors.ValidationFailed("phone", row.error))
                )
            else:
                entries.append((row.line, row.fields))
        result = await self.upsert(entries, gonderen, allowed, field=field)
        refused = sorted([*missing, *result.refused], key=lambda r: r.index)
        return UpsertResult(result.stored, result.created, result.updated, refused)

    async def upsert(
        self,
        entries: Sequence[Mapping[str, Any] | tuple[int, Mapping[str, Any]]],
        gonderen: str | None,
        allowed: frozenset[str] | None,
        field: str = "contacts",
    ) -> UpsertResult:
        """Validate each entry on its own and store the valid ones in one transaction.
        Entries are dicts (their index is their position) or (index, dict) pairs (a CSV's
        line numbers)."""
        if len(entries) > contacts.MAX_UPSERT:
            raise errors.ValidationFailed(
                field, "at most {MAX_UPSERT:,} per request", MAX_UPSERT=contacts.MAX_UPSERT
            )
        sender, _ = await self.consent.sender_numbers(gonderen, allowed)
        changes: list[contacts.Change] = []
        refused: list[RowError] = []
        for position, item in enumerate(entries):
            index, entry = item if isinstance(item, tuple) else (position, item)
            prefix = f"{field}[{index}]." if field else ""
            if not isinstance(entry, Mapping):
                refused.append(
                    RowError(
                        index,
                        None,
                        errors.ValidationFailed(prefix.rstrip("."), "must be an object"),
                    )
                )
                continue
            try:
                changes.append(self.change_of(entry, prefix))
            except errors.ValidationFailed as exc:
                raw = entry.get("phone")
                refused.append(RowError(index, raw if isinstance(raw, str) else None, exc))
        created, updated = await self.store.upsert_profiles(sender, changes, self.clock.now())
        logger.info(
            "contacts upserted",
            extra={
                "sender": sender,
                "contacts_created": created,  # not "created": a LogRecord attribute
                "contacts_updated": updated,
                "contacts_refused": len(refused),
            },
        )
        return UpsertResult(created + updated, created, updated, refused)

    async def show(
        self, phone: str, gonderen: str | None, allowed: frozenset[str] | None
    ) -> ContactView:
        report = await self.consent.show(phone, gonderen, allowed)
        return ContactView(report, await self.store.get_profile(report.sender, report.recipient))

    async def patch(
        self,
        phone: str,
        values: Mapping[str, Any],
        gonderen: str | None,
        allowed: frozenset[str] | None,
    ) -> ContactView:
        """Change the given fields of a contact in the address book (404 if it is not)."""
        recipient = self.phone(phone)
        sender, _ = await self.consent.sender_numbers(gonderen, allowed)
        if await self.store.get_profile(sender, recipient) is None:
            raise errors.NotFound(f"phone: {recipient} is not in {sender}'s contacts")
        change = contacts.Change(recipient, contacts.check_fields(values))
        await self.store.upsert_profiles(sender, [change], self.clock.now())
        return await self.show(recipient, sender, allowed)

    async def remove(self, phone: str, gonderen: str | None, allowed: frozenset[str] | None) -> str:
        recipient = self.phone(phone)
        sender, _ = await self.consent.sender_numbers(gonderen, allowed)
        if not await self.store.delete_profile(sender, recipient):
            raise errors.NotFound(f"phone: {recipient} is not in {sender}'s contacts")
        return recipient

    async def list(
        self,
        gonderen: str | None,
        allowed: frozenset[str] | None,
        *,
        label: str | None = None,
        attributes: Mapping[str, str] | None = None,
        text: str | None = None,
        opted_out: bool | None = None,
        after: str | None = None,
        limit: int = 100,
    ) -> tuple[list[ContactView], str | None]:
        sender, numbers = await self.consent.sender_numbers(gonderen, allowed)
        page = await self.store.list_profiles(
            sender,
            numbers,
            label=label,
            attributes=attributes,
            text=text,
            opted_out=opted_out,
            after=after,
            limit=limit,
        )
        states = await self.store.contacts_many(page.wa_ids, numbers)
        profiles = await self.store.get_profiles(sender, ["+" + w for w in page.wa_ids])
        views = [
            ContactView(
                self.consent._report("+" + w, sender, states.get(w, store.ContactState())),
                profiles.get("+" + w),
            )
            for w in page.wa_ids
        ]
        return views, page.next_after

    async def audience(
        self,
        gonderen: str | None,
        allowed: frozenset[str] | None,
        labels: Sequence[str] = (),
        attributes: Mapping[str, Any] | None = None,
        phones: Sequence[str] = (),
        sample: int = 3,
    ) -> AudienceOverview:
        """The size of a campaign's audience (docs/campaigns.md, "Creating one": contacts
        with any of `labels` and all of `attributes`, plus `phones`), counted by the store,
        without loading it; the labels and attributes checked as `POST /campaigns` checks
        them (ValidationFailed naming `audience.labels`, `audience.attributes.<key>`)."""
        sender, _ = await self.consent.sender_numbers(gonderen, allowed)
        chosen = contacts.check_labels(list(labels), "audience.labels") if labels else ()
        wanted: dict[str, str] = {}
        for key, value in (attributes or {}).items():
            if not contacts.ATTRIBUTE_KEY.match(key):
                raise errors.ValidationFailed(f"audience.attributes.{key[:60]}", contacts.KEY_RULE)
            text = contacts.attribute_text(value)
            if text is None:
                raise errors.ValidationFailed(
                    f"audience.attributes.{key}", "must be a string, number or boolean"
                )
            wanted[key] = text
        numbers: list[str] = []
        invalid: list[str] = []
        for index, raw in enumerate(phones):
            try:
                numbers.append(
                    recipients.normalize(
                        raw, self.consent.default_region, f"audience.phones[{index}]"
                    )
                )
            except errors.ValidationFailed:
                invalid.append(raw[:40])
        if not chosen and not wanted and not numbers:
            return AudienceOverview(sender, 0, [], invalid)
        count, found = await self.store.audience_overview(
            sender, chosen or None, wanted, numbers, sample
        )
        known = {p.phone: p for p in found}
        if not chosen and not wanted:  # only numbers: those without a profile count too
            found = [known.get(p) or contacts.Profile(sender, p) for p in sorted(set(numbers))]
        return AudienceOverview(sender, count, found[:sample], invalid)
