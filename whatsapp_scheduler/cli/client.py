"""The CLI client: `whatsapp-scheduler schedule|list|status|cancel|import` against a running service.

It talks to the REST API over HTTP (httpx, sync), so it needs nothing but a URL and the API key:
`--url` / `WHATSAPP_SCHEDULER_URL` (default http://127.0.0.1:8000) and `--api-key` / `API_KEY`.

Exit codes, for scripts: 0 success; 1 the service refused (its `detail` on stderr; for `import`,
any refused row); 2 usage or configuration (bad arguments, no API key, unreadable file);
3 no connection (service down, timeout). `--json` prints the service's JSON as is.

`import` reads files with `core.csvimport.read_csv`, as the dashboard's import page does.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote
from zoneinfo import ZoneInfo

from whatsapp_scheduler.core import content as content_mod
from whatsapp_scheduler.core import csvimport
from whatsapp_scheduler.whatsapp import errorcodes

if TYPE_CHECKING:  # imported in run(): `serve` builds this parser too and never needs httpx
    import httpx

logger = logging.getLogger(__name__)

COMMANDS = frozenset({"schedule", "list", "status", "cancel", "edit", "import", "upload"})
DEFAULT_URL = "http://127.0.0.1:8000"
BATCH_SIZE = 1000
OK, REFUSED, USAGE, NO_CONNECTION = 0, 1, 2, 3
_AT = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(?::\d{2})?)\s*$")


class UsageError(Exception):
    """Bad arguments or configuration (exit 2)."""


# -- command line ---------------------------------------------------------------------------


def add_commands(commands: Any) -> None:
    """Register the client's subcommands on `whatsapp-scheduler`'s subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", help=f"service URL [WHATSAPP_SCHEDULER_URL, default {DEFAULT_URL}]"
    )
    common.add_argument("--api-key", help="the service's API key [API_KEY]")
    common.add_argument("--json", action="store_true", help="print the service's JSON answer")
    common.add_argument("--timeout", type=float, default=30.0, help="seconds per request (30)")

    p = commands.add_parser("schedule", parents=[common], help="schedule one message (client)")
    p.add_argument("--to", required=True, help="recipient, with + and country code")
    p.add_argument("--at", required=True, help='local date and time, "2026-12-01 09:30"')
    p.add_argument("--timezone", help="IANA zone of --at (default: the service's TIMEZONE)")
    content = p.add_mutually_exclusive_group(required=True)
    content.add_argument("--text", help="message text (up to 4,096 characters)")
    content.add_argument(
        "--template",
        metavar="NAME",
        help="an approved WhatsApp template instead of --text (`templates list` shows them)",
    )
    for kind, what in (
        ("image", "a JPEG or PNG"),
        ("video", "an MP4"),
        ("audio", "an audio file"),
        ("document", "a document (PDF ...)"),
        ("sticker", "a WebP sticker"),
    ):
        content.add_argument(
            f"--{kind}",
            metavar="URL|FILE",
            help=f"{what} instead of --text: an http(s) link (Meta fetches it) or a file "
            "here, uploaded to the service first (POST /media; docs/media.md)",
        )
    content.add_argument(
        "--location",
        metavar="LAT,LON",
        help="a location instead of --text, e.g. 41.0369,28.985 (--location-name, --address)",
    )
    p.add_argument("--caption", help="the caption of --image, --video or --document")
    p.add_argument("--filename", help="the file name shown for --document")
    p.add_argument("--location-name", help="the place's name, with --location")
    p.add_argument(
        "--address",
        "--location-address",
        dest="address",
        help="the place's address, with --location",
    )
    p.add_argument(
        "--language", help="the template's language code, e.g. tr or en_US (with --template)"
    )
    p.add_argument(
        "--param",
        action="append",
        metavar="TEXT",
        help="a body parameter of a POSITIONAL template, in order ({{1}}, {{2}} ...; repeatable)",
    )
    p.add_argument(
        "--named",
        action="append",
        metavar="NAME=TEXT",
        help="a body parameter of a NAMED template ({{customer}}: --named customer=Ayşe; "
        "repeatable)",
    )
    p.add_argument("--id", help="your id for the message (retrying with it is safe)")
    p.add_argument(
        "--from",
        dest="sender",
        metavar="NAME",
        help="the sender (business number) by name, as `senders list` shows; default: the "
        "service's DEFAULT_SENDER",
    )
    p.add_argument(
        "--ignore-quiet-hours",
        action="store_true",
        help="send at --at even inside quiet hours (QUIET_HOURS or the sender's own), for what "
        "must go at once such as a one-time code; without it a message due inside them goes "
        "at their end (a warning says so)",
    )
    p.add_argument(
        "--repeat",
        metavar="RRULE",
        help="repeat from --at by an RFC 5545 rule (the API's `tekrar`), e.g. \"FREQ=WEEKLY;"
        'BYDAY=MO;COUNT=10" (every Monday, 10 times) or "FREQ=YEARLY" (every year); '
        "--id is then the series' id (docs/series.md)",
    )

    p = commands.add_parser(
        "list",
        parents=[common],
        help="list messages (client)",
        description="A table with a header: id, status, due time in the message's own time "
        "zone, the zone, recipient, sender, text (cut at 40 characters). Colours only on a "
        "terminal (NO_COLOR turns them off). --plain prints one message a line, tab-separated, "
        "without a header (for scripts); --json the service's JSON.",
    )
    p.add_argument(
        "--plain",
        action="store_true",
        help="tab-separated lines without a header (id, status, due, recipient, sender, text)",
    )
    p.add_argument("--status", action="append", help="status to list (repeatable; default queued)")
    p.add_argument(
        "--from",
        dest="senders",
        metavar="NAME",
        action="append",
        help="only the messages of this sender (repeatable)",
    )
    p.add_argument("--limit", type=int, default=100, help="at most this many (1-1000)")

    p = commands.add_parser(
        "status",
        parents=[common],
        help="show one message (client)",
        description="Its status, due time and timeline in the message's own time zone (to the "
        "second, with the zone's offset), why it waits if it does, and Meta's last error in "
        "plain words. --json gives the service's answer, times in UTC.",
    )
    p.add_argument("id")
    p = commands.add_parser("cancel", parents=[common], help="cancel a queued message (client)")
    p.add_argument("id")
    p = commands.add_parser(
        "edit",
        parents=[common],
        help="change a queued message (client)",
        description="Change the time, text or recipient of a message that is still queued "
        "(PATCH /schedule/ID). What is not given stays. Refused once the message is sending, "
        "sent, failed or cancelled. The edit is kept in `status`'s history (docs/edits.md).",
    )
    p.add_argument("id")
    p.add_argument("--at", help='new local date and time, "2026-12-01 09:30"')
    p.add_argument("--timezone", help="new IANA zone of the time")
    p.add_argument("--text", help="new text (replaces a template)")
    p.add_argument("--to", help="new recipient, with + and country code")
    p.add_argument("--from", dest="sender", metavar="NAME", help="new sender, by name")
    p.add_argument(
        "--now", action="store_true", help="send it now (the due time becomes the current time)"
    )
    p = commands.add_parser(
        "upload",
        parents=[common],
        help="store a file to send later (POST /media): prints its id (client)",
    )
    p.add_argument("file", help="the file: its type is read from its content (docs/media.md)")
    p = commands.add_parser("import", parents=[common], help="schedule every row of a CSV file")
    p.add_argument(
        "file",
        help="CSV with a header row: recipient,date,time and text, or a file (media "
        "[,media type,caption,filename]) or a place (latitude,longitude[,place name,address]); "
        "optional timezone, sender, id, tekrar (a rule: the row is a series); Turkish "
        "headers too (docs/dashboard.md, CSV files)",
    )


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one client command; returns the exit code."""
    import httpx

    out, err = out or sys.stdout, err or sys.stderr
    try:
        with _http(args) as http:
            return _COMMANDS[args.command](http, args, out, err)
    except UsageError as exc:
        print(f"whatsapp-scheduler: {exc}", file=err)
        return USAGE
    except httpx.TransportError as exc:
        print(f"whatsapp-scheduler: cannot reach the service: {exc}", file=err)
        return NO_CONNECTION


def _http(args: argparse.Namespace) -> httpx.Client:
    url = args.url or os.environ.get("WHATSAPP_SCHEDULER_URL") or DEFAULT_URL
    key = args.api_key or os.environ.get("API_KEY")
    if not key:
        raise UsageError("no API key: pass --api-key or set API_KEY")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url must start with http:// or https://, not {url!r}")
    import httpx

    return httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=args.timeout)


def _refused(response: httpx.Response, err: TextIO) -> int:
    try:
        detail = response.json().get("detail") or response.reason_phrase
    except (ValueError, AttributeError):
        detail = response.text[:200] or response.reason_phrase
    print(f"whatsapp-scheduler: refused ({response.status_code}): {detail}", file=err)
    return REFUSED


def _print_json(data: Any, out: TextIO) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2), file=out)


def _schedule_body(args: argparse.Namespace) -> dict[str, Any]:
    """The POST /schedule body that `schedule`'s options ask for."""
    match = _AT.match(args.at)
    if match is None:
        raise UsageError(f'--at must look like "2026-12-01 09:30", not {args.at!r}')
    body: dict[str, Any] = {"alici": args.to, "tarih": match[1], "saat": match[2]}
    if args.template is not None:
        body["template"] = _template_of(args)
    else:
        if args.language or args.param or args.named:
            raise UsageError("--language, --param and --named go with --template, not --text")
        media = _media_of(args)
        if media is not None:
            body |= media
        else:
            body["mesaj"] = args.text
    if args.timezone:
        body["timezone"] = args.timezone
    if args.id:
        body["id"] = args.id
    if args.sender:
        body["gonderen"] = args.sender
    if args.ignore_quiet_hours:
        body["quiet_hours"] = False
    if args.repeat:
        body["tekrar"] = args.repeat
    return body


def _media_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """`type` and its object for --image/--video/--audio/--document/--sticker/--location, else
    None."""
    for kind in ("image", "video", "audio", "document", "sticker"):
        link = getattr(args, kind, None)
        if link is not None:
            # A link, or a file here: `_schedule` uploads it and puts its id in its place.
            value: dict[str, Any] = {"link": link} if _is_link(link) else {FILE_KEY: link}
            if args.caption is not None:
                value["caption"] = args.caption
            if args.filename is not None:
                value["filename"] = args.filename
            return {"type": kind, kind: value}
    if getattr(args, "location", None) is not None:
        parts = args.location.split(",")
        try:
            latitude, longitude = (float(x) for x in parts)
        except ValueError:
            raise UsageError(f'--location must be "LAT,LON", not {args.location!r}') from None
        place: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
        if args.location_name:
            place["name"] = args.location_name
        if args.address:
            place["address"] = args.address
        return {"type": "location", "location": place}
    if args.caption is not None or args.filename is not None:
        raise UsageError("--caption and --filename go with --image, --video or --document")
    return None


#: Where `_media_of` leaves a local file's path for `_schedule` to upload (never sent).
FILE_KEY = "_file"


def _is_link(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _upload_file(http: httpx.Client, path: str, err: TextIO) -> dict[str, Any] | int:
    """POST /media with the file at `path`: the stored file's answer, or the exit code."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{path!r} is neither an http(s) link nor a file here")
    with file.open("rb") as handle:
        response = http.post(
            "/media",
            files={"file": (file.name, handle, "application/octet-stream")},
            timeout=max(http.timeout.read or 0, 600),  # 100 MB on a slow line
        )
    if response.status_code != 201:
        return _refused(response, err)
    answer: dict[str, Any] = response.json()
    return answer


def _upload(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    stored = _upload_file(http, args.file, err)
    if isinstance(stored, int):
        return stored
    if args.json:
        _print_json(stored, out)
    else:
        print(
            f"uploaded {stored['id']}: {stored['type']} ({stored['mime_type']}, "
            f"{stored['size']:,} bytes)",
            file=out,
        )
    return OK


def _schedule(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    body = _schedule_body(args)
    kind = body.get("type")
    media = body.get(kind) if isinstance(kind, str) else None
    if isinstance(media, dict) and FILE_KEY in media:
        path = media.pop(FILE_KEY)
        stored = _upload_file(http, path, err)
        if isinstance(stored, int):
            return stored
        media["id"] = stored["id"]
        if kind == "document" and "filename" not in media:
            media["filename"] = Path(path).name  # the name the recipient sees
    response = http.post("/schedule", json=body)
    if response.status_code != 200:
        return _refused(response, err)
    data = response.json()
    if args.json:
        _print_json(data, out)
    else:
        print(
            f"scheduled {data['id']} to {data['alici']} at {data['tarih'][:10]} {data['saat']} "
            f"({data['timezone']}): {data['status']}",
            file=out,
        )
        if data.get("series_id"):
            coming = ", ".join(
                f"{o['tarih']} {o['saat']}" for o in data.get("next_occurrences") or []
            )
            print(f"series {data['series_id']}: next {coming}", file=out)
    # Always on stderr, also with --json (where they are in the answer too): a script that
    # reads stdout still shows a person that the 24-hour window will be closed, say.
    for warning in data.get("warnings", []):
        print(f"warning: {warning}", file=err)
    return OK


def _template_of(args: argparse.Namespace) -> dict[str, Any]:
    """`--template NAME --language tr --param ...` (or `--named k=v ...`) as the API's
    `template` field; the service checks it against Meta's synced catalogue."""
    if not args.language:
        raise UsageError("--template needs --language (e.g. --language tr)")
    if args.param and args.named:
        raise UsageError("give --param (POSITIONAL template) or --named (NAMED), not both")
    template: dict[str, Any] = {"name": args.template, "language": args.language}
    if args.param:
        template["parameters"] = list(args.param)
    elif args.named:
        given = []
        for item in args.named:
            name, sep, text = item.partition("=")
            if not sep or not name.strip():
                raise UsageError(f"--named takes NAME=TEXT, not {item!r}")
            given.append({"type": "text", "parameter_name": name.strip(), "text": text})
        template["components"] = [{"type": "body", "parameters": given}]
    return template


def _list(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if not 1 <= args.limit <= 1000:
        raise UsageError("--limit must be between 1 and 1000")
    params: list[tuple[str, str | int | float | bool | None]] = [("limit", args.limit)]
    params += [("status", s) for s in args.status or []]
    params += [("gonderen", name) for name in args.senders or []]
    response = http.get("/schedule", params=params)
    if response.status_code != 200:
        return _refused(response, err)
    items = response.json()
    if args.json:
        _print_json(items, out)
        return OK
    rows = [_list_row(m) for m in items]
    if getattr(args, "plain", False):
        for row in rows:
            print("\t".join((row[0], row[1], f"{row[2]} {row[3]}", *row[4:])), file=out)
    else:
        _print_table(rows, out)
    total = response.headers.get("X-Total-Count")
    if total is not None:
        print(f"{len(items)} shown of {total}", file=err)
    return OK


LIST_COLUMNS = ("ID", "STATUS", "DUE (LOCAL)", "ZONE", "TO", "FROM", "TEXT")
#: The status column's colour on a terminal (rich styles).
STATUS_STYLES = {
    "queued": "cyan", "paused": "yellow", "sending": "blue", "sent": "green",
    "delivered": "green", "read": "bold green", "failed": "bold red", "cancelled": "dim",
}  # fmt: skip
TEXT_WIDTH = 40


def _list_row(m: dict[str, Any]) -> tuple[str, ...]:
    """One message for `list`: its local due time as the client gave it, in its own zone."""
    text = (m.get("mesaj") or "").replace("\n", " ")
    if not text and isinstance(m.get("template"), dict):
        text = f"[template {m['template'].get('name', '')}]"
    if not text and isinstance(m.get("content"), dict):  # a file, a place, buttons ...
        text = content_mod.summary(m["content"]).replace("\n", " ")
    text = text if len(text) <= TEXT_WIDTH else text[: TEXT_WIDTH - 1] + "…"
    due = f"{m['tarih'][:10]} {m['saat']}"
    return (m["id"], m["status"], due, m["timezone"], m["alici"], m.get("gonderen", ""), text)


def _console(out: TextIO) -> Any:
    """A rich console on `out`: colours only when it is a terminal (and NO_COLOR is unset,
    which rich reads itself); a pipe or a file gets plain text, as wide as the lines need."""
    from rich.console import Console

    terminal = out.isatty() if hasattr(out, "isatty") else False
    return Console(
        file=out,
        width=None if terminal else 200,
        no_color="NO_COLOR" in os.environ or None,
        highlight=False,
        soft_wrap=False,
        emoji=False,
        markup=False,
    )


def _print_table(rows: list[tuple[str, ...]], out: TextIO) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for name in LIST_COLUMNS:
        table.add_column(name, no_wrap=name != "TEXT", overflow="fold")
    for row in rows:
        status = Text(row[1], style=STATUS_STYLES.get(row[1], ""))
        table.add_row(row[0], status, *row[2:])
    _console(out).print(table)


def _local(when: str | None, zone: ZoneInfo) -> str:
    """An API time (ISO 8601, UTC) in `zone`, to the second with its offset:
    `2026-03-02 09:00:00 +03`; as given when it is not a time."""
    if not when:
        return ""
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return when
    if moment.tzinfo is None:
        return when
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _zone_of(data: dict[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(data.get("timezone") or "UTC")
    except (ValueError, KeyError):  # an unknown name (zoneinfo raises a KeyError subclass)
        return ZoneInfo("UTC")


def _status(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    response = http.get(f"/status/{_quote(args.id)}")
    if response.status_code != 200:
        return _refused(response, err)
    data = response.json()
    if args.json:
        _print_json(data, out)
        return OK
    zone = _zone_of(data)
    print(f"{data['id']}: {data['status']} (attempts: {data['attempts']})", file=out)
    print(f"  due        {_local(data.get('scheduled_at'), zone)} ({zone.key})", file=out)
    if data.get("category"):
        print(f"  category   {data['category']}", file=out)
    if data.get("deferred_until"):
        print(f"  deferred   until {_local(data['deferred_until'], zone)}", file=out)
    if data.get("status_reason"):
        words = (data.get("status_reason_text") or {}).get(_language(), "")
        print(f"  reason     {data['status_reason']}{': ' + words if words else ''}", file=out)
    for name, when in data.get("timeline", {}).items():
        if when:
            print(f"  {name:10s} {_local(when, zone)}", file=out)
    sent_as = data.get("sent_as")
    if sent_as == "fallback_template":
        print("  sent as its fallback template (the 24-hour window was closed)", file=out)
    elif sent_as:
        print(f"  sent as {sent_as}", file=out)
    last = data.get("last_error")
    if last:
        plain = errorcodes.explain(last.get("code"))
        print(f"  error {last.get('code')}: {last.get('message')}", file=out)
        if plain:
            print(f"    {plain}", file=out)
    return OK


def _language() -> str:
    """`tr` when the terminal's locale is Turkish (LC_ALL, LC_MESSAGES, LANG), else `en`."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "tr" if value.lower().startswith("tr") else "en"
    return "en"


def _cancel(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    response = http.delete(f"/schedule/{_quote(args.id)}")
    if response.status_code != 200:
        return _refused(response, err)
    data = response.json()
    if args.json:
        _print_json(data, out)
    else:
        print(f"cancelled {data['id']}", file=out)
    return OK


def _edit(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    body: dict[str, Any] = {}
    if args.at and args.now:
        raise UsageError("give --at or --now, not both")
    if args.at:
        match = _AT.match(args.at)
        if match is None:
            raise UsageError(f'--at must look like "2026-12-01 09:30", not {args.at!r}')
        body.update(tarih=match[1], saat=match[2])
    if args.now:
        status = http.get(f"/status/{_quote(args.id)}")
        if status.status_code != 200:
            return _refused(status, err)
        body.update(_now_in(args.timezone or status.json().get("timezone") or "UTC"))
    options = (("timezone", "timezone"), ("text", "mesaj"), ("to", "alici"), ("sender", "gonderen"))
    body.update({field: getattr(args, o) for o, field in options if getattr(args, o)})
    if not body:
        raise UsageError("nothing to change: give --at, --now, --text, --to, --timezone or --from")
    response = http.patch(f"/schedule/{_quote(args.id)}", json=body)
    if response.status_code != 200:
        return _refused(response, err)
    data = response.json()
    if args.json:
        _print_json(data, out)
    else:
        print(
            f"edited {data['id']}: {data['tarih'][:10]} {data['saat']} ({data['timezone']}) "
            f"to {data['alici']}: {data['status']}",
            file=out,
        )
    for warning in data.get("warnings", []):
        print(f"warning: {warning}", file=err)
    return OK


def _now_in(zone: str) -> dict[str, str]:
    """`tarih` and `saat` of the current time in `zone`, to the second ("send now")."""
    now = datetime.now(ZoneInfo(zone))
    return {"tarih": now.strftime("%Y-%m-%d"), "saat": now.strftime("%H:%M:%S")}


def _import(http: httpx.Client, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    rows = _read_import(args.file)
    types = _media_types(http, rows)
    if not isinstance(types, dict):  # an answer refusing to show the uploads
        return _refused(types, err)
    rows = csvimport.with_media_types(rows, types)
    tally = _Tally(refused=[r.error for r in rows if r.error])  # each begins "line N:"
    good = [r for r in rows if r.error is None]
    with _progress(err, len(rows)) as advance:
        advance(len(rows) - len(good))
        stopped = _send_rows(http, good, tally, advance)
    if stopped is not None:
        return _refused(stopped, err)
    for line in tally.refused:
        print(f"refused {line}", file=err)
    _print_warnings(tally.warned, err)
    if args.json:
        answer = {"stored": tally.stored, "refused": len(tally.refused), "batches": tally.answers}
        _print_json(answer, out)
    else:
        print(f"stored {tally.stored}, refused {len(tally.refused)}", file=out)
    return REFUSED if tally.refused else OK


def _send_rows(
    http: httpx.Client,
    good: list[csvimport.CsvRow],
    tally: _Tally,
    advance: Callable[[int], None],
) -> httpx.Response | None:
    """Store the rows: in batches of BATCH_SIZE, a series row one at a time (POST /schedule);
    the answer that ends the import (a refused batch, say), else None."""
    singles = [r for r in good if "tekrar" not in r.fields]
    for start in range(0, len(singles), BATCH_SIZE):
        chunk = singles[start : start + BATCH_SIZE]
        response = http.post("/schedule/batch", json={"messages": [r.fields for r in chunk]})
        if response.status_code != 200:
            return response
        tally.batch(chunk, response.json())
        advance(len(chunk))
    for row in (r for r in good if "tekrar" in r.fields):
        response = http.post("/schedule", json=row.fields)
        if not tally.one(row, response):
            return response
        advance(1)
    return None


def _read_import(path: str) -> list[csvimport.CsvRow]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return csvimport.read_csv(data)
    except csvimport.CsvError as exc:
        raise UsageError(str(exc)) from exc


@dataclasses.dataclass
class _Tally:
    """What `import` has stored and refused so far, and the warnings."""

    refused: list[str]
    stored: int = 0
    warned: list[str] = dataclasses.field(default_factory=list)
    answers: list[Any] = dataclasses.field(default_factory=list)

    def batch(self, chunk: list[csvimport.CsvRow], answer: dict[str, Any]) -> None:
        self.answers.append(answer)
        self.stored += answer["stored"]
        for item in answer["results"]:
            line = chunk[item["index"]].line
            if not item["stored"]:
                self.refused.append(f"line {line}: {item['error']['detail']}")
            self.warned += [f"line {line}: {w}" for w in item.get("warnings") or []]

    def one(self, row: csvimport.CsvRow, response: httpx.Response) -> bool:
        """Count one row's POST /schedule; False: an answer that ends the import."""
        if response.status_code == 200:
            self.stored += 1
            self.warned += [f"line {row.line}: {w}" for w in response.json().get("warnings") or []]
        elif response.status_code in (409, 422):
            self.refused.append(f"line {row.line}: {response.json().get('detail')}")
        else:
            return False
        return True


def _media_types(
    http: httpx.Client, rows: list[csvimport.CsvRow]
) -> dict[str, str | None] | httpx.Response:
    """The type each uploaded file the rows name (without `medya turu`) was stored as, from
    `GET /media/{id}`; None: no such file. Another answer is returned as it is (a refusal)."""
    types: dict[str, str | None] = {}
    for media_id in sorted(csvimport.media_to_look_up(rows)):
        response = http.get(f"/media/{_quote(media_id)}")
        if response.status_code == 404:
            types[media_id] = None
        elif response.status_code == 200:
            types[media_id] = response.json()["type"]
        else:
            return response
    return types


#: Warnings `import` prints one by one on stderr; the rest are counted (--json has them all).
WARNINGS_SHOWN = 20


def _print_warnings(warned: list[str], err: TextIO) -> None:
    for text in warned[:WARNINGS_SHOWN]:
        print(f"warning: {text}", file=err)
    if len(warned) > WARNINGS_SHOWN:
        more = len(warned) - WARNINGS_SHOWN
        print(f"warning: … and {more} more (--json lists them all)", file=err)


@contextlib.contextmanager
def _progress(err: TextIO, total: int) -> Iterator[Callable[[int], None]]:
    """rich's progress bar on `err` for `import`, advanced by the rows done: drawn live on a
    terminal, printed once when done on a pipe or a file ("1502/1502 rows")."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (BarColumn(), MofNCompleteColumn(), TextColumn("rows"), TimeRemainingColumn())
    with Progress(*columns, console=_console(err)) as bar:
        task = bar.add_task("import", total=total)
        yield lambda count: bar.advance(task, count)


def _quote(message_id: str) -> str:
    return quote(message_id, safe="")


_COMMANDS: dict[str, Callable[[httpx.Client, argparse.Namespace, TextIO, TextIO], int]] = {
    "schedule": _schedule,
    "list": _list,
    "status": _status,
    "cancel": _cancel,
    "edit": _edit,
    "import": _import,
    "upload": _upload,
}
