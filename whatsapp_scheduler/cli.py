"""The `whatsapp-scheduler` command: serve, worker, dispatch, db upgrade, sandbox.

Every option also has an environment variable (shown in --help); a flag wins over the
environment, which wins over `.env`.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from whatsapp_scheduler import __version__, errors, logs
from whatsapp_scheduler import settings as settings_mod

logger = logging.getLogger(__name__)

SANDBOX_TOKEN = "sandbox-access-token"
SANDBOX_PHONE_NUMBER_ID = "100000000000001"
SANDBOX_APP_SECRET = "sandbox-app-secret"
SANDBOX_VERIFY_TOKEN = "sandbox-verify-token"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whatsapp-scheduler",
        description="Send WhatsApp messages at a chosen local date and time (Meta Cloud API).",
        epilog="Settings come from the environment and .env; see README.md for the full table.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the REST API and the dispatcher",
        description="Run the REST API and the dispatcher in one process. Migrates the database first.",
    )
    serve.add_argument("--host", help="interface to listen on [HOST, default 127.0.0.1]")
    serve.add_argument("--port", type=int, help="port to listen on [PORT, default 8000]")
    serve.add_argument(
        "--sandbox",
        action="store_true",
        default=None,
        help="send to an embedded stand-in for the Cloud API instead of Meta; needs no Meta "
        "account and makes an API key if API_KEY is unset [SANDBOX]",
    )
    serve.add_argument(
        "--sandbox-port",
        type=int,
        help="port of the sandbox's stand-in and inbox [SANDBOX_PORT, default: --port + 1]",
    )
    serve.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")
    serve.add_argument(
        "--no-dispatcher",
        dest="dispatcher_enabled",
        action="store_false",
        default=None,
        help="serve the API only; run `worker` elsewhere to send [DISPATCHER_ENABLED=false]",
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply the schema migrations")
    upgrade.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `whatsapp-scheduler` command."""
    args = _parser().parse_args(argv)
    try:
        code = _dispatch(args)
    except errors.ConfigurationError as exc:
        print(f"whatsapp-scheduler: {exc.message}", file=sys.stderr)  # noqa: T201
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "db":
        return _db_upgrade(args)
    if args.command == "serve":
        return _serve(args)
    raise AssertionError(args.command)


def _load(**overrides: Any) -> settings_mod.Settings:
    try:
        return settings_mod.load_settings(**overrides)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise errors.ConfigurationError(_first_line(exc)) from exc


def _first_line(exc: Exception) -> str:
    errors_list = getattr(exc, "errors", None)
    if callable(errors_list):
        first = errors_list()[0]
        field = ".".join(str(p) for p in first.get("loc", ())).upper()
        return f"{field}: {first.get('msg')}"
    return str(exc).splitlines()[0]


def _db_upgrade(args: argparse.Namespace) -> int:
    from whatsapp_scheduler.store import migrate

    settings = _load(database_url=args.database_url)
    logs.configure(settings.log_level)
    migrate.upgrade(settings.database_url)
    print("database is up to date")  # noqa: T201
    return 0


def _serve(args: argparse.Namespace) -> int:
    settings = _load(
        host=args.host,
        port=args.port,
        sandbox=args.sandbox,
        sandbox_port=args.sandbox_port,
        database_url=args.database_url,
        dispatcher_enabled=args.dispatcher_enabled,
    )
    made_key = settings.sandbox and settings.api_key is None
    if made_key:
        settings = settings.model_copy(update={"api_key": SecretStr(secrets.token_urlsafe(24))})
    settings.check_startable()
    logs.configure(settings.log_level)
    from whatsapp_scheduler import server

    return server.run(settings, show_key=made_key)
