"""The `whatsapp-scheduler` command: serve, worker, dispatch, db upgrade|copy, senders, keys,
templates, sandbox.

Every option also has an environment variable (shown in --help); a flag wins over the
environment, which wins over `.env`.
"""

from __future__ import annotations

import argparse
import base64
import logging
import secrets
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import SecretStr

from whatsapp_scheduler import __version__, logs
from whatsapp_scheduler import settings as settings_mod
from whatsapp_scheduler.cli import book as book_cli
from whatsapp_scheduler.cli import client
from whatsapp_scheduler.cli import keys as keys_cli
from whatsapp_scheduler.cli import senders as senders_cli
from whatsapp_scheduler.cli import templates as templates_cli
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.store import urls

logger = logging.getLogger(__name__)


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
        "account, makes an API key if API_KEY is unset, uses APP_SECRET and "
        "WEBHOOK_VERIFY_TOKEN if set (else sandbox defaults) and prints the sandbox's "
        "secrets; its control API needs SANDBOX_TOKEN (random if unset) [SANDBOX]",
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

    worker = commands.add_parser(
        "worker",
        help="run the dispatcher alone (no API)",
        description="Send due messages from DATABASE_URL until SIGTERM/SIGINT. Run several on "
        "PostgreSQL to share the work; pair with `serve --no-dispatcher`. On a SQLite file "
        "one dispatcher sends: a second one stands by and takes over when the first stops.",
    )
    worker.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")

    dispatch = commands.add_parser(
        "dispatch",
        help="send what is due now, then exit",
        description="Send every message that is due now, wait for the answers, and exit. "
        "On a SQLite file it refuses to run beside an active dispatcher (serve or worker).",
    )
    dispatch.add_argument(
        "--burst", action="store_true", required=True, help="drain what is due, then exit"
    )
    dispatch.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")

    standin = commands.add_parser(
        "sandbox",
        help="run the stand-in Cloud API and its inbox alone",
        description="A local stand-in for Meta's Cloud API (see docs/sandbox.md), for other "
        "clients' tests. Nothing reaches WhatsApp.",
    )
    standin.add_argument(
        "options", nargs="*", help="see `whatsapp-scheduler sandbox --help` (--port, --delays, ...)"
    )

    client.add_commands(commands)  # schedule, list, status, cancel, edit, import, upload (HTTP)
    senders_cli.add_commands(commands)  # senders add|list|update|remove|reencrypt (database)
    book_cli.add_commands(commands)  # contacts add|list|import|remove (HTTP client)
    book_cli.add_campaign_commands(commands)  # campaigns create|list|show|... (HTTP client)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply the schema migrations")
    upgrade.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")
    copy = db_commands.add_parser(
        "copy",
        help="copy everything the service knows (messages, series, senders, keys, consent, contacts, campaigns) into another database (e.g. SQLite -> PostgreSQL)",
        description="Copy every table of what the service knows, in batches; migrates the "
        "target first, can be run again to resume, and verifies the counts (docs/operations.md).",
    )
    copy.add_argument("--from", dest="source", required=True, help="source SQLAlchemy URL")
    copy.add_argument("--to", dest="target", help="target SQLAlchemy URL [DATABASE_URL]")
    copy.add_argument("--batch-size", type=int, default=2000, help="rows per transaction")
    keys_cli.add_commands(commands)  # keys create|list|revoke (on DATABASE_URL)
    templates_cli.add_commands(commands)  # templates sync|list|show (on DATABASE_URL)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `whatsapp-scheduler` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:  # the stand-in has its own options: hand them over whole
        from whatsapp_scheduler.sandbox import __main__ as sandbox_main

        sandbox_main.main(argv[1:], prog="whatsapp-scheduler sandbox")
        sys.exit(0)
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
        return _db_copy(args) if args.db_command == "copy" else _db_upgrade(args)
    if args.command == "keys":
        return keys_cli.run(args, _load(database_url=args.database_url))
    if args.command == "templates":
        return templates_cli.run(args, _load(database_url=args.database_url))
    if args.command == "serve":
        return _serve(args)
    if args.command == "senders":
        return senders_cli.run(args)
    if args.command in client.COMMANDS:
        return client.run(args)
    if args.command in {"contacts", "campaigns"}:
        return book_cli.run(args)
    if args.command in {"worker", "dispatch"}:
        return _work(args, burst=args.command == "dispatch")
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
        message = str(first.get("msg")).removeprefix("Value error, ")
        return message if message.startswith(field) else f"{field}: {message}"
    return str(exc).splitlines()[0]


def _db_upgrade(args: argparse.Namespace) -> int:
    from whatsapp_scheduler.store import migrate

    settings = _load(database_url=args.database_url)
    logs.configure(settings.log_level)
    migrate.upgrade(settings.database_url)
    print("database is up to date")  # noqa: T201
    return 0


def _db_copy(args: argparse.Namespace) -> int:
    from whatsapp_scheduler.store import transfer

    settings = _load(database_url=args.target)
    logs.configure(settings.log_level)
    source, target = args.source, settings.database_url
    print(f"copying {urls.safe_url(source)} -> {urls.safe_url(target)}")  # noqa: T201
    try:
        results = transfer.copy_database(source, target, batch_size=max(1, args.batch_size))
    except errors.StoreError as exc:
        print(f"whatsapp-scheduler db copy: {exc.message}", file=sys.stderr)  # noqa: T201
        return 1
    for r in results:
        print(  # noqa: T201
            f"{r.table:<10} read {r.read:>9}  written {r.written:>9}  "
            f"source {r.source_count:>9}  target {r.target_count:>9}"
        )
    print("copy complete; counts verified")  # noqa: T201
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
    if settings.sandbox and settings.secret_key is None:
        # Senders' tokens need a key; in the sandbox one per run will do (a sender added in
        # an earlier run with its own random key is then left out, and logged).
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        settings = settings.model_copy(update={"secret_key": SecretStr(key)})
    settings.check_startable()
    logs.configure(settings.log_level)
    from whatsapp_scheduler import server

    return server.run(settings, show_key=made_key)


def _work(args: argparse.Namespace, *, burst: bool) -> int:
    settings = _load(database_url=args.database_url)
    _require_meta(settings)
    logs.configure(settings.log_level)
    from whatsapp_scheduler import server

    return server.work(settings, burst=burst)


def _require_meta(settings: settings_mod.Settings) -> None:
    settings_mod.require("ACCESS_TOKEN", settings.access_token)
    settings_mod.require("PHONE_NUMBER_ID", settings.phone_number_id)
