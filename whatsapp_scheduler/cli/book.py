"""`whatsapp-scheduler contacts add|list|import|remove`: the address book of a running service
over HTTP (like `schedule`; `--url`, `--api-key`, exit codes as in `cli/client.py`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from whatsapp_scheduler.cli import client

if TYPE_CHECKING:
    import httpx

OK, REFUSED = client.OK, client.REFUSED


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", help=f"service URL [WHATSAPP_SCHEDULER_URL, default {client.DEFAULT_URL}]"
    )
    common.add_argument("--api-key", help="the service's API key [API_KEY]")
    common.add_argument("--json", action="store_true", help="print the service's JSON answer")
    common.add_argument("--timeout", type=float, default=60.0, help="seconds per request (60)")
    common.add_argument(
        "--from",
        dest="sender",
        metavar="NAME",
        help="the sender whose contacts these are; default: the service's DEFAULT_SENDER",
    )
    return common


def add_commands(commands: Any) -> None:
    common = _common()
    parser = commands.add_parser(
        "contacts",
        help="the address book: add, list, import, remove contacts (client)",
        description="Contacts of a sender (docs/contacts.md): a number with a name, language, "
        "time zone, labels and attributes, used by campaigns.",
    )
    sub = parser.add_subparsers(dest="contacts_command", metavar="CONTACTS_COMMAND", required=True)
    add = sub.add_parser(
        "add", parents=[common], help="create or update one contact (only the fields given)"
    )
    add.add_argument("phone", help="the number, with + and country code")
    add.add_argument("--name", help="the contact's name")
    add.add_argument("--language", help="language code, e.g. tr or en_US")
    add.add_argument("--timezone", help="IANA time zone, e.g. Europe/Istanbul")
    add.add_argument("--label", action="append", help="a label (repeatable; replaces the labels)")
    add.add_argument(
        "--attr", action="append", metavar="KEY=VALUE", help="an attribute (repeatable)"
    )
    listing = sub.add_parser(
        "list",
        parents=[common],
        help="list contacts",
        description="One contact a line: number, name, language, time zone, labels, opted out.",
    )
    listing.add_argument("--label", help="only contacts with this label")
    listing.add_argument("--search", help="a part of the name, or digits of the number")
    listing.add_argument(
        "--attr", action="append", metavar="KEY=VALUE", help="only contacts with this attribute"
    )
    listing.add_argument("--limit", type=int, default=100, help="at most this many (1-1000)")
    imp = sub.add_parser(
        "import",
        parents=[common],
        help="import contacts from a CSV file",
        description="A header row with a phone column (phone/telefon) and any of name/ad, "
        "language/dil, timezone/saat dilimi, labels/etiketler; other columns are attributes. "
        "UTF-8 or Windows-1254, , or ; separated. Sent 10,000 rows per request.",
    )
    imp.add_argument("file", help="the CSV file")
    remove = sub.add_parser("remove", parents=[common], help="remove a contact's profile")
    remove.add_argument("phone", help="the number")


def _attrs(items: list[str] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise client.UsageError(f"--attr takes KEY=VALUE, not {item!r}")
        found[key.strip()] = value
    return found


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    import httpx

    out, err = out or sys.stdout, err or sys.stderr
    command = _CONTACTS[args.contacts_command]
    try:
        with client._http(args) as http:
            return command(http, args, out, err)
    except client.UsageError as exc:
        print(f"whatsapp-scheduler: {exc}", file=err)
        return client.USAGE
    except httpx.TransportError as exc:
        print(f"whatsapp-scheduler: cannot reach the service: {exc}", file=err)
        return client.NO_CONNECTION


def _params(args: argparse.Namespace) -> dict[str, str]:
    return {"gonderen": args.sender} if args.sender else {}


def _add(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    entry: dict[str, Any] = {"phone": args.phone}
    for name in ("name", "language", "timezone"):
        if getattr(args, name) is not None:
            entry[name] = getattr(args, name)
    if args.label:
        entry["labels"] = args.label
    if args.attr:
        entry["attributes"] = _attrs(args.attr)
    body: dict[str, Any] = {"contacts": [entry]} | _params(args)
    response = http.post("/contacts", json=body)
    if response.status_code != 200:
        return client._refused(response, err)
    data = response.json()
    if args.json:
        client._print_json(data, out)
    if data["errors"]:
        print(f"whatsapp-scheduler: refused: {data['errors'][0]['error']['detail']}", file=err)
        return REFUSED
    if not args.json:
        print(f"{'created' if data['created'] else 'updated'} {args.phone}", file=out)
    return OK


def _list(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not 1 <= args.limit <= 1000:
        raise client.UsageError("--limit must be between 1 and 1000")
    params: dict[str, Any] = {"limit": args.limit} | _params(args)
    if args.label:
        params["label"] = args.label
    if args.search:
        params["q"] = args.search
    for key, value in _attrs(args.attr).items():
        params[f"attr.{key}"] = value
    response = http.get("/contacts", params=params)
    if response.status_code != 200:
        return client._refused(response, err)
    items = response.json()
    if args.json:
        client._print_json(items, out)
        return OK
    for c in items:
        opted = c["consent"]["all"]["opted_out"] or c["consent"]["marketing"]["opted_out"]
        print(
            f"{c['alici']}\t{c.get('name') or ''}\t{c.get('language') or ''}\t"
            f"{c.get('timezone') or ''}\t{','.join(c.get('labels') or [])}\t"
            f"{'opted out' if opted else ''}",
            file=out,
        )
    if response.headers.get("X-Next-Cursor"):
        print(f"{len(items)} shown; more with a larger --limit or a filter", file=err)
    return OK


def _import(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise client.UsageError(f"cannot read {args.file}: {exc.strerror}") from exc
    response = http.post(
        "/contacts/import",
        content=data,
        params=_params(args),
        headers={"Content-Type": "text/csv"},
    )
    if response.status_code != 200:
        return client._refused(response, err)
    answer = response.json()
    for item in answer["errors"]:
        print(f"refused line {item['index']}: {item['error']['detail']}", file=err)
    if args.json:
        client._print_json(answer, out)
    else:
        print(
            f"stored {answer['stored']} (created {answer['created']}, updated "
            f"{answer['updated']}), refused {answer['refused']}",
            file=out,
        )
    return REFUSED if answer["refused"] else OK


def _remove(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    response = http.delete(f"/contacts/{quote(args.phone, safe='')}", params=_params(args))
    if response.status_code != 200:
        return client._refused(response, err)
    data = response.json()
    if args.json:
        print(json.dumps(data), file=out)
    else:
        print(f"removed {data['phone']}", file=out)
    return OK


_CONTACTS: dict[str, Callable[[httpx.Client, argparse.Namespace, TextIO, TextIO], int]] = {
    "add": _add,
    "list": _list,
    "import": _import,
    "remove": _remove,
}
