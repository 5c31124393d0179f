"""Service settings, read from the environment and `.env` with the seed's names.

Build one `Settings` per entrypoint (`cli.main`, `web.app.create_app`) and pass it down; there is
no import-time global. Every field maps to an upper-case environment variable of the same name
(`api_key` <- `API_KEY`), and CLI flags override them.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from whatsapp_scheduler.core import consent, errors, limits, quiet, senders

# Values shown in README and .env.example; refusing them stops a copy-pasted config from running.
PLACEHOLDERS = frozenset(
    {
        "changeme",
        "change-me",
        "your-api-key",
        "your_api_key",
        "your-access-token",
        "your_access_token",
        "your-phone-number-id",
        "your_phone_number_id",
        "your-app-secret",
        "your_app_secret",
        "your-verify-token",
        "your_verify_token",
    }
)

#: The shortest API_KEY accepted: the key guards the API and the dashboard, so it must be too
#: long to guess (24 random URL-safe characters are 144 bits).
MIN_API_KEY_LENGTH = 24

DEFAULT_DATABASE_URL = "sqlite:///./whatsapp_schedules.db"
GRAPH_VERSION_PATTERN = re.compile(r"^v\d+\.\d+$")


class Settings(BaseSettings):
    """Everything the service can be told. See the settings table in README.md."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    api_key: SecretStr | None = None
    access_token: SecretStr | None = None
    phone_number_id: str | None = None
    waba_id: str | None = None  # the WhatsApp Business Account of PHONE_NUMBER_ID
    # Fernet key(s) that encrypt the senders' access tokens in the database, comma-separated:
    # the first encrypts, all decrypt (store/tokens.py; rotation in docs/operations.md).
    secret_key: SecretStr | None = None
    # The sender of a message without `gonderen` (the environment's number is "default").
    default_sender: str = "default"
    app_secret: SecretStr | None = None
    webhook_verify_token: SecretStr | None = None
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None  # the fleet-wide rate limit in Redis instead of PostgreSQL
    timezone: str = "Europe/Istanbul"
    default_region: str = "TR"
    graph_api_url: str = "https://graph.facebook.com"
    graph_api_version: str = "v23.0"

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Proxies whose X-Forwarded-Proto / X-Forwarded-For are believed (comma-separated addresses
    # or networks, "*" for any): from anyone else those headers are ignored. Empty: nobody.
    trusted_proxies: str = ""
    sandbox: bool = False
    sandbox_port: int = Field(default=0, ge=0, le=65535)
    sandbox_token: SecretStr | None = None  # the sandbox control API's token; unset: random

    # Dispatcher
    dispatcher_enabled: bool = True
    messages_per_second: float = Field(default=80.0, gt=0, le=1000)
    pair_interval: float = Field(default=6.0, ge=0)
    max_attempts: int = Field(default=5, ge=1, le=100)
    max_lateness: timedelta = timedelta(hours=24)
    lease_seconds: float = Field(default=60.0, gt=1)
    resend_ambiguous: bool = True
    # A series' rule (`tekrar`) may repeat more often than hourly (docs/series.md).
    series_allow_subhourly: bool = False
    # An inbound message counts as a reply to a campaign message sent to that contact at most
    # this many hours before it (docs/campaigns.md, "The funnel").
    campaign_reply_hours: float = Field(default=72.0, gt=0, le=720)
    # With APP_SECRET set (Meta's status webhooks are accepted), an ambiguous message waits
    # this long for a status webhook carrying our id before it is resent (0: resend at once).
    resend_grace_seconds: float = Field(default=60.0, ge=0, le=3600)
    send_concurrency: int = Field(default=64, ge=1, le=1024)
    claim_batch_size: int = Field(default=200, ge=1, le=5000)
    safety_poll_seconds: float = Field(default=30.0, gt=0)
    request_timeout_seconds: float = Field(default=15.0, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    account_pause_seconds: float = Field(default=300.0, gt=0)
    # The circuit breaker of a Meta outage (dispatch/breaker.py): that many outage failures in
    # a row pause the sender; probes after BASE seconds, doubling up to CAP.
    breaker_threshold: int = Field(default=5, ge=1, le=1000)
    breaker_base_seconds: float = Field(default=5.0, gt=0, le=3600)
    breaker_cap_seconds: float = Field(default=300.0, gt=0, le=86400)
    # Meta's template catalogue (docs/templates.md): synced every this many seconds by the
    # dispatcher of `serve`/`worker` (0: never; `templates sync` and the webhooks still do).
    template_sync_seconds: float = Field(default=900.0, ge=0, le=86400)

    # The 24-hour window (window.py) and status events for the client app (events.py)
    window_policy: Literal["send", "fail", "template"] = "send"
    status_webhook_url: str | None = None
    status_webhook_secret: SecretStr | None = None  # default: API_KEY
    status_webhook_max_attempts: int = Field(default=15, ge=1, le=100)

    # Consent (docs/consent.md): an inbound text that is one of these words as a whole (case,
    # accents and spaces aside) opts the contact out of / back in to every message.
    opt_out_keywords: str = ",".join(consent.DEFAULT_OPT_OUT_KEYWORDS)
    opt_in_keywords: str = ",".join(consent.DEFAULT_OPT_IN_KEYWORDS)

    # Quiet hours (docs/limits.md): `HH:MM-HH:MM` in each message's own time zone, e.g.
    # 21:00-09:00; a message due inside goes at the end instead. Empty: none.
    quiet_hours: str = ""
    # Meta's daily messaging limit per business portfolio (250, 2000, 10000, 100000 or
    # unlimited): unique contacts reached with templates outside their window in 24 h;
    # `graph`: each number's tier read from Meta's Graph API every hour.
    messaging_limit: str = limits.UNLIMITED
    # Media links (docs/message-types.md): true accepts links to private, loopback and
    # link-local addresses (an internal media server); false refuses them (422).
    media_allow_private_links: bool = False
    # A media link that passed is asked once at schedule time (HEAD, pinned to the checked
    # address): a 404 or a dead host is the warning link_unreachable. false: never asked.
    media_link_check: bool = True
    # Where uploaded files' bytes go (docs/media.md, "Storage"): empty, the database; or
    # `s3://bucket/prefix` (credentials from boto3's chain, AWS_ACCESS_KEY_ID ...), with
    # MEDIA_S3_ENDPOINT_URL for another S3-compatible store (MinIO, Ceph, R2 ...).
    media_url: str = ""
    media_s3_endpoint_url: str = ""
    media_s3_region: str = ""
    # Uploaded files (docs/media.md) are removed this long after the last message that sends
    # them is sent, failed or was cancelled (and an unused one this long after its upload).
    media_retention: timedelta = timedelta(days=30)
    # Meta's id of an uploaded file is reused for this long (Meta keeps it 30 days), then the
    # file is uploaded again; and a file is uploaded this long before its message is due.
    media_meta_id_days: float = Field(default=29.0, gt=0, le=30)
    media_preupload_seconds: float = Field(default=300.0, ge=0, le=86400)
    # At most N marketing messages per contact in D days (`2/7d`); empty: no cap.
    marketing_frequency_cap: str = ""

    # Dashboard sign-in (web/throttle.py): wrong keys allowed per client address and in total
    # within the window before sign-ins are refused with 429.
    signin_failures_per_address: int = Field(default=10, ge=1)
    signin_failures_total: int = Field(default=100, ge=1)
    signin_window_seconds: float = Field(default=900.0, gt=0)
    # A stored key found valid is not read again for this long; a revoke from another process
    # (the CLI, another instance) takes effect within it (0: read on every request).
    key_cache_seconds: float = Field(default=2.0, ge=0, le=60)

    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    log_level: str = "INFO"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"TIMEZONE {value!r} is not an IANA time zone name") from exc
        return value

    @field_validator("default_sender")
    @classmethod
    def _sender_name(cls, value: str) -> str:
        if not senders.valid_name(value):
            raise ValueError(f"DEFAULT_SENDER {value!r}: {senders.NAME_RULE}")
        return value

    @field_validator("secret_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        raw = value.get_secret_value() if value is not None else ""
        keys = [part.strip() for part in raw.split(",") if part.strip()]
        if not keys:
            return None
        for position, key in enumerate(keys, start=1):
            if key.lower() in PLACEHOLDERS:
                continue  # check_startable names it
            try:
                ok = len(base64.urlsafe_b64decode(key.encode())) == 32
            except (ValueError, binascii.Error):
                ok = False
            if not ok:
                raise ValueError(
                    f"SECRET_KEY: key {position} of {len(keys)} is not a Fernet key (32 "
                    'url-safe base64-encoded bytes); make one with: python3 -c "from '
                    'cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
                )
        return value

    @field_validator("waba_id")
    @classmethod
    def _waba_digits(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and not senders.META_ID_PATTERN.match(value):
            raise ValueError("WABA_ID must be Meta's numeric id (digits only)")
        return value

    @field_validator("api_key")
    @classmethod
    def _long_key(cls, value: SecretStr | None) -> SecretStr | None:
        raw = value.get_secret_value().strip() if value is not None else ""
        if raw and raw.lower() not in PLACEHOLDERS and len(raw) < MIN_API_KEY_LENGTH:
            raise ValueError(
                f"API_KEY must be at least {MIN_API_KEY_LENGTH} characters long (it has "
                f"{len(raw)}); make one with: python3 -c "
                '"import secrets; print(secrets.token_urlsafe(32))"'
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_list(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            if item != "*":
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(
                        f"TRUSTED_PROXIES: {item!r} is not an IP address or network "
                        "(comma-separated, or *)"
                    ) from None
        return ",".join(items)

    @field_validator("graph_api_version")
    @classmethod
    def _version_shape(cls, value: str) -> str:
        if not GRAPH_VERSION_PATTERN.match(value):
            raise ValueError("GRAPH_API_VERSION must look like v23.0")
        return value

    @field_validator("status_webhook_url")
    @classmethod
    def _webhook_url_shape(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("STATUS_WEBHOOK_URL must be an http(s) URL")
        return value

    @field_validator("media_url")
    @classmethod
    def _media_url_shape(cls, value: str) -> str:
        value = value.strip()
        if value and (not value.startswith("s3://") or len(value) <= len("s3://")):
            raise ValueError("MEDIA_URL must be empty (the database) or s3://bucket[/prefix]")
        return value

    @model_validator(mode="after")
    def _keywords_valid(self) -> Settings:
        self.keywords()  # raises ValueError naming the setting
        return self

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours_valid(cls, value: str) -> str:
        try:
            quiet.parse(value, "QUIET_HOURS")
        except errors.ValidationFailed as exc:
            raise ValueError(f"QUIET_HOURS {exc.rule}") from exc
        return value

    @field_validator("messaging_limit")
    @classmethod
    def _messaging_limit_valid(cls, value: str) -> str:
        if value.strip().lower() == limits.FROM_GRAPH:
            return value
        try:
            limits.parse_limit(value)
        except errors.ValidationFailed as exc:
            raise ValueError(f"MESSAGING_LIMIT {exc.rule}") from exc
        return value

    @field_validator("marketing_frequency_cap")
    @classmethod
    def _frequency_cap_valid(cls, value: str) -> str:
        try:
            limits.parse_cap(value)
        except errors.ValidationFailed as exc:
            raise ValueError(f"MARKETING_FREQUENCY_CAP {exc.rule}") from exc
        return value

    def frequency_cap(self) -> limits.FrequencyCap | None:
        """MARKETING_FREQUENCY_CAP parsed (None: no cap)."""
        return limits.parse_cap(self.marketing_frequency_cap)

    def messaging_cap(self) -> int | None:
        """MESSAGING_LIMIT as a number of contacts (None: unlimited). With `graph`, the
        smallest tier (250) until each number's own is read from Meta (docs/limits.md)."""
        if self.messaging_limit_from_graph():
            return limits.TIERS[0]
        return limits.parse_limit(self.messaging_limit)

    def messaging_limit_from_graph(self) -> bool:
        """MESSAGING_LIMIT=graph: read each number's tier from Meta's Graph API, hourly."""
        return self.messaging_limit.strip().lower() == limits.FROM_GRAPH

    def quiet_window(self) -> quiet.QuietHours | None:
        """QUIET_HOURS parsed (None: empty, no quiet hours)."""
        return quiet.parse(self.quiet_hours, "QUIET_HOURS")

    def keywords(self) -> consent.Keywords:
        """OPT_OUT_KEYWORDS and OPT_IN_KEYWORDS (comma-separated; empty: none); ValueError
        if malformed."""

        def words(value: str) -> list[str]:
            return value.split(",") if value.strip() else []

        return consent.Keywords.of(words(self.opt_out_keywords), words(self.opt_in_keywords))

    def status_webhook_key(self) -> str | None:
        """The HMAC key for status events: STATUS_WEBHOOK_SECRET, else API_KEY."""
        secret = self.status_webhook_secret or self.api_key
        return secret.get_secret_value() if secret is not None else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def check_startable(self) -> None:
        """Refuse to start, in one clear line, with missing or placeholder secrets.

        Meta credentials are required unless the service runs against the sandbox.
        """
        require("API_KEY", self.api_key)
        if not self.sandbox:
            require("ACCESS_TOKEN", self.access_token)
            require("PHONE_NUMBER_ID", self.phone_number_id)
        # Optional secrets: unset is fine, a copied placeholder would be a known key.
        for name, value in (
            ("APP_SECRET", self.app_secret),
            ("WEBHOOK_VERIFY_TOKEN", self.webhook_verify_token),
            ("STATUS_WEBHOOK_SECRET", self.status_webhook_secret),
            ("SECRET_KEY", self.secret_key),
        ):
            if value is not None:
                require(name, value)


def require(name: str, value: SecretStr | str | None) -> None:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not raw or not raw.strip():
        raise errors.ConfigurationError(f"{name} is not set (environment variable or .env)")
    if raw.strip().lower() in PLACEHOLDERS:
        raise errors.ConfigurationError(
            f"{name} still has the placeholder value from the README; set a real one"
        )


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and `.env`, then apply non-None overrides (CLI flags)."""
    clean = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**clean)  # type: ignore[arg-type]
