"""Reading a CSV file of messages to import: the one reader of the dashboard's import page
and the CLI's `import` command, so both read a file the same way. Pure (bytes in, rows out).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io

#: CSV header names (English and the API's Turkish) -> API field.
COLUMNS = {
    "recipient": "alici",
    "alici": "alici",
    "to": "alici",
    "phone": "alici",
    "date": "tarih",
    "tarih": "tarih",
    "time": "saat",
    "saat": "saat",
    "text": "mesaj",
    "mesaj": "mesaj",
    "message": "mesaj",
    "timezone": "timezone",
    "zone": "timezone",
    "id": "id",
    "gonderen": "gonderen",
    "sender": "gonderen",
}
REQUIRED = ("alici", "tarih", "saat", "mesaj")
#: Data rows one dashboard import may hold (the page previews and stores them in one go; the
#: CLI's `import` has no limit: it streams its batches).
MAX_ROWS = 10_000


class CsvError(ValueError):
    """A file that cannot be read as an import at all (not UTF-8, empty, a column missing)."""


@dataclasses.dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row of an import file: its line number and the API fields it gives."""

    line: int
    fields: dict[str, str]
    error: str | None = None  # a problem found while reading (missing column)


def read_csv(data: bytes, *, max_rows: int | None = None) -> list[CsvRow]:
    """Rows of a CSV import (header row; UTF-8, BOM allowed; `,` `;` or tab separated).

    Rows without an `id` column get a stable one from the file's digest and the line number,
    so importing the same file twice stores nothing twice. Raises CsvError for a file that
    is not UTF-8, lacks a required column, or has more than `max_rows` data rows.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvError(f"the file is not UTF-8 text (byte {exc.start})") from exc
    sample = text[:4096]
    delimiter = max(",;\t", key=sample.split("\n", 1)[0].count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise CsvError("the file is empty")
    names = [COLUMNS.get(h.strip().lower().lstrip("\ufeff"), "") for h in header]
    missing = [f for f in REQUIRED if f not in names]
    if missing:
        wanted = ", ".join(k for k in ("recipient", "date", "time", "text"))
        raise CsvError(f"the header row needs the columns {wanted}; it has {', '.join(header)}")
    digest = hashlib.sha256(data).hexdigest()[:12]
    rows: list[CsvRow] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if max_rows is not None and len(rows) >= max_rows:
            raise CsvError(
                f"the file has more than {max_rows:,} rows; at most {max_rows:,} rows per "
                "import (split the file, or use the CLI's import command)"
            )
        fields = {n: v.strip() for n, v in zip(names, values, strict=False) if n}
        if not fields.get("timezone"):
            fields.pop("timezone", None)
        fields.setdefault("id", f"csv-{digest}-{line}")
        absent = [f for f in REQUIRED if f not in fields]
        error = f"line {line}: missing {', '.join(absent)}" if absent else None
        rows.append(CsvRow(line, fields, error))
    return rows
