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
import urllib.parse
from collections.abc import Iterator, Mapping
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
    "tekrar": "tekrar",
    "recurrence": "tekrar",
    "rrule": "tekrar",
    "repeat": "tekrar",
}
REQUIRED = ("alici", "tarih", "saat", "mesaj")
#: Columns of a file or a place sent instead of a text (docs/message-types.md, "Import"):
#: folded header -> `content.<part>`, turned into the API's `type` and its object by
#: `_content`. In a template file only the file's two columns count (the template's header
#: media); the others there are template parameters, as any unknown header is.
CONTENT_COLUMNS = {
    "media": "content.media",
    "medya": "content.media",
    "file": "content.media",
    "dosya": "content.media",
    "attachment": "content.media",
    "media type": "content.media_type",
    "medya turu": "content.media_type",
    "dosya turu": "content.media_type",
    "caption": "content.caption",
    "aciklama": "content.caption",
    "alt yazi": "content.caption",
    "filename": "content.filename",
    "file name": "content.filename",
    "dosya adi": "content.filename",
    "latitude": "content.latitude",
    "lat": "content.latitude",
    "enlem": "content.latitude",
    "longitude": "content.longitude",
    "lon": "content.longitude",
    "lng": "content.longitude",
    "boylam": "content.longitude",
    "place name": "content.place_name",
    "location name": "content.place_name",
    "yer adi": "content.place_name",
    "konum adi": "content.place_name",
    "address": "content.address",
    "adres": "content.address",
}
TEMPLATE_CONTENT_COLUMNS = ("content.media", "content.media_type")
#: A `medya turu` cell (folded) -> the API's media type.
MEDIA_TYPE_NAMES = {
    "image": "image",
    "photo": "image",
    "picture": "image",
    "gorsel": "image",
    "resim": "image",
    "fotograf": "image",
    "video": "video",
    "audio": "audio",
    "ses": "audio",
    "document": "document",
    "belge": "document",
    "dokuman": "document",
    "pdf": "document",
    "sticker": "sticker",
    "cikartma": "sticker",
}
#: A link's file extension -> the media type it is sent as, when `medya turu` is empty (the
#: formats Meta takes for each type: docs/media.md). WebP is a sticker (Meta takes no WebP
#: image).
KIND_OF_EXTENSION = {
    **dict.fromkeys(("jpg", "jpeg", "png"), "image"),
    **dict.fromkeys(("mp4", "3gp", "3gpp"), "video"),
    **dict.fromkeys(("mp3", "ogg", "opus", "aac", "amr", "m4a"), "audio"),
    **dict.fromkeys(("pdf", "txt", "doc", "docx", "xls", "xlsx", "ppt", "pptx"), "document"),
    "webp": "sticker",
}
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
class MediaCell:
    """A row's file (its `medya` cell): its media type (None: not said, and not to be told
    from a link's name: an uploaded file's, looked up by `with_media_types`) and Meta's media
    object (`{"link": ...}` or `{"id": ...}`, with `caption` and `filename` when given)."""

    kind: str | None
    value: dict[str, str]
    header: bool = False  # a template's header media (a template file), not the message

    @property
    def our_id(self) -> str | None:
        """Our upload's id when this is one whose type is still to be looked up."""
        found = self.value.get("id", "")
        return found if self.kind is None and found.startswith(OUR_MEDIA_PREFIX) else None


#: Our upload ids (`core.media.PREFIX`; the import reader needs only the prefix).
OUR_MEDIA_PREFIX = "med_"


@dataclasses.dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row of an import file: its line number and the API fields it gives."""

    line: int
    fields: dict[str, Any]
    error: str | None = None  # a problem found while reading (missing column)
    #: With `template=True`: the template parameters of the row, by `parameter_key` of their
    #: header ("1", "2" ... positional; a NAMED parameter's name), in the file's column order.
    parameters: dict[str, str] = dataclasses.field(default_factory=dict)
    #: The row's file when it is not yet in `fields`: a template's header media (a template
    #: file), or an uploaded file whose type `with_media_types` is to look up.
    media: MediaCell | None = None


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


def _column(header: str, template: bool) -> str:
    """The API field (or `content.<part>`) a header names; "" for none."""
    key = _header_key(header)
    if key in COLUMNS:
        return COLUMNS[key]
    found = CONTENT_COLUMNS.get(key, "")
    return "" if template and found not in TEMPLATE_CONTENT_COLUMNS else found


#: A file's other cells, and a place's: read only beside the column they go with.
FILE_PARTS = ("content.media_type", "content.caption", "content.filename")
PLACE_PARTS = ("content.place_name", "content.address")


def _content_columns(names: list[str]) -> list[str]:
    """`names` with a file's caption, file name and type, and a place's name and address,
    dropped (read as no column, as any unknown header) when the file has no `medya`, or no
    `enlem`/`boylam`, column: a sheet with a notes column called `Açıklama` or a customer's
    `Adres` imports its texts as it did before these columns existed."""
    has_file = "content.media" in names
    has_place = "content.latitude" in names or "content.longitude" in names
    return [
        "" if (n in FILE_PARTS and not has_file) or (n in PLACE_PARTS and not has_place) else n
        for n in names
    ]


def read_csv(data: bytes, *, max_rows: int | None = None, template: bool = False) -> list[CsvRow]:
    """Rows of a CSV import: a header row (English or Turkish names); UTF-8 with or without
    BOM, or Windows-1254 (Turkish Excel); `,` `;` or tab separated; dates ISO or day first
    (`03.12.2026`), times `09:30` or `9:30`; a `tekrar` rule makes the row a series.

    A row is a text (`mesaj`), a file (`medya`: a link or an uploaded file's id, with
    `medya turu`, `aciklama`, `dosya adi`) or a place (`enlem`, `boylam`, `yer adi`,
    `adres`): the API's `type` and its object (`_content`). An uploaded file's type, when
    `medya turu` does not say it, is looked up by the caller (`with_media_types`).

    Rows without an `id` column get a stable one from the file's digest and the line number,
    so importing the same file twice stores nothing twice. Raises CsvError for a file that
    is not text, lacks a required column, or has more than `max_rows` data rows.

    `template=True` (one template for the whole file): no text column is needed, each
    column that is not a known one is a template parameter (`CsvRow.parameters`), and a
    `medya` column is the template's header media (`CsvRow.media`).
    """
    header, records = _records(data)
    names = _content_columns([_column(h, template) for h in header])
    rich = "content.media" in names or "content.latitude" in names
    required = REQUIRED_FOR_TEMPLATE if template or rich else REQUIRED
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
        parameters = {key: values[i].strip() for i, key in extra.items() if i < len(values)}
        rows.append(_row(line, fields, parameters, f"csv-{digest}-{line}", template))
    return rows


def _row(
    line: int, fields: dict[str, Any], parameters: dict[str, str], id_: str, template: bool
) -> CsvRow:
    """One data row's fields in the API's shape, or the problem it has."""
    if "tarih" in fields:
        fields["tarih"] = iso_date(fields["tarih"])
    if "saat" in fields:
        fields["saat"] = padded_time(fields["saat"])
    for optional in ("timezone", "tekrar", "gonderen"):
        if not fields.get(optional):
            fields.pop(optional, None)
    fields.setdefault("id", id_)
    parts = {n.removeprefix("content."): fields.pop(n) for n in list(fields) if "." in n}
    parts = {k: v for k, v in parts.items() if v}
    absent = [f for f in REQUIRED_FOR_TEMPLATE if f not in fields]
    media: MediaCell | None = None
    problem: str | None = None
    if template:
        found = _media(parts, header=True) if "media" in parts else None
        problem, media = (found, None) if isinstance(found, str) else (None, found)
    else:
        problem, media = _content(fields, parts)
        if problem is None and "mesaj" not in fields and "type" not in fields and media is None:
            absent.append("mesaj")
    if problem is None and absent:
        problem = f"missing {', '.join(absent)}"
    return CsvRow(line, fields, f"line {line}: {problem}" if problem else None, parameters, media)


#: The import's own names of the content cells, for its messages.
CELL_NAMES = {
    "media": "medya",
    "media_type": "medya turu",
    "caption": "aciklama",
    "filename": "dosya adi",
    "latitude": "enlem",
    "longitude": "boylam",
    "place_name": "yer adi",
    "address": "adres",
}


def _content(fields: dict[str, Any], parts: dict[str, str]) -> tuple[str | None, MediaCell | None]:
    """Put a row's file or place into `fields` as the API's `type` and its object (Meta's
    shape: docs/message-types.md): the problem when the row is not one thing, and the file
    when its type is still to be looked up (`with_media_types`)."""
    if not fields.get("mesaj"):
        fields.pop("mesaj", None)
    place = "latitude" in parts or "longitude" in parts
    given = [n for n, there in (("mesaj", "mesaj" in fields), ("medya", "media" in parts),
                                ("enlem", place)) if there]  # fmt: skip
    if len(given) > 1:
        return (
            f"{' and '.join(given)}: a row is a text (mesaj), a file (medya) or a place "
            "(enlem, boylam), one of them; a file's text goes in aciklama (caption)"
        ), None
    loose: list[str] = [
        p for p in ("caption", "filename", "media_type") if p in parts and "media" not in parts
    ]
    loose += [p for p in ("place_name", "address") if p in parts and not place]
    if loose:
        if loose[0] in ("place_name", "address"):
            return (
                f"{CELL_NAMES[loose[0]]}: is for a place, and this row has no enlem, boylam",
                None,
            )
        return f"{CELL_NAMES[loose[0]]}: is for a file, and this row has no medya", None
    if place:
        fields["type"] = "location"
        fields["location"] = _place(parts)
        return None, None
    if "media" not in parts:
        return None, None
    cell = _media(parts)
    if isinstance(cell, str):
        return cell, None
    if cell.kind is not None:
        fields["type"] = cell.kind
        fields[cell.kind] = cell.value
        return None, None
    if cell.our_id is None:
        return (
            "medya turu: say which kind of file it is (image, video, audio, document or "
            "sticker): it cannot be told from its name"
        ), None
    return None, cell


def _place(parts: dict[str, str]) -> dict[str, object]:
    """Meta's location object from a row's cells; a coordinate that is not a number is left
    as written, for the service to name."""
    location: dict[str, object] = {
        "latitude": _coordinate(parts.get("latitude", "")),
        "longitude": _coordinate(parts.get("longitude", "")),
    }
    for key, part in (("name", "place_name"), ("address", "address")):
        if part in parts:
            location[key] = parts[part]
    return location


def _coordinate(text: str) -> object:
    """`41.0369` or, as Turkish spreadsheets write it, `41,0369`, as a number."""
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return text


def _media(parts: dict[str, str], *, header: bool = False) -> MediaCell | str:
    """A row's file: a link (it has a `/`) or a media id, its type from `medya turu` or a
    link's extension (None: not known yet); or the problem with its type's cell."""
    ref = parts["media"]
    value = {"link": ref} if "/" in ref else {"id": ref}
    for key in ("caption", "filename"):
        if key in parts:
            value[key] = parts[key]
    named = parts.get("media_type")
    if named is not None:
        kind = MEDIA_TYPE_NAMES.get(_header_key(named))
        if kind is None:
            return (
                f"medya turu: {named[:40]!r} is not a kind of file (image, video, audio, "
                "document or sticker; gorsel, ses, belge, cikartma)"
            )
        return MediaCell(kind, value, header)
    if "link" not in value:
        return MediaCell(None, value, header)
    path = urllib.parse.urlsplit(ref).path
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return MediaCell(KIND_OF_EXTENSION.get(extension), value, header)


def with_media_types(rows: list[CsvRow], types: Mapping[str, str | None]) -> list[CsvRow]:
    """The rows with the type of each uploaded file that `medya turu` did not give, from
    `types` (our id -> the type it was uploaded as; None or absent: no such file): a text
    file's row gets its `type` and object in `fields`; a template file's keeps its cell (the
    header's), typed. An id that is not a stored file is the row's error."""
    done: list[CsvRow] = []
    for row in rows:
        our_id = row.media.our_id if row.media is not None else None
        if row.error is not None or row.media is None or our_id is None:
            done.append(row)
            continue
        kind = types.get(our_id)
        if kind is None:
            error = f"line {row.line}: medya: no uploaded file has the id {our_id!r}"
            done.append(dataclasses.replace(row, error=error))
        elif row.media.header:
            done.append(dataclasses.replace(row, media=MediaCell(kind, row.media.value, True)))
        else:
            fields = row.fields | {"type": kind, kind: row.media.value}
            done.append(dataclasses.replace(row, fields=fields, media=None))
    return done


def media_to_look_up(rows: list[CsvRow]) -> set[str]:
    """Our upload ids whose type `with_media_types` needs."""
    return {i for r in rows if r.media is not None and (i := r.media.our_id) is not None}


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
