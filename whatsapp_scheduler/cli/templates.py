"""`whatsapp-scheduler templates sync|list|show`: Meta's template catalogue, on DATABASE_URL
directly (like `keys`; the database is migrated first). `sync` reads Meta (GRAPH_API_URL) with
each sender's token; a running service sees the result within 30 s (docs/templates.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from whatsapp_scheduler import bootstrap, logs
from whatsapp_scheduler import settings as settings_mod
from whatsapp_scheduler.core import clock as clock_mod
from whatsapp_scheduler.core import errors
from whatsapp_scheduler.core.catalogue import CatalogueTemplate
from whatsapp_scheduler.service.templates import TemplateFilter


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "templates",
        help="sync and show Meta's message templates",
        description="Meta's template catalogue of each sender's WhatsApp Business Account "
        "(WABA_ID for the environment's sender). Works on DATABASE_URL directly.",
    )
    sub = parser.add_subparsers(
        dest="templates_command", metavar="TEMPLATES_COMMAND", required=True
    )
    sync = sub.add_parser(
        "sync",
        help="read every sender's templates from Meta now",
        description="Read every page of each WABA's templates from Meta and make them its "
        "catalogue (what the service does every TEMPLATE_SYNC_SECONDS). Exit status 1 when a "
        "WABA could not be read (it keeps its last catalogue).",
    )
    sync.add_argument("--waba-id", action="append", help="only this WABA (repeatable)")
    sync.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")
    listing = sub.add_parser("list", help="list the synced templates")
    for flag in ("name", "language", "status", "category", "waba-id"):
        listing.add_argument(f"--{flag}", help=f"only this {flag.replace('-', ' ')}")
    listing.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    listing.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")
    show = sub.add_parser("show", help="one template: every language, components as JSON")
    show.add_argument("name", help="the template's name")
    show.add_argument("--language", help="only this language")
    show.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")


def run(args: argparse.Namespace, settings: settings_mod.Settings) -> int:
    from whatsapp_scheduler.store import migrate

    logs.configure(settings.log_level)
    migrate.upgrade(settings.database_url)
    try:
        return asyncio.run(_run(args, settings))
    except (errors.ConfigurationError, errors.StoreError, errors.NotFound) as exc:
        command = f"templates {args.templates_command}"
        print(f"whatsapp-scheduler {command}: {exc.message}", file=sys.stderr)  # noqa: T201
        return 1


async def _run(args: argparse.Namespace, settings: settings_mod.Settings) -> int:
    message_store = bootstrap.open_store(settings)
    catalogue = bootstrap.build_templates(settings, message_store, clock_mod.SystemClock())
    try:
        if args.templates_command == "sync":
            results = await catalogue.sync(args.waba_id)
            if not results:
                print("no sender has a WABA id (WABA_ID, or senders --waba-id): nothing to sync")  # noqa: T201
            for r in results:
                who = ",".join(r.senders)
                if r.error is None:
                    print(f"WABA {r.waba_id} ({who}): {r.count} templates")  # noqa: T201
                else:
                    print(f"WABA {r.waba_id} ({who}): failed: {r.error}", file=sys.stderr)  # noqa: T201
            return 1 if any(r.error for r in results) else 0
        if args.templates_command == "show":
            found = await catalogue.list(TemplateFilter(name=args.name, language=args.language))
            if not found:
                raise errors.NotFound(f"no synced template named {args.name!r} (templates sync)")
            print(json.dumps([t.to_json() for t in found], ensure_ascii=False, indent=2))  # noqa: T201
            return 0
        query = TemplateFilter(args.name, args.language, args.status, args.category, args.waba_id)
        found = await catalogue.list(query)
        if args.json:
            for t in found:
                print(json.dumps(t.to_json(), ensure_ascii=False))  # noqa: T201
        else:
            _print_table(found)
        return 0
    finally:
        await message_store.close()


def _print_table(found: list[CatalogueTemplate]) -> None:
    rows = [("WABA", "NAME", "LANGUAGE", "STATUS", "CATEGORY", "PARAMETERS", "QUALITY")]
    for t in found:
        shown = ",".join(t.body_variables()) or "-"
        rows.append((t.waba_id, t.name, t.language, t.status, t.category, shown, t.quality or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())  # noqa: T201
