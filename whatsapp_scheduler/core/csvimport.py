"""Reading a CSV file of messages to import: the one reader of the dashboard's import page
and the CLI's `import` command, so both read a file the same way. Pure (bytes in, rows out).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

#: CSV header names (English, the API's Turkish and everyday Turkish, as `_header_key` folds
#: them: lower case, no accents, dotless ı as i, spaces kept) -> API field.
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
    # What a Turkish Excel sheet is likely to say.
    "telefon": "alici",
    "telefon no": "alici",
    "telefon numarasi": "alici",
    "cep telefonu": "alici",
    "numara": "alici",
    "gsm": "alici",
    "mesaj metni": "mesaj",
    "metin": "mesaj",
    "ileti": "mesaj",
    "saat dilimi": "timezone",
    "zaman dilimi": "timezone",
    "kimlik": "id",
}
REQUIRED = ("alici", "tarih", "saat", "mesaj")
#: With a template chosen for the whole file, the text is not needed: the other columns are the
#: template's body parameters (see `parameter_key`).
REQUIRED_FOR_TEMPLATE = ("alici", "tarih", "saat")
#: A positional parameter's header: `1`, `{{1}}`, `param 1`, `parametre1`, `p1` ...
POSITIONAL_HEADER = re.compile(r"\A(?:\{\{\s*(\d+)\s*\}\}|(?:param(?:eter|etre)?|p)?\s*(\d+))\Z")
#: Data rows one dashboard import may hold (the page previews and stores them in one go; the
#: CLI's `import` has no limit: it streams its batches).
MAX_ROWS = 10_000


class CsvError(ValueError):
    """A file that cannot be read as an import at all (not text, empty, a column missing)."""


#: Turkish Excel's "CSV" saves in Windows-1254 (Turkish ANSI), not UTF-8.
LEGACY_ENCODING = "cp1254"
#: A day-first date as Turkish (and most European) spreadsheets write it: 03.12.2026, 3/12/2026.
DAY_FIRST = re.compile(r"\A(\d{1,2})[./](\d{1,2})[./](\d{4})\Z")
#: A time with a one-digit hour (9:30, 9:30:15), as a spreadsheet shows it.
SHORT_HOUR = re.compile(r"\A(\d):(\d{2})(:\d{2})?\Z")


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without BOM), else Windows-1254.

    A fixed order, not a guess: a charset detector cannot tell Windows-1254 from Windows-1252
    on a short Turkish file, and UTF-8 is never valid by accident for non-ASCII text. Bytes
    that Windows-1254 leaves undefined raise CsvError."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(LEGACY_ENCODING)
    except UnicodeDecodeError as exc:
        raise CsvError(
            f"the file is neither UTF-8 nor Windows-1254 (Turkish) text (byte {exc.start})"
        ) from exc


def _header_key(name: str) -> str:
    """A header name folded for `COLUMNS`: "Telefon", "ALICI", "Alıcı", "Saat Dilimi" ..."""
    name = name.strip().lstrip("\ufeff").replace("ı", "i").replace("İ", "I")
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return " ".join(plain.lower().split())


def iso_date(value: str) -> str:
    """`03.12.2026` / `3/12/2026` (day first) as `2026-12-03`; anything else unchanged (the
    service names a bad date)."""
    found = DAY_FIRST.match(value)
    if found is None:
        return value
    day, month, year = found.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}"


def padded_time(value: str) -> str:
    """`9:30` as `09:30` (a spreadsheet drops the zero); anything else unchanged."""
    found = SHORT_HOUR.match(value)
    return f"0{value}" if found else value


@dataclasses.dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row of an import file: its line number and the API fields it gives."""

    line: int
    fields: dict[str, Any]
    error: str | None = None  # a problem found while reading (missing column)
    #: With `template=True`: the template parameters of the row, by `parameter_key` of their
    #: header ("1", "2" ... positional; a NAMED parameter's name), in the file's column order.
    parameters: dict[str, str] = dataclasses.field(default_factory=dict)


def parameter_key(header: str) -> str:
    """The parameter a column of a template import fills: `{{1}}`, `1`, `Param 1`,
    `parametre 1` -> "1"; any other header is a NAMED parameter's name as written (trimmed,
    `{{customer}}` -> "customer")."""
    folded = _header_key(header)
    found = POSITIONAL_HEADER.match(folded)
    if found is not None:
        return str(int(found.group(1) or found.group(2)))
    name = header.strip().lstrip("\ufeff").strip()
    if name.startswith("{{") and name.endswith("}}"):
        name = name[2:-2].strip()
    return name


def read_csv(data: bytes, *, max_rows: int | None = None, template: bool = False) -> list[CsvRow]:
    """Rows of a CSV import: a header row (English or Turkish names); UTF-8 with or without
    BOM, or Windows-1254 (Turkish Excel); `,` `;` or tab separated; dates ISO or day first
    (`03.12.2026`), times `09:30` or `9:30`.

    Rows without an `id` column get a stable one from the file's digest and the line number,
    so importing the same file twice stores nothing twice. Raises CsvError for a file that
    is not text, lacks a required column, or has more than `max_rows` data rows.

    `template=True` (one template for the whole file): no text column is needed, and each
    column that is not a known one is a template parameter (`CsvRow.parameters`).
    """
    header, records = _records(data)
    names = [COLUMNS.get(_header_key(h), "") for h in header]
    required = REQUIRED_FOR_TEMPLATE if template else REQUIRED
    missing = [f for f in required if f not in names]
    if missing:
        wanted = "recipient, date, time" + ("" if template else ", text")
        raise CsvError(f"the header row needs the columns {wanted}; it has {', '.join(header)}")
    # Template mode: the other columns are parameters (an empty header is no column).
    extra = {
        i: parameter_key(h) for i, (h, n) in enumerate(zip(header, names, strict=True))
        if template and not n and h.strip()
    }  # fmt: skip
    digest = hashlib.sha256(data).hexdigest()[:12]
    rows: list[CsvRow] = []
    for line, values in records:
        if max_rows is not None and len(rows) >= max_rows:
            raise CsvError(
                f"the file has more than {max_rows:,} rows; at most {max_rows:,} rows per "
                "import (split the file, or use the CLI's import command)"
            )
        fields = {n: v.strip() for n, v in zip(names, values, strict=False) if n}
        if "tarih" in fields:
            fields["tarih"] = iso_date(fields["tarih"])
        if "saat" in fields:
            fields["saat"] = padded_time(fields["saat"])
        if not fields.get("timezone"):
            fields.pop("timezone", None)
        fields.setdefault("id", f"csv-{digest}-{line}")
        absent = [f for f in required if f not in fields]
        error = f"line {line}: missing {', '.join(absent)}" if absent else None
        parameters = {key: values[i].strip() for i, key in extra.items() if i < len(values)}
        rows.append(CsvRow(line, fields, error, parameters))
    return rows


def _records(data: bytes) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header row and the non-empty data rows (with their line numbers) of a CSV file:
    UTF-8 with or without BOM or Windows-1254, `,` `;` or tab separated (`decode`)."""
    text = decode(data)
    sample = text[:4096]
    delimiter = max(",;\t", key=sample.split("\n", 1)[0].count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise CsvError("the file is empty")

    def rows() -> Iterator[tuple[int, list[str]]]:
        for values in reader:
            if any(v.strip() for v in values):
                yield reader.line_num, values

    return header, rows()


#: Contact CSV headers (folded like `COLUMNS`) -> contact field (docs/contacts.md). Other
#: headers are attributes: `appointment`, `attributes.appointment` or `attr.appointment`.
CONTACT_COLUMNS = {
    "phone": "phone",
    "alici": "phone",
    "recipient": "phone",
    "number": "phone",
    "telefon": "phone",
    "telefon no": "phone",
    "telefon numarasi": "phone",
    "cep telefonu": "phone",
    "numara": "phone",
    "gsm": "phone",
    "name": "name",
    "ad": "name",
    "isim": "name",
    "ad soyad": "name",
    "adi soyadi": "name",
    "language": "language",
    "lang": "language",
    "dil": "language",
    "timezone": "timezone",
    "zone": "timezone",
    "saat dilimi": "timezone",
    "zaman dilimi": "timezone",
    "labels": "labels",
    "label": "labels",
    "tags": "labels",
    "etiket": "labels",
    "etiketler": "labels",
}
_ATTRIBUTE_HEADER = re.compile(r"\A(?:attr\.|attributes\.)?([a-z_][a-z0-9_]{0,63})\Z")


def read_contacts_csv(data: bytes, *, max_rows: int | None = None) -> list[CsvRow]:
    """Rows of a contacts CSV (read as `read_csv` reads a message file): a `phone` column
    (English or Turkish header) and any of name, language, timezone, labels (separated by
    `|` or `,` in the cell); every other column is an attribute (its header folded to lower
    case, spaces as `_`: `Randevu Saati` is `randevu_saati`), an empty cell leaves it out.
    Fields are the API's (`labels` a list, `attributes` an object of strings)."""
    header, records = _records(data)
    fields_of: list[tuple[str, str]] = []  # (kind, name): ("field", "name") or ("attr", key)
    for h in header:
        key = _header_key(h)
        if key in CONTACT_COLUMNS:
            fields_of.append(("field", CONTACT_COLUMNS[key]))
            continue
        found = _ATTRIBUTE_HEADER.match(key.replace(" ", "_"))
        if found is None:
            raise CsvError(
                f"column {h.strip()[:60]!r}: not a contact field, and not an attribute name "
                "(letters, digits and _)"
            )
        fields_of.append(("attr", found.group(1)))
    if ("field", "phone") not in fields_of:
        raise CsvError(f"the header row needs a phone column; it has {', '.join(header)}")
    rows: list[CsvRow] = []
    for line, values in records:
        if max_rows is not None and len(rows) >= max_rows:
            raise CsvError(
                f"the file has more than {max_rows:,} rows; at most {max_rows:,} rows per "
                "import (split the file)"
            )
        fields: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        for (kind, name), value in zip(fields_of, values, strict=False):
            value = value.strip()
            if not value:
                continue
            if kind == "attr":
                attributes[name] = value
            elif name == "labels":
                fields["labels"] = [v.strip() for v in re.split(r"[|,]", value) if v.strip()]
            else:
                fields[name] = value
        if attributes:
            fields["attributes"] = attributes
        error = None if "phone" in fields else f"line {line}: missing phone"
        rows.append(CsvRow(line, fields, error))
    return rows
