"""The hot path: ``POST /{version}/{phone_number_id}/messages`` as Cloud API answers it.

Checks run in this order; the first one that fails answers (docs/sandbox.md, "The send endpoint"):

1. added latency (``faults.latency_seconds``);
2. bearer token: missing -> 200, wrong -> 190, both ``OAuthException`` with the auth status
   (each number has its own token: another number's token is wrong too);
3. ``phone_number_id`` known, otherwise 100 (HTTP 400);
4. injected server error (``faults.error_rate``): 5xx with or without a JSON body (code 2);
5. body validation (:mod:`~whatsapp_scheduler.sandbox.validation`), then a template's checks
   against the number's WABA catalogue (:mod:`~whatsapp_scheduler.sandbox.catalogue`:
   132001, 132015, 132016, 132012, 132000);
6. forced-error rules (sync ones answer here, async ones fail later by webhook);
7. throughput bucket per phone number id -> 130429; pair bucket -> 131056;
8. 24-hour window for non-templates -> 131047 (sync) or a later ``failed`` status (async);
9. accept: Meta's reply (docs/meta-cloud-api.md, "The reply to a send"), conversation entry,
   status plan; maybe hang before answering (``faults.hang_rate``: the message *was* accepted,
   the client just never hears so).

Every request is recorded in the bounded log with its answer. No logging happens here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from typing import Any

from aiohttp import web

from whatsapp_scheduler.sandbox import catalogue as catalogue_mod
from whatsapp_scheduler.sandbox import graph_errors, payloads, validation
from whatsapp_scheduler.sandbox import media as media_mod
from whatsapp_scheduler.sandbox.config import (
    WINDOW_HOURS,
    Faults,
    ForcedError,
    Limits,
    WebhookSettings,
)
from whatsapp_scheduler.sandbox.limits import PairRate, RateLimiter
from whatsapp_scheduler.sandbox.records import ChatMessage, EventBus, Mailbox, RecordedRequest
from whatsapp_scheduler.sandbox.statuses import StatusScheduler, plan_statuses

logger = logging.getLogger(__name__)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class SendEndpoint:
    """Request handler for the send endpoint; holds the limiters and the RNG."""

    def __init__(
        self,
        *,
        tokens: dict[str, str],
        limits: Limits,
        faults: Faults,
        webhooks: WebhookSettings,
        mailbox: Mailbox,
        bus: EventBus,
        statuses: StatusScheduler,
        rng: random.Random,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        catalogue: catalogue_mod.Catalogue | None = None,
        waba_of: dict[str, str] | None = None,
        media: media_mod.MediaShelf | None = None,
    ) -> None:
        #: phone_number_id -> its access token (the stand-in's dict: a change applies at once).
        self.tokens = tokens
        self.limits = limits
        self.faults = faults
        self.webhooks = webhooks
        self.mailbox = mailbox
        self.bus = bus
        self.statuses = statuses
        self.rng = rng
        self.clock = clock
        self.wall_clock = wall_clock
        self.catalogue = catalogue or catalogue_mod.Catalogue({})
        self.waba_of = waba_of or {}  # phone_number_id -> its WABA (whose templates it sends)
        self.media = media  # what was uploaded to each number (sandbox/media.py)
        self._throughput: RateLimiter | None = None
        self._throughput_rate: float | None = None
        self._pair: RateLimiter | None = None
        self._pair_rate: PairRate | None = None

    def reset_limiters(self) -> None:
        """Refill every bucket."""
        self._throughput = self._pair = None
        self._throughput_rate = self._pair_rate = None

    # -- limiters (rebuilt when the settings object changed) --------------------------------

    def _throughput_ok(self, phone_number_id: str) -> bool:
        rate = self.limits.throughput_per_second
        if rate is None:
            return True
        if self._throughput is None or rate != self._throughput_rate:
            self._throughput = RateLimiter(rate, max(1.0, rate), self.clock)
            self._throughput_rate = rate
        return self._throughput.allow(phone_number_id)

    def _pair_ok(self, phone_number_id: str, wa_id: str) -> bool:
        pair = self.limits.pair_rate
        if pair is None:
            return True
        if self._pair is None or pair != self._pair_rate:
            self._pair = RateLimiter(pair.per_second, pair.capacity, self.clock)
            self._pair_rate = pair
        return self._pair.allow((phone_number_id, wa_id))

    # -- the handler ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one send request."""
        faults = self.faults
        if faults.latency_seconds:
            await asyncio.sleep(faults.latency_seconds)
        phone_number_id = request.match_info["phone_number_id"]
        raw = await request.read()
        record = RecordedRequest(
            self.mailbox.next_seq(),
            self.wall_clock(),
            request.method,
            request.path,
            phone_number_id,
            None,
            0,
            None,
        )
        token = self.tokens.get(phone_number_id)  # each number has its own token
        header = request.headers.get("Authorization")
        if token is not None and header != "Bearer " + token:
            return self._auth_error(request, record)
        if token is None and header not in {"Bearer " + t for t in self.tokens.values()}:
            return self._auth_error(request, record)
        if token is None:
            details = (
                f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this operation."
            )
            return self._error(record, 100, details)
        if self._outage(phone_number_id):
            return self._server_error(record, raw)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record.body = body if body is not None else raw.decode("utf-8", "replace")
        if isinstance(body, dict) and body.get("status") == "read" and "message_id" in body:
            return self._mark_read(record, body)
        checked = validation.validate_send(body)
        if isinstance(checked, validation.Rejection):
            return self._error(record, checked.code, checked.details)
        record.to, record.wa_id = checked.to, checked.wa_id
        record.biz_opaque_callback_data = checked.callback_data
        if checked.is_template and isinstance(body, dict):
            refused = catalogue_mod.check_send(
                self.catalogue,
                self.waba_of.get(phone_number_id, ""),
                body["template"],
                self.limits.template_check,
            )
            if refused is not None:
                return self._error(record, refused.code, refused.details)
        unknown = (
            self.media.unknown_id(phone_number_id, body)
            if self.media is not None and self.limits.media_check
            else None
        )
        if unknown is not None:  # never uploaded to this number, or expired (`forget`)
            return self._error(record, 131053, f"Media id {unknown} is not valid for this number.")
        return await self._decide(record, checked, phone_number_id)

    def _mark_read(self, record: RecordedRequest, body: dict[str, Any]) -> web.Response:
        """Meta's mark-as-read (`{"messaging_product": "whatsapp", "status": "read",
        "message_id": <an inbound wamid>}`): `{"success": true}`, and the inbox shows that
        message read; an unknown or outbound id is Meta's 100."""
        if body.get("messaging_product") != "whatsapp":
            return self._error(
                record, 100, "The parameter messaging_product is required and must be 'whatsapp'."
            )
        wamid = body.get("message_id")
        found = self.mailbox.find_message(wamid) if isinstance(wamid, str) else None
        if found is None or found[1].direction != "in":
            return self._error(record, 100, f"Invalid parameter message_id: {wamid!r}.")
        found[1].status = "read"
        record.status, record.answer = 200, {"success": True}
        self._log(record)
        return web.json_response({"success": True})

    async def _decide(
        self, record: RecordedRequest, req: validation.SendRequest, phone_number_id: str
    ) -> web.Response:
        async_code: int | None = None
        if self.faults.rules:
            rule = self._match_rule(req.wa_id, phone_number_id)
            if rule is not None:
                if not rule.asynchronous:
                    return self._error(record, rule.code, rule.details)
                async_code = rule.code
        if not self._throughput_ok(phone_number_id):
            return self._error(record, 130429)
        if not self._pair_ok(phone_number_id, req.wa_id):
            return self._error(record, 131056)
        window = self.limits.window_check
        if (
            async_code is None
            and window != "off"
            and not req.is_template
            and not self.mailbox.window_open(req.wa_id, record.received_at, WINDOW_HOURS)
        ):
            if window == "sync":
                return self._error(record, 131047)
            async_code = 131047
        faults = self.faults
        hang = bool(faults.hang_rate) and self.rng.random() < faults.hang_rate
        if hang:
            record.fault = "hang"
        response = self._accept(record, req, async_code)
        if hang:
            await asyncio.sleep(faults.hang_seconds)
        return response

    def _outage(self, phone_number_id: str) -> bool:
        faults = self.faults
        if not faults.error_rate:
            return False
        numbers = faults.error_phone_number_ids
        if numbers and phone_number_id not in numbers:
            return False
        return self.rng.random() < faults.error_rate

    def _match_rule(self, wa_id: str, phone_number_id: str) -> ForcedError | None:
        rules = self.faults.rules
        for rule in list(rules):
            if rule.recipient is not None and payloads.wa_id_for(rule.recipient) != wa_id:
                continue
            if rule.phone_number_id is not None and rule.phone_number_id != phone_number_id:
                continue
            if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0 and rule in rules:
                    rules.remove(rule)
            return rule
        return None

    def _accept(
        self, record: RecordedRequest, req: validation.SendRequest, async_code: int | None
    ) -> web.Response:
        wamid = payloads.new_outbound_wamid(req.wa_id)
        template = req.is_template
        answer = payloads.send_success(req.to, req.wa_id, wamid, template=template)
        record.status, record.answer, record.wamid = 200, answer, wamid
        record.async_error_code = async_code
        self._log(record)
        message = ChatMessage(
            wamid,
            "out",
            req.type,
            req.summary,
            record.received_at,
            callback_data=req.callback_data,
            phone_number_id=record.phone_number_id,
            attachment=req.attachment,
        )
        conversation = self.mailbox.conversation(req.wa_id)
        conversation.messages.append(message)
        conversation.updated_at = record.received_at
        if self.bus.active:
            self.bus.publish("message", message.to_json(req.wa_id))
        plan = plan_statuses(self.rng, self.webhooks, self.faults, async_code=async_code)
        self.statuses.schedule(message, req.wa_id, plan, template=template)
        return web.Response(body=_dumps(answer).encode(), content_type="application/json")

    # -- error answers -------------------------------------------------------------------

    def _error(
        self,
        record: RecordedRequest,
        code: int,
        details: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        limits = self.limits
        status = graph_errors.http_status_for(
            code,
            auth_status=limits.auth_http_status,
            rate_limit_status=limits.rate_limit_http_status,
        )
        answer = graph_errors.error_body(code, details)
        record.status, record.answer, record.error_code = status, answer, code
        self._log(record)
        return web.Response(
            body=_dumps(answer).encode(),
            status=status,
            content_type="application/json",
            headers=headers,
        )

    def refusal(self, request: web.Request, phone_number_id: str) -> int | None:
        """The Graph error code for a request's token on `phone_number_id` (104 none, 190
        wrong, 100 an unknown number), or None when it may act for the number."""
        token = self.tokens.get(phone_number_id)
        header = request.headers.get("Authorization")
        if not header:
            return 104
        if token is not None:
            return None if header == "Bearer " + token else 190
        return 100 if header in {"Bearer " + t for t in self.tokens.values()} else 190

    def _auth_error(self, request: web.Request, record: RecordedRequest) -> web.Response:
        header = request.headers.get("Authorization")
        if not header:
            code, details = 104, "An access token is required to request this resource."
        else:
            code, details = 190, "Invalid OAuth access token - Cannot parse access token"
        challenge = f'OAuth "Facebook Platform" "invalid_token" "{details}"'
        return self._error(record, code, details, {"WWW-Authenticate": challenge})

    def _server_error(self, record: RecordedRequest, raw: bytes) -> web.Response:
        status = self.faults.error_status
        record.body, record.fault = raw.decode("utf-8", "replace"), "server_error"
        if self.faults.error_body:
            answer: Any = graph_errors.error_body(2)
            record.error_code = 2
            response = web.Response(
                body=_dumps(answer).encode(), status=status, content_type="application/json"
            )
        else:
            answer = None
            response = web.Response(status=status, text="")
        record.status, record.answer = status, answer
        self._log(record)
        return response

    def _log(self, record: RecordedRequest) -> None:
        self.mailbox.requests.append(record)
        if self.bus.active:
            self.bus.publish("request", _request_event(record))


def _request_event(record: RecordedRequest) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "at": record.received_at,
        "path": record.path,
        "status": record.status,
        "to": record.to,
        "summary": record.summary(),
        "fault": record.fault,
    }
