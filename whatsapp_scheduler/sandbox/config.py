"""Settings of the stand-in: start-up config and the three knob sets changeable at run time.

- :class:`StandInConfig`: everything given to :class:`~whatsapp_scheduler.sandbox.StandIn`.
- :class:`Limits`: Meta's limits (throughput, pair rate, 24-hour window) and HTTP statuses.
- :class:`Faults`: chaos knobs (5xx, hangs, latency, webhook duplicates/reordering, forced codes).
- :class:`WebhookSettings`: where and how status webhooks go (delays, probabilities, retries).

The run-time sets are plain mutable dataclasses read on every request, so tests may assign a
field directly (``standin.faults.error_rate = 0.3``) or use :func:`update` (what the control API
and ``StandIn.set_*`` do), which checks names, types and ranges.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from whatsapp_scheduler.sandbox.limits import META_THROUGHPUT_PER_SECOND, PairRate

logger = logging.getLogger(__name__)

WindowCheck = Literal["off", "async", "sync"]
#: How template sends are checked against the catalogue (sandbox/catalogue.py): "known" (the
#: default) checks the names the catalogue has, "strict" refuses every other name (Meta's
#: 132001), "off" checks nothing.
TemplateCheck = Literal["off", "known", "strict"]
WINDOW_HOURS = 24.0


@dataclass
class StatusDelays:
    """Seconds before each status, counted from the previous one (0 = at once)."""

    sent: float = 0.0
    delivered: float = 0.0
    read: float = 0.0

    def check(self) -> None:
        """Raise ValueError for a negative delay."""
        if min(self.sent, self.delivered, self.read) < 0:
            raise ValueError("status delays must be >= 0")


@dataclass
class ForcedError:
    """A rule forcing a Graph error ``code`` on matching sends (first matching rule wins).

    ``asynchronous`` answers 200 + wamid and later emits a ``failed`` status with the code;
    otherwise the HTTP reply carries the error. ``remaining`` counts how many more sends the rule
    applies to (None = no end); ``recipient`` limits it to one ``wa_id``; ``probability`` makes
    it apply to a random share of matching sends.
    """

    code: int
    asynchronous: bool = False
    remaining: int | None = None
    recipient: str | None = None
    probability: float = 1.0
    details: str | None = None
    phone_number_id: str | None = None  # only sends from this business number (None: any)

    def check(self) -> None:
        """Raise ValueError for out-of-range fields."""
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be within [0, 1]")
        if self.remaining is not None and self.remaining < 0:
            raise ValueError("remaining must be >= 0")


@dataclass
class Limits:
    """Meta's limits; None/"off" switches one off."""

    throughput_per_second: float | None = META_THROUGHPUT_PER_SECOND
    pair_rate: PairRate | None = field(default_factory=PairRate)
    window_check: WindowCheck = "off"
    auth_http_status: int = 401
    rate_limit_http_status: int = 429
    template_check: TemplateCheck = "known"
    #: A send naming a media id this number never got (sandbox/media.py) is Meta's 131053;
    #: False accepts any id.
    media_check: bool = True

    def check(self) -> None:
        """Raise ValueError for out-of-range fields."""
        if self.throughput_per_second is not None and self.throughput_per_second <= 0:
            raise ValueError("throughput_per_second must be > 0 or null")
        if self.window_check not in ("off", "async", "sync"):
            raise ValueError("window_check must be 'off', 'async' or 'sync'")
        if self.template_check not in ("off", "known", "strict"):
            raise ValueError("template_check must be 'off', 'known' or 'strict'")


@dataclass
class Faults:
    """Chaos knobs; all off by default. Rates are probabilities per request or per webhook."""

    error_rate: float = 0.0
    error_status: int = 500
    error_body: bool = True
    hang_rate: float = 0.0
    hang_seconds: float = 30.0
    latency_seconds: float = 0.0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    skip_delivered_rate: float = 0.0
    rules: list[ForcedError] = field(default_factory=list)
    #: ``error_rate`` applies to sends from these business numbers only (empty: every number):
    #: one number's outage while the others answer.
    error_phone_number_ids: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Raise ValueError for out-of-range fields."""
        rates = (
            self.error_rate,
            self.hang_rate,
            self.duplicate_rate,
            self.reorder_rate,
            self.skip_delivered_rate,
        )
        if any(not 0.0 <= rate <= 1.0 for rate in rates):
            raise ValueError("rates must be within [0, 1]")
        if not 500 <= self.error_status <= 599:
            raise ValueError("error_status must be a 5xx status")
        if self.hang_seconds < 0 or self.latency_seconds < 0:
            raise ValueError("hang_seconds and latency_seconds must be >= 0")
        for rule in self.rules:
            rule.check()


@dataclass
class WebhookSettings:
    """Status webhook behaviour: target, timing, probabilities, batching and retries."""

    url: str | None = None
    verify_token: str | None = None
    status_delays: StatusDelays = field(default_factory=StatusDelays)
    delivered_probability: float = 1.0
    read_probability: float = 1.0
    batch_size: int = 1
    retry_base: float = 0.1
    retry_cap: float = 2.0
    max_attempts: int = 6
    timeout: float = 5.0

    def check(self) -> None:
        """Raise ValueError for out-of-range fields."""
        self.status_delays.check()
        if not (0 <= self.delivered_probability <= 1 and 0 <= self.read_probability <= 1):
            raise ValueError("probabilities must be within [0, 1]")
        if self.batch_size < 1 or self.max_attempts < 1:
            raise ValueError("batch_size and max_attempts must be >= 1")
        if self.retry_base < 0 or self.retry_cap < 0 or self.timeout <= 0:
            raise ValueError("retry_base/retry_cap must be >= 0 and timeout > 0")

    def retry_delay(self, attempt: int) -> float:
        """Backoff before retry number ``attempt`` (1-based): base * 2^(attempt-1), capped."""
        return min(self.retry_cap, self.retry_base * (2.0 ** (attempt - 1)))


@dataclass(frozen=True)
class Number:
    """One more business number of the stand-in (beside ``StandInConfig.phone_number_id``),
    with its own access token: a send from it with another token is Meta's 190."""

    phone_number_id: str
    access_token: str
    display_phone_number: str = "15550783882"
    label: str = ""  # what the inbox calls it (e.g. the sender's name: "branch")
    #: The WhatsApp Business Account it belongs to ('': the stand-in's `waba_id`): its template
    #: sends are checked against that account's catalogue.
    waba_id: str = ""
    #: Its daily messaging limit as the Graph API names it (`GET /{phone_number_id}?fields=
    #: whatsapp_business_manager_messaging_limit`): TIER_250 (a new portfolio's), TIER_2K,
    #: TIER_10K, TIER_100K or TIER_UNLIMITED. `StandIn.set_messaging_limit` changes it.
    messaging_limit: str = "TIER_250"


@dataclass
class StandInConfig:
    """Start-up settings of a :class:`~whatsapp_scheduler.sandbox.StandIn`.

    Defaults follow Meta (80 msg/s per number, pair rate 1 per 6 s with a burst of 45), except
    the 24-hour window check, which is ``"off"`` because a fresh stand-in has no inbound history;
    ``"async"`` is Meta's behaviour (200, then a ``failed`` status with 131047). Use
    :meth:`unlimited` for benchmarks and :meth:`meta_like` for Meta's behaviour everywhere.
    """

    access_token: str = "sandbox-access-token"
    #: The control API's token (``X-Sandbox-Token``, needed by every POST/PUT/DELETE under
    #: ``/_sandbox/``); None: a random one per stand-in (``StandIn.control_token``).
    control_token: str | None = None
    phone_number_id: str = "106540352242922"
    app_secret: str = "sandbox-app-secret"
    webhook_url: str | None = None
    webhook_verify_token: str | None = None
    throughput_per_second: float | None = META_THROUGHPUT_PER_SECOND
    pair_rate: PairRate | None = field(default_factory=PairRate)
    window_check: WindowCheck = "off"
    status_delays: StatusDelays = field(default_factory=StatusDelays)
    seed: int | None = None
    faults: Faults = field(default_factory=Faults)
    delivered_probability: float = 1.0
    read_probability: float = 1.0
    webhook_batch_size: int = 1
    webhook_max_attempts: int = 6
    webhook_retry_base: float = 0.1
    webhook_retry_cap: float = 2.0
    display_phone_number: str = "15550783881"
    waba_id: str = "102290129340398"
    extra_phone_number_ids: tuple[str, ...] = ()  # more numbers, with ``access_token``
    extra_numbers: tuple[Number, ...] = ()  # more numbers, each with its own token
    label: str = "default"  # what the inbox calls ``phone_number_id``
    auth_http_status: int = 401
    rate_limit_http_status: int = 429
    request_log_size: int = 10_000
    conversation_size: int = 500
    #: The template catalogue per WABA id (None: `catalogue.seeded()` under `waba_id`).
    templates: dict[str, list[dict[str, Any]]] | None = None
    template_check: TemplateCheck = "known"
    media_check: bool = True  # `Limits.media_check`
    #: Seconds a template created through ``POST /{WABA-ID}/message_templates`` stays PENDING
    #: before it is APPROVED (with Meta's status webhook); None: it stays PENDING.
    template_review_seconds: float | None = 2.0
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time

    @classmethod
    def unlimited(cls, **overrides: Any) -> StandInConfig:
        """No throughput, pair-rate or window limits (benchmarks, tests of other things)."""
        values: dict[str, Any] = {
            "throughput_per_second": None,
            "pair_rate": None,
            "window_check": "off",
        }
        return cls(**(values | overrides))

    @classmethod
    def meta_like(cls, **overrides: Any) -> StandInConfig:
        """Meta's behaviour: default limits and the 24-hour window answered asynchronously."""
        return cls(**({"window_check": "async"} | overrides))

    def limits(self) -> Limits:
        """The initial run-time :class:`Limits`."""
        limits = Limits(
            throughput_per_second=self.throughput_per_second,
            pair_rate=self.pair_rate,
            window_check=self.window_check,
            auth_http_status=self.auth_http_status,
            rate_limit_http_status=self.rate_limit_http_status,
            template_check=self.template_check,
            media_check=self.media_check,
        )
        limits.check()
        return limits

    def webhook_settings(self) -> WebhookSettings:
        """The initial run-time :class:`WebhookSettings`."""
        settings = WebhookSettings(
            url=self.webhook_url,
            verify_token=self.webhook_verify_token,
            status_delays=dataclasses.replace(self.status_delays),
            delivered_probability=self.delivered_probability,
            read_probability=self.read_probability,
            batch_size=self.webhook_batch_size,
            retry_base=self.webhook_retry_base,
            retry_cap=self.webhook_retry_cap,
            max_attempts=self.webhook_max_attempts,
        )
        settings.check()
        return settings


def to_json(obj: Any) -> Any:
    """A JSON-ready copy of a settings dataclass (nested dataclasses become objects)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_json(item) for item in obj]
    return obj


def update(obj: Any, changes: dict[str, Any]) -> None:
    """Set fields of the settings dataclass ``obj`` from ``changes`` (names/types/ranges checked).

    Nothing is changed when a value is rejected: ValueError names the bad field.
    """
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    candidate = dataclasses.replace(obj)
    for name, value in changes.items():
        if name not in names:
            raise ValueError(f"unknown setting {name!r}")
        setattr(candidate, name, _coerce(name, value, hints[name]))
    candidate.check()
    for name in changes:
        setattr(obj, name, getattr(candidate, name))


def build(cls: type[Any], data: dict[str, Any]) -> Any:
    """A new settings dataclass ``cls`` from JSON ``data`` (names/types/ranges checked)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}")
    obj = cls(**{name: _coerce(name, value, hints[name]) for name, value in data.items()})
    obj.check()
    return obj


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Convert a JSON value to the type ``hint`` of field ``name`` or raise ValueError."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(name, value, inner[0])
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{name} must be one of {list(args)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"{name} must be a list")
        return [_coerce(name, item, args[0]) for item in value]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"{name} must be an object")
        try:
            return hint(**value)
        except TypeError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return _scalar(name, value, hint)


def _scalar(name: str, value: Any, hint: Any) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string")
        return value
    return value
