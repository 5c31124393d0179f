"""`whatsapp-scheduler contacts add|list|import|remove` and `campaigns create|list|show|pause|
resume|cancel|export`: the address book and campaigns of a running service over HTTP (like
`schedule`; `--url`, `--api-key`, exit codes as in `cli/client.py`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from whatsapp_scheduler.cli import client
from whatsapp_scheduler.core import csvimport

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


def add_campaign_commands(commands: Any) -> None:
    common = _common()
    parser = commands.add_parser(
        "campaigns",
        help="campaigns: one template or text to a list of contacts (client)",
        description="Campaigns (docs/campaigns.md): create one for contacts by label, "
        "attribute or number, at a time or at a local time in each contact's zone; follow "
        "its funnel; pause, resume or cancel it; export every recipient's outcome.",
    )
    sub = parser.add_subparsers(
        dest="campaigns_command", metavar="CAMPAIGNS_COMMAND", required=True
    )
    create = sub.add_parser(
        "create",
        parents=[common],
        help="create a campaign (or --dry-run: who would get it, who not and why)",
        description="Placeholders in --text or --param: {{name}}, {{attributes.KEY}}, "
        "{{attributes.KEY|default}}.",
    )
    create.add_argument("--name", required=True, help="a name to know it by")
    create.add_argument("--at", required=True, help='local date and time, "2026-12-10 09:00"')
    create.add_argument("--timezone", help="IANA zone of --at (default: the service's TIMEZONE)")
    create.add_argument(
        "--local-time",
        action="store_true",
        help="--at in each contact's own time zone (falling back to --timezone)",
    )
    create.add_argument("--pacing", type=int, metavar="MINUTES", help="spread over MINUTES")
    content = create.add_mutually_exclusive_group(required=True)
    content.add_argument("--text", help="a text (placeholders allowed)")
    content.add_argument("--template", metavar="NAME", help="an approved template")
    create.add_argument("--language", help="the template's language code (with --template)")
    create.add_argument(
        "--param", action="append", metavar="TEXT", help="a body parameter, in order (repeatable)"
    )
    create.add_argument("--label", action="append", help="contacts with this label (repeatable)")
    create.add_argument(
        "--attr", action="append", metavar="KEY=VALUE", help="contacts with this attribute"
    )
    create.add_argument("--phone", action="append", help="an explicit number (repeatable)")
    create.add_argument(
        "--csv",
        metavar="FILE",
        type=Path,
        help="recipients from a contacts CSV (the columns of `contacts import`; UTF-8 or "
        "Windows-1254), not stored in the address book",
    )
    create.add_argument("--dry-run", action="store_true", help="answer only; store nothing")
    sub.add_parser("list", parents=[common], help="list campaigns, newest first")
    for name, text in (
        ("show", "a campaign's funnel: counts by status, failures by Meta's code"),
        ("pause", "hold every queued message of a campaign"),
        ("resume", "queue a paused campaign's messages again"),
        ("cancel", "cancel every queued or paused message of a campaign"),
    ):
        one = sub.add_parser(name, parents=[common], help=text)
        one.add_argument("id", help="the campaign's id (cmp_...)")
    export = sub.add_parser(
        "export", parents=[common], help="every recipient's outcome as CSV (to stdout or --out)"
    )
    export.add_argument("id", help="the campaign's id (cmp_...)")
    export.add_argument("--out", help="write to this file instead of stdout")


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
    if args.command == "campaigns":
        command = _CAMPAIGNS[args.campaigns_command]
    else:
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


def _campaign_body(args: argparse.Namespace) -> dict[str, Any]:
    """`campaigns create`'s options as the body of POST /campaigns."""
    found = client._AT.match(args.at)
    if found is None:
        raise client.UsageError(f'--at must look like "2026-12-10 09:00", not {args.at!r}')
    audience: dict[str, Any] = {}
    if args.label:
        audience["labels"] = args.label
    if args.attr:
        audience["attributes"] = _attrs(args.attr)
    if args.phone:
        audience["phones"] = args.phone
    if args.csv is not None:
        try:
            audience["csv"] = csvimport.decode(args.csv.read_bytes())
        except OSError as exc:
            raise client.UsageError(f"--csv: cannot read {args.csv}: {exc.strerror}") from exc
        except csvimport.CsvError as exc:
            raise client.UsageError(f"--csv: {exc}") from exc
    body: dict[str, Any] = {
        "name": args.name,
        "tarih": found[1],
        "saat": found[2],
        "audience": audience,
        "local_time": args.local_time,
        "dry_run": args.dry_run,
    }
    if args.template is not None:
        if not args.language:
            raise client.UsageError("--template needs --language (e.g. --language tr)")
        body["template"] = {"name": args.template, "language": args.language}
        if args.param:
            body["template"]["parameters"] = list(args.param)
    else:
        if args.language or args.param:
            raise client.UsageError("--language and --param go with --template, not --text")
        body["mesaj"] = args.text
    optional = {"timezone": args.timezone, "pacing_minutes": args.pacing, "gonderen": args.sender}
    return body | {k: v for k, v in optional.items() if v is not None}


def _create(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    body = _campaign_body(args)
    response = http.post("/campaigns", json=body)
    if response.status_code != 200:
        return client._refused(response, err)
    data = response.json()
    if args.json:
        client._print_json(data, out)
    else:
        verb = (
            "would send" if data["dry_run"] else ("created" if data["stored"] else "stored nothing")
        )
        print(
            f"{verb} {data['id']}: {data['recipients']} recipients, {data['refused']} refused"
            + (f", {data['dst_shifted']} moved past a DST gap" if data["dst_shifted"] else ""),
            file=out,
        )
        for reason, n in sorted(data["reasons"].items()):
            print(f"  refused {n}: {reason}", file=out)
    for r in data["refusals"][:20]:
        print(f"refused {r['phone']}: {r['reason']} ({r['field']}: {r['rule']})", file=err)
    return OK


def _show_line(c: dict[str, Any]) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in c["counts"].items() if v)
    return f"{c['id']}\t{c['status']}\t{c['name']}\t{c['recipients']} recipients\t{counts}"


def _campaign_list(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    response = http.get("/campaigns", params=({"gonderen": args.sender} if args.sender else {}))
    if response.status_code != 200:
        return client._refused(response, err)
    if args.json:
        client._print_json(response.json(), out)
        return OK
    for c in response.json():
        print(_show_line(c), file=out)
    return OK


def _print_campaign(c: dict[str, Any], out: TextIO) -> None:
    print(_show_line(c), file=out)
    for f in c["failed"]:
        plain = f" ({f['explanation']})" if f.get("explanation") else ""
        print(f"  failed {f['count']}: error {f['code']}{plain}", file=out)
    for reason, n in c["cancelled"].items():
        print(f"  cancelled {n}: {reason}", file=out)
    for name in ("first_due_at", "last_due_at", "first_sent_at", "last_sent_at"):
        if c.get(name):
            print(f"  {name:14s} {c[name]}", file=out)
    if c.get("replies"):
        print(f"  {'replies':14s} {c['replies']}", file=out)
    if c.get("median_read_seconds") is not None:
        print(f"  {'median read':14s} {_duration(c['median_read_seconds'])}", file=out)


def _duration(seconds: float) -> str:
    """`45 s`, `12 min`, `3.5 h`, `2.1 d`: the median time to read, as a person says it."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _show(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    response = http.get(f"/campaigns/{quote(args.id, safe='')}")
    if response.status_code != 200:
        return client._refused(response, err)
    if args.json:
        client._print_json(response.json(), out)
    else:
        _print_campaign(response.json(), out)
    return OK


def _action(name: str) -> Callable[[httpx.Client, argparse.Namespace, TextIO, TextIO], int]:
    def act(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        response = http.post(f"/campaigns/{quote(args.id, safe='')}/{name}")
        if response.status_code != 200:
            return client._refused(response, err)
        data = response.json()
        if args.json:
            client._print_json(data, out)
        else:
            print(f"{name}: {data['changed']} messages; {data['id']} is {data['status']}", file=out)
        return OK

    return act


def _export(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with http.stream("GET", f"/campaigns/{quote(args.id, safe='')}/export.csv") as response:
        if response.status_code != 200:
            response.read()
            return client._refused(response, err)
        if args.out:
            with open(args.out, "wb") as target:
                for chunk in response.iter_bytes():
                    target.write(chunk)
        else:
            for text in response.iter_text():
                out.write(text)
    return OK


_CAMPAIGNS: dict[str, Callable[[httpx.Client, argparse.Namespace, TextIO, TextIO], int]] = {
    "create": _create,
    "list": _campaign_list,
    "show": _show,
    "pause": _action("pause"),
    "resume": _action("resume"),
    "cancel": _action("cancel"),
    "export": _export,
}
