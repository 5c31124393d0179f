"""Campaign use cases (docs/campaigns.md): one template or text to an audience of contacts at
an absolute time or at a local time in each contact's own zone, optionally paced.

Creating one builds every recipient's message with the same rules as POST /schedule (the
first by `SchedulerService.build`, the rest by `validation.build_like`; then the template
catalogue, consent and the 24-hour window for all) and answers with the recipients and the
refused ones; unless `dry_run`, the campaign
and its messages are then stored in one transaction (`store.create_campaign`, bulk inserts).
The messages table stays the queue: the dispatcher sends them like any other.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import functools
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from whatsapp_scheduler import store
from whatsapp_scheduler.core import (
    campaigns,
    contacts,
    csvimport,
    errors,
    localtime,
    messages,
    notices,
    recipients,
)
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.service import consent as consent_mod
from whatsapp_scheduler.service import gcpause, validation
from whatsapp_scheduler.service.requests import ScheduleRequest


class Scheduling(Protocol):
    """What campaigns use of `SchedulerService` (kept apart: no import cycle)."""

    store: store.MessageStore
    clock: clock_mod.Clock
    consent: consent_mod.ConsentService
    default_timezone: str
    default_region: str

    def nudge(self, run_at: datetime) -> None: ...

    async def sender_states(self) -> Mapping[str, bool] | None: ...

    def build(
        self,
        request: ScheduleRequest,
        now: datetime,
        known_senders: Mapping[str, bool] | None = None,
        categories: Mapping[tuple[str, str], str] | None = None,
    ) -> messages.ScheduledMessage: ...

    async def known_senders(
        self, requests: Sequence[ScheduleRequest]
    ) -> Mapping[str, bool] | None: ...

    async def template_categories(
        self, requests: Sequence[ScheduleRequest]
    ) -> Mapping[tuple[str, str], str]: ...

    async def checks(
        self, batch: Sequence[messages.ScheduledMessage]
    ) -> list[list[notices.ScheduleWarning] | errors.ValidationFailed]: ...

    async def text_refusals(
        self,
        sender: str,
        category: str | None,
        recipients: Sequence[str],
        due_ats: Sequence[datetime],
    ) -> dict[int, errors.ValidationFailed]: ...


logger = logging.getLogger(__name__)

#: Refusals listed one by one in the answer (all are counted by reason).
MAX_LISTED = 1000


@dataclasses.dataclass(slots=True)
class CampaignRequest:
    name: str
    tarih: str
    saat: str
    gonderen: str | None = None
    mesaj: str | None = None
    template: Mapping[str, Any] | None = None
    #: Another message type (docs/message-types.md): `type` and its object by name, as
    #: `ScheduleRequest.type` / `objects`.
    type: str | None = None
    objects: Mapping[str, Any] | None = None
    labels: Sequence[str] | None = None
    attributes: Mapping[str, Any] | None = None
    phones: Sequence[str] | None = None
    #: A contacts CSV as text (core/csvimport.py `read_contacts_csv`): a recipient a row.
    csv: str | None = None
    timezone: str | None = None
    local_time: bool = False
    pacing_minutes: int | None = None
    dry_run: bool = False
    created_by: str | None = None
    allowed_senders: frozenset[str] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    phone: str
    reason: str  # a code: opted_out, missing_field, past, template, invalid_phone, ...
    field: str
    rule: str
    #: The rule broken, with its template and values (the dashboard words it in the
    #: reader's language).
    error: errors.ValidationFailed | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Created:
    campaign: campaigns.Campaign
    refusals: list[Refusal]
    reasons: dict[str, int]
    stored: bool


def _content(request: CampaignRequest) -> tuple[str, Any]:
    """The campaign's content and the field it came from: `mesaj` (a text), `template`, or
    `type` (`{type: object}`, the other types); exactly one is given."""
    given = [
        name
        for name, there in (
            ("mesaj", request.mesaj is not None),
            ("template", request.template is not None),
            ("type", request.type is not None or bool(request.objects)),
        )
        if there
    ]
    if len(given) != 1:
        raise errors.ValidationFailed(
            given[0] if given else "mesaj",
            "give one of mesaj, template or type (with its object, docs/message-types.md)",
        )
    if given[0] == "mesaj":
        return "mesaj", request.mesaj
    if given[0] == "template":
        return "template", dict(request.template or {})
    return "type", dict(request.objects or {})


def reason_of(error: errors.SchedulerError) -> str:
    if isinstance(error, consent_mod.OptedOut):
        return "opted_out"
    if isinstance(error, errors.ValidationFailed):
        field = error.field.split(".", 1)[0].split("[", 1)[0]
        return {
            "alici": "invalid_phone",
            "tarih": "time",
            "saat": "time",
            "template": "template",
            "mesaj": "content",
            "gonderen": "sender",
        }.get(field, field)
    return "conflict" if isinstance(error, errors.Conflict) else "refused"


class CampaignService:
    def __init__(self, scheduler: Scheduling) -> None:
        self.scheduler = scheduler
        self.store = scheduler.store
        self.clock = scheduler.clock

    async def _sender(self, gonderen: str | None, allowed: frozenset[str] | None) -> str:
        sender, _ = await self.scheduler.consent.sender_numbers(gonderen, allowed)
        return sender

    async def create(self, request: CampaignRequest) -> Created:
        name = (request.name or "").strip()
        if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
            raise errors.ValidationFailed("name", "1-200 characters, no control characters")
        sender = await self._sender(request.gonderen, request.allowed_senders)
        states = await self.scheduler.sender_states()
        if states is not None and states.get(sender) is False:
            raise errors.ValidationFailed(
                "gonderen",
                "sender {sender!r} is disabled (PATCH /senders/{sender} enables it)",
                sender=sender,
            )
        field, content = _content(request)
        campaigns.check_paths(content, request.type or field if field == "type" else field)
        zone_name = request.timezone or self.scheduler.default_timezone
        zone = localtime.parse_zone(zone_name)
        day = localtime.parse_date(request.tarih)
        wall = localtime.parse_time(request.saat)
        pacing = timedelta(minutes=request.pacing_minutes or 0)
        if pacing < timedelta(0) or pacing > campaigns.MAX_PACING:
            raise errors.ValidationFailed("pacing_minutes", "between 0 and 10080 (7 days)")
        start = None if request.local_time else localtime.to_utc(day, wall, zone)
        with gcpause.paused():  # ~4 objects per recipient, alive until stored
            return await self._create(
                request, name, sender, field, content, zone_name, start, pacing
            )

    async def _create(
        self,
        request: CampaignRequest,
        name: str,
        sender: str,
        field: str,
        content: Any,
        zone_name: str,
        start: datetime | None,
        pacing: timedelta,
    ) -> Created:
        audience, refusals = await self._audience(request, sender)
        if not audience and not refusals:
            raise errors.ValidationFailed(
                "audience", "matches no contact (check the labels, attributes and phones)"
            )
        if len(audience) > campaigns.MAX_RECIPIENTS:
            raise errors.ValidationFailed(
                "audience",
                "matches {count:,} contacts; at most {MAX_RECIPIENTS:,} per campaign",
                count=len(audience),
                MAX_RECIPIENTS=campaigns.MAX_RECIPIENTS,
            )
        campaign_id = "cmp_" + secrets.token_hex(8)
        built = await asyncio.to_thread(_render_all, content, audience, refusals)
        # CPU-bound for a large audience: on a thread, so the event loop (other requests, the
        # dispatcher) keeps running between the GIL's switches.
        plans, shifted = await asyncio.to_thread(
            self._plans, request, built, campaign_id, start, pacing
        )
        make = functools.partial(
            self._campaign, request, campaign_id, name, sender, field, content, zone_name, shifted
        )
        if request.mesaj is not None and self.store.stores_campaign_rows():
            return await self._text_campaign(request, plans, refusals, make)
        batch = await self._build(request, plans, refusals)
        dues = [m.due_at for m in batch]
        campaign = make(len(dues), len(refusals), min(dues, default=None), max(dues, default=None))
        stored = False
        if not request.dry_run and batch:
            await self.store.create_campaign(campaign, batch)
            stored = True
            self._created(campaign)
        return Created(campaign, refusals, _reasons(refusals), stored)

    def _campaign(
        self,
        request: CampaignRequest,
        campaign_id: str,
        name: str,
        sender: str,
        field: str,
        content: Any,
        zone_name: str,
        shifted: int,
        recipients: int,
        refused: int,
        first_due_at: datetime | None,
        last_due_at: datetime | None,
    ) -> campaigns.Campaign:
        spec = {
            "content": {field: content} if field != "type" else {"type": request.type, **content},
            "audience": {
                "labels": list(request.labels or []),
                "attributes": dict(request.attributes or {}),
                "phones": len(request.phones or []),
                "csv": request.csv is not None,  # the file itself is not kept
            },
            "time": {
                "tarih": request.tarih,
                "saat": request.saat,
                "timezone": zone_name,
                "local_time": request.local_time,
                "pacing_minutes": request.pacing_minutes or 0,
            },
        }
        return campaigns.Campaign(
            id=campaign_id,
            name=name,
            sender=sender,
            spec=spec,
            recipients=recipients,
            refused=refused,
            shifted=shifted,
            first_due_at=first_due_at,
            last_due_at=last_due_at,
            created_at=self.clock.now(),
            created_by=request.created_by,
        )

    def _created(self, campaign: campaigns.Campaign) -> None:
        assert campaign.first_due_at is not None
        self.scheduler.nudge(campaign.first_due_at)  # a campaign's messages run when due
        logger.info(
            "campaign created",
            extra={
                "campaign": campaign.id,
                "recipients": campaign.recipients,
                "refused": campaign.refused,
            },
        )

    def _plans(
        self,
        request: CampaignRequest,
        built: list[tuple[contacts.Profile, Any]],
        campaign_id: str,
        start: datetime | None,
        pacing: timedelta,
    ) -> tuple[list[_Plan], int]:
        """Each recipient's message id, number, due time and content: due at `start`
        (absolute) or at the local time in the contact's own zone (DST gap: the next minute
        that exists, counted), plus its share of the pacing; `tarih`/`saat` in the zone it is
        due in. Plain tuples: a request object per recipient was a tenth of the creation."""
        zone_name = request.timezone or self.scheduler.default_timezone
        zone = localtime.parse_zone(zone_name)
        day = localtime.parse_date(request.tarih)
        wall = localtime.parse_time(request.saat)
        shifted = 0
        step = pacing / max(len(built) - 1, 1) if len(built) > 1 else timedelta(0)
        plans: list[_Plan] = []
        wall_of: dict[tuple[str, datetime], tuple[str, str, str]] = {}
        due_in: dict[str, tuple[datetime, bool]] = {}  # a zone's local due time
        for index, (profile, rendered) in enumerate(built):
            own = zone_name
            if request.local_time and profile.timezone:
                own = profile.timezone
            if start is None:
                found_due = due_in.get(own)
                if found_due is None:
                    own_zone = localtime.parse_zone(own) if own != zone_name else zone
                    found_due = due_in[own] = campaigns.local_due(day, wall, own_zone)
                due, moved = found_due
                shifted += moved
            else:
                due = start
            if step:
                due = due + step * index
            found = wall_of.get((own, due))
            if found is None:
                own_zone = localtime.parse_zone(own) if own != zone_name else zone
                local = due.astimezone(own_zone)
                # The repeated hour's second pass: only UTC names it exactly.
                found = ("UTC", *_wall(due.astimezone(UTC))) if local.fold else (own, *_wall(local))
                wall_of[(own, due)] = found
            own, tarih, saat = found
            plans.append(
                (f"{campaign_id}-{index:07d}", profile.phone, due, own, tarih, saat, rendered)
            )
        return plans, shifted

    async def _build(
        self, request: CampaignRequest, plans: list[_Plan], refusals: list[Refusal]
    ) -> list[messages.ScheduledMessage]:
        """The recipients' messages: the first one valid by `SchedulerService.build` (the
        sender, the key, the zone, the category), the others like it with their own number,
        time and content checked again (`validation.build_like`); then the template
        catalogue, consent and the 24-hour window for all (`checks`). Refusals are added to
        `refusals`; returns the messages that passed."""
        now = self.clock.now()
        first = [_request_of(request, plans[0])] if plans else []
        known = await self.scheduler.known_senders(first)
        categories = await self.scheduler.template_categories(first)
        built = await asyncio.to_thread(
            self._build_all, request, plans, refusals, now, known, categories
        )
        passed: list[messages.ScheduledMessage] = []
        for message, answer in zip(built, await self.scheduler.checks(built), strict=True):
            if isinstance(answer, errors.ValidationFailed):
                refusals.append(_refusal(message.recipient, reason_of(answer), answer))
            else:
                passed.append(message)
        return passed

    def _build_all(
        self,
        request: CampaignRequest,
        plans: list[_Plan],
        refusals: list[Refusal],
        now: datetime,
        known: Mapping[str, bool] | None,
        categories: Mapping[tuple[str, str], str],
    ) -> list[messages.ScheduledMessage]:
        base: messages.ScheduledMessage | None = None
        built: list[messages.ScheduledMessage] = []
        text = request.mesaj is not None
        template = request.template is not None
        kind = not text and not template  # another type (its objects)
        build_like = validation.build_like
        for plan in plans:
            message_id, phone, due, zone, tarih, saat, rendered = plan
            try:
                if base is None:
                    message = base = self.scheduler.build(
                        _request_of(request, plan), now, known, categories
                    )
                else:
                    message = build_like(
                        base,
                        message_id=message_id,
                        recipient=phone,
                        due_at=due,
                        timezone=zone,
                        local_date=tarih,
                        local_time=saat,
                        body=rendered if text else None,
                        template=rendered if template else None,
                        content=rendered if kind else None,
                        now=now,
                    )
            except errors.ValidationFailed as exc:
                refusals.append(_refusal(phone, reason_of(exc), exc))
                continue
            built.append(message)
        return built

    async def _text_campaign(
        self,
        request: CampaignRequest,
        plans: list[_Plan],
        refusals: list[Refusal],
        make: Callable[[int, int, datetime | None, datetime | None], campaigns.Campaign],
    ) -> Created:
        """`_build` and the storing of a text campaign for a store that writes the columns
        (`store.stores_campaign_rows`): the same rules, the same refusals in the same order
        and the same rows (the parts' `Rows.built()` are the messages `_build` gives), with no
        message object per recipient. The first recipient's message is built by
        `SchedulerService.build` (every check); consent and the 24-hour window are then
        checked for all (`SchedulerService.text_refusals`: what `checks` refuses of a text);
        each other message's text and content hash come from `validation.text_like` (the
        rules `build_like` checks again), in parts that the store inserts while the next
        ones are made (`store.create_campaign_parts`)."""
        now = self.clock.now()
        first = [_request_of(request, plans[0])] if plans else []
        known = await self.scheduler.known_senders(first)
        categories = await self.scheduler.template_categories(first)
        failed: list[Refusal] = []  # by the rules of the message, in order
        found = await asyncio.to_thread(
            self._first_text, request, plans, failed, now, known, categories
        )
        if found is None:
            refusals.extend(failed)
            return Created(make(0, len(refusals), None, None), refusals, _reasons(refusals), False)
        start, base = found
        rest = plans[start + 1 :]
        phones = [base.recipient, *(plan[1] for plan in rest)]
        dues = [base.due_at, *(plan[2] for plan in rest)]
        refused = await self.scheduler.text_refusals(base.sender, base.category, phones, dues)
        like = validation.build_like(  # what every message takes from `base`
            base,
            message_id=base.id,
            recipient=base.recipient,
            due_at=base.due_at,
            timezone=base.timezone,
            local_date=base.local_date,
            local_time=base.local_time,
            body=base.body,
            template=None,
            now=now,
        )
        produce = functools.partial(
            _text_parts, base, like, rest, refused, refusals, failed, now, make
        )
        if request.dry_run:
            campaign, _ = await asyncio.to_thread(campaigns.collect, produce)
            return Created(campaign, refusals, _reasons(refusals), False)
        campaign, _ = await self.store.create_campaign_parts(produce)
        if campaign.recipients:
            self._created(campaign)
        return Created(campaign, refusals, _reasons(refusals), campaign.recipients > 0)

    def _first_text(
        self,
        request: CampaignRequest,
        plans: list[_Plan],
        failed: list[Refusal],
        now: datetime,
        known: Mapping[str, bool] | None,
        categories: Mapping[tuple[str, str], str],
    ) -> tuple[int, messages.ScheduledMessage] | None:
        """The first recipient whose message `SchedulerService.build` makes (its index and
        the message); the refusals of those before it go to `failed`."""
        for index, plan in enumerate(plans):
            try:
                return index, self.scheduler.build(
                    _request_of(request, plan), now, known, categories
                )
            except errors.ValidationFailed as exc:
                failed.append(_refusal(plan[1], reason_of(exc), exc))
        return None

    async def _audience(
        self, request: CampaignRequest, sender: str
    ) -> tuple[list[contacts.Profile], list[Refusal]]:
        labels, attributes = _filters(request)
        phones = list(request.phones or [])
        if len(phones) > campaigns.MAX_PHONES:
            raise errors.ValidationFailed(
                "audience.phones", "at most {MAX_PHONES:,}", MAX_PHONES=campaigns.MAX_PHONES
            )
        if not labels and not attributes and not phones and request.csv is None:
            raise errors.ValidationFailed(
                "audience", "give labels, attributes, phones or csv (whom to send to)"
            )
        found: dict[str, contacts.Profile] = {}
        if labels or attributes:
            for p in await self.store.audience_profiles(sender, labels or None, attributes):
                found[p.phone] = p
        refusals: list[Refusal] = []
        if phones:
            for profile in await self._phone_profiles(phones, sender, refusals):
                found.setdefault(profile.phone, profile)
        if request.csv is not None:
            for profile in await self._csv_profiles(request.csv, sender, refusals):
                found[profile.phone] = profile  # the file's cells win over a label's match
        return [found[p] for p in sorted(found)], refusals

    async def _phone_profiles(
        self, phones: list[str], sender: str, refusals: list[Refusal]
    ) -> list[contacts.Profile]:
        """The explicit numbers, each with its stored profile (or an empty one)."""
        region = self.scheduler.default_region
        wanted: list[str] = []
        for index, raw in enumerate(phones):
            try:
                wanted.append(recipients.normalize(str(raw), region, f"audience.phones[{index}]"))
            except errors.ValidationFailed as exc:
                refusals.append(_refusal(str(raw)[:40], "invalid_phone", exc))
        known = await self.store.get_profiles(sender, wanted)
        return [known.get(phone) or contacts.Profile(sender, phone) for phone in wanted]

    async def _csv_profiles(
        self, text: str, sender: str, refusals: list[Refusal]
    ) -> list[contacts.Profile]:
        """The recipients of an audience's CSV: each row checked as a contacts import checks
        it (the number, then the profile's fields), its cells over the stored profile; a row
        that breaks a rule is refused naming its line. Nothing is stored."""
        try:
            rows = csvimport.read_contacts_csv(
                text.encode("utf-8"), max_rows=campaigns.MAX_CSV_ROWS
            )
        except (csvimport.CsvError, csv.Error) as exc:
            raise errors.ValidationFailed("audience.csv", str(exc)) from exc
        region = self.scheduler.default_region
        changes: list[contacts.Change] = []
        for row in rows:
            prefix = f"audience.csv[{row.line}]."
            raw = str(row.fields.get("phone", ""))[:40]
            try:
                if row.error is not None:
                    raise errors.ValidationFailed(prefix + "phone", "is required")
                phone = recipients.normalize(raw, region, prefix + "phone")
                fields = {k: v for k, v in row.fields.items() if k != "phone"}
                changes.append(contacts.Change(phone, contacts.check_fields(fields, prefix)))
            except errors.ValidationFailed as exc:
                reason = "invalid_phone" if exc.field.endswith("phone") else "contact"
                refusals.append(_refusal(raw, reason, exc))
        known = await self.store.get_profiles(sender, [c.phone for c in changes])
        now = self.clock.now()
        return [contacts.apply(known.get(c.phone), sender, c, now) for c in changes]

    async def get(self, campaign_id: str, allowed: frozenset[str] | None) -> campaigns.Campaign:
        found = await self.store.get_campaign(campaign_id) if len(campaign_id) <= 32 else None
        if found is None or (allowed is not None and found.sender not in allowed):
            raise errors.NotFound(f"id: no campaign with id {campaign_id!r}")
        return found

    async def show(
        self, campaign_id: str, allowed: frozenset[str] | None
    ) -> tuple[campaigns.Campaign, campaigns.Counts]:
        campaign = await self.get(campaign_id, allowed)
        return campaign, await self.store.campaign_counts(campaign.id)

    async def act(
        self, campaign_id: str, action: campaigns.Action, allowed: frozenset[str] | None
    ) -> tuple[campaigns.Campaign, campaigns.Counts, int]:
        campaign = await self.get(campaign_id, allowed)
        if campaign.cancelled_at is not None and action != campaigns.Action.CANCEL:
            raise errors.Conflict(f"campaign {campaign_id} is cancelled")
        changed = await self.store.set_campaign_state(campaign.id, action, self.clock.now())
        if action == campaigns.Action.RESUME and changed:
            self.scheduler.nudge(self.clock.now())
        logger.info("campaign %s", action, extra={"campaign": campaign_id, "messages": changed})
        campaign, counts = await self.show(campaign_id, allowed)
        return campaign, counts, changed

    async def messages(
        self,
        campaign_id: str,
        allowed: frozenset[str] | None,
        statuses: Sequence[messages.MessageStatus],
        after: str | None,
        limit: int,
    ) -> list[messages.ScheduledMessage]:
        campaign = await self.get(campaign_id, allowed)
        return await self.store.campaign_messages(campaign.id, statuses, after, limit)

    async def list(
        self,
        allowed: frozenset[str] | None,
        gonderen: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[campaigns.Campaign]:
        senders: list[str] | None = sorted(allowed) if allowed is not None else None
        if gonderen is not None:
            if senders is not None and gonderen not in senders:
                raise errors.ValidationFailed(
                    "gonderen",
                    "this API key sees only {value}",
                    value=", ".join(senders) or "no sender",
                )
            senders = [gonderen]
        return await self.store.list_campaigns(senders, after, limit)


def _filters(request: CampaignRequest) -> tuple[tuple[str, ...], dict[str, str]]:
    """The audience's labels and attribute filters, checked (as GET /contacts checks them)."""
    labels = contacts.check_labels(request.labels, "audience.labels") if request.labels else ()
    attributes: dict[str, str] = {}
    for key, value in (request.attributes or {}).items():
        if not contacts.ATTRIBUTE_KEY.match(key):
            raise errors.ValidationFailed(f"audience.attributes.{key[:60]}", contacts.KEY_RULE)
        text = contacts.attribute_text(value)
        if text is None:
            raise errors.ValidationFailed(
                f"audience.attributes.{key}", "must be a string, number or boolean"
            )
        attributes[key] = text
    return tuple(labels), attributes


#: One recipient's message before it is built: id, number, due time, zone, local date and
#: time in that zone, and its content with the placeholders filled in.
_Plan = tuple[str, str, datetime, str, str, str, Any]


def _request_of(request: CampaignRequest, plan: _Plan) -> ScheduleRequest:
    """A recipient's message as POST /schedule's request (the first one is built by
    `SchedulerService.build`, with every check; the others like it)."""
    message_id, phone, _, zone, tarih, saat, rendered = plan
    kind = request.type is not None or bool(request.objects)  # another type than text
    return ScheduleRequest(
        alici=phone,
        tarih=tarih,
        saat=saat,
        mesaj=rendered if request.mesaj is not None else None,
        template=rendered if request.template is not None else None,
        type=request.type if kind else None,
        objects=rendered if kind else None,
        id=message_id,
        timezone=zone,
        gonderen=request.gonderen,  # as POST /schedule: None is the default
        created_by=request.created_by,
        allowed_senders=request.allowed_senders,
        campaign_id=message_id.rsplit("-", 1)[0],  # `cmp_...-0000001`: its campaign
    )


def _reasons(refusals: list[Refusal]) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for r in refusals:
        reasons[r.reason] = reasons.get(r.reason, 0) + 1
    return reasons


#: Messages per part of a text campaign (`_text_parts`): the store inserts one while the next
#: is made.
PART_ROWS = 5000


class _Part:
    """A part of a text campaign's messages as it is made: the varying fields' columns."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.phones: list[str] = []
        self.dues: list[datetime] = []
        self.zones: list[str] = []
        self.dates: list[str] = []
        self.times: list[str] = []
        self.texts: list[str | None] = []
        self.hashes: list[str] = []

    def add(
        self, message_id: str, phone: str, due: datetime, zone: str, day: str, wall: str,
        text: str | None, digest: str,
    ) -> None:  # fmt: skip
        self.ids.append(message_id)
        self.phones.append(phone)
        self.dues.append(due)
        self.zones.append(zone)
        self.dates.append(day)
        self.times.append(wall)
        self.texts.append(text)
        self.hashes.append(digest)

    def rows(
        self, first: messages.ScheduledMessage | None, like: messages.ScheduledMessage
    ) -> campaigns.Rows:
        """The part as `Rows`: `first` its first message (None: one like the others)."""
        varying: dict[str, list[Any]] = {
            "id": self.ids,
            "recipient": self.phones,
            "due_at": self.dues,
            "run_at": self.dues,
            "timezone": self.zones,
            "local_date": self.dates,
            "local_time": self.times,
            "body": self.texts,
            "content_hash": self.hashes,
        }
        if first is None:
            first = like.evolve(**{name: values[0] for name, values in varying.items()})
        return campaigns.Rows(first, like, varying)


def _text_parts(
    base: messages.ScheduledMessage,
    like: messages.ScheduledMessage,
    rest: list[_Plan],
    refused: Mapping[int, errors.ValidationFailed],
    refusals: list[Refusal],
    failed: list[Refusal],
    now: datetime,
    make: Callable[[int, int, datetime | None, datetime | None], campaigns.Campaign],
    put: Callable[[campaigns.Rows], None],
) -> campaigns.Campaign:
    """A text campaign's messages after `base` (`rest`, each as `validation.text_like` makes
    it), given to `put` in parts of `PART_ROWS`, without those `refused` (by index, `base`
    0): the refusals go to `refusals`, the rules' (`failed`) first and then the checks', each
    in order, as `_build` gives them. Returns the campaign (`make`)."""
    checked: list[Refusal] = []
    part = _Part()
    first: messages.ScheduledMessage | None = base
    if 0 in refused:
        checked.append(_refusal(base.recipient, reason_of(refused[0]), refused[0]))
        first = None
    else:
        part.add(base.id, base.recipient, base.due_at, base.timezone, base.local_date,
                 base.local_time, base.body, base.content_hash)  # fmt: skip
    count, due_range = 0, _DueRange()
    text_like = validation.text_like
    for offset, (message_id, phone, due, zone, tarih, saat, rendered) in enumerate(rest, 1):
        try:
            text, digest = text_like(
                base, recipient=phone, due_at=due, timezone=zone, local_date=tarih,
                local_time=saat, body=rendered, now=now,
            )  # fmt: skip
        except errors.ValidationFailed as exc:
            failed.append(_refusal(phone, reason_of(exc), exc))
            continue
        answer = refused.get(offset)
        if answer is not None:
            checked.append(_refusal(phone, reason_of(answer), answer))
            continue
        part.add(message_id, phone, due, zone, tarih, saat, text, digest)
        if len(part.ids) == PART_ROWS:
            count += due_range.put(part, first, like, put)
            part, first = _Part(), None
    if part.ids:
        count += due_range.put(part, first, like, put)
    refusals.extend(failed)
    refusals.extend(checked)
    return make(count, len(refusals), due_range.first, due_range.last)


class _DueRange:
    """The earliest and latest due time of the parts given."""

    def __init__(self) -> None:
        self.first: datetime | None = None
        self.last: datetime | None = None

    def put(
        self,
        part: _Part,
        first: messages.ScheduledMessage | None,
        like: messages.ScheduledMessage,
        put: Callable[[campaigns.Rows], None],
    ) -> int:
        low, high = min(part.dues), max(part.dues)
        self.first = low if self.first is None else min(self.first, low)
        self.last = high if self.last is None else max(self.last, high)
        put(part.rows(first, like))
        return len(part.ids)


def _wall(local: datetime) -> tuple[str, str]:
    return local.date().isoformat(), f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"


def _render_all(
    content: Any, audience: list[contacts.Profile], refusals: list[Refusal]
) -> list[tuple[contacts.Profile, Any]]:
    """Each contact with its content filled in; a placeholder it lacks refuses it."""
    built: list[tuple[contacts.Profile, Any]] = []
    fill: Callable[[contacts.Profile], Any] = (
        campaigns.text_renderer(content)
        if isinstance(content, str)
        else functools.partial(campaigns.render, content)
    )
    for profile in audience:
        try:
            built.append((profile, fill(profile)))
        except campaigns.Missing as exc:
            error = errors.ValidationFailed(
                exc.path,
                "the contact has no {path} and the placeholder has no default "
                "(write {{{{{path}|...}}}})",
                path=exc.path,
            )
            refusals.append(_refusal(profile.phone, "missing_field", error))
    return built


def _refusal(phone: str, reason: str, error: errors.ValidationFailed) -> Refusal:
    return Refusal(phone, reason, error.field, error.rule, error)
