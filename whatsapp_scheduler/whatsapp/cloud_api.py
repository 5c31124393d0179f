"""`CloudApiSender`: one `POST /{version}/{phone_number_id}/messages` per message, over aiohttp.

The sender receives a long-lived pooled `aiohttp.ClientSession` and never creates one;
`create_session()` builds one with this project's pool size and timeouts.

Errors are classified by Graph `error.code`, never by HTTP status or by text in the body
(docs/meta-cloud-api.md, "Error codes"): the class of each code is in the one table of
`whatsapp/errorcodes.py`. The HTTP status is only used when the body carries no Graph error:
5xx then means "may or may not have reached Meta" (ambiguous).

| what happened                                        | raised                     |
|------------------------------------------------------|----------------------------|
| 200 with `messages[0].id`                            | returns `SendReceipt`      |
| a code of class `RATE_LIMITED` (130429, 131056 ...)  | `RateLimited`              |
| a code of class `TEMPORARY` (131000, 133004 ...)     | `TemporaryFailure`         |
| a code of class `ACCOUNT` (190, 368, 200-299 ...)    | `AccountFailure`           |
| a code of class `PERMANENT` (131026, 132001 ...), or a code the table lacks | `PermanentFailure` |
| could not connect (request never left)               | `TemporaryFailure`         |
| timeout / reset / disconnect after connecting        | `AmbiguousFailure`         |
| 5xx without a Graph error body, 200 without id       | `AmbiguousFailure`         |
| 429 without a Graph error body                       | `RateLimited`              |
| other 4xx without a Graph error body                 | `PermanentFailure`         |
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterable
from typing import Any

import aiohttp

from whatsapp_scheduler import settings
from whatsapp_scheduler import whatsapp as whatsapp_mod
from whatsapp_scheduler.core import errors, limits, messages
from whatsapp_scheduler.whatsapp import errorcodes

logger = logging.getLogger(__name__)


def classify(
    code: int, text: str, *, http_status: int | None, retry_after: float | None = None
) -> errors.SendError:
    """The `SendError` for a Graph error `code`, by its class in `errorcodes`."""
    kind = errorcodes.error_class(code)
    if kind is errorcodes.ErrorClass.RATE_LIMITED:
        return errors.RateLimited(text, code=code, http_status=http_status, retry_after=retry_after)
    if kind is errorcodes.ErrorClass.TEMPORARY:
        return errors.TemporaryFailure(text, code=code, http_status=http_status)
    if kind is errorcodes.ErrorClass.ACCOUNT:
        return errors.AccountFailure(text, code=code, http_status=http_status)
    return errors.PermanentFailure(text, code=code, http_status=http_status)


def create_session(config: settings.Settings) -> aiohttp.ClientSession:
    """A pooled session sized for `send_concurrency`, with the configured timeouts.

    Must be called inside a running event loop; the caller closes it (`await session.close()`).
    """
    connector = aiohttp.TCPConnector(
        limit=config.send_concurrency,
        limit_per_host=config.send_concurrency,
        keepalive_timeout=60.0,
    )
    timeout = aiohttp.ClientTimeout(
        total=config.request_timeout_seconds, connect=config.connect_timeout_seconds
    )
    return aiohttp.ClientSession(connector=connector, timeout=timeout, raise_for_status=False)


class CloudApiSender:
    """Sends messages through the WhatsApp Cloud API with an injected aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        access_token: str,
        phone_number_id: str,
        graph_api_url: str = "https://graph.facebook.com",
        graph_api_version: str = "v23.0",
    ) -> None:
        self._session = session
        self.phone_number_id = phone_number_id
        self.number_url = f"{graph_api_url.rstrip('/')}/{graph_api_version}/{phone_number_id}"
        self.url = f"{self.number_url}/messages"
        self._headers = {
            "Authorization": f"Bearer {access_token}",
            "Content-Type": "application/json",
        }

    @classmethod
    def from_settings(
        cls, config: settings.Settings, session: aiohttp.ClientSession
    ) -> CloudApiSender:
        """A sender for the number and token in `config`; raises ConfigurationError if unset."""
        if config.access_token is None or not config.phone_number_id:
            raise errors.ConfigurationError("ACCESS_TOKEN and PHONE_NUMBER_ID are required")
        return cls(
            session,
            access_token=config.access_token.get_secret_value(),
            phone_number_id=config.phone_number_id,
            graph_api_url=config.graph_api_url,
            graph_api_version=config.graph_api_version,
        )

    def __repr__(self) -> str:  # never show the token
        return f"CloudApiSender(url={self.url!r})"

    async def send(self, message: messages.ScheduledMessage) -> whatsapp_mod.SendReceipt:
        """POST the message once; see the module docstring for what is raised when."""
        payload = encode_payload(message)
        try:
            async with self._session.post(self.url, data=payload, headers=self._headers) as resp:
                status = resp.status
                raw = await resp.read()
                retry_after = _retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:
            raise errors.TemporaryFailure(f"could not connect: {type(exc).__name__}") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise errors.AmbiguousFailure(f"no answer after sending: {type(exc).__name__}") from exc
        return parse_response(status, raw, retry_after=retry_after)

    async def upload_media(
        self, chunks: AsyncIterable[bytes], mime: str, filename: str | None
    ) -> str:
        """Upload a file to the number (`POST /{phone_number_id}/media`, multipart:
        `messaging_product`, `type`, `file`), streamed from `chunks`; Meta's media id. Raises
        what `send` raises, by the same rules (a Graph error's code decides)."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime)
        form.add_field(
            "file",
            aiohttp.payload.AsyncIterablePayload(chunks),
            content_type=mime,
            filename=filename or "file",
        )
        headers = {"Authorization": self._headers["Authorization"]}
        try:
            async with self._session.post(
                f"{self.number_url}/media", data=form, headers=headers, timeout=UPLOAD_TIMEOUT
            ) as resp:
                status, raw = resp.status, await resp.read()
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:
            raise errors.TemporaryFailure(f"media upload: could not connect: {exc!r}") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise errors.TemporaryFailure(f"media upload failed: {type(exc).__name__}") from exc
        body = _json_or_none(raw)
        media_id = body.get("id") if isinstance(body, dict) else None
        if status == 200 and isinstance(media_id, str) and media_id:
            return media_id
        try:
            parse_response(status, raw)
        except errors.AmbiguousFailure as exc:  # nothing is sent by an upload: try again
            raise errors.TemporaryFailure(
                f"media upload: {exc.message}", http_status=status
            ) from exc
        raise errors.TemporaryFailure(
            f"media upload: HTTP {status} without an id", http_status=status
        )

    async def messaging_limit(self) -> int | None:
        """The number's daily messaging limit as Meta has it now (`GET /{phone_number_id}?
        fields=whatsapp_business_manager_messaging_limit`; the deprecated
        `messaging_limit_tier` when the new field is missing): contacts, None for unlimited.
        Raises `errors.TemporaryFailure` when it cannot be read (docs/limits.md)."""
        params = {"fields": f"{LIMIT_FIELD},{OLD_LIMIT_FIELD}"}
        headers = {"Authorization": self._headers["Authorization"]}
        try:
            async with self._session.get(self.number_url, params=params, headers=headers) as resp:
                status, raw = resp.status, await resp.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise errors.TemporaryFailure(
                f"messaging limit not read: {type(exc).__name__}"
            ) from exc
        body = _json_or_none(raw)
        if status != 200 or not isinstance(body, dict):
            raise errors.TemporaryFailure(f"messaging limit not read: HTTP {status}")
        value = body.get(LIMIT_FIELD, body.get(OLD_LIMIT_FIELD))
        if isinstance(value, dict):  # an object holding the tier: take the tier it names
            value = next((v for v in value.values() if isinstance(v, str)), None)
        try:
            return limits.parse_tier(value)
        except ValueError as exc:
            raise errors.TemporaryFailure(f"messaging limit not read: {exc}") from exc


#: An upload of up to 100 MB: no total limit, but a connection that stalls for a minute fails.
UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10.0, sock_read=60.0)

#: The Graph API field of a number's messaging limit, and the one it replaces.
LIMIT_FIELD = "whatsapp_business_manager_messaging_limit"
OLD_LIMIT_FIELD = "messaging_limit_tier"


def build_payload(message: messages.ScheduledMessage) -> dict[str, Any]:
    """The JSON body for `message`: text, a template, or another type in Meta's shape
    (`content`, checked upstream by core/content.py)."""
    payload: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.recipient,
        "biz_opaque_callback_data": message.id,
    }
    if message.template is not None:
        payload["type"] = "template"
        payload["template"] = dict(message.template)
    elif message.content is not None:  # image, location, interactive ... (core/content.py)
        kind = message.content["type"]
        payload["type"] = kind
        payload[kind] = message.content[kind]
    else:
        payload["type"] = "text"
        payload["text"] = {"body": message.body}
    return payload


#: `json.dumps(..., ensure_ascii=False)` of one value (the C encoder, no dict walk).
_dumps = json.JSONEncoder(ensure_ascii=False).encode
#: The text body's fixed parts, in `build_payload`'s key order and `json.dumps`'s separators.
_TEXT_HEAD = '{"messaging_product": "whatsapp", "recipient_type": "individual", "to": '


def encode_payload(message: messages.ScheduledMessage) -> bytes:
    """`build_payload(message)` as UTF-8 JSON: the same bytes as
    `json.dumps(build_payload(message), ensure_ascii=False).encode()` (a unit test holds
    them equal). A text message is written from fixed parts around its three values: about
    a tenth of the cost of encoding the dict (measured: bench/RESULTS.md, the dispatcher's
    per-message CPU)."""
    if message.template is not None or message.content is not None:
        return _dumps(build_payload(message)).encode()  # one encoder, not one per call
    return (
        f"{_TEXT_HEAD}{_dumps(message.recipient)}, "
        f'"biz_opaque_callback_data": {_dumps(message.id)}, '
        f'"type": "text", "text": {{"body": {_dumps(message.body)}}}}}'
    ).encode()


def parse_response(
    status: int, raw: bytes, *, retry_after: float | None = None
) -> whatsapp_mod.SendReceipt:
    """A receipt for a 200 with a wamid, or raise the matching `SendError`."""
    body = _json_or_none(raw)
    graph_error = body.get("error") if isinstance(body, dict) else None
    if isinstance(graph_error, dict) and isinstance(graph_error.get("code"), int):
        code: int = graph_error["code"]
        text = str(graph_error.get("message") or f"Graph error {code}")
        details = (graph_error.get("error_data") or {}).get("details")
        if details:
            text = f"{text}: {details}"
        raise classify(code, text, http_status=status, retry_after=retry_after)
    if status == 200:
        return _receipt(body, status)
    if status >= 500:
        raise errors.AmbiguousFailure(f"HTTP {status} without a Graph error", http_status=status)
    if status == 429:
        raise errors.RateLimited(
            "HTTP 429 without a Graph error", http_status=status, retry_after=retry_after
        )
    raise errors.PermanentFailure(f"HTTP {status} without a Graph error", http_status=status)


def _receipt(body: Any, status: int) -> whatsapp_mod.SendReceipt:
    try:
        wamid = body["messages"][0]["id"]
        contacts = body.get("contacts") or [{}]
        wa_id = contacts[0].get("wa_id")
    except (KeyError, IndexError, TypeError, AttributeError):
        wamid = None
        wa_id = None
    if not isinstance(wamid, str) or not wamid:
        raise errors.AmbiguousFailure("HTTP 200 without a message id", http_status=status)
    return whatsapp_mod.SendReceipt(wamid=wamid, wa_id=wa_id, http_status=status)


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a numeric Retry-After header (not documented by Meta; honoured if sent)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None


__all__ = [
    "CloudApiSender",
    "build_payload",
    "classify",
    "create_session",
    "encode_payload",
    "parse_response",
]
