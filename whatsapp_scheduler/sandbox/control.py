"""The JSON control API under ``/_sandbox/`` (what tests, curl and the inbox's forms use).

=======  ===================================  ===============================================
Method   Path                                 What
=======  ===================================  ===============================================
GET      /_sandbox/state                      settings, counts, URL
GET/PUT  /_sandbox/faults                     chaos knobs (PUT merges the given fields)
POST     /_sandbox/faults/rules               add a forced-error rule
DELETE   /_sandbox/faults/rules               remove every rule
GET/PUT  /_sandbox/limits                     throughput, pair rate, 24 h window, statuses
GET/PUT  /_sandbox/webhooks                   URL, delays, probabilities, batching, retries
GET      /_sandbox/webhooks/log               webhook delivery attempts
POST     /_sandbox/webhooks/handshake         run the GET verification handshake
GET      /_sandbox/requests                   request log (?limit=N&callback_data=X)
GET      /_sandbox/conversations[/{wa_id}]    what arrived on each phone
POST     /_sandbox/inbound                    a user writes: {"from", "text", "phone_number_id"?}
POST     /_sandbox/messages/{wamid}/status    emit a status now: {"status": ..., "code": ...}
POST     /_sandbox/reset                      forget everything, restore start-up settings
=======  ===================================  ===============================================

Errors answer 400 ``{"error": "<reason>"}`` (404 for unknown conversations or messages).

Every POST, PUT and DELETE here (they forge inbound messages and statuses, change the faults,
and make the stand-in fetch a URL: the handshake) needs the stand-in's control token in the
``X-Sandbox-Token`` header and must come from the stand-in's own origin: a request whose
``Origin`` is another site's, or whose ``Sec-Fetch-Site`` is ``cross-site`` / ``same-site``,
is refused with 403. A page on another site can neither read the token (the inbox page that
holds it is another origin's) nor send a custom header without a CORS preflight, which the
stand-in never grants. GETs only read and stay open.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from whatsapp_scheduler.sandbox import config as config_mod
from whatsapp_scheduler.sandbox import payloads
from whatsapp_scheduler.sandbox.config import ForcedError

if TYPE_CHECKING:
    from whatsapp_scheduler.sandbox.standin import StandIn

logger = logging.getLogger(__name__)

PREFIX = "/_sandbox"
TOKEN_HEADER = "X-Sandbox-Token"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def refusal(request: web.Request, token: str) -> str | None:
    """Why a control request is refused (cross-origin, or without the token), or None."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        return f"cross-origin request refused (Origin {origin})"
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-origin request refused (Sec-Fetch-Site {site})"
    given = request.headers.get(TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode(), token.encode()):
        return f"the control API needs the sandbox's token in {TOKEN_HEADER}"
    return None


def guard(token: str) -> Any:
    """aiohttp middleware: control writes need the token and the stand-in's own origin."""

    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(PREFIX + "/") and request.method not in _READS:
            reason = refusal(request, token)
            if reason is not None:
                logger.warning(
                    "control API %s %s refused: %s", request.method, request.path, reason
                )
                return _bad(reason, 403)
        return await handler(request)  # type: ignore[no-any-return]

    return check


def _bad(reason: str, status: int = 400) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be JSON"}), content_type="application/json"
        ) from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}),
            content_type="application/json",
        )
    return data


class ControlApi:
    """Handlers of the control API, bound to one stand-in."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin

    def state(self) -> dict[str, Any]:
        """Everything the inbox's control panel shows."""
        s = self.standin
        return {
            "phone_number_id": s.config.phone_number_id,
            "display_phone_number": s.config.display_phone_number,
            # every number, tokens left out (the process that started the sandbox has them:
            # `StandIn.number(label)`; docs/sandbox.md, "Several numbers")
            "numbers": [
                {
                    "phone_number_id": n.phone_number_id,
                    "display_phone_number": n.display_phone_number,
                    "label": n.label,
                }
                for n in s.numbers.values()
            ],
            "limits": config_mod.to_json(s.limits),
            "faults": config_mod.to_json(s.faults),
            "webhooks": config_mod.to_json(s.webhooks),
            "requests": len(s.mailbox.requests),
            "conversations": len(s.mailbox.conversations),
        }

    def _changed(self) -> web.Response:
        state = self.state()
        if self.standin.bus.active:
            self.standin.bus.publish("settings", state)
        return web.json_response(state)

    async def get_state(self, _request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def _put(self, request: web.Request, target: Any) -> web.Response:
        changes = await _json_object(request)
        try:
            config_mod.update(target, changes)
        except ValueError as exc:
            return _bad(str(exc))
        return self._changed()

    async def get_faults(self, _request: web.Request) -> web.Response:
        return web.json_response(config_mod.to_json(self.standin.faults))

    async def put_faults(self, request: web.Request) -> web.Response:
        return await self._put(request, self.standin.faults)

    async def add_rule(self, request: web.Request) -> web.Response:
        data = await _json_object(request)
        if "count" in data:
            data["remaining"] = data.pop("count")
        try:
            rule = config_mod.build(ForcedError, data)
            self.standin.add_rule(rule)
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        return self._changed()

    async def clear_rules(self, _request: web.Request) -> web.Response:
        self.standin.clear_failures()
        return self._changed()

    async def get_limits(self, _request: web.Request) -> web.Response:
        return web.json_response(config_mod.to_json(self.standin.limits))

    async def put_limits(self, request: web.Request) -> web.Response:
        return await self._put(request, self.standin.limits)

    async def get_webhooks(self, _request: web.Request) -> web.Response:
        return web.json_response(config_mod.to_json(self.standin.webhooks))

    async def put_webhooks(self, request: web.Request) -> web.Response:
        return await self._put(request, self.standin.webhooks)

    async def webhook_log(self, _request: web.Request) -> web.Response:
        return web.json_response(self.standin.webhook_log)

    async def handshake(self, request: web.Request) -> web.Response:
        data = await _json_object(request) if request.can_read_body else {}
        result = await self.standin.verify_webhook(data.get("url"), data.get("verify_token"))
        return web.json_response(config_mod.to_json(result))

    async def requests(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            return _bad("limit must be an integer")
        callback = request.query.get("callback_data")
        records = (
            self.standin.sends_for(callback) if callback is not None else self.standin.requests
        )
        return web.json_response([r.to_json() for r in records[-limit:]] if limit > 0 else [])

    async def conversations(self, _request: web.Request) -> web.Response:
        convs = sorted(self.standin.conversations.values(), key=lambda c: -c.updated_at)
        return web.json_response([c.to_json() for c in convs])

    async def conversation(self, request: web.Request) -> web.Response:
        wa_id = payloads.wa_id_for(request.match_info["wa_id"])
        conv = self.standin.conversations.get(wa_id)
        if conv is None:
            return _bad(f"no conversation with {wa_id}", 404)
        return web.json_response(conv.to_json())

    async def inbound(self, request: web.Request) -> web.Response:
        data = await _json_object(request)
        sender, text = data.get("from"), data.get("text")
        if not isinstance(sender, str) or not payloads.wa_id_for(sender):
            return _bad("'from' must be a phone number")
        if not isinstance(text, str) or not text:
            return _bad("'text' must be a non-empty string")
        name = data.get("name") if isinstance(data.get("name"), str) else None
        number = data.get("phone_number_id")
        if number is not None and (
            not isinstance(number, str) or number not in self.standin.numbers
        ):
            return _bad("'phone_number_id' must be one of the sandbox's numbers")
        reply, context = data.get("reply"), data.get("context")
        if reply is not None and not payloads.valid_reply(reply):
            return _bad("'reply' must be {type: button_reply|list_reply, id, title}")
        if context is not None and not isinstance(context, str):
            return _bad("'context' must be the wamid of the message replied to")
        wamid = await self.standin.inbound(
            sender, text, name=name, phone_number_id=number, reply=reply, context=context
        )
        return web.json_response({"wamid": wamid, "wa_id": payloads.wa_id_for(sender)})

    async def message_status(self, request: web.Request) -> web.Response:
        wamid = request.match_info["wamid"]
        data = await _json_object(request)
        status, code = data.get("status"), data.get("code")
        if status == "failed":
            if not isinstance(code, int) or isinstance(code, bool):
                return _bad("a failed status needs an integer 'code'")
            found = self.standin.fail_message(wamid, code)
        elif status in ("sent", "delivered", "read"):
            found = self.standin.emit_status(wamid, status)
        else:
            return _bad("status must be sent, delivered, read or failed")
        if not found:
            return _bad(f"no message {wamid}", 404)
        return web.json_response({"ok": True})

    async def reset(self, _request: web.Request) -> web.Response:
        self.standin.reset()
        return self._changed()


def add_routes(app: web.Application, standin: StandIn) -> ControlApi:
    """Register the control API on ``app``."""
    api = ControlApi(standin)
    r = app.router
    r.add_get(f"{PREFIX}/state", api.get_state)
    r.add_get(f"{PREFIX}/faults", api.get_faults)
    r.add_put(f"{PREFIX}/faults", api.put_faults)
    r.add_post(f"{PREFIX}/faults/rules", api.add_rule)
    r.add_delete(f"{PREFIX}/faults/rules", api.clear_rules)
    r.add_get(f"{PREFIX}/limits", api.get_limits)
    r.add_put(f"{PREFIX}/limits", api.put_limits)
    r.add_get(f"{PREFIX}/webhooks", api.get_webhooks)
    r.add_put(f"{PREFIX}/webhooks", api.put_webhooks)
    r.add_get(f"{PREFIX}/webhooks/log", api.webhook_log)
    r.add_post(f"{PREFIX}/webhooks/handshake", api.handshake)
    r.add_get(f"{PREFIX}/requests", api.requests)
    r.add_get(f"{PREFIX}/conversations", api.conversations)
    r.add_get(f"{PREFIX}/conversations/{{wa_id}}", api.conversation)
    r.add_post(f"{PREFIX}/inbound", api.inbound)
    r.add_post(f"{PREFIX}/messages/{{wamid}}/status", api.message_status)
    r.add_post(f"{PREFIX}/reset", api.reset)
    return api
