"""The stand-in for graph.facebook.com: lifecycle and the Python API tests use.

Typical use::

    standin = StandIn(StandInConfig(webhook_url="http://127.0.0.1:8000/webhook"))
    await standin.start()                  # port 0: an ephemeral port
    graph_api_url = standin.url            # "http://127.0.0.1:PORT"
    standin.set_faults(error_rate=0.3)     # or standin.faults.error_rate = 0.3
    standin.fail_next(2, 131026, asynchronous=True)
    ...
    assert standin.sends_for("job-1")[0].status == 200
    await standin.stop()

One aiohttp application serves the Graph routes, the control API under ``/_sandbox/`` and the
web inbox at ``/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import logging
import random
import secrets
import signal
from types import TracebackType
from typing import Any

from aiohttp import web

from whatsapp_scheduler.sandbox import catalogue as catalogue_mod
from whatsapp_scheduler.sandbox import config as config_mod
from whatsapp_scheduler.sandbox import control, graph_errors, inbox, payloads
from whatsapp_scheduler.sandbox import media as media_mod
from whatsapp_scheduler.sandbox.config import ForcedError, Number, StandInConfig
from whatsapp_scheduler.sandbox.records import (
    ChatMessage,
    Conversation,
    EventBus,
    Mailbox,
    RecordedRequest,
)
from whatsapp_scheduler.sandbox.send import SendEndpoint
from whatsapp_scheduler.sandbox.statuses import PlannedStatus, StatusScheduler
from whatsapp_scheduler.sandbox.webhooks import HandshakeResult, WebhookSender

logger = logging.getLogger(__name__)

#: The inbox has no inline script or style (inbox.js and inbox.css are files; its initial state
#: is a `type="application/json"` block, which is never run): own origin only, but for images,
#: audio and video, which a message names by an https link (shown as the phone would show
#: them; the page's `Referrer-Policy: same-origin` sends no referrer there).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "media-src 'self' https:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


async def _security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")


SEND_ROUTE = r"/{version:v\d+\.\d+}/{phone_number_id}/messages"
MEDIA_ROUTE = r"/{version:v\d+\.\d+}/{phone_number_id}/media"
PHONE_ROUTE = r"/{version:v\d+\.\d+}/{phone_number_id:\d+}"
TEMPLATES_ROUTE = r"/{version:v\d+\.\d+}/{waba_id:\d+}/message_templates"
#: Template statuses and what `set_template_status` sends as the webhook's `event`.
TEMPLATE_STATUSES = frozenset(
    {"APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "PENDING_DELETION"}
)


class StandIn:
    """An HTTP server standing in for Meta's WhatsApp Cloud API (see the package docs)."""

    def __init__(self, config: StandInConfig | None = None) -> None:
        self.config = config = config or StandInConfig()
        self.limits = config.limits()
        self.faults = copy.deepcopy(config.faults)
        self.faults.check()
        self.webhooks = config.webhook_settings()
        self.mailbox = Mailbox(config.request_log_size, config.conversation_size)
        self.bus = EventBus()
        self.rng = random.Random(config.seed)
        self.control_token = config.control_token or secrets.token_urlsafe(24)
        #: Every business number, the main one first, by id (``StandInConfig.extra_numbers``).
        self.numbers: dict[str, Number] = {
            config.phone_number_id: Number(
                config.phone_number_id,
                config.access_token,
                config.display_phone_number,
                config.label,
            )
        }
        for extra in config.extra_phone_number_ids:
            self.numbers.setdefault(
                extra, Number(extra, config.access_token, config.display_phone_number, extra)
            )
        for number in config.extra_numbers:
            self.numbers.setdefault(number.phone_number_id, number)
        self.phone_number_ids = frozenset(self.numbers)
        #: phone_number_id -> the access token that may send from it (`set_token`).
        self.tokens = {n.phone_number_id: n.access_token for n in self.numbers.values()}
        #: Templates per WABA (docs/sandbox.md, "Templates"); every number's sends are checked
        #: against its own WABA's (`Number.waba_id`, '' = `config.waba_id`).
        self._reviews: set[asyncio.Task[None]] = set()  # created templates awaiting approval
        self.catalogue = catalogue_mod.Catalogue(
            config.templates
            if config.templates is not None
            else {config.waba_id: catalogue_mod.seeded()}
        )
        self.catalogue.by_waba.setdefault(config.waba_id, [])
        for number in self.numbers.values():
            if number.waba_id:
                self.catalogue.by_waba.setdefault(number.waba_id, [])
        self._sender = WebhookSender(
            self.webhooks,
            config.app_secret,
            self._wrap,
            on_attempt=self._webhook_attempted,
        )
        self._statuses = StatusScheduler(self._sender, self.bus, config.wall_clock)
        self._endpoint = SendEndpoint(
            tokens=self.tokens,
            limits=self.limits,
            faults=self.faults,
            webhooks=self.webhooks,
            mailbox=self.mailbox,
            bus=self.bus,
            statuses=self._statuses,
            rng=self.rng,
            clock=config.clock,
            wall_clock=config.wall_clock,
            catalogue=self.catalogue,
            waba_of={n.phone_number_id: n.waba_id or config.waba_id for n in self.numbers.values()},
        )
        #: Uploaded files per number (sandbox/media.py); a send naming another id is 131053.
        self.media = media_mod.MediaShelf(self._endpoint.refusal)
        self._endpoint.media = self.media
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The aiohttp application: Graph routes, control API, inbox, Graph-style 404s."""
        app = web.Application(middlewares=[control.guard(self.control_token)])
        app.on_response_prepare.append(_security_headers)
        app.router.add_post(SEND_ROUTE, self._endpoint.handle)
        app.router.add_post(MEDIA_ROUTE, self.media.handle_upload)
        app.router.add_get("/_sandbox/media/{media_id}", self.media.serve)
        app.router.add_post("/_sandbox/media/forget", self._forget_media)
        app.router.add_get(PHONE_ROUTE, self._phone_info)
        app.router.add_get(TEMPLATES_ROUTE, self._list_templates)
        app.router.add_post(TEMPLATES_ROUTE, self._create_template)
        control.add_routes(app, self)
        inbox.add_routes(app, self)
        app.router.add_route("*", "/{tail:.*}", self._unknown_path)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving on ``host:port`` (0 = ephemeral) and return :attr:`url` (once only)."""
        if self._runner is not None:
            raise RuntimeError("stand-in already started")
        await self._sender.start()
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, backlog=1024).start()
        except OSError:
            await runner.cleanup()
            await self._sender.close()
            raise
        self._runner = runner
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self._url = f"http://{shown}:{bound[1]}"
        logger.info("WhatsApp Cloud API stand-in listening on %s", self._url)
        return self._url

    async def stop(self) -> None:
        """Stop serving; pending webhooks and status timers are dropped."""
        for review in list(self._reviews):
            review.cancel()
        self._statuses.close()
        self.bus.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._sender.close()

    async def __aenter__(self) -> StandIn:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Base URL to use as GRAPH_API_URL (``http://127.0.0.1:PORT``); set by :meth:`start`."""
        if self._url is None:
            raise RuntimeError("stand-in not started")
        return self._url

    # -- what happened -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Recorded send requests, oldest first (bounded by ``config.request_log_size``)."""
        return list(self.mailbox.requests)

    def sends_for(self, callback_data: str) -> list[RecordedRequest]:
        """Recorded requests whose ``biz_opaque_callback_data`` is ``callback_data``."""
        return [r for r in self.mailbox.requests if r.biz_opaque_callback_data == callback_data]

    @property
    def conversations(self) -> dict[str, Conversation]:
        """Conversations by ``wa_id`` (what "arrived" on each phone, with current status)."""
        return self.mailbox.conversations

    def messages_to(self, wa_id: str) -> list[ChatMessage]:
        """Messages exchanged with ``wa_id`` (``+`` and punctuation allowed), oldest first."""
        conv = self.mailbox.conversations.get(payloads.wa_id_for(wa_id))
        return list(conv.messages) if conv else []

    @property
    def webhook_log(self) -> list[dict[str, Any]]:
        """Webhook delivery attempts: ``at, url, attempt, status, error, carries``."""
        return list(self._sender.log)

    async def wait_webhooks(self) -> None:
        """Wait until no status is scheduled and no webhook queued or retrying.

        Bound it with ``asyncio.timeout`` (a receiver that never answers 200 keeps it busy
        until the attempts run out).
        """
        await self._sender.wait_idle()

    # -- run-time knobs ------------------------------------------------------------------

    def set_token(self, phone_number_id: str, access_token: str) -> None:
        """Make ``access_token`` the one token of the number (a rotated token, or a refused
        one: sends with the old token then answer Meta's 190)."""
        if phone_number_id not in self.tokens:
            raise ValueError(f"unknown phone_number_id {phone_number_id!r}")
        self.tokens[phone_number_id] = access_token

    def number(self, label: str) -> Number:
        """The business number the inbox calls ``label`` (e.g. ``"branch"``); KeyError if none."""
        for number in self.numbers.values():
            if number.label == label:
                return dataclasses.replace(number, access_token=self.tokens[number.phone_number_id])
        raise KeyError(label)

    def set_faults(self, **changes: Any) -> None:
        """Change :class:`~whatsapp_scheduler.sandbox.config.Faults` fields (checked)."""
        config_mod.update(self.faults, changes)

    def set_limits(self, **changes: Any) -> None:
        """Change :class:`~whatsapp_scheduler.sandbox.config.Limits` fields (checked)."""
        config_mod.update(self.limits, changes)

    def set_webhooks(self, **changes: Any) -> None:
        """Change :class:`~whatsapp_scheduler.sandbox.config.WebhookSettings` fields (checked)."""
        config_mod.update(self.webhooks, changes)

    def add_rule(self, rule: ForcedError) -> ForcedError:
        """Append a forced-error rule (first matching rule wins) and return it."""
        rule.check()
        self.faults.rules.append(rule)
        return rule

    def fail_next(
        self, count: int, code: int, *, asynchronous: bool = False, details: str | None = None
    ) -> ForcedError:
        """The next ``count`` accepted-looking sends fail with Graph error ``code``."""
        return self.add_rule(ForcedError(code, asynchronous, remaining=count, details=details))

    def fail_recipient(
        self, wa_id: str, code: int, *, asynchronous: bool = False, count: int | None = None
    ) -> ForcedError:
        """Sends to ``wa_id`` fail with ``code`` (``count`` times, or until cleared)."""
        return self.add_rule(ForcedError(code, asynchronous, remaining=count, recipient=wa_id))

    def fail_randomly(
        self, probability: float, code: int, *, asynchronous: bool = False
    ) -> ForcedError:
        """A random share ``probability`` of sends fail with ``code`` (seeded RNG)."""
        return self.add_rule(ForcedError(code, asynchronous, probability=probability))

    def clear_failures(self) -> None:
        """Remove every forced-error rule."""
        self.faults.rules.clear()

    def fail_message(self, wamid: str, code: int) -> bool:
        """Emit a ``failed`` status with ``code`` for an accepted message now; False if unknown."""
        return self._emit(wamid, PlannedStatus(0.0, "failed", code=code))

    def emit_status(self, wamid: str, status: str) -> bool:
        """Emit ``status`` (sent/delivered/read) for an accepted message now; False if unknown."""
        if status not in ("sent", "delivered", "read"):
            raise ValueError("status must be sent, delivered or read")
        return self._emit(wamid, PlannedStatus(0.0, status, pricing=status == "sent"))

    def _emit(self, wamid: str, step: PlannedStatus) -> bool:
        found = self.mailbox.find_message(wamid)
        if found is None or found[1].direction != "out":
            return False
        conv, message = found
        self._statuses.emit(message, conv.wa_id, step, template=message.type == "template")
        return True

    def add_template(self, template: dict[str, Any], waba_id: str | None = None) -> dict[str, Any]:
        """Add a template in Meta's shape (or replace the one of that name and language) to
        the catalogue of ``waba_id`` (None: the stand-in's WABA); returns it with its id."""
        return self.catalogue.add(waba_id or self.config.waba_id, template)

    def set_template_status(
        self,
        name: str,
        language: str,
        status: str,
        *,
        waba_id: str | None = None,
        reason: str = "NONE",
    ) -> bool:
        """Change a template's status (``PAUSED``, ``APPROVED``, ``DISABLED`` ...) and POST
        Meta's ``message_template_status_update`` webhook; False if there is no such template."""
        if status not in TEMPLATE_STATUSES:
            raise ValueError(f"status must be one of {sorted(TEMPLATE_STATUSES)}")
        waba = waba_id or self.config.waba_id
        found = self.catalogue.find(waba, name, language)
        if found is None:
            return False
        found["status"] = status
        value = {
            "event": status,
            "message_template_id": int(found["id"]),
            "message_template_name": name,
            "message_template_language": language,
            "reason": reason,
        }
        self._account_webhook(waba, "message_template_status_update", value, found["id"])
        return True

    def set_template_category(
        self, name: str, language: str, category: str, *, waba_id: str | None = None
    ) -> bool:
        """Re-categorise a template (``MARKETING``, ``UTILITY``, ``AUTHENTICATION``) and POST
        Meta's ``template_category_update`` webhook; False if there is no such template."""
        waba = waba_id or self.config.waba_id
        found = self.catalogue.find(waba, name, language)
        if found is None:
            return False
        previous, found["category"] = found.get("category"), category
        value = {
            "message_template_id": int(found["id"]),
            "message_template_name": name,
            "message_template_language": language,
            "previous_category": previous,
            "new_category": category,
        }
        self._account_webhook(waba, "template_category_update", value, found["id"])
        return True

    def set_template_quality(
        self, name: str, language: str, score: str, *, waba_id: str | None = None
    ) -> bool:
        """Change a template's quality score (``GREEN``, ``YELLOW``, ``RED``) and POST Meta's
        ``message_template_quality_update`` webhook; False if there is no such template."""
        waba = waba_id or self.config.waba_id
        found = self.catalogue.find(waba, name, language)
        if found is None:
            return False
        previous = (found.get("quality_score") or {}).get("score", "UNKNOWN")
        found["quality_score"] = {"score": score}
        value = {
            "previous_quality_score": previous,
            "new_quality_score": score,
            "message_template_id": int(found["id"]),
            "message_template_name": name,
            "message_template_language": language,
        }
        self._account_webhook(waba, "message_template_quality_update", value, found["id"])
        return True

    def _account_webhook(self, waba_id: str, field: str, value: dict[str, Any], key: str) -> None:
        if self.webhooks.url is None:
            return
        body = payloads.account_change(waba_id, field, value, timestamp=self.config.wall_clock())
        self._sender.put_envelope(body, key, f"{field} {value.get('message_template_name')}")

    def reset(self) -> None:
        """Forget requests, conversations and buckets; restore the configured faults and limits."""
        self.mailbox.clear()
        self._endpoint.reset_limiters()
        _copy_into(self.faults, copy.deepcopy(self.config.faults))
        _copy_into(self.limits, self.config.limits())

    # -- inbound and handshake -----------------------------------------------------------

    async def inbound(
        self,
        wa_id: str,
        text: str,
        *,
        name: str | None = None,
        phone_number_id: str | None = None,
        reply: dict[str, Any] | None = None,
        context: str | None = None,
    ) -> str:
        """The user ``wa_id`` writes ``text`` to the business number ``phone_number_id`` (None:
        the main one): opens the 24 h window, POSTs an inbound webhook whose
        ``metadata.phone_number_id`` is that number. Returns the inbound message's wamid.
        With ``reply`` ({type: button_reply|list_reply, id, title}) the user pressed a button
        (or chose a list row) of the message ``context``: Meta's interactive reply webhook.
        """
        if phone_number_id is not None and phone_number_id not in self.numbers:
            raise ValueError(f"unknown phone_number_id {phone_number_id!r}")
        number = phone_number_id or self.config.phone_number_id
        wa_id = payloads.wa_id_for(wa_id)
        now = self.config.wall_clock()
        wamid = payloads.new_inbound_wamid(wa_id)
        conv = self.mailbox.conversation(wa_id)
        conv.last_inbound = conv.updated_at = now
        conv.profile_name = name or conv.profile_name or f"Sandbox user {wa_id[-4:]}"
        kind = "text" if reply is None else "interactive"
        message = ChatMessage(wamid, "in", kind, text, now, status="read", phone_number_id=number)
        conv.messages.append(message)
        if self.bus.active:
            self.bus.publish("message", message.to_json(wa_id))
        if self.webhooks.url is not None:
            if reply is None:
                value = payloads.inbound_text_value(
                    wa_id, text, wamid=wamid, timestamp=now, profile_name=conv.profile_name
                )
            else:
                value = payloads.inbound_reply_value(
                    wa_id,
                    reply,
                    wamid=wamid,
                    timestamp=now,
                    profile_name=conv.profile_name,
                    context=context,
                    business_number=self.numbers[number].display_phone_number,
                )
            self._sender.put_value(value, wa_id, number)
        return wamid

    async def verify_webhook(
        self, url: str | None = None, verify_token: str | None = None
    ) -> HandshakeResult:
        """Run Meta's GET handshake against ``url`` (default: the webhook URL).

        See docs/meta-cloud-api.md, "Verification handshake".
        """
        return await self._sender.handshake(url, verify_token)

    # -- helpers -------------------------------------------------------------------------

    def _webhook_attempted(self, record: dict[str, Any]) -> None:
        if self.bus.active:
            self.bus.publish("webhook", record)

    def _wrap(self, value: dict[str, Any], phone_number_id: str | None = None) -> dict[str, Any]:
        number = self.numbers.get(phone_number_id or self.config.phone_number_id)
        if number is None:
            number = self.numbers[self.config.phone_number_id]
        return payloads.envelope(
            value,
            waba_id=self.config.waba_id,
            phone_number_id=number.phone_number_id,
            display_phone_number=number.display_phone_number,
        )

    async def _forget_media(self, _request: web.Request) -> web.Response:
        """Control: drop every upload, as if Meta's media ids had expired (then a send naming
        one is 131053)."""
        return web.json_response({"forgotten": self.media.forget()})

    async def _phone_info(self, request: web.Request) -> web.Response:
        phone_number_id = request.match_info["phone_number_id"]
        token = self.tokens.get(phone_number_id)
        header = request.headers.get("Authorization")
        if token is not None:
            refused = header != "Bearer " + token
        else:
            refused = header not in {"Bearer " + t for t in self.tokens.values()}
        if refused:
            return web.json_response(
                graph_errors.error_body(190), status=self.limits.auth_http_status
            )
        if token is None:
            return web.json_response(graph_errors.error_body(100), status=400)
        number = self.numbers[phone_number_id]
        known = {
            "id": phone_number_id,
            "display_phone_number": number.display_phone_number,
            "verified_name": "Sandbox",
            "quality_rating": "GREEN",
            "throughput": {"level": "STANDARD"},
            "whatsapp_business_manager_messaging_limit": number.messaging_limit,
            "messaging_limit_tier": number.messaging_limit,  # deprecated by Meta, still there
        }
        asked = request.query.get("fields")
        if not asked:  # Meta's default fields
            return web.json_response({k: known[k] for k in list(known)[:5]})
        fields = [f.strip() for f in asked.split(",") if f.strip()]
        unknown = [f for f in fields if f not in known]
        if unknown:
            return web.json_response(
                graph_errors.error_body(
                    100, f"(#100) Tried accessing nonexisting field ({unknown[0]})"
                ),
                status=400,
            )
        return web.json_response({"id": phone_number_id} | {f: known[f] for f in fields})

    def set_messaging_limit(self, phone_number_id: str, tier: str) -> None:
        """Set a number's daily messaging limit tier (e.g. `TIER_2K`), as Meta moves it."""
        number = self.numbers[phone_number_id]
        self.numbers[phone_number_id] = dataclasses.replace(number, messaging_limit=tier)

    def _waba_refusal(self, request: web.Request, verb: str) -> web.Response | None:
        """Meta's answer to a WABA request without a known token (190; none: 200), or for a
        WABA the stand-in does not have (100); None when it may go on."""
        header = request.headers.get("Authorization")
        if header not in {"Bearer " + t for t in self.tokens.values()}:
            code = 190 if header else 200
            return web.json_response(
                graph_errors.error_body(code), status=self.limits.auth_http_status
            )
        waba_id = request.match_info["waba_id"]
        if self.catalogue.templates(waba_id) is None:
            details = (
                f"Unsupported {verb} request. Object with ID '{waba_id}' does not exist, cannot "
                "be loaded due to missing permissions, or does not support this operation."
            )
            return web.json_response(graph_errors.error_body(100, details), status=400)
        return None

    async def _list_templates(self, request: web.Request) -> web.Response:
        """``GET /{version}/{WABA-ID}/message_templates``: a page of the WABA's templates
        (filters ``name``, ``status``, ``category``, ``language``; ``limit``, ``after``)."""
        refused = self._waba_refusal(request, "get")
        if refused is not None:
            return refused
        waba_id = request.match_info["waba_id"]
        query = request.query
        try:
            limit = int(query.get("limit", catalogue_mod.DEFAULT_LIMIT))
            if not 1 <= limit <= catalogue_mod.MAX_LIMIT:
                raise ValueError(f"limit must be within 1-{catalogue_mod.MAX_LIMIT}")
            filters = {
                k: query[k] for k in ("name", "status", "category", "language") if k in query
            }
            base = f"{self.url}{request.path}"
            answer = self.catalogue.page(
                waba_id, base_url=base, after=query.get("after"), limit=limit, filters=filters
            )
        except ValueError as exc:
            return web.json_response(graph_errors.error_body(100, str(exc)), status=400)
        return web.json_response(answer)

    async def _create_template(self, request: web.Request) -> web.Response:
        """``POST /{version}/{WABA-ID}/message_templates``: a new template, PENDING; after
        ``template_review_seconds`` APPROVED with Meta's ``message_template_status_update``
        webhook. Answers ``{id, status, category}`` as Meta does; a name already in that
        language is Meta's 100 / 2388024; a malformed one 100 naming the field."""
        refused = self._waba_refusal(request, "post")
        if refused is not None:
            return refused
        waba_id = request.match_info["waba_id"]
        try:
            body = await request.json()
        except ValueError:
            return web.json_response(
                graph_errors.error_body(100, "The request body is not JSON."), status=400
            )
        try:
            entry = catalogue_mod.new_template(body)
        except ValueError as exc:  # Graph API errors say which param in `message`
            error = graph_errors.error_body(100, str(exc), message=str(exc))
            return web.json_response(error, status=400)
        if self.catalogue.find(waba_id, entry["name"], entry["language"]) is not None:
            details = (
                f"Content in this language already exists: {entry['name']} ({entry['language']})"
            )
            error = graph_errors.error_body(100, details)
            error["error"]["error_subcode"] = 2388024
            return web.json_response(error, status=400)
        created = self.catalogue.add(waba_id, entry)
        delay = self.config.template_review_seconds
        if delay is not None:
            review = asyncio.get_running_loop().create_task(
                self._review(waba_id, created["name"], created["language"], delay)
            )
            self._reviews.add(review)
            review.add_done_callback(self._reviews.discard)
        return web.json_response(
            {"id": created["id"], "status": created["status"], "category": created["category"]}
        )

    async def _review(self, waba_id: str, name: str, language: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self.set_template_status(name, language, "APPROVED", waba_id=waba_id)

    async def _unknown_path(self, request: web.Request) -> web.Response:
        message = f"Unknown path components: {request.path}"
        body = graph_errors.error_body(2500, message, message=message)
        return web.json_response(body, status=400)


def _copy_into(target: Any, source: Any) -> None:
    """Overwrite every field of dataclass ``target`` in place (other parts hold references)."""
    for f in dataclasses.fields(source):
        setattr(target, f.name, getattr(source, f.name))


async def run_standalone(host: str, port: int, config: StandInConfig | None = None) -> None:
    """Serve a stand-in on ``host:port`` until cancelled, SIGINT or SIGTERM."""
    standin = StandIn(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGTERM,):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    await standin.start(host, port)
    try:
        await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        await standin.stop()
