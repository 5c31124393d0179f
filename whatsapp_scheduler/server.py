"""Running the service: uvicorn for the API, the dispatcher, and (with --sandbox) the stand-in.

Also the `worker` loop (dispatcher without the API) for deployments that split the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import secrets
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import uvicorn
from pydantic import SecretStr

from whatsapp_scheduler import bootstrap
from whatsapp_scheduler import settings as settings_mod
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.dispatch import standby
from whatsapp_scheduler.service import senders as sender_cases
from whatsapp_scheduler.store import migrate
from whatsapp_scheduler.web import app as app_mod

logger = logging.getLogger(__name__)
T = TypeVar("T")

SANDBOX_TOKEN = "sandbox-access-token"
SANDBOX_PHONE_NUMBER_ID = "100000000000001"
#: The sandbox's second business number (the sender `branch`), with its own access token: the
#: stand-in answers 190 to a send from it with any other token (docs/sandbox.md).
SANDBOX_BRANCH_NAME = "branch"
SANDBOX_BRANCH_PHONE_NUMBER_ID = "100000000000002"
SANDBOX_BRANCH_TOKEN = "sandbox-branch-access-token"
SANDBOX_BRANCH_DISPLAY = "15550783882"
#: The defaults of APP_SECRET and WEBHOOK_VERIFY_TOKEN in sandbox mode, where unset.
SANDBOX_APP_SECRET = "sandbox-app-secret"
SANDBOX_VERIFY_TOKEN = "sandbox-verify-token"


@dataclasses.dataclass(frozen=True)
class SandboxSecrets:
    """What `serve --sandbox` uses, for the banner: each value, and whether a setting chose it
    (a value someone set may be a real secret copied from production: never printed)."""

    app_secret: str
    app_secret_set: bool
    verify_token: str
    verify_token_set: bool
    control_token: str


def run_async(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `main()` on uvloop (bundled with uvicorn[standard]) when available."""
    try:
        import uvloop

        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard] on Linux
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main())


#: Allocations between young-generation collections (CPython's default: 700).
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Make the cyclic garbage collector cheap for a long-running server.

    Everything alive once the app is built (modules, the app, metadata caches) is moved out of
    the collector's sight (`gc.freeze`), and young collections run every 50,000 allocations
    instead of 700. A batch of 1,000 messages allocates tens of thousands of objects: with the
    defaults, collections cost ~20-30 % of `POST /schedule/batch` (bench/RESULTS.md). Garbage
    cycles are still collected, a little later.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def run(settings: settings_mod.Settings, *, show_key: bool = False) -> int:
    """`serve`: API + dispatcher (+ sandbox) until SIGINT/SIGTERM; returns the exit code."""
    return run_async(lambda: serve(settings, show_key=show_key))


async def serve(settings: settings_mod.Settings, *, show_key: bool = False) -> int:
    # Before uvicorn: a database that cannot be opened stops start-up with one line.
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    standin = None
    sandbox_secrets = None
    if settings.sandbox:
        sandbox_secrets = sandbox_secrets_for(settings)
        standin, settings = await start_sandbox(settings, sandbox_secrets)
    try:
        if standin is not None:
            await register_sandbox_branch(settings)
            await sync_sandbox_templates(settings)
        factory = bootstrap.serve_dispatcher if settings.dispatcher_enabled else None
        app = app_mod.create_app(settings, dispatcher_factory=factory)
        server = _Server(uvicorn_config(settings, app))
        _banner(
            settings,
            show_key=show_key,
            inbox=standin.url + "/" if standin else None,
            sandbox_secrets=sandbox_secrets,
        )
        tune_gc()
        await server.serve()
        return 0 if server.started else 1
    finally:
        if standin is not None:
            await standin.stop()


def uvicorn_config(settings: settings_mod.Settings, app: Any) -> uvicorn.Config:
    """uvicorn's configuration for `serve`. X-Forwarded-Proto and X-Forwarded-For are believed
    only from TRUSTED_PROXIES (by default from nobody: not even uvicorn's own default of
    127.0.0.1), so the scheme behind a TLS-terminating proxy makes cookies `Secure` and the
    client address (sign-in throttle, logs) is the proxy's client, while no one else can claim
    either."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or "",
        server_header=False,
    )


async def register_sandbox_branch(settings: settings_mod.Settings) -> None:
    """Make the sandbox's second number the sender `branch` in the database (its token
    encrypted with this run's SECRET_KEY; a row of an earlier run gets the token again), so
    that `gonderen: "branch"` works in sandbox mode out of the box."""
    if settings.secret_key is None:  # `serve --sandbox` makes one per run; a caller may not
        logger.warning("sandbox: SECRET_KEY is not set, so the second number is not a sender")
        return
    message_store = bootstrap.open_store(settings)
    try:
        directory = bootstrap.build_sender_directory(settings, message_store)
        admin = sender_cases.SenderAdmin(message_store, directory, clock_mod.SystemClock())
        try:
            await admin.add(
                sender_cases.NewSender(
                    name=SANDBOX_BRANCH_NAME,
                    phone_number_id=SANDBOX_BRANCH_PHONE_NUMBER_ID,
                    access_token=SANDBOX_BRANCH_TOKEN,
                )
            )
        except errors.SenderExists:
            try:
                await admin.update(
                    SANDBOX_BRANCH_NAME,
                    {
                        "phone_number_id": SANDBOX_BRANCH_PHONE_NUMBER_ID,
                        "access_token": SANDBOX_BRANCH_TOKEN,
                        "enabled": True,
                    },
                )
            except errors.SchedulerError as exc:  # the number is another sender's: leave it
                logger.warning(
                    "sandbox: the second number is not registered as sender %r: %s",
                    SANDBOX_BRANCH_NAME,
                    exc,
                )
    finally:
        await message_store.close()


async def sync_sandbox_templates(settings: settings_mod.Settings) -> None:
    """Sync the stand-in's seeded template catalogue once before the API answers, so the
    first request already finds it (the timed sync runs only with the dispatcher, soon after
    start; with `--no-dispatcher` never)."""
    message_store = bootstrap.open_store(settings)
    try:
        catalogue = bootstrap.build_templates(settings, message_store, clock_mod.SystemClock())
        for result in await catalogue.sync():
            if result.error:
                logger.warning("sandbox: template sync failed: %s", result.error)
    finally:
        await message_store.close()


def sandbox_secrets_for(settings: settings_mod.Settings) -> SandboxSecrets:
    """APP_SECRET and WEBHOOK_VERIFY_TOKEN where set (else the sandbox's defaults), and the
    control API's token: SANDBOX_TOKEN, else a random one for this run."""
    return SandboxSecrets(
        app_secret=_value(settings.app_secret) or SANDBOX_APP_SECRET,
        app_secret_set=settings.app_secret is not None,
        verify_token=_value(settings.webhook_verify_token) or SANDBOX_VERIFY_TOKEN,
        verify_token_set=settings.webhook_verify_token is not None,
        control_token=_value(settings.sandbox_token) or secrets.token_urlsafe(24),
    )


def _value(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


async def start_sandbox(
    settings: settings_mod.Settings, chosen: SandboxSecrets | None = None
) -> tuple[Any, settings_mod.Settings]:
    """Start the embedded stand-in and point the service's Cloud API settings at it. The
    stand-in signs its webhooks with the service's APP_SECRET and answers its verify token.
    It has two business numbers: the default sender's (PHONE_NUMBER_ID, ACCESS_TOKEN) and
    `branch` (`standin.number("branch")`: its id and token, to register it as a sender)."""
    from whatsapp_scheduler import sandbox

    chosen = chosen or sandbox_secrets_for(settings)
    callback_host = "127.0.0.1" if settings.host in {"0.0.0.0", "::", ""} else settings.host
    config = sandbox.StandInConfig(
        access_token=SANDBOX_TOKEN,
        phone_number_id=SANDBOX_PHONE_NUMBER_ID,
        app_secret=chosen.app_secret,
        webhook_url=f"http://{callback_host}:{settings.port}/webhook",
        webhook_verify_token=chosen.verify_token,
        control_token=chosen.control_token,
        label="default",
        extra_numbers=(
            sandbox.Number(
                phone_number_id=SANDBOX_BRANCH_PHONE_NUMBER_ID,
                access_token=SANDBOX_BRANCH_TOKEN,
                display_phone_number=SANDBOX_BRANCH_DISPLAY,
                label=SANDBOX_BRANCH_NAME,
            ),
        ),
        # Ticks a person can watch: one grey tick, then two, then blue.
        status_delays=sandbox.StatusDelays(sent=0.3, delivered=1.5, read=4.0),
    )
    if settings.sandbox_port:
        standin = sandbox.StandIn(config)
        url = await standin.start(host=settings.host, port=settings.sandbox_port)
    else:  # next to the API's port if free, else any free port (the banner shows which)
        try:
            standin = sandbox.StandIn(config)
            url = await standin.start(host=settings.host, port=settings.port + 1)
        except OSError:
            await standin.stop()
            standin = sandbox.StandIn(config)
            url = await standin.start(host=settings.host, port=0)
    updated = settings.model_copy(
        update={
            "graph_api_url": url,
            "access_token": SecretStr(SANDBOX_TOKEN),
            "phone_number_id": SANDBOX_PHONE_NUMBER_ID,
            "waba_id": config.waba_id,  # its seeded template catalogue (docs/templates.md)
            "app_secret": SecretStr(chosen.app_secret),
            "webhook_verify_token": SecretStr(chosen.verify_token),
        }
    )
    return standin, updated


def work(settings: settings_mod.Settings, *, burst: bool) -> int:
    """`worker` / `dispatch --burst`: the dispatcher alone on DATABASE_URL."""
    return run_async(lambda: _work(settings, burst=burst))


async def _work(settings: settings_mod.Settings, *, burst: bool) -> int:
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    message_store = bootstrap.open_store(settings)  # events: the API process delivers them
    lock = standby.lock_for(settings)
    try:
        clock = clock_mod.SystemClock()
        templates = bootstrap.build_templates(settings, message_store, clock)
        dispatcher = await bootstrap.build_dispatcher(
            settings, message_store, clock, templates=templates
        )
        if not burst:
            bootstrap.add_template_sync(settings, dispatcher, templates)
        running: bootstrap.BackgroundDispatcher = dispatcher
        try:
            if burst:
                standby.refuse_if_taken(lock)
                if lock is not None:  # the lock's holder knows earlier holders are gone
                    dispatcher.liveness = standby.LockLiveness(lock)
                await dispatcher.run(burst=True)
            else:
                await bootstrap.listen_for_due(settings, dispatcher, api_in_process=False)
                if lock is not None:
                    running = standby.StandbyDispatcher(dispatcher, lock)
                await running.start()
                logger.info(
                    "worker running; SIGTERM or SIGINT stops it",
                    extra={"worker": dispatcher.worker_id, "state": running.health()["state"]},
                )
                await _until_signal()
        finally:
            await running.stop()
            if lock is not None:
                lock.release()
    finally:
        await message_store.close()
    return 0


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


class _Server(uvicorn.Server):
    """uvicorn's server, but a SIGTERM/SIGINT that ended in a graceful shutdown exits 0.

    uvicorn re-raises the captured signal after shutting down, which turns a clean stop into
    "killed by signal" for supervisors; here the stop is reported as what it was: clean.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            if self._captured_signals:
                logger.info("stopped by signal %s", self._captured_signals[-1])
            self._captured_signals.clear()


def _banner(
    settings: settings_mod.Settings,
    *,
    show_key: bool,
    inbox: str | None,
    sandbox_secrets: SandboxSecrets | None = None,
) -> None:
    url = f"http://{settings.host}:{settings.port}"
    lines = [f"whatsapp-scheduler listening on {url} (API docs: {url}/docs)"]
    if inbox is not None:
        lines.append("SANDBOX MODE: nothing reaches WhatsApp; messages go to the local stand-in.")
        lines.append(f"Sandbox inbox (what each phone would have received): {inbox}")
    if sandbox_secrets is not None:
        s = sandbox_secrets
        lines.append("Sandbox secrets (for the local stand-in only, not Meta's; docs/sandbox.md):")
        lines.append(
            "  APP_SECRET: "
            + ("as set (not shown)" if s.app_secret_set else f"{s.app_secret} (sandbox default)")
        )
        lines.append(
            "  WEBHOOK_VERIFY_TOKEN: "
            + (
                "as set (not shown)"
                if s.verify_token_set
                else f"{s.verify_token} (sandbox default)"
            )
        )
        lines.append(f"  control API token (X-Sandbox-Token, SANDBOX_TOKEN): {s.control_token}")
    if not settings.dispatcher_enabled:
        lines.append("Dispatcher off: run `whatsapp-scheduler worker` to send.")
    if show_key and settings.api_key is not None:
        lines.append(
            f"API key for this run (set API_KEY to choose one): {settings.api_key.get_secret_value()}"
        )
    print("\n".join(lines), file=sys.stderr, flush=True)  # noqa: T201
