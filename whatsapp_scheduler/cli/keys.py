"""`whatsapp-scheduler keys create|list|revoke`: scoped API keys, on DATABASE_URL directly
(like `db upgrade`; the database is migrated first). The key is printed once, by `create`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from whatsapp_scheduler import bootstrap, logs
from whatsapp_scheduler import settings as settings_mod
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors, keys
from whatsapp_scheduler.core.senders import Scope
from whatsapp_scheduler.service import keys as key_cases


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "keys",
        help="make, list and revoke scoped API keys",
        description="API keys for apps and people, each with a scope (read: GET endpoints; "
        "write: also schedule and cancel; admin: also senders and keys) and optionally limited "
        "to some senders. Only a key's SHA-256 is stored. Works on DATABASE_URL directly.",
    )
    sub = parser.add_subparsers(dest="keys_command", metavar="KEYS_COMMAND", required=True)
    create = sub.add_parser(
        "create",
        help="make a key and print it once",
        description="Make a key and print it once (it cannot be shown again).",
    )
    create.add_argument("--name", required=True, help=f"the key's name: {keys.NAME_RULE}")
    create.add_argument(
        "--scope", required=True, choices=[s.value for s in Scope], help="what the key may do"
    )
    create.add_argument(
        "--sender",
        dest="senders",
        action="append",
        metavar="SENDER",
        help="limit the key to this sender (repeatable; `default` is the environment's "
        "number); without it, every sender",
    )
    create.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")
    listing = sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")
    revoke = sub.add_parser(
        "revoke",
        help="revoke a key at once",
        description="Revoke a key: its requests are refused (401) from now on and its "
        "dashboard sessions end, on every process sharing the database.",
    )
    revoke.add_argument("name", help="the key's name")
    revoke.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")


def run(args: argparse.Namespace, settings: settings_mod.Settings) -> int:
    from whatsapp_scheduler.store import migrate

    logs.configure(settings.log_level)
    migrate.upgrade(settings.database_url)
    try:
        return asyncio.run(_run(args, settings))
    except (errors.ValidationFailed, errors.Conflict, errors.NotFound, errors.StoreError) as exc:
        print(f"whatsapp-scheduler keys {args.keys_command}: {exc.message}", file=sys.stderr)  # noqa: T201
        return 1


async def _run(args: argparse.Namespace, settings: settings_mod.Settings) -> int:
    message_store = bootstrap.open_store(settings)
    clock = clock_mod.SystemClock()
    try:
        if args.keys_command == "create":
            key, secret = await key_cases.create(
                message_store, clock, args.name, Scope(args.scope), args.senders
            )
            print(secret)  # noqa: T201  (stdout: the key alone, for scripts)
            print(  # noqa: T201
                f"made key {key.name!r} ({key.scope}, {_senders(key)}); it is shown only now",
                file=sys.stderr,
            )
        elif args.keys_command == "revoke":
            key = await key_cases.revoke(message_store, clock, args.name)
            print(f"revoked {key.name!r} at {_when(key.revoked_at)}")  # noqa: T201
        else:
            _print_table(await message_store.list_keys())
    finally:
        await message_store.close()
    return 0


def _senders(key: keys.ApiKey) -> str:
    return ",".join(sorted(key.senders)) if key.senders is not None else "all senders"


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def _print_table(found: list[keys.ApiKey]) -> None:
    rows = [("NAME", "SCOPE", "SENDERS", "CREATED", "LAST USED", "REVOKED")]
    rows += [
        (
            k.name,
            str(k.scope),
            _senders(k) if k.senders is not None else "*",
            _when(k.created_at),
            _when(k.last_used_at),
            _when(k.revoked_at),
        )
        for k in found
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())  # noqa: T201
