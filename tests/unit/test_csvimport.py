"""The import reader (`core.csvimport`) on files as people make them: Turkish Excel's
Windows-1254 with `;` and day-first dates, UTF-8 with a BOM, Turkish and English headers."""

from __future__ import annotations

import pytest

from whatsapp_scheduler.core import csvimport

TURKISH_EXCEL = (
    "Telefon;Tarih;Saat;Mesaj\r\n"
    "0555 123 45 67;03.12.2026;9:30;Günaydın İstanbul, şükran ğüşıöç ÇŞĞÜÖİ\r\n"
    "+905551234568;4.1.2027;10:05:30;İkinci\r\n"
)


def test_turkish_excel_csv_is_read_as_the_api_wants_it() -> None:
    rows = csvimport.read_csv(TURKISH_EXCEL.encode("cp1254"))
    assert [r.error for r in rows] == [None, None]
    first, second = (r.fields for r in rows)
    assert first["alici"] == "0555 123 45 67"
    assert first["tarih"] == "2026-12-03"
    assert first["saat"] == "09:30"
    assert first["mesaj"] == "Günaydın İstanbul, şükran ğüşıöç ÇŞĞÜÖİ"
    assert (second["tarih"], second["saat"]) == ("2027-01-04", "10:05:30")


def test_the_same_rows_in_utf8_with_a_bom_are_the_same_fields() -> None:
    legacy = csvimport.read_csv(TURKISH_EXCEL.encode("cp1254"))
    modern = csvimport.read_csv(("\ufeff" + TURKISH_EXCEL).encode("utf-8"))
    assert [r.fields | {"id": ""} for r in legacy] == [r.fields | {"id": ""} for r in modern]


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Alıcı", "alici"), ("ALICI", "alici"), ("Telefon No", "alici"), ("Numara", "alici"),
        ("recipient", "alici"), ("Mesaj Metni", "mesaj"), ("Metin", "mesaj"),
        (" Saat  Dilimi ", "timezone"), ("Gönderen", "gonderen"), ("Kimlik", "id"),
    ],
)  # fmt: skip
def test_header_names_in_either_language(header: str, field: str) -> None:
    assert csvimport.COLUMNS[csvimport._header_key(header)] == field


def test_an_iso_date_and_a_bad_date_are_left_for_the_service_to_judge() -> None:
    assert csvimport.iso_date("2026-12-03") == "2026-12-03"
    assert csvimport.iso_date("31.02.2026") == "2026-02-31"  # the service names it invalid
    assert csvimport.iso_date("yarın") == "yarın"
    assert csvimport.padded_time("25:00") == "25:00"


def test_bytes_that_are_neither_utf8_nor_windows_1254_are_refused_by_name() -> None:
    with pytest.raises(csvimport.CsvError, match="neither UTF-8 nor Windows-1254"):
        csvimport.read_csv(b"recipient,date,time,text\n+905551234567,2026-12-03,09:30,\x81\x8d\n")


RICH = (
    "Telefon;Tarih;Saat;Mesaj;Medya;Medya Türü;Açıklama;Dosya Adı;Enlem;Boylam;Yer Adı;Adres\r\n"
    "+905551234567;03.12.2026;9:30;;https://cdn.example.com/Fatura.PDF;;Faturanız;f.pdf;;;;\r\n"
    "+905551234567;03.12.2026;9:30;;https://cdn.example.com/a?x=1;Görsel;;;;;;\r\n"
    "+905551234567;03.12.2026;9:30;;med_0123456789abcdef0123456789abcdef;;Ürün;;;;;\r\n"
    "+905551234567;03.12.2026;9:30;;4567890123;Çıkartma;;;;;;\r\n"
    "+905551234567;03.12.2026;9:30;;;;;;41,0369;28.985;Dükkân;İstiklal Cd.\r\n"
)


def test_files_and_places_become_the_apis_type_and_object() -> None:
    rows = csvimport.read_csv(RICH.encode("cp1254"))
    assert [r.error for r in rows] == [None] * 5
    fields = [
        {k: v for k, v in r.fields.items() if k not in ("alici", "tarih", "saat", "id")}
        for r in rows
    ]
    assert fields[0] == {
        "type": "document",
        "document": {
            "link": "https://cdn.example.com/Fatura.PDF",
            "caption": "Faturanız",
            "filename": "f.pdf",
        },
    }
    assert fields[1] == {"type": "image", "image": {"link": "https://cdn.example.com/a?x=1"}}
    assert fields[2] == {}  # our upload: its type is looked up
    assert rows[2].media == csvimport.MediaCell(
        None, {"id": "med_0123456789abcdef0123456789abcdef", "caption": "Ürün"}
    )
    assert fields[3] == {"type": "sticker", "sticker": {"id": "4567890123"}}  # Meta's own id
    assert fields[4] == {
        "type": "location",
        "location": {
            "latitude": 41.0369,
            "longitude": 28.985,
            "name": "Dükkân",
            "address": "İstiklal Cd.",
        },
    }
    assert csvimport.media_to_look_up(rows) == {"med_0123456789abcdef0123456789abcdef"}
    typed = csvimport.with_media_types(rows, {"med_0123456789abcdef0123456789abcdef": "image"})
    assert typed[2].media is None
    assert typed[2].fields["type"] == "image"
    assert typed[2].fields["image"] == {
        "id": "med_0123456789abcdef0123456789abcdef",
        "caption": "Ürün",
    }
    missing = csvimport.with_media_types(rows, {})
    assert missing[2].error == (
        "line 4: medya: no uploaded file has the id 'med_0123456789abcdef0123456789abcdef'"
    )


@pytest.mark.parametrize(
    ("cells", "error"),
    [
        ("Merhaba;https://x.example/a.jpg;;;;", "mesaj and medya: a row is a text"),
        (";https://x.example/a.jpg;;;41;29", "medya and enlem: a row is a text"),
        (";https://x.example/belge;;;;", "medya turu: say which kind of file it is"),
        (";https://x.example/a;dosya;;;", "medya turu: 'dosya' is not a kind of file"),
        (";;;Yalnız açıklama;;", "aciklama: is for a file, and this row has no medya"),
        (";;görsel;;;", "medya turu: is for a file, and this row has no medya"),
        (";;;;;", "missing mesaj"),
    ],
)  # fmt: skip
def test_a_row_that_is_not_one_thing_is_refused_naming_the_cells(cells: str, error: str) -> None:
    data = f"alici;tarih;saat;mesaj;medya;medya turu;aciklama;enlem;boylam\n+905551234567;2026-12-03;09:30;{cells}\n"
    (row,) = csvimport.read_csv(data.encode())
    assert row.error is not None
    assert row.error.startswith(f"line 2: {error}"), row.error


def test_a_place_name_without_coordinates_is_refused() -> None:
    data = (
        "alici,tarih,saat,mesaj,enlem,boylam,adres\n"
        "+905551234567,2026-12-03,09:30,Merhaba,,,İstiklal Cd.\n"
    )
    (row,) = csvimport.read_csv(data.encode())
    assert row.error == "line 2: adres: is for a place, and this row has no enlem, boylam"


def test_a_rule_column_makes_the_row_a_series_and_an_empty_one_does_not() -> None:
    data = (
        "recipient;date;time;text;tekrar\n"
        '+905551234567;2026-12-03;09:30;Hi;"FREQ=WEEKLY;BYDAY=MO"\n'
        "+905551234567;2026-12-03;09:30;Hi;\n"
    )
    weekly, once = csvimport.read_csv(data.encode())
    assert weekly.fields["tekrar"] == "FREQ=WEEKLY;BYDAY=MO"
    assert "tekrar" not in once.fields


def test_in_a_template_file_only_the_file_columns_count_and_the_rest_are_parameters() -> None:
    data = (
        "recipient,date,time,medya,adres,1\n"
        "+905551234567,2026-12-03,09:30,https://x.example/k.jpg,İstiklal Cd.,Ayşe\n"
        "+905551234567,2026-12-03,09:30,med_0123456789abcdef0123456789abcdef,Bağdat Cd.,Ali\n"
    )
    first, second = csvimport.read_csv(data.encode(), template=True)
    assert first.error is None
    assert first.parameters == {"adres": "İstiklal Cd.", "1": "Ayşe"}
    assert first.media == csvimport.MediaCell("image", {"link": "https://x.example/k.jpg"}, True)
    assert "type" not in first.fields
    (typed,) = csvimport.with_media_types([second], {second.media.our_id or "": "video"})  # type: ignore[union-attr]
    assert typed.media == csvimport.MediaCell(
        "video", {"id": "med_0123456789abcdef0123456789abcdef"}, True
    )
    assert "type" not in typed.fields  # the header's file, not the message's


def test_a_notes_or_address_column_without_a_file_or_place_is_ignored_as_before() -> None:
    data = (
        "Telefon;Tarih;Saat;Mesaj;Açıklama;Adres;Dosya Adı\n"
        "+905551234567;03.12.2026;9:30;Merhaba;VIP müşteri;İstiklal Cd.;fatura.pdf\n"
    )
    (row,) = csvimport.read_csv(data.encode())
    assert row.error is None
    assert {k: v for k, v in row.fields.items() if k != "id"} == {
        "alici": "+905551234567",
        "tarih": "2026-12-03",
        "saat": "09:30",
        "mesaj": "Merhaba",
    }
