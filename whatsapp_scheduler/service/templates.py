"""Meta's template catalogue: sync it, answer from it, and check messages against it when they
are scheduled (docs/templates.md). No SQL, no HTTP: the store keeps the table, a
`TemplateSource` (`whatsapp.templates_api.CloudApiTemplates`) reads Meta.

The check of a request must stay cheap (POST /schedule may cost at most 10 % more): the
catalogue of every WABA and each sender's WABA id are held in this process, read from the
store at most every `refresh_seconds` (another process's sync), and replaced at once by a sync
or a template webhook in this process. A request never reads the table itself.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol

from whatsapp_scheduler import store
from whatsapp_scheduler.core import catalogue, errors, messages, notices
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core.catalogue import CatalogueTemplate
from whatsapp_scheduler.store.senders_directory import SenderDirectory
from whatsapp_scheduler.whatsapp.template_events import TemplateEvent

logger = logging.getLogger(__name__)

#: How old the process's copy of the catalogue may get before it is read again (seconds).
REFRESH_SECONDS = 30.0
Entries = Mapping[tuple[str, str], CatalogueTemplate]


class TemplateSource(Protocol):
    """Meta's templates of one WABA (every page), in Meta's shape."""

    async def fetch(self, waba_id: str, access_token: str) -> list[dict[str, Any]]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class SyncResult:
    """What a sync of one WABA did: how many templates it stored, or why it failed."""

    waba_id: str
    senders: tuple[str, ...]
    count: int = 0
    error: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class TemplateFilter:
    name: str | None = None
    language: str | None = None
    status: str | None = None
    category: str | None = None
    waba_id: str | None = None

    def matches(self, t: CatalogueTemplate) -> bool:
        return (
            (self.name is None or t.name == self.name)
            and (self.language is None or t.language == self.language)
            and (self.status is None or t.status == self.status.upper())
            and (self.category is None or t.category == self.category.upper())
            and (self.waba_id is None or t.waba_id == self.waba_id)
        )


class TemplateCatalogue:
    """The synced catalogue, its in-process copy and the checks against it."""

    def __init__(
        self,
        message_store: store.MessageStore,
        clock: clock_mod.Clock,
        *,
        senders: SenderDirectory | None = None,
        source: TemplateSource | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = message_store
        self.clock = clock
        self.senders = senders
        self.source = source
        self.refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._by_waba: dict[str, dict[tuple[str, str], CatalogueTemplate]] = {}
        self._waba_of: dict[str, str | None] = {}  # sender name -> its WABA id
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Task[Any]] = set()

    # -- the in-process copy --------------------------------------------------------------

    async def _fresh(self) -> None:
        loaded = self._loaded_at
        if loaded is not None and self._monotonic() - loaded < self.refresh_seconds:
            return
        async with self._lock:
            loaded = self._loaded_at
            if loaded is not None and self._monotonic() - loaded < self.refresh_seconds:
                return
            await self.reload()

    async def reload(self) -> None:
        """Read the catalogue and the senders' WABA ids from the store now."""
        grouped: dict[str, dict[tuple[str, str], CatalogueTemplate]] = {}
        for template in await self.store.list_templates():
            grouped.setdefault(template.waba_id, {})[template.key] = template
        waba_of: dict[str, str | None] = {}
        if self.senders is not None:
            for sender in await self.senders.senders():
                waba_of[sender.name] = sender.waba_id
        self._by_waba, self._waba_of = grouped, waba_of
        self._loaded_at = self._monotonic()

    # -- checks when scheduled ------------------------------------------------------------

    async def check_many(
        self, batch: Sequence[messages.ScheduledMessage]
    ) -> list[list[notices.ScheduleWarning] | errors.ValidationFailed]:
        """Per message: the warnings about its template(s), or the rule it breaks."""
        if all(m.template is None and m.fallback_template is None for m in batch):
            return [[] for _ in batch]
        await self._fresh()
        return [self._check(m) for m in batch]

    def _check(
        self, message: messages.ScheduledMessage
    ) -> list[notices.ScheduleWarning] | errors.ValidationFailed:
        notes: list[notices.ScheduleWarning] = []
        for field, template in (
            ("template", message.template),
            ("fallback_template", message.fallback_template),
        ):
            if template is None:
                continue
            waba_id = self._waba_of.get(message.sender)
            if not waba_id:
                notes.append(
                    catalogue.unchecked_warning(
                        template, f"sender {message.sender!r} has no WABA id"
                    )
                )
                continue
            entries = self._by_waba.get(waba_id)
            if not entries:
                notes.append(
                    catalogue.unchecked_warning(
                        template, f"the templates of WABA {waba_id} were never synced"
                    )
                )
                continue
            try:
                note = catalogue.check(entries, template, field)
            except errors.ValidationFailed as exc:
                return exc
            if note is not None:
                notes.append(note)
        return notes

    # -- send time (dispatch.template_gate.TemplateStatuses) ------------------------------

    async def refresh(self) -> None:
        """Re-read the catalogue if the in-process copy is older than `refresh_seconds`."""
        await self._fresh()

    def template_status(self, sender: str, name: str, language: str) -> str | None:
        """Meta's status of that template in the sender's WABA as last synced (None: not in
        the catalogue)."""
        entries = self._by_waba.get(self._waba_of.get(sender) or "")
        template = entries.get((name, language)) if entries else None
        return template.status if template is not None else None

    def template_category(self, sender: str, name: str, language: str) -> str | None:
        """Meta's category of that template in the sender's WABA as last synced (None: not in
        the catalogue)."""
        entries = self._by_waba.get(self._waba_of.get(sender) or "")
        template = entries.get((name, language)) if entries else None
        return template.category if template is not None else None

    # -- categories (the consent rules: a marketing opt-out stops MARKETING templates) ------

    async def categories(self, sender: str, names: Collection[str]) -> Mapping[str, str]:
        """Each known template name's category (MARKETING, UTILITY, AUTHENTICATION) in the
        sender's WABA as last synced; names not in the catalogue are left out. A name's
        category is the same in every language on Meta's side; the first one found is kept."""
        await self._fresh()
        waba_id = self._waba_of.get(sender)
        entries = self._by_waba.get(waba_id or "", {})
        wanted = set(names)
        found: dict[str, str] = {}
        for (name, _language), template in entries.items():
            if name in wanted and template.category and name not in found:
                found[name] = template.category
        return found

    # -- sync -----------------------------------------------------------------------------

    async def wabas(self) -> dict[str, tuple[str, str, tuple[str, ...]]]:
        """WABA id -> (the sender whose token reads it, that token, every sender on it)."""
        found: dict[str, tuple[str, str, tuple[str, ...]]] = {}
        if self.senders is None:
            return found
        for credentials in await self.senders.all():
            sender = credentials.sender
            if not sender.waba_id:
                continue
            known = found.get(sender.waba_id)
            if known is None:
                found[sender.waba_id] = (sender.name, credentials.access_token, (sender.name,))
            else:
                found[sender.waba_id] = (known[0], known[1], (*known[2], sender.name))
        return found

    async def sync(self, waba_ids: Iterable[str] | None = None) -> list[SyncResult]:
        """Read every page of each WABA's templates from Meta and make them its catalogue
        (of `waba_ids`, default every sender's). A WABA that fails keeps its old catalogue."""
        if self.source is None:
            raise errors.ConfigurationError("no Graph API client to read templates with")
        wanted = set(waba_ids) if waba_ids is not None else None
        results: list[SyncResult] = []
        for waba_id, (_, token, names) in (await self.wabas()).items():
            if wanted is not None and waba_id not in wanted:
                continue
            results.append(await self._sync_one(waba_id, token, names))
        await self.reload()
        return results

    async def _sync_one(self, waba_id: str, token: str, names: tuple[str, ...]) -> SyncResult:
        assert self.source is not None
        started = self._monotonic()
        try:
            raw = await self.source.fetch(waba_id, token)
        except errors.SchedulerError as exc:
            logger.warning("template sync failed", extra={"waba_id": waba_id, "reason": str(exc)})
            return SyncResult(waba_id, names, error=str(exc))
        now = self.clock.now()
        parsed = [catalogue.from_meta(item, waba_id, now) for item in raw]
        templates = [t for t in parsed if t is not None]
        count = await self.store.replace_templates(waba_id, templates)
        logger.info(
            "templates synced",
            extra={
                "waba_id": waba_id,
                "templates": count,
                "skipped": len(parsed) - len(templates),
                "seconds": round(self._monotonic() - started, 3),
            },
        )
        return SyncResult(waba_id, names, count)

    async def sync_logged(self) -> None:
        """`sync()` for the timed job: never raises (a failure is logged, the next run tries)."""
        try:
            await self.sync()
        except Exception:
            logger.exception("template sync failed")

    # -- webhooks -------------------------------------------------------------------------

    async def apply_events(self, events: Sequence[TemplateEvent]) -> int:
        """Apply Meta's template webhooks to the table and this process's copy; returns how
        many matched a synced template. A WABA with an event for a template it does not have
        yet (a new one approved) is synced in the background."""
        now = self.clock.now()
        applied = 0
        unknown: set[str] = set()
        for event in events:
            updated = await self.store.update_template(
                event.waba_id, event.name, event.language, event.changes, now
            )
            logger.info(
                "template webhook",
                extra={
                    "waba_id": event.waba_id,
                    "template": f"{event.name} ({event.language})",
                    "field": event.field,
                    **event.changes,
                    "matched": updated is not None,
                },
            )
            if updated is None:
                unknown.add(event.waba_id)
                continue
            applied += 1
            self._by_waba.setdefault(updated.waba_id, {})[updated.key] = updated
        if unknown and self.source is not None:
            task = asyncio.create_task(self._sync_quietly(unknown))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return applied

    async def _sync_quietly(self, waba_ids: set[str]) -> None:
        try:
            await self.sync(waba_ids)
        except Exception:
            logger.exception("template sync after a webhook failed")

    async def wait_background(self) -> None:
        """Wait for the syncs that webhooks started (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # -- reading --------------------------------------------------------------------------

    async def list(
        self, query: TemplateFilter, wabas: frozenset[str] | None = None
    ) -> builtins.list[CatalogueTemplate]:
        """The synced templates `query` asks for (of `wabas` only, when given), read from the
        table: by WABA, name and language."""
        found = await self.store.list_templates(query.waba_id)
        return [t for t in found if query.matches(t) and (wabas is None or t.waba_id in wabas)]

    async def of_sender(self, sender: str) -> builtins.list[CatalogueTemplate]:
        """The templates of `sender`'s WABA (this process's copy, at most `refresh_seconds`
        old), by name and language: the dashboard's picker. Empty without a WABA id or sync."""
        await self._fresh()
        entries = self._by_waba.get(self._waba_of.get(sender) or "", {})
        return [entries[key] for key in sorted(entries)]

    async def find(self, sender: str, name: str, language: str) -> CatalogueTemplate | None:
        """That template in `sender`'s WABA as last synced; None when it is not there."""
        await self._fresh()
        entries = self._by_waba.get(self._waba_of.get(sender) or "", {})
        return entries.get((name, language))

    async def sender_wabas(self, names: frozenset[str]) -> frozenset[str]:
        """The WABA ids of these senders (what a key limited to them may see)."""
        if self.senders is None:
            return frozenset()
        return frozenset(
            s.waba_id for s in await self.senders.senders() if s.name in names and s.waba_id
        )
