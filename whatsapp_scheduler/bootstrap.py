"""Builds the running system from `Settings`: the one place where parts are wired together.

`web.app.create_app` (the store and the service of an app), `server` (`serve`, `worker`,
`dispatch --burst`) and the benchmarks build through these functions; nothing else reads
`Settings` to decide which parts run or how they are connected::

    open_store(settings)                      -> store.MessageStore (SQLite or PostgreSQL)
    build_sender_directory(settings, store)   -> SenderDirectory (the environment's sender and
                                                 the senders table, tokens decrypted)
    build_service(settings, store, clock)     -> service.SchedulerService (validation, use cases)
    build_dispatcher(settings, store, ...)    -> dispatch.Dispatcher (Cloud API sender, limits,
                                                 the fleet-wide limit on PostgreSQL or Redis)
    build_deliverer(settings, store, clock)   -> dispatch.events.EventDeliverer or None
    listen_for_due(settings, dispatcher, ...) -> wakes a dispatcher for other processes' rows
    serve_dispatcher(runtime)                 -> the dispatcher of `serve`, standing by on a
                                                 SQLite file another dispatcher holds
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

from whatsapp_scheduler import service, store
from whatsapp_scheduler import settings as settings_mod
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors, window
from whatsapp_scheduler.dispatch import (
    breaker,
    events,
    ratelimit,
    retries,
    sharedlimit,
    standby,
    window_gate,
)
from whatsapp_scheduler.dispatch import config as dispatch_config_mod
from whatsapp_scheduler.dispatch import dispatcher as dispatcher_mod
from whatsapp_scheduler.dispatch import media as dispatch_media
from whatsapp_scheduler.dispatch import senders as dispatch_senders
from whatsapp_scheduler.service import consent as service_consent
from whatsapp_scheduler.service import media as service_media
from whatsapp_scheduler.service.senders import SenderAdmin
from whatsapp_scheduler.service.templates import TemplateCatalogue
from whatsapp_scheduler.store import files, notify, sql, urls, workers
from whatsapp_scheduler.store.senders_directory import SenderDirectory, build_sender_directory
from whatsapp_scheduler.whatsapp import MessageSender

logger = logging.getLogger(__name__)

#: How often `serve` looks for commits by other processes on its SQLite file: only a second
#: process standing by (dispatch/standby.py) stores messages there, and its API cannot nudge us.
SERVE_WATCH_SECONDS = 1.0

__all__ = [
    "SERVE_WATCH_SECONDS",
    "BackgroundDispatcher",
    "Runtime",
    "SenderDirectory",
    "add_template_sync",
    "build_deliverer",
    "build_dispatcher",
    "build_sender_directory",
    "build_service",
    "build_templates",
    "dispatch_config",
    "listen_for_due",
    "open_store",
    "resend_grace",
    "retry_policy",
    "serve_dispatcher",
]


class BackgroundDispatcher(Protocol):
    """The slice of the dispatcher the web app uses."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def nudge(self, run_at: Any) -> None: ...

    def health(self) -> dict[str, Any]: ...


@dataclasses.dataclass
class Runtime:
    """What a running app holds: settings, store, service, and the optional dispatcher."""

    settings: settings_mod.Settings
    store: store.MessageStore
    service: service.SchedulerService
    clock: clock_mod.Clock
    api_key: str
    dispatcher: BackgroundDispatcher | None = None
    senders: SenderDirectory | None = None  # None: the service's (built by build_service)
    templates: TemplateCatalogue | None = None  # Meta's template catalogue (service.templates)

    def sender_directory(self) -> SenderDirectory:
        """The senders of this runtime (those the service checks `gonderen` against)."""
        if self.senders is None:
            self.senders = self.service.senders or build_sender_directory(self.settings, self.store)
        return self.senders

    def sender_admin(self) -> SenderAdmin:
        """The use cases of /senders on this runtime's store and directory."""
        return SenderAdmin(self.store, self.sender_directory(), self.clock)


def open_store(settings: settings_mod.Settings) -> sql.SqlMessageStore:
    """The store on DATABASE_URL (migrated by the caller: `store.migrate.upgrade`)."""
    return sql.SqlMessageStore.from_url(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        events_enabled=bool(settings.status_webhook_url),
        key_cache_seconds=settings.key_cache_seconds,
    )


def build_templates(
    settings: settings_mod.Settings,
    message_store: store.MessageStore,
    clock: clock_mod.Clock,
    senders: SenderDirectory | None = None,
) -> TemplateCatalogue:
    """Meta's template catalogue of the senders' WABAs, read through GRAPH_API_URL."""
    from whatsapp_scheduler.whatsapp import templates_api  # aiohttp only when really needed

    return TemplateCatalogue(
        message_store,
        clock,
        senders=senders or build_sender_directory(settings, message_store),
        source=templates_api.CloudApiTemplates(
            graph_api_url=settings.graph_api_url,
            graph_api_version=settings.graph_api_version,
            timeout_seconds=max(30.0, settings.request_timeout_seconds),
        ),
    )


def build_service(
    settings: settings_mod.Settings,
    message_store: store.MessageStore,
    clock: clock_mod.Clock,
    senders: SenderDirectory | None = None,
    templates: TemplateCatalogue | None = None,
) -> service.SchedulerService:
    """The use cases; `senders` (default: `build_sender_directory`) are those a message's
    `gonderen` may name, and each sender's 24-hour windows are read under its own number
    (`dispatch.senders.WindowNumbers`); a template is checked against `templates` (default:
    `build_templates`)."""
    directory = senders or build_sender_directory(settings, message_store)
    catalogue = templates or build_templates(settings, message_store, clock, directory)
    numbers = dispatch_senders.WindowNumbers(directory)
    consent = service_consent.ConsentService(
        message_store,
        clock,
        numbers,
        default_sender=directory.default_name,
        default_region=settings.default_region,
        keywords=settings.keywords(),
    )
    return service.SchedulerService(
        message_store,
        clock,
        default_timezone=settings.timezone,
        default_region=settings.default_region,
        window_policy=window.WindowPolicy(settings.window_policy),
        senders=directory,
        window_numbers=numbers,
        consent=consent,
        templates=catalogue,
        categories=catalogue,  # a marketing-only opt-out stops the MARKETING templates
        quiet_hours=settings.quiet_window(),  # docs/limits.md
        allow_private_links=settings.media_allow_private_links,  # docs/message-types.md
        allow_subhourly=settings.series_allow_subhourly,
        media_retention=settings.media_retention,  # docs/media.md
        check_links=settings.media_link_check,
        media_files=file_bytes(settings, message_store),
        reply_window=timedelta(hours=settings.campaign_reply_hours),
    )


#: One object store client per MEDIA_URL in a process (the API's and the dispatcher's).
_object_stores: dict[tuple[str, str, str], files.ObjectStore] = {}


def file_bytes(
    settings: settings_mod.Settings, message_store: store.MessageStore
) -> files.FileBytes:
    """Where uploaded files' bytes go: MEDIA_URL's object store, else the database."""
    if not settings.media_url:
        return files.FileBytes(message_store)
    key = (settings.media_url, settings.media_s3_endpoint_url, settings.media_s3_region)
    if key not in _object_stores:
        _object_stores[key] = files.ObjectStore(
            settings.media_url,
            settings.media_s3_endpoint_url or None,
            settings.media_s3_region or None,
        )
    return files.FileBytes(message_store, _object_stores[key])


def dispatch_config(settings: settings_mod.Settings) -> dispatch_config_mod.DispatchConfig:
    """The dispatcher's knobs from `Settings` (the reaper runs every half lease, 1-30 s)."""
    return dispatch_config_mod.DispatchConfig(
        send_concurrency=settings.send_concurrency,
        claim_batch_size=settings.claim_batch_size,
        lease_seconds=settings.lease_seconds,
        max_lateness=settings.max_lateness,
        safety_poll_seconds=settings.safety_poll_seconds,
        shutdown_grace_seconds=settings.shutdown_grace_seconds,
        reap_interval_seconds=max(1.0, min(30.0, settings.lease_seconds / 2)),
        messages_per_second=settings.messages_per_second,
        breaker=breaker.BreakerConfig(
            threshold=settings.breaker_threshold,
            base_seconds=settings.breaker_base_seconds,
            cap_seconds=max(settings.breaker_cap_seconds, settings.breaker_base_seconds),
        ),
        quiet_hours=settings.quiet_window(),
        messaging_limit=settings.messaging_cap(),
        messaging_limit_from_graph=settings.messaging_limit_from_graph(),
        frequency_cap=settings.frequency_cap(),
    )


def retry_policy(settings: settings_mod.Settings) -> retries.RetryPolicy:
    """The retry policy configured by `Settings` (back-off constants are the defaults)."""
    return retries.RetryPolicy(
        max_attempts=settings.max_attempts,
        account_pause_seconds=settings.account_pause_seconds,
        resend_ambiguous=settings.resend_ambiguous,
        ambiguous_grace_seconds=resend_grace(settings),
    )


def resend_grace(settings: settings_mod.Settings) -> float:
    """RESEND_GRACE_SECONDS when Meta's status webhooks reach us, else 0. The service knows
    they do by APP_SECRET: `/webhook` refuses every POST without it, so no status can prove a
    send; with it set, Meta (or the sandbox) is configured to post statuses to `/webhook`."""
    return settings.resend_grace_seconds if settings.app_secret is not None else 0.0


#: How often the dispatcher folds the campaigns' funnel deltas into their tallies (a read
#: sums what is not folded yet, so this bounds the read's work, not its freshness).
CAMPAIGN_FOLD_SECONDS = 5.0


def _folder(message_store: store.MessageStore) -> Callable[[], Awaitable[None]]:
    async def fold() -> None:
        try:
            await message_store.fold_campaign_tallies()
        except Exception:  # a store outage: the next run folds what is left
            logger.warning("campaign tallies not folded", exc_info=True)

    return fold


#: MESSAGING_LIMIT=graph: how often each number's tier is read from Meta (a tier moves up
#: within 6 h of qualifying; Meta counts this against the app's 200-5,000 requests an hour).
MESSAGING_LIMIT_REFRESH_SECONDS = 3600.0


async def build_dispatcher(
    settings: settings_mod.Settings,
    message_store: store.MessageStore,
    clock: clock_mod.Clock | None = None,
    sender: MessageSender | None = None,
    *,
    policy: retries.RetryPolicy | None = None,
    worker_id: str | None = None,
    senders: dispatch_senders.SenderSource | None = None,
    templates: TemplateCatalogue | None = None,
) -> dispatcher_mod.Dispatcher:
    """A dispatcher for `settings`. Without `sender`, opens one pooled aiohttp session and a
    `CloudApiSender` per sender of `senders` (default: `build_sender_directory`, the
    environment's PHONE_NUMBER_ID + ACCESS_TOKEN as sender `default` and the senders table),
    all over that session
    (closed by `stop()`); the senders are loaded before this returns and reloaded by the
    dispatcher (`Dispatcher.reload_senders`). With `sender`, that one is the sender `default`
    (tests, benchmarks) and `senders` adds the others. With `templates` (Meta's catalogue), a
    template since disabled, rejected or paused at Meta is not sent (`dispatch.template_gate`).
    Call inside the running event loop.
    """
    from whatsapp_scheduler.whatsapp import cloud_api  # aiohttp only when really needed

    on_close = None
    connect: dispatcher_mod.Connect | None = None
    clock = clock or clock_mod.SystemClock()
    uploads = dispatch_media.MediaUploads(
        message_store,
        clock,
        timedelta(days=settings.media_meta_id_days),
        file_bytes(settings, message_store),
    )
    if sender is None and senders is None:  # the environment's sender and the senders table
        senders = build_sender_directory(settings, message_store)
    if senders is not None:
        session = cloud_api.create_session(settings)

        def connect(credentials: dispatch_senders.SenderCredentials) -> MessageSender:
            number = cloud_api.CloudApiSender(
                session,
                access_token=credentials.access_token,
                phone_number_id=credentials.sender.phone_number_id,
                graph_api_url=settings.graph_api_url,
                graph_api_version=settings.graph_api_version,
            )
            return dispatch_media.UploadingSender(number, uploads)  # files by Meta's id

        on_close = session.close
    config = dispatch_config(settings)
    shared = sharedlimit.for_database(
        settings.database_url, settings.messages_per_second, settings.redis_url
    )
    if shared is not None:  # the fleet splits the rate: hold fewer claimed rows per process
        batch = min(config.claim_batch_size, config.send_concurrency)
        config = dataclasses.replace(config, claim_batch_size=batch)
    worker_id = worker_id or dispatch_config_mod.new_worker_id()
    # PostgreSQL: an advisory lock per worker tells the others at once when it died. SQLite:
    # the file's dispatcher lock does (standby.py sets it).
    registry = (
        workers.WorkerRegistry(settings.database_url, worker_id)
        if urls.is_postgres(settings.database_url)
        else None
    )
    built = dispatcher_mod.Dispatcher(
        message_store=message_store,
        sender=sender,
        phone_number_id=(settings.phone_number_id or "default") if sender is not None else None,
        clock=clock,
        config=config,
        policy=policy or retry_policy(settings),
        limiter=ratelimit.RateLimiter(settings.messages_per_second, settings.pair_interval),
        window_gate=window_gate.WindowGate(
            message_store, window.WindowPolicy(settings.window_policy)
        ),
        worker_id=worker_id,
        on_close=on_close,
        shared_limiter=shared,
        liveness=registry,
        senders=senders,
        connect=connect,
        template_statuses=templates,
    )
    if senders is not None:
        loaded = await built.reload_senders()
        if not built.paths and on_close is not None:
            await on_close()
            if not loaded:
                raise errors.ConfigurationError("no sender could be loaded")
            raise errors.ConfigurationError(
                "ACCESS_TOKEN and PHONE_NUMBER_ID are required (or add a sender: senders add)"
            )
    built.add_timed_job("campaign-tallies", CAMPAIGN_FOLD_SECONDS, _folder(message_store))
    _add_media_jobs(built, settings, message_store, clock, uploads)
    if config.messaging_limit_from_graph:  # MESSAGING_LIMIT=graph (docs/limits.md)
        built.add_timed_job(
            "messaging-limit",
            MESSAGING_LIMIT_REFRESH_SECONDS,
            built.refresh_messaging_limits_logged,
            at_start=True,
        )
    return built


#: How often the files of soon-due messages are uploaded to Meta ahead, and how often the
#: files MEDIA_RETENTION lets go are removed (docs/media.md).
MEDIA_PREUPLOAD_EVERY = 30.0
MEDIA_SWEEP_EVERY = 3600.0


def _add_media_jobs(
    built: dispatcher_mod.Dispatcher,
    settings: settings_mod.Settings,
    message_store: store.MessageStore,
    clock: clock_mod.Clock,
    uploads: dispatch_media.MediaUploads,
) -> None:
    library = service_media.MediaLibrary(
        message_store, clock, settings.media_retention, file_bytes(settings, message_store)
    )
    horizon = timedelta(seconds=settings.media_preupload_seconds)

    async def preupload() -> None:
        senders = {
            name: sender
            for name, sender in built.sender_objects().items()
            if isinstance(sender, dispatch_media.UploadingSender)
        }
        try:
            await uploads.preupload({n: s.inner for n, s in senders.items()}, horizon)
        except errors.SchedulerError:  # the next run goes on
            logger.warning("media not uploaded ahead", exc_info=True)

    async def sweep() -> None:
        try:
            await library.sweep()
        except errors.SchedulerError:  # the database or the object store: the next run
            logger.warning("media clean-up failed; the next run goes on", exc_info=True)

    if horizon:
        built.add_timed_job("media-preupload", MEDIA_PREUPLOAD_EVERY, preupload)
    built.add_timed_job("media-retention", MEDIA_SWEEP_EVERY, sweep, at_start=True)


def build_deliverer(
    settings: settings_mod.Settings,
    message_store: store.MessageStore,
    clock: clock_mod.Clock | None = None,
) -> events.EventDeliverer | None:
    """The status-event deliverer when STATUS_WEBHOOK_URL is set, else None."""
    key = settings.status_webhook_key()
    if not settings.status_webhook_url or not key:
        return None
    if settings.status_webhook_secret is None:
        events.logger.warning(
            "STATUS_WEBHOOK_SECRET is not set: status events are signed with API_KEY"
        )
    return events.EventDeliverer(
        message_store,
        settings.status_webhook_url,
        key,
        clock=clock,
        max_attempts=settings.status_webhook_max_attempts,
    )


async def listen_for_due(
    settings: settings_mod.Settings,
    dispatcher: dispatcher_mod.Dispatcher,
    *,
    api_in_process: bool,
) -> None:
    """Wake this dispatcher when another process stores a message: LISTEN/NOTIFY on
    PostgreSQL; on a SQLite file, a watch on its commits (`PRAGMA data_version`): every 50 ms
    in a `worker` (its API is another process), every second in `serve` (whose API nudges its
    dispatcher directly; other writers are rare). The listener stops with the dispatcher."""
    listener: notify.DueListener | notify.SqliteDueWatcher
    if urls.is_postgres(settings.database_url):
        listener = notify.DueListener(
            settings.database_url, dispatcher.nudge, clock=dispatcher.clock
        )
    else:
        path = urls.sqlite_path(settings.database_url)
        if path is None:
            return
        interval = SERVE_WATCH_SECONDS if api_in_process else notify.SQLITE_POLL_SECONDS
        listener = notify.SqliteDueWatcher(
            path, dispatcher.nudge, dispatcher.store.next_run_at, interval=interval
        )
    await listener.start()
    dispatcher.add_stop_hook(listener.stop)


def add_template_sync(
    settings: settings_mod.Settings,
    dispatcher: dispatcher_mod.Dispatcher,
    templates: TemplateCatalogue,
) -> None:
    """The timed job that syncs Meta's templates every TEMPLATE_SYNC_SECONDS (first soon
    after start); none when it is 0."""
    if settings.template_sync_seconds > 0:
        dispatcher.add_timed_job(
            "template-sync", settings.template_sync_seconds, templates.sync_logged, at_start=True
        )


async def serve_dispatcher(rt: Runtime) -> BackgroundDispatcher:
    """`serve`'s dispatcher: woken by other processes, standing by on a taken SQLite file;
    with the template sync (TEMPLATE_SYNC_SECONDS) among its timed jobs."""
    dispatcher = await build_dispatcher(rt.settings, rt.store, rt.clock, templates=rt.templates)
    if rt.templates is not None:
        add_template_sync(rt.settings, dispatcher, rt.templates)
    lock = standby.lock_for(rt.settings)
    await listen_for_due(rt.settings, dispatcher, api_in_process=True)
    return dispatcher if lock is None else standby.StandbyDispatcher(dispatcher, lock)
