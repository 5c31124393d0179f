"""Use cases shared by the REST API, the dashboard and the CLI: schedule, list, cancel, status.

The service validates a request into a `ScheduledMessage` (`service.validation`), stores it,
and nudges the dispatcher when the new message is due before the dispatcher's next wake-up.
It holds no SQL and no HTTP.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from whatsapp_scheduler import store
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import content as content_mod
from whatsapp_scheduler.core import (
    errors,
    messages,
    notices,
    quiet,
    senders,
    templates,
    window,
)
from whatsapp_scheduler.core.query import MessageQuery
from whatsapp_scheduler.core.senders import DEFAULT_SENDER_NAME
from whatsapp_scheduler.service import campaigns as campaigns_mod
from whatsapp_scheduler.service import consent as consent_mod
from whatsapp_scheduler.service import contacts as contacts_mod
from whatsapp_scheduler.service import links, validation
from whatsapp_scheduler.service import media as media_mod
from whatsapp_scheduler.service.requests import BatchItem, ScheduleRequest, StatusReport
from whatsapp_scheduler.service.series import SeriesMixin
from whatsapp_scheduler.store import files as files_mod
from whatsapp_scheduler.store.senders_directory import SenderDirectory
from whatsapp_scheduler.whatsapp import errorcodes, webhooks

logger = logging.getLogger(__name__)

MAX_BATCH = 1000
#: The senders' own quiet hours are read again after this long (the dispatcher checks again
#: at send time with what it reads at each safety poll).
QUIET_OVERRIDES_TTL = timedelta(seconds=5)
#: A message Meta refused for its per-user marketing limit (131049) waits this long, once.
MARKETING_LIMIT_WAIT = timedelta(hours=24)


class WindowNumbers(Protocol):
    """The business numbers a sender's 24-hour windows are kept under (`store` contacts)."""

    async def numbers(self, sender: str) -> tuple[str, ...]: ...

    async def senders_at(self, phone_number_id: str) -> tuple[str, ...]:
        """The senders of that business number ('': the default sender)."""
        ...


class DefaultSenderNumbers:
    """Only the default sender's windows: the rows of its number and those recorded without
    one ('': before revision 0013, or a webhook without `metadata.phone_number_id`). Other
    senders have none known here; `bootstrap` wires the senders' own numbers."""

    def __init__(self, phone_number_id: str | None = None) -> None:
        self.phone_number_id = phone_number_id

    async def numbers(self, sender: str) -> tuple[str, ...]:
        if sender != senders.DEFAULT_SENDER_NAME:
            return ()
        return ("", self.phone_number_id) if self.phone_number_id else ("",)

    async def senders_at(self, phone_number_id: str) -> tuple[str, ...]:
        if phone_number_id in {"", self.phone_number_id}:
            return (senders.DEFAULT_SENDER_NAME,)
        return ()


class TemplateChecks(Protocol):
    """Per message: warnings about its template(s), or the rule broken (`service.templates`)."""

    async def check_many(
        self, batch: Sequence[messages.ScheduledMessage]
    ) -> list[list[notices.ScheduleWarning] | errors.ValidationFailed]: ...


class SchedulerService(SeriesMixin):
    """The rules for scheduling, listing, editing and cancelling messages, and series."""

    def __init__(
        self,
        message_store: store.MessageStore,
        clock: clock_mod.Clock,
        *,
        default_timezone: str,
        default_region: str,
        on_scheduled: Callable[[datetime], None] | None = None,
        window_policy: window.WindowPolicy = window.WindowPolicy.SEND,
        senders: SenderDirectory | None = None,
        window_numbers: WindowNumbers | None = None,
        categories: consent_mod.CategoryLookup | None = None,
        consent: consent_mod.ConsentService | None = None,
        templates: TemplateChecks | None = None,
        quiet_hours: quiet.QuietHours | None = None,
        allow_private_links: bool = False,
        allow_subhourly: bool = False,
        media_retention: timedelta = timedelta(days=30),
        check_links: bool = True,
        media_files: files_mod.FileBytes | None = None,
        reply_window: timedelta = timedelta(hours=72),
    ) -> None:
        """`window_numbers`: the business numbers whose 24-hour window a sender's message is
        checked against (default: `DefaultSenderNumbers()`, the default sender's only)."""
        self.store = message_store
        # An inbound message answers a campaign message sent at most this long before it.
        self.reply_window = reply_window
        # The senders a message's `gonderen` may name; None: only the default sender.
        self.senders = senders
        self.default_sender = senders.default_name if senders else DEFAULT_SENDER_NAME
        self.window_numbers: WindowNumbers = window_numbers or DefaultSenderNumbers()
        self.clock = clock
        self.default_timezone = default_timezone
        self.default_region = default_region
        self._on_scheduled = on_scheduled
        self.window_policy = window_policy
        # The template catalogue's categories (None: unknown; docs/consent.md, "Marketing").
        self.categories = categories
        self.consent = consent or consent_mod.ConsentService(
            message_store,
            clock,
            self.window_numbers,
            default_sender=self.default_sender,
            default_region=default_region,
        )
        # Checks a message's template against Meta's synced catalogue (service.templates);
        # None: the shape checks only.
        self.templates = templates
        # QUIET_HOURS (docs/limits.md); a sender's own `quiet_hours` wins.
        self.quiet_hours = quiet_hours
        #: MEDIA_ALLOW_PRIVATE_LINKS: media links to internal addresses are accepted.
        self.allow_private_links = allow_private_links
        #: MEDIA_LINK_CHECK: a media link is asked once when scheduled (a warning if dead).
        self.check_links = check_links
        self._quiet_overrides: dict[str, str] = {}  # sender -> its own value, when set
        self._quiet_read_at: datetime | None = None
        #: sender -> (whether its address book has contacts, when that was read)
        self._address_books: dict[str, tuple[bool, datetime]] = {}
        # SERIES_ALLOW_SUBHOURLY: a series' rule may repeat more often than hourly.
        self.allow_subhourly = allow_subhourly
        # The address book (docs/contacts.md), on the same store and consent rules.
        self.contacts = contacts_mod.ContactService(message_store, clock, self.consent)
        self.campaigns = campaigns_mod.CampaignService(self)  # docs/campaigns.md
        # Uploaded files (docs/media.md): POST /media, and the check of the ids messages name.
        self.media = media_mod.MediaLibrary(message_store, clock, media_retention, media_files)

    def set_scheduled_hook(self, hook: Callable[[datetime], None] | None) -> None:
        """Call `hook(run_at)` after each newly stored message (the dispatcher's nudge)."""
        self._on_scheduled = hook

    def build(
        self,
        request: ScheduleRequest,
        now: datetime,
        known_senders: Mapping[str, bool] | None = None,
        categories: Mapping[tuple[str, str], str] | None = None,
    ) -> messages.ScheduledMessage:
        """Validate `request` into a message ready to store; raises ValidationFailed.
        `known_senders` (from `known_senders()`) is needed when the request names a sender;
        `categories` (from `template_categories()`) gives a template's category."""
        category = None
        if categories and request.template is not None:
            category = categories.get((request.gonderen or self.default_sender, _name(request)))
        return validation.build(
            request,
            now,
            self.default_timezone,
            self.default_region,
            self.default_sender,
            known_senders,
            category,
        )

    async def template_categories(
        self, requests: Sequence[ScheduleRequest]
    ) -> Mapping[tuple[str, str], str]:
        """(sender, template name) -> its category (MARKETING ...) from the catalogue, one
        lookup per sender, before the messages are built: a category given to the message as
        it is made costs nothing, where a copy of each message afterwards cost ~8 % of a batch
        (bench/bench_templates.py)."""
        if self.categories is None:
            return {}
        wanted: dict[str, set[str]] = {}
        for request in requests:
            if request.template is not None:
                wanted.setdefault(request.gonderen or self.default_sender, set()).add(
                    _name(request)
                )
        found: dict[tuple[str, str], str] = {}
        for sender, names in wanted.items():
            for name, category in (await self.categories.categories(sender, names)).items():
                found[(sender, name)] = category.upper()
        return found

    async def known_senders(self, requests: Sequence[ScheduleRequest]) -> Mapping[str, bool] | None:
        """Each sender's name and whether it is enabled, read once when one of `requests`
        names a sender (`gonderen`); None when none does (nothing to read)."""
        if self.senders is None or all(r.gonderen is None for r in requests):
            return None
        return await self.sender_states()

    async def sender_states(self) -> Mapping[str, bool] | None:
        """Each sender's name and whether it is enabled (None: no directory, only the default
        sender)."""
        if self.senders is None:
            return None
        return {s.name: s.enabled for s in await self.senders.senders()}

    async def schedule(self, request: ScheduleRequest) -> store.AddResult:
        """Store one message. Raises ValidationFailed, or Conflict for a reused id."""
        result, _ = await self.schedule_with_warnings(request)
        return result

    async def schedule_with_warnings(
        self, request: ScheduleRequest
    ) -> tuple[store.AddResult, list[notices.ScheduleWarning]]:
        """`schedule`, plus warnings about the message (e.g. `window_closed: ...`)."""
        known = await self.known_senders([request])
        now = self.clock.now()
        categories = await self.template_categories([request])
        message = self.build(request, now, known, categories)
        windows = await self._quiet_windows(now)
        zones = await self._contact_zones([message], windows)
        message, moved = self._out_of_quiet_hours(message, windows, zones)
        (warnings,) = await self._checks([message])
        if isinstance(warnings, errors.ValidationFailed):
            raise warnings
        if moved is not None:
            warnings = [moved, *warnings]
        result = await self.store.add(message)
        self._after_add([result])
        if result.status == store.AddStatus.CONFLICT or not _visible(request, result):
            raise errors.Conflict(
                f"id: {result.message.id!r} is already used by a different message"
            )
        return result, warnings

    async def _checks(
        self, batch: Sequence[messages.ScheduledMessage]
    ) -> list[list[notices.ScheduleWarning] | errors.ValidationFailed]:
        """Per message: the template checks (first), then the 24-hour window's, then a media
        link's (service/links.py), then an uploaded file's (service/media.py)."""
        answers = await self._window_warnings(batch)
        if any(m.content is not None or m.template is not None for m in batch):
            refused = await self.media.refusals(batch)
            answers = [
                a if r is None or isinstance(a, errors.ValidationFailed) else r
                for a, r in zip(answers, refused, strict=True)
            ]
        if any(m.content is not None for m in batch):
            checked_links = await links.check_many(
                batch, self.allow_private_links, reach=self.check_links
            )
            answers = [
                a
                if isinstance(a, errors.ValidationFailed)
                else (lk if isinstance(lk, errors.ValidationFailed) else a + lk)
                for a, lk in zip(answers, checked_links, strict=True)
            ]
        if self.templates is None:
            return answers
        checked = await self.templates.check_many(batch)
        merged: list[list[notices.ScheduleWarning] | errors.ValidationFailed] = []
        for t, w in zip(checked, answers, strict=True):
            if isinstance(t, errors.ValidationFailed) or isinstance(w, errors.ValidationFailed):
                merged.append(t if isinstance(t, errors.ValidationFailed) else w)
            else:
                merged.append(t + w)
        return merged

    async def _window_warnings(
        self, batch: Sequence[messages.ScheduledMessage]
    ) -> list[list[notices.ScheduleWarning] | errors.ValidationFailed]:
        """Per message: the refusal of a recipient's opt-out (docs/consent.md), else the
        24-hour window warnings or the refusal under WINDOW_POLICY, plus `undeliverable`.

        One read of the contacts and their consent for the whole batch, per sender.
        """
        by_sender: dict[str, list[messages.ScheduledMessage]] = {}
        for m in batch:
            by_sender.setdefault(m.sender, []).append(m)
        seen: dict[tuple[str, str], store.ContactState] = {}  # (sender, wa_id) -> its state
        for sender, of_sender in by_sender.items():  # a window is with the sender's number
            numbers = await self.window_numbers.numbers(sender)
            found = await self.store.contacts_many(
                [window.wa_id(m.recipient) for m in of_sender], numbers
            )
            seen.update({(sender, wa_id): state for wa_id, state in found.items()})
        answers: list[list[notices.ScheduleWarning] | errors.ValidationFailed] = []
        for message in batch:
            state = seen.get((message.sender, window.wa_id(message.recipient)))
            refused = consent_mod.refusal(message, state)
            if refused is not None:
                answers.append(refused)
                continue
            last_inbound = state.last_inbound if state is not None else None
            if message.fallback_template is None:  # the usual case: its answer is cached
                refusal, notes = validation.window_answer(
                    self.window_policy, message.template is not None, last_inbound, message.due_at
                )
            else:
                refusal, notes = validation.window_decision(
                    self.window_policy,
                    message.template is not None,
                    last_inbound,
                    message.due_at,
                    templates.describe(message.fallback_template),
                )
            if refusal is not None:
                answers.append(
                    errors.ValidationFailed("mesaj" if message.content is None else "type", refusal)
                )
            elif state is not None and state.consent.undeliverable_at is not None:
                answers.append([*notes, *consent_mod.warnings(state)])
            else:
                answers.append(list(notes))
        return answers

    async def text_refusals(
        self,
        sender: str,
        category: str | None,
        recipients: Sequence[str],
        due_ats: Sequence[datetime],
    ) -> dict[int, errors.ValidationFailed]:
        """What `checks` refuses of texts without a fallback template from `sender` (of
        `category`) to `recipients` at `due_ats`, by index; the others pass. A text has no
        template, media or link to check: only the recipient's consent and the 24-hour window
        (`_window_warnings`' rules, without the warnings). One read of the contacts; those
        without a contact row (usually most) take the window's answer of their due time."""
        numbers = await self.window_numbers.numbers(sender)
        wa_ids = [window.wa_id(r) for r in recipients]
        found = await self.store.contacts_many(wa_ids, numbers)
        policy = self.window_policy
        closed = {
            due: rule
            for due in set(due_ats)
            if (rule := validation.window_answer(policy, False, None, due)[0]) is not None
        }
        refused: dict[int, errors.ValidationFailed] = {}
        if not found and not closed:
            return refused
        for index, (wa, due) in enumerate(zip(wa_ids, due_ats, strict=True)):
            state = found.get(wa)
            if state is None:
                rule = closed.get(due)
            else:
                answer = consent_mod.refusal_of(recipients[index], category, state)
                if answer is not None:
                    refused[index] = answer
                    continue
                rule = validation.window_answer(policy, False, state.last_inbound, due)[0]
            if rule is not None:
                refused[index] = errors.ValidationFailed("mesaj", rule)
        return refused

    async def checks(
        self, batch: Sequence[messages.ScheduledMessage]
    ) -> list[list[notices.ScheduleWarning] | errors.ValidationFailed]:
        """Per built message: the template catalogue's check, then consent and the 24-hour
        window (as POST /schedule checks them), in one lookup per sender."""
        return await self._checks(batch)

    def _build_all(
        self,
        requests: Sequence[ScheduleRequest],
        now: datetime,
        known: Mapping[str, bool] | None,
        categories: Mapping[tuple[str, str], str],
    ) -> tuple[list[BatchItem | None], list[tuple[int, messages.ScheduledMessage]]]:
        """Each request of a batch built on its own: the refusals in place, and the valid
        messages with their index (a repeated id with other content is a Conflict)."""
        items: list[BatchItem | None] = [None] * len(requests)
        valid: list[tuple[int, messages.ScheduledMessage]] = []
        first_seen: dict[str, messages.ScheduledMessage] = {}
        for index, request in enumerate(requests):
            if request.tekrar is not None:
                refusal = errors.ValidationFailed(
                    "tekrar", "a series is made one at a time: use POST /schedule"
                )
                items[index] = BatchItem(index, request.id, None, refusal)
                continue
            try:
                message = self.build(request, now, known, categories)
            except errors.ValidationFailed as exc:
                items[index] = BatchItem(index, request.id, None, exc)
                continue
            earlier = first_seen.get(message.id)
            if earlier is not None and earlier.content_hash != message.content_hash:
                conflict = errors.Conflict(
                    f"id: {message.id!r} appears twice with different content"
                )
                items[index] = BatchItem(index, message.id, None, conflict)
                continue
            first_seen.setdefault(message.id, message)
            valid.append((index, message))
        return items, valid

    async def validate_many(
        self, requests: Sequence[ScheduleRequest]
    ) -> tuple[
        list[BatchItem | None],
        list[tuple[int, messages.ScheduledMessage]],
        dict[int, tuple[notices.ScheduleWarning, ...]],
    ]:
        """Each request validated on its own, as POST /schedule would (the fields, the
        sender, quiet hours, the template catalogue, consent and the 24-hour window), storing
        nothing: per index the refusal (None: passed), the messages that passed (moved out of
        quiet hours), their warnings."""
        known = await self.known_senders(requests)
        categories = await self.template_categories(requests)
        now = self.clock.now()
        items, valid = self._build_all(requests, now, known, categories)
        moved_for: dict[int, notices.ScheduleWarning] = {}
        windows = await self._quiet_windows(now)
        if any(w is not None for w in windows.values()):
            zones = await self._contact_zones([m for _, m in valid], windows)
            for position, (index, message) in enumerate(valid):
                message, moved = self._out_of_quiet_hours(message, windows, zones)
                if moved is not None:
                    valid[position] = (index, message)
                    moved_for[index] = moved
        checked = await self._checks([m for _, m in valid])
        warnings_for: dict[int, tuple[notices.ScheduleWarning, ...]] = {}
        passed: list[tuple[int, messages.ScheduledMessage]] = []
        for (index, message), answer in zip(valid, checked, strict=True):
            if isinstance(answer, errors.ValidationFailed):
                items[index] = BatchItem(index, message.id, None, answer)
                continue
            moved = moved_for.get(index)
            warnings_for[index] = tuple(answer) if moved is None else (moved, *answer)
            passed.append((index, message))
        return items, passed, warnings_for

    async def schedule_many(self, requests: Sequence[ScheduleRequest]) -> list[BatchItem]:
        """Validate each request on its own and store the valid ones in one transaction."""
        if len(requests) > MAX_BATCH:
            raise errors.ValidationFailed(
                "messages", "at most {MAX_BATCH} per batch", MAX_BATCH=MAX_BATCH
            )
        items, valid, warnings_for = await self.validate_many(requests)
        unique = list({m.id: m for _, m in reversed(valid)}.values())
        stored = {r.message.id: r for r in await self.store.add_many(unique)}
        for index, message in valid:
            result = stored[message.id]
            if result.status == store.AddStatus.CONFLICT or not _visible(requests[index], result):
                conflict = errors.Conflict(
                    f"id: {message.id!r} is already used by a different message"
                )
                items[index] = BatchItem(index, message.id, None, conflict)
            else:
                items[index] = BatchItem(
                    index, message.id, result, None, warnings_for.get(index, ())
                )
        self._after_add(list(stored.values()))
        return [item for item in items if item is not None]

    async def _quiet_windows(self, now: datetime) -> Mapping[str, quiet.QuietHours | None]:
        """The quiet hours of each sender with its own, and under '' QUIET_HOURS (everyone
        else's). The senders' values are read at most every QUIET_OVERRIDES_TTL."""
        if self.senders is not None and (
            self._quiet_read_at is None or now - self._quiet_read_at >= QUIET_OVERRIDES_TTL
        ):
            try:
                found = await self.senders.senders()
            except errors.StoreError:
                logger.warning("senders' quiet hours not read; using those known")
            else:
                self._quiet_overrides = {
                    s.name: s.quiet_hours for s in found if s.quiet_hours is not None
                }
                self._quiet_read_at = now
        windows: dict[str, quiet.QuietHours | None] = {"": self.quiet_hours}
        for name, value in self._quiet_overrides.items():
            windows[name] = quiet.effective(self.quiet_hours, value)
        return windows

    async def _contact_zones(
        self,
        batch: Sequence[messages.ScheduledMessage],
        windows: Mapping[str, quiet.QuietHours | None],
    ) -> Mapping[tuple[str, str], str]:
        """(sender, recipient) -> the time zone of the recipient's contact, for the messages
        that quiet hours apply to and whose contact has a zone: their quiet hours are the
        contact's nights, not the scheduler's (docs/limits.md). One read per sender; on a
        store error, none (each message's own zone is used)."""
        wanted: dict[str, set[str]] = {}
        for message in batch:
            if message.quiet_hours is not False and (
                windows.get(message.sender, windows[""]) is not None
            ):
                wanted.setdefault(message.sender, set()).add(message.recipient)
        zones: dict[tuple[str, str], str] = {}
        for sender, phones in wanted.items():
            try:
                if not await self._has_address_book(sender):
                    continue
                found = await self.store.get_profiles(sender, sorted(phones))
            except errors.StoreError:
                logger.warning("contacts' time zones not read; using the messages' own")
                continue
            for phone, profile in found.items():
                if profile.timezone:
                    zones[(sender, phone)] = profile.timezone
        return zones

    async def _has_address_book(self, sender: str) -> bool:
        """Whether `sender` has contacts at all, read at most every QUIET_OVERRIDES_TTL: a
        sender without an address book pays no contacts read per request."""
        now = self.clock.now()
        known = self._address_books.get(sender)
        if known is not None and now - known[1] < QUIET_OVERRIDES_TTL and not known[0]:
            return False
        if known is not None and known[0]:
            return True  # once it has contacts, it is read every time (cheap to keep)
        has = await self.store.has_profiles(sender)
        self._address_books[sender] = (has, now)
        return has

    def _out_of_quiet_hours(
        self,
        message: messages.ScheduledMessage,
        windows: Mapping[str, quiet.QuietHours | None],
        zones: Mapping[tuple[str, str], str] | None = None,
    ) -> tuple[messages.ScheduledMessage, notices.ScheduleWarning | None]:
        """The message moved to the end of its sender's quiet hours if it is due inside them
        (its `tarih`/`saat` stay as asked), with the warning saying so; else as it is. The
        hours are those of the recipient's contact's zone when it has one (`zones`), else of
        the message's own zone."""
        window_ = windows.get(message.sender, windows[""])
        if window_ is None or message.quiet_hours is False:
            return message, None
        zone = (zones or {}).get((message.sender, message.recipient), message.timezone)
        try:
            found = quiet.moved(message.due_at, zone, window_)
        except (KeyError, ValueError):  # a contact's zone this machine's tzdata lost since
            found = quiet.moved(message.due_at, message.timezone, window_)
        if found is None:
            return message, None
        end, text, params = found
        moved = message.evolve(due_at=end, run_at=end, status_reason=quiet.REASON)
        note = notices.ScheduleWarning(notices.WarningCode.QUIET_HOURS, text, dict(params))
        return moved, note

    def nudge(self, run_at: datetime) -> None:
        """Tell the dispatcher that a message is due at `run_at` (after a commit)."""
        self._after_add([store.AddResult(store.AddStatus.CREATED, _Due(run_at))])  # type: ignore[arg-type]

    def _after_add(self, results: Sequence[store.AddResult]) -> None:
        self._after_add_times(
            [r.message.run_at for r in results if r.status == store.AddStatus.CREATED]
        )

    def _after_add_times(self, created: Sequence[datetime]) -> None:
        if created and self._on_scheduled is not None:
            try:
                self._on_scheduled(min(created))
            except Exception:  # after the commit: the answer must still say "stored"
                logger.exception("dispatcher nudge failed; its safety poll will find the message")

    async def get(
        self, message_id: str, senders: frozenset[str] | None = None
    ) -> messages.ScheduledMessage:
        """The message; NotFound if there is none, or (with `senders`, a key limited to those
        senders) if it is another sender's: the same answer, so ids of others stay unknown."""
        message = await self.store.get(message_id)
        if message is None or (senders is not None and message.sender not in senders):
            raise errors.NotFound(f"id: no message with id {message_id!r}")
        return message

    async def status(self, message_id: str, senders: frozenset[str] | None = None) -> StatusReport:
        message = await self.get(message_id, senders)
        return StatusReport(
            message, await self.store.attempts(message_id), await self.store.edits(message_id)
        )

    async def edit(
        self,
        message_id: str,
        changes: Mapping[str, Any],
        *,
        key_name: str | None = None,
        senders: frozenset[str] | None = None,
    ) -> tuple[messages.ScheduledMessage, list[notices.ScheduleWarning]]:
        """Change some of `EDIT_FIELDS` of a queued message (docs/edits.md): validated as a
        new message would be, then applied with one conditional UPDATE that a claim by the
        dispatcher makes fail (409), and recorded with `key_name`. NotFound for an unknown
        id (or another sender's, with `senders`); Conflict once it is not queued."""
        unknown = sorted(set(changes) - set(EDIT_FIELDS))
        if unknown:
            raise errors.ValidationFailed(unknown[0], "is not a field that can be edited")
        if not changes:
            raise errors.ValidationFailed(
                "body", "give at least one of {items}", items=", ".join(EDIT_FIELDS)
            )
        current = await self.get(message_id, senders)
        await self._check_editable(current)
        request = _edit_request(current, changes, self.default_sender, key_name, senders)
        known = await self.known_senders([request])
        categories = await self.template_categories([request])
        now = self.clock.now()
        built = self.build(request, now, known, categories)
        diff = _diff(current, built)
        if not diff:
            return current, []
        (warnings,) = await self._checks([built])
        if isinstance(warnings, errors.ValidationFailed):
            raise warnings
        stored = await self.store.edit_message(built, diff, key_name, now)
        if stored is None:
            await self._check_editable(await self.get(message_id))
            raise errors.Conflict(f"id: message {message_id!r} can no longer be edited")
        logger.info("message edited", extra={**stored.log_context(), "fields": sorted(diff)})
        if self._on_scheduled is not None:
            try:
                self._on_scheduled(stored.run_at)
            except Exception:  # after the commit: the answer must still say "edited"
                logger.exception("dispatcher nudge failed; its safety poll will find the message")
        return stored, warnings

    async def _check_editable(self, message: messages.ScheduledMessage) -> None:
        if message.status != messages.MessageStatus.QUEUED:
            raise errors.Conflict(
                f"id: message {message.id!r} is {message.status} and can no longer be edited "
                "(only a queued message can)"
            )
        if message.series_id is not None:
            series = await self.store.get_series(message.series_id)
            if series is not None and series.status == store.SeriesStatus.ENDED:
                raise errors.Conflict(
                    f"id: {message.id!r} is an occurrence of series {series.id!r}, which has "
                    "ended; it can no longer be edited"
                )

    async def cancel(
        self, message_id: str, senders: frozenset[str] | None = None
    ) -> messages.ScheduledMessage:
        """Cancel a queued message; the row stays, with status `cancelled`. With `senders`,
        another sender's message is NotFound (and stays as it is)."""
        if senders is not None:
            await self.get(message_id, senders)
        cancelled = await self.store.cancel(message_id, self.clock.now())
        if cancelled is not None:
            logger.info("message cancelled", extra=cancelled.log_context())
            return cancelled
        current = await self.get(message_id)
        if current.status == messages.MessageStatus.CANCELLED:
            return current  # cancelling twice is harmless
        raise errors.Conflict(
            f"id: message {message_id!r} is {current.status} and can no longer be cancelled"
        )

    async def apply_webhook(self, delivery: webhooks.Delivery) -> store.ReceiptCounts:
        """Apply Meta's status receipts and remember inbound messages (24-hour windows).

        What could not be applied is logged (WARNING "webhook entry skipped", with the reason
        and the entry), as is a timestamp that was replaced by the time of arrival."""
        for skipped in delivery.skipped:
            logger.warning(
                "webhook entry skipped",
                extra={"kind": skipped.kind, "reason": skipped.reason, "entry": skipped.excerpt},
            )
        notes = [u.note for u in delivery.statuses] + [m.note for m in delivery.inbound]
        for note in notes:
            if note is not None:
                logger.warning("webhook timestamp replaced", extra={"reason": note})
        written: dict[str, list[tuple[str, datetime]]] = {}  # per business number written to
        for m in delivery.inbound:
            if m.opens_window:
                written.setdefault(m.phone_number_id or "", []).append((m.wa_id, m.timestamp))
        for number, contacts in written.items():
            await self.store.record_inbound(contacts, number)
            # A campaign's replies (docs/campaigns.md, "The funnel"): the sender's message to
            # that contact just before it answers.
            senders_of = await self.window_numbers.senders_at(number)
            await self.store.record_replies(
                [("+" + wa_id, at) for wa_id, at in contacts], senders_of, self.reply_window
            )
        receipts = [
            store.Receipt(
                wamid=u.wamid,
                status=u.status,
                occurred_at=u.timestamp,
                callback_data=u.callback_data,
                error_code=u.error_code,
                error_text=u.error_text,
            )
            for u in delivery.statuses
        ]
        counts = await self.store.apply_receipts(receipts, self.clock.now())
        limited = [  # Meta's per-user marketing limit: one more try in 24 h (docs/limits.md)
            r.wamid
            for r in receipts
            if r.status == messages.MessageStatus.FAILED
            and r.error_code == errorcodes.MARKETING_LIMIT_CODE
        ]
        if limited:
            now = self.clock.now()
            retried = await self.store.retry_marketing_limited(
                limited, now + MARKETING_LIMIT_WAIT, now
            )
            if retried:
                logger.info("131049: retried once in 24 h", extra={"messages": len(retried)})
                self._after_add_times([now + MARKETING_LIMIT_WAIT])
        await self.consent.apply_webhook(delivery)  # keywords, marketing stop, 131050, 131026
        if receipts:
            logger.info(
                "status webhook applied",
                extra={
                    "applied": counts.applied,
                    "duplicate": counts.duplicate,
                    "stale": counts.stale,
                    "unmatched": counts.unmatched,
                },
            )
        return counts

    async def list(self, query: MessageQuery) -> store.Page:
        """A page of the messages `query` asks for."""
        return await self.store.list(query)

    async def get_many(self, ids: Sequence[str]) -> builtins.list[messages.ScheduledMessage]:
        """The messages with these ids (unknown ones left out): the dashboard's live view."""
        return await self.store.get_many(ids)


#: What `PATCH /schedule/{id}` may change (the REST API's names).
#: The objects of the other message types (docs/message-types.md), editable with `type`.
CONTENT_FIELDS = content_mod.TYPES
EDIT_FIELDS = (
    "tarih",
    "saat",
    "timezone",
    "mesaj",
    "template",
    "fallback_template",
    "alici",
    "gonderen",
    "type",
    *CONTENT_FIELDS,
)


def _edit_request(
    current: messages.ScheduledMessage,
    changes: Mapping[str, Any],
    default_sender: str,
    key_name: str | None,
    senders: frozenset[str] | None,
) -> ScheduleRequest:
    """The request that would make the message as edited: its stored fields, `changes` over
    them. A new `template` replaces the text (and its fallback template), a new `mesaj` the
    template; `fallback_template` sets a text's fallback (null removes it)."""
    body, template, fallback = current.body, current.template, current.fallback_template
    content = current.content
    if changes.get("template") is not None:
        body, template, fallback, content = None, changes["template"], None, None
    if "mesaj" in changes:
        body = changes["mesaj"]
        if body is not None:
            content = None
            if "template" not in changes:
                template = None
    if "fallback_template" in changes:  # set, or null: removed
        fallback = changes["fallback_template"]
    objects = {k: changes[k] for k in CONTENT_FIELDS if changes.get(k) is not None}
    retyped = changes.get("type") is not None or bool(objects)
    if retyped:  # another type, or its object changed: only what this edit gives stays
        body = changes.get("mesaj")  # with `type` too: refused as in POST /schedule
        template = changes.get("template")
        content = None
    sender = changes.get("gonderen", current.sender)
    request = ScheduleRequest(
        alici=changes.get("alici", current.recipient) or "",
        tarih=changes.get("tarih", current.local_date) or "",
        saat=changes.get("saat", current.local_time) or "",
        mesaj=body,
        id=current.id,
        olusturmaTarihi=current.client_created,
        timezone=changes.get("timezone", current.timezone) or current.timezone,
        template=template,
        fallback_template=fallback,
        gonderen=None if sender == default_sender and "gonderen" not in changes else sender,
        created_by=current.created_by,
        allowed_senders=senders,
        type=None if content is None else content["type"],
        objects=None if content is None else {content["type"]: content[content["type"]]},
    )
    if retyped:
        stored_type = current.content["type"] if current.content is not None else None
        request.type, request.objects = changes.get("type") or stored_type, objects
    return request


#: (REST name, `ScheduledMessage` field) of what an edit records.
_EDIT_COLUMNS = (
    ("alici", "recipient"),
    ("tarih", "local_date"),
    ("saat", "local_time"),
    ("timezone", "timezone"),
    ("mesaj", "body"),
    ("template", "template"),
    ("fallback_template", "fallback_template"),
    ("content", "content"),
    ("gonderen", "sender"),
)


def _diff(
    before: messages.ScheduledMessage, after: messages.ScheduledMessage
) -> dict[str, dict[str, Any]]:
    """Per field that differs: {"from": ..., "to": ...} (JSON values)."""
    found: dict[str, dict[str, Any]] = {}
    for name, field in _EDIT_COLUMNS:
        old, new = getattr(before, field), getattr(after, field)
        old = dict(old) if isinstance(old, Mapping) else old
        new = dict(new) if isinstance(new, Mapping) else new
        if old != new:
            found[name] = {"from": old, "to": new}
    if before.due_at != after.due_at:
        found["scheduled_at"] = {"from": before.due_at.isoformat(), "to": after.due_at.isoformat()}
    return found


def _visible(request: ScheduleRequest, result: store.AddResult) -> bool:
    """Whether the stored message may be shown to the asker: a repeat of an id that another
    sender's message holds is refused as a reused id, never answered with that message."""
    allowed = request.allowed_senders
    return allowed is None or result.message.sender in allowed


def _name(request: ScheduleRequest) -> str:
    """The template name a request asks for ('' when it is not a string: refused later)."""
    name = request.template.get("name") if request.template is not None else None
    return name if isinstance(name, str) else ""


class _Due:
    """What `_after_add` reads of a stored message: its `run_at`."""

    def __init__(self, run_at: datetime) -> None:
        self.run_at = run_at
