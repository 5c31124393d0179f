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
