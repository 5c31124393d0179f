"""Running the service: uvicorn for the API, plus the dispatcher and (with --sandbox) the stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator

import uvicorn

from whatsapp_scheduler import settings as settings_mod
from whatsapp_scheduler.web import app as app_mod

logger = logging.getLogger(__name__)


def run(settings: settings_mod.Settings, *, show_key: bool = False) -> int:
    """Serve until SIGINT/SIGTERM; returns the process exit code."""
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard] on Linux
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(serve(settings, show_key=show_key))


async def serve(settings: settings_mod.Settings, *, show_key: bool = False) -> int:
    app = app_mod.create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
    )
    server = _Server(config)
    _banner(settings, show_key=show_key)
    await server.serve()
    return 0 if server.started else 1


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


def _banner(settings: settings_mod.Settings, *, show_key: bool) -> None:
    url = f"http://{settings.host}:{settings.port}"
    lines = [f"whatsapp-scheduler listening on {url} (API docs: {url}/docs)"]
    if settings.sandbox:
        lines.append("SANDBOX MODE: nothing reaches WhatsApp; messages go to the local stand-in.")
    if show_key and settings.api_key is not None:
        lines.append(
            f"API key for this run (set API_KEY to choose one): {settings.api_key.get_secret_value()}"
        )
    print("\n".join(lines), file=sys.stderr, flush=True)  # noqa: T201
