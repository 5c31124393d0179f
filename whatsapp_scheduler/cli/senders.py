"""`whatsapp-scheduler senders add|list|update|remove|reencrypt`: the business numbers, managed
directly on DATABASE_URL (like `db`), with the same rules as `/senders` (`service.SenderAdmin`).

An access token is never an argument: a command line is kept in the shell's history and any
user of the machine can read it in `ps` or /proc while the command runs. It comes from
`--token-file PATH` (`-`: standard input), else from standard input when that is not a
terminal (`... < token.txt`, a pipe from a secrets manager), else from a prompt that does not
echo. Tokens are never printed.

Exit codes: 0 done; 1 refused (the reason on stderr, naming the field); 2 configuration
(no SECRET_KEY, a bad setting, no token given).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from whatsapp_scheduler.core import errors, senders

OK, REFUSED = 0, 1

_TOKEN_HELP = (
    "read the access token from this file ('-': standard input). Without it the token is "
    "read from standard input when that is not a terminal, else asked for (not echoed). "
    "There is no --token: a token on the command line ends up in the shell history and in ps"
)


def add_commands(commands: Any) -> None:
    """Register `senders` and its subcommands."""
    parser = commands.add_parser(
        "senders",
        help="business numbers to send from (on DATABASE_URL)",
        description="Manage the senders (business numbers) in the database at DATABASE_URL, "
        "with the same rules as the REST API's /senders. Access tokens are stored encrypted "
        "with SECRET_KEY and never shown. The environment's PHONE_NUMBER_ID + ACCESS_TOKEN "
        "(+ WABA_ID) are the sender 'default', listed but changed only in the environment. "
        "See docs/operations.md, 'Adding a number'.",
    )
    sub = parser.add_subparsers(dest="senders_command", metavar="SENDERS_COMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--database-url", help="SQLAlchemy URL [DATABASE_URL]")

    p = sub.add_parser(
        "list",
        parents=[common],
        help="list the senders (never their tokens)",
        description="One sender a line: name, phone_number_id, WABA id, enabled or disabled, "
        "messages per second, pair interval and quiet hours (- : the service-wide setting), and "
        "'environment' for the sender of PHONE_NUMBER_ID.",
    )
    p.add_argument("--json", action="store_true", help="print JSON (as GET /senders answers)")

    p = sub.add_parser(
        "add",
        parents=[common],
        help="add a sender (needs SECRET_KEY)",
        description="Add a business number. Its messages name it in the field `gonderen`. "
        "Needs SECRET_KEY (the token is stored encrypted with it).",
    )
    p.add_argument("name", help=f"the sender's name: {senders.NAME_RULE}")
    p.add_argument("--phone-number-id", required=True, help="the number's Cloud API id (digits)")
    _fields(p)
    p.add_argument(
        "--disabled", action="store_true", help="add it disabled (refused in `gonderen`)"
    )
    p.add_argument("--token-file", metavar="PATH", help=_TOKEN_HELP)

    p = sub.add_parser(
        "update",
        parents=[common],
        help="change a sender: its token, limits, enabled (a token needs SECRET_KEY)",
        description="Change the options given; the others stay. An empty value ('') clears an "
        "optional field. A new token (--token-file, or --new-token to be asked for it) is used "
        "by every running process within SAFETY_POLL_SECONDS (30 s) at the latest.",
    )
    p.add_argument("name", help="the sender's name")
    p.add_argument("--phone-number-id", help="the number's Cloud API id (digits)")
    _fields(p)
    state = p.add_mutually_exclusive_group()
    state.add_argument("--enable", dest="enabled", action="store_true", default=None)
    state.add_argument(
        "--disable",
        dest="enabled",
        action="store_false",
        help="disable it: new messages naming it are refused, and its queued ones fail when due "
        "(nothing sent)",
    )
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token-file", metavar="PATH", help="read the new token from this file "
                       "('-': standard input)")  # fmt: skip
    token.add_argument(
        "--new-token", action="store_true", help="ask for the new token (not echoed)"
    )

    p = sub.add_parser(
        "remove",
        parents=[common],
        help="remove a sender without queued messages",
        description="Remove a sender. Refused while it has messages queued or sending: "
        "cancel them or let them go out first. "
        "Its sent messages keep its name in their history.",
    )
    p.add_argument("name", help="the sender's name")

    sub.add_parser(
        "reencrypt",
        parents=[common],
        help="encrypt every stored token again with SECRET_KEY's first key",
        description="Step 2 of rotating SECRET_KEY (docs/operations.md): with the new key "
        "first in SECRET_KEY and the old one after it, re-encrypt every token with the new "
        "key; then the old key can be dropped. Fails (exit 1) if a token cannot be decrypted "
        "with any key given, naming the sender.",
    )


def _fields(p: argparse.ArgumentParser) -> None:
    p.add_argument("--waba-id", help="its WhatsApp Business Account id (digits)")
    p.add_argument("--portfolio", help="its business portfolio id (digits)")
    p.add_argument(
        "--messages-per-second",
        type=float,
        help="its throughput, 0 < x <= 1000 (default: MESSAGES_PER_SECOND)",
    )
    p.add_argument(
        "--pair-interval",
        type=float,
        help="seconds between two messages to one recipient, >= 0 (default: PAIR_INTERVAL)",
    )
    p.add_argument(
        "--quiet-hours",
        metavar="HH:MM-HH:MM",
        help="its own quiet hours, in each message's time zone (e.g. 21:00-09:00); 'off': "
        "none for this sender; in update '' goes back to QUIET_HOURS (docs/limits.md)",
    )
    p.add_argument(
        "--messaging-limit",
        metavar="TIER",
        help="its portfolio's daily messaging limit: 250, 2000, 10000, 100000 or unlimited "
        "(default: MESSAGING_LIMIT; in update '' goes back to it)",
    )


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run `senders ...`; ConfigurationError propagates (exit 2 in `cli.main`)."""
    out, err = out or sys.stdout, err or sys.stderr
    token = None
    if args.senders_command == "add" or (
        args.senders_command == "update" and (args.token_file or args.new_token)
    ):
        token = _read_token(args.token_file)
    try:
        return asyncio.run(_run(args, token, out, err))
    except (errors.ValidationFailed, errors.NotFound, errors.Conflict, errors.StoreError) as exc:
        print(f"whatsapp-scheduler senders {args.senders_command}: {exc.message}", file=err)
        return REFUSED


def _read_token(path: str | None) -> str:
    if path == "-" or (path is None and not sys.stdin.isatty()):
        text = sys.stdin.read()
    elif path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise errors.ConfigurationError(f"--token-file: cannot read {path}: {exc}") from None
    else:
        text = getpass.getpass("access token (not echoed): ")
    if not text.strip():
        raise errors.ConfigurationError("no access token given (empty)")
    return text.strip()


async def _run(args: argparse.Namespace, token: str | None, out: TextIO, err: TextIO) -> int:
    from whatsapp_scheduler import bootstrap, logs, service
    from whatsapp_scheduler.cli import _load
    from whatsapp_scheduler.core import clock
    from whatsapp_scheduler.store import migrate

    settings = _load(database_url=args.database_url)
    logs.configure(settings.log_level)
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    message_store = bootstrap.open_store(settings)
    try:
        directory = bootstrap.build_sender_directory(settings, message_store)
        admin = service.SenderAdmin(message_store, directory, clock.SystemClock())
        command = args.senders_command
        if command == "list":
            _print_list(await admin.list(), args.json, out)
        elif command == "add":
            assert token is not None
            added = await admin.add(
                service.NewSender(
                    name=args.name,
                    phone_number_id=args.phone_number_id,
                    access_token=token,
                    waba_id=args.waba_id or None,
                    portfolio=args.portfolio or None,
                    messages_per_second=args.messages_per_second,
                    pair_interval=args.pair_interval,
                    enabled=not args.disabled,
                    quiet_hours=args.quiet_hours or None,
                    messaging_limit=args.messaging_limit or None,
                )
            )
            print(f"added sender {added.name} ({added.phone_number_id})", file=out)
        elif command == "update":
            changes = _changes(args, token)
            if not changes:
                raise errors.ValidationFailed("options", "give at least one change (see --help)")
            updated = await admin.update(args.name, changes)
            fields = ", ".join(sorted(changes))
            print(f"updated sender {updated.name}: {fields}", file=out)
        elif command == "remove":
            await admin.remove(args.name)
            print(f"removed sender {args.name}", file=out)
        else:
            report = await admin.reencrypt()
            print(f"re-encrypted {report.reencrypted} token(s)", file=out)
            if report.unreadable:
                names = ", ".join(report.unreadable)
                print(
                    f"whatsapp-scheduler senders reencrypt: no key in SECRET_KEY decrypts the "
                    f"token of: {names} (keep the old key, or set a new token with update "
                    "--token-file)",
                    file=err,
                )
                return REFUSED
        return OK
    finally:
        await message_store.close()


def _changes(args: argparse.Namespace, token: str | None) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field in ("phone_number_id", "waba_id", "portfolio", "quiet_hours", "messaging_limit"):
        value = getattr(args, field)
        if value is not None:
            changes[field] = value or None  # '' clears
    for field in ("messages_per_second", "pair_interval"):
        value = getattr(args, field)
        if value is not None:
            changes[field] = value
    if args.enabled is not None:
        changes["enabled"] = args.enabled
    if token is not None:
        changes["access_token"] = token
    return changes


def _print_list(found: list[senders.Sender], as_json: bool, out: TextIO) -> None:
    if as_json:
        rows = [
            {
                "name": s.name,
                "phone_number_id": s.phone_number_id,
                "waba_id": s.waba_id,
                "portfolio": s.portfolio,
                "messages_per_second": s.messages_per_second,
                "pair_interval": s.pair_interval,
                "enabled": s.enabled,
                "quiet_hours": s.quiet_hours,
                "messaging_limit": s.messaging_limit,
                "from_environment": s.from_environment,
            }
            for s in found
        ]
        print(json.dumps(rows, indent=2), file=out)
        return
    for s in found:
        rate = "-" if s.messages_per_second is None else f"{s.messages_per_second:g}/s"
        gap = "-" if s.pair_interval is None else f"{s.pair_interval:g}s"
        origin = "environment" if s.from_environment else "database"
        state = "enabled" if s.enabled else "disabled"
        quiet_hours = s.quiet_hours or "-"
        print(
            f"{s.name}\t{s.phone_number_id}\t{s.waba_id or '-'}\t{state}\t{rate}\t{gap}\t"
            f"{quiet_hours}\t{origin}",
            file=out,
        )
